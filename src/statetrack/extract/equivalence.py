"""Exact equivalence of two output automata, with the shortest word that tells them apart.

:func:`shortest_difference` is a breadth-first search over pairs of states of the two machines
(their product, built lazily from the starts): the first pair whose outputs differ ends the search,
and walking back its parents spells a shortest distinguishing word, first in alphabet order among
the shortest. A target state with output -1 (unlabelled) agrees with anything. For two DFAs this
is :func:`statetrack.automata.minimize.find_difference` with the accept bit as the output; the
tests compare the two.

:func:`compare` adds what the issue asks of a network: on that word, the first prefix length at
which the *network itself* disagrees with the target.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from statetrack.automata.minimize import same_alphabet
from statetrack.extract.moore import Moore


def shortest_difference(learned: Moore, target: Moore) -> tuple[int, ...] | None:
    """Symbol indices (in ``learned``'s alphabet order) of a shortest word after which the two
    machines output different classes, or None when they agree on every word.

    Outputs are compared by class name, so the two machines may number their classes differently.
    """
    t_dfa = same_alphabet(learned.dfa, target.dfa)
    names = {c: i for i, c in enumerate(learned.classes)}
    t_out = np.array([names.get(target.classes[o], -2) if o >= 0 else -1 for o in target.outputs.tolist()])
    l_out = learned.outputs
    t1, t2 = learned.dfa.table.tolist(), t_dfa.table.tolist()
    start = (learned.dfa.start, t_dfa.start)
    parent: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {start: None}
    queue = deque([start])
    while queue:
        pair = queue.popleft()
        p, q = pair
        if t_out[q] != -1 and t_out[q] != l_out[p]:
            word: list[int] = []
            while parent[pair] is not None:
                pair, c = parent[pair]
                word.append(c)
            return tuple(reversed(word))
        for c, nxt in enumerate(zip(t1[p], t2[q])):
            if nxt not in parent:
                parent[nxt] = (pair, c)
                queue.append(nxt)
    return None


@dataclass(frozen=True)
class Comparison:
    """Learned machine against target.

    Attributes:
        learned_states / target_states: sizes of the two (minimal) machines.
        equivalent: no word tells them apart.
        counterexample: a shortest distinguishing word (symbols), None when equivalent.
        network_fails_at: the first prefix length of ``counterexample`` at which the network's own
            output differs from the target's (None: the network agrees with the target on every
            prefix of it, or no network was given).
    """

    learned_states: int
    target_states: int
    equivalent: bool
    counterexample: tuple[str, ...] | None
    network_fails_at: int | None

    def to_json(self) -> dict:
        return {"learned_states": self.learned_states, "target_states": self.target_states,
                "equivalent": self.equivalent,
                "counterexample": None if self.counterexample is None else list(self.counterexample),
                "network_fails_at": self.network_fails_at}

    def line(self) -> str:
        """One line for reports and the CLI."""
        head = (f"extracted {self.learned_states} states / target {self.target_states}: "
                f"{'equivalent' if self.equivalent else 'NOT equivalent'}")
        if self.equivalent:
            return head
        word = " ".join(self.counterexample) if self.counterexample else "(empty word)"
        where = ("network agrees with the target on every prefix" if self.network_fails_at is None
                 else f"network first fails at length {self.network_fails_at}")
        return f"{head}; shortest counterexample ({len(self.counterexample)}): {word}; {where}"


def first_failure(outputs: np.ndarray, target: Moore, word: tuple[int, ...]) -> int | None:
    """First prefix length t >= 1 where ``outputs`` (len(word),) -- a network's classes after each
    prefix, in ``target``'s class numbering -- differ from the target's label (None: never)."""
    want = target.run_outputs(np.asarray([word], dtype=np.int64).reshape(1, len(word)))[0, 1:]
    bad = np.flatnonzero((want >= 0) & (want != np.asarray(outputs)))
    return int(bad[0]) + 1 if bad.size else None


def compare(learned: Moore, target: Moore, network=None) -> Comparison:
    """Decide equivalence exactly; with a network (a :class:`~statetrack.extract.oracles.Network`
    whose classes are the target's), also find where it first fails on the counterexample."""
    learned_m, target_m = learned.minimize(), target.minimize()
    word = shortest_difference(learned_m, target_m)
    fails = None
    if word is not None and network is not None and len(word) > 0:
        fails = first_failure(network.outputs([word])[0][1:], target, word)
    return Comparison(learned_states=learned_m.n_states, target_states=target_m.n_states,
                      equivalent=word is None,
                      counterexample=None if word is None else tuple(learned_m.dfa.alphabet[c] for c in word),
                      network_fails_at=fails)


def network_check(net, words: list[np.ndarray]) -> dict:
    """The network against its target on test words, without any extracted machine.

    Args:
        net: a Network with a target.
        words: groups of words, each int (N, L) (every prefix of every word is tested).
    Returns:
        JSON-ready: words and positions tested, the longest length, and the shortest failing prefix
        (symbols) with its length, or None when the network matches the target everywhere tested.
    """
    best: tuple[int, ...] | None = None
    tested = positions = longest = 0
    for group in words:
        if group.shape[1] == 0:
            continue
        got = np.stack(net.outputs([tuple(w) for w in group.tolist()]))                     # (N, L+1)
        want = net.target.run_outputs(group)                                                  # (N, L+1)
        bad = (want >= 0) & (got != want)
        tested, positions, longest = tested + len(group), positions + group.size, max(longest, group.shape[1])
        if bad.any():
            first = np.where(bad.any(1), bad.argmax(1), np.iinfo(np.int64).max)
            i = int(first.argmin())
            word = tuple(int(c) for c in group[i, :first[i]])
            if best is None or (len(word), word) < (len(best), best):
                best = word
    return {"words": tested, "positions": positions, "max_len": longest, "agrees": best is None,
            "shortest_failure": None if best is None else [net.alphabet[c] for c in best],
            "fails_at": None if best is None else len(best)}
