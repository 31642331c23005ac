"""Permutation–reset cascades: the explicit, runnable form of a Krohn–Rhodes decomposition.

A cascade has levels 0..L-1. Level i has ``widths[i]`` states; reading a letter, level i applies an
:class:`Action` (a permutation of its states, or a constant map = a reset) chosen from the letter
and the states of levels 0..i-1 *before* the letter (P1 Thm 4: the lower levels feed forward, so
level i is a permutation–reset automaton driven by (letter, lower levels)). The cascade state maps
to a DFA state through ``state_map``.

Everything is stored densely, ``tables[i]`` of shape (n_letters, C_0, ..., C_{i-1}), because that
is the form the LRNN construction needs (a layer's route table); its size is what
:class:`CascadeLimits` bounds.

Example
-------
>>> from statetrack.automata.dfa import DFA
>>> from statetrack.automata.krohn_rhodes import decompose
>>> flip_flop = DFA(alphabet="srn", table=[[1, 0, 0], [1, 0, 1]], start=0, accepting={1})
>>> c = decompose(flip_flop)
>>> c.widths, c.decode(c.run("nsn"))
((2,), 1)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from statetrack.errors import ConstructionError, LimitError


@dataclass(frozen=True)
class Action:
    """A map on a level's states ``x -> image[x]``: a permutation or a constant map."""

    image: tuple[int, ...]

    def __post_init__(self) -> None:
        img = tuple(int(y) for y in self.image)
        n = len(img)
        if n == 0 or any(not 0 <= y < n for y in img):
            raise ConstructionError(f"an action must map 0..{n - 1} into itself, got {img}")
        if len(set(img)) not in (1, n):
            raise ConstructionError(f"an action must be a permutation or a constant map, got {img}")
        object.__setattr__(self, "image", img)

    @classmethod
    def identity(cls, n: int) -> Action:
        return cls(tuple(range(n)))

    @classmethod
    def constant(cls, n: int, q: int) -> Action:
        return cls((q,) * n)

    @property
    def width(self) -> int:
        return len(self.image)

    @property
    def is_constant(self) -> bool:
        """True for a reset (every state goes to one state); a width-1 level counts as identity."""
        return self.width > 1 and len(set(self.image)) == 1

    @property
    def is_identity(self) -> bool:
        return self.image == tuple(range(self.width))

    @property
    def kind(self) -> str:
        return "identity" if self.is_identity else "constant" if self.is_constant else "permutation"

    def __call__(self, x: int) -> int:
        return self.image[x]


@dataclass(frozen=True)
class CascadeLimits:
    """Bounds on a materialized cascade (and so on the compiled model).

    Attributes:
        max_levels: most levels (= LRNN layers).
        max_width: most states on one level (= a layer's one-hot width).
        max_table_entries: most entries over all dependency tables and the state map together;
            level i's table has n_letters * C_0 * ... * C_{i-1} entries (the layer's route table).
        max_images: most images ``X·w`` the decomposition enumerates before giving up (a cascade
            from more is far beyond the table limit anyway; this keeps the refusal fast).
    """

    max_levels: int = 16
    max_width: int = 64
    max_table_entries: int = 1 << 20
    max_images: int = 1 << 15

    def check(self, widths: Sequence[int], n_letters: int) -> None:
        """Raise LimitError naming the first exceeded limit."""
        hint = "raise the limit or use the direct construction"
        if len(widths) > self.max_levels:
            raise LimitError(f"the Krohn-Rhodes cascade needs {len(widths)} levels, over the limit of "
                             f"{self.max_levels} (max_levels); {hint}")
        if max(widths, default=0) > self.max_width:
            raise LimitError(f"the Krohn-Rhodes cascade needs a level of width {max(widths)}, over the "
                             f"limit of {self.max_width} (max_width); {hint}")
        entries = table_entries(widths, n_letters)
        if entries > self.max_table_entries:
            raise LimitError(f"the Krohn-Rhodes cascade with level widths {list(widths)} needs {entries} "
                             f"dependency-table entries, over the limit of {self.max_table_entries} "
                             f"(max_table_entries); {hint}")


def table_entries(widths: Sequence[int], n_letters: int) -> int:
    """Entries of all dependency tables plus the state map: sum_i m * prod_{j<i} C_j + prod_j C_j."""
    total, prefix = 0, 1
    for w in widths:
        total += n_letters * prefix
        prefix *= int(w)
    return total + prefix


@dataclass(frozen=True, eq=False)
class Cascade:
    """A cascade of permutation–reset levels with a map onto a DFA's states.

    Attributes:
        alphabet: the letters (index = position).
        widths: (L,) number of states per level.
        actions: per level, the distinct actions used (``actions[i][0]`` is the identity).
        tables: per level i, int64 (n_letters, C_0, ..., C_{i-1}): index into ``actions[i]`` for a
            letter and the lower levels' states before the letter.
        initial: the cascade state before any letter, (L,).
        state_map: int64 (C_0, ..., C_{L-1}): the DFA state a cascade state stands for, -1 for a
            cascade state that encodes none (never reached from ``initial``).
        name: the decomposition that produced it.
        info: JSON-ready facts from the decomposition (holonomy groups, image counts, ...).
    """

    alphabet: tuple[str, ...]
    widths: tuple[int, ...]
    actions: tuple[tuple[Action, ...], ...]
    tables: tuple[np.ndarray, ...]
    initial: tuple[int, ...]
    state_map: np.ndarray
    name: str = "holonomy"
    info: dict = field(default_factory=dict)
    _images: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        L, m = len(self.widths), len(self.alphabet)
        if L == 0 or len(self.actions) != L or len(self.tables) != L or len(self.initial) != L:
            raise ConstructionError("a cascade needs at least one level and one action list, table "
                                    "and initial state per level")
        for i, (w, acts, tab) in enumerate(zip(self.widths, self.actions, self.tables)):
            if not acts or not acts[0].is_identity or any(a.width != w for a in acts):
                raise ConstructionError(f"level {i}: actions must have width {w}, the first the identity")
            if tab.shape != (m, *self.widths[:i]) or tab.min() < 0 or tab.max() >= len(acts):
                raise ConstructionError(f"level {i}: the dependency table has shape {tab.shape}, expected "
                                        f"{(m, *self.widths[:i])} with entries < {len(acts)}")
            if not 0 <= self.initial[i] < w:
                raise ConstructionError(f"level {i}: initial state {self.initial[i]} is not in 0..{w - 1}")
        if self.state_map.shape != tuple(self.widths):
            raise ConstructionError(f"the state map has shape {self.state_map.shape}, expected {self.widths}")
        images = tuple(np.array([a.image for a in acts], dtype=np.int64) for acts in self.actions)
        object.__setattr__(self, "_images", images)

    # ------------------------------------------------------------------ facts
    @property
    def n_levels(self) -> int:
        return len(self.widths)

    @property
    def n_letters(self) -> int:
        return len(self.alphabet)

    def action(self, level: int, letter: int, lower: Sequence[int]) -> Action:
        """The action of ``letter`` on ``level`` when the lower levels are in states ``lower``."""
        return self.actions[level][int(self.tables[level][(letter, *lower)])]

    def summary(self) -> dict:
        kinds = [sorted({a.kind for a in acts} - {"identity"}) for acts in self.actions]
        return {"decomposition": self.name, "levels": self.n_levels, "widths": list(self.widths),
                "actions_per_level": [len(a) for a in self.actions], "action_kinds": kinds,
                "table_entries": table_entries(self.widths, self.n_letters)}

    # ------------------------------------------------------------------ running
    def step(self, state: Sequence[int], letter: int) -> tuple[int, ...]:
        """One letter: every level reads the lower levels' states before the letter."""
        return tuple(self.action(i, letter, state[:i])(state[i]) for i in range(self.n_levels))

    def run(self, word) -> tuple[int, ...]:
        """Cascade state after a word (a str of one-character letters, or letter sequences/indices)."""
        state = self.initial
        for letter in self._encode(word):
            state = self.step(state, letter)
        return state

    def decode(self, state: Sequence[int]) -> int:
        """The DFA state a cascade state stands for (-1: none)."""
        return int(self.state_map[tuple(state)])

    def step_batch(self, states: np.ndarray, letters: np.ndarray) -> np.ndarray:
        """Vectorized :meth:`step`: states (N, L), letters (N,) -> (N, L)."""
        states = np.asarray(states, dtype=np.int64)
        new = np.empty_like(states)
        for i in range(self.n_levels):
            act = self.tables[i][(np.asarray(letters), *states[:, :i].T)]
            new[:, i] = self._images[i][act, states[:, i]]
        return new

    def run_batch(self, codes: np.ndarray) -> np.ndarray:
        """Decoded DFA state after each word: codes (N, T) letter indices -> (N,)."""
        codes = np.asarray(codes, dtype=np.int64)
        states = np.tile(np.array(self.initial, dtype=np.int64), (codes.shape[0], 1))
        for t in range(codes.shape[1]):
            states = self.step_batch(states, codes[:, t])
        return self.state_map[tuple(states.T)]

    def reachable(self) -> np.ndarray:
        """Every cascade state reachable from ``initial``: int64 (R, L), in BFS order."""
        flat, _, _ = self._explore(np.zeros(1, dtype=np.int64), np.zeros((1, self.n_letters), dtype=np.int64))
        return np.stack(np.unravel_index(np.concatenate(flat), self.widths), axis=1).astype(np.int64)

    def counterexample(self, dfa) -> tuple[str, ...] | None:
        """A shortest word on which the cascade and ``dfa`` disagree, or None when they agree on
        every word of every length.

        Explores the pairs (cascade state, DFA state) reachable from (initial, start) breadth-first;
        they agree on all words exactly when every reachable pair has ``decode(c) == q``.
        """
        if tuple(dfa.alphabet) != self.alphabet:
            raise ConstructionError(f"the DFA's alphabet {list(dfa.alphabet)} differs from the cascade's "
                                    f"{list(self.alphabet)}")
        dfa = dfa.complete()
        flat, parents, letters = self._explore(np.array([dfa.start]), dfa.table)
        decoded = self.state_map.reshape(-1)
        for depth, f in enumerate(flat):
            cs, qs = np.divmod(f, dfa.n_states)
            wrong = np.flatnonzero(decoded[cs] != qs)
            if len(wrong):
                k, word = int(wrong[0]), []
                for d in range(depth, 0, -1):
                    word.append(self.alphabet[letters[d][k]])
                    k = parents[d][k]
                return tuple(reversed(word))
        return None

    def _explore(self, start: np.ndarray, table: np.ndarray):
        """Breadth-first search over pairs (cascade state, automaton state) from (initial, start[0]).

        ``table`` (n, n_letters) drives the second component (zeros: cascade states alone). Pairs are
        flat ints ``ravel(cascade state) * n + q``. Returns per depth: the new pairs, the index of each
        one's parent in the previous depth, and the letter that led there.
        """
        n = table.shape[0]
        size = int(np.prod(self.widths)) * n
        seen = np.zeros(size, dtype=bool)
        first = np.ravel_multi_index(tuple(np.array(self.initial)[:, None]), self.widths)[0] * n + int(start[0])
        seen[first] = True
        flat, parents, letters = [np.array([first])], [np.array([-1])], [np.array([-1])]
        while len(flat[-1]):
            cs, qs = np.divmod(flat[-1], n)
            states = np.stack(np.unravel_index(cs, self.widths), axis=1)
            cand, par, let = [], [], []
            for a in range(self.n_letters):
                nxt = np.ravel_multi_index(tuple(self.step_batch(states, np.full(len(cs), a)).T), self.widths)
                cand.append(nxt * n + table[qs, a])
                par.append(np.arange(len(cs)))
                let.append(np.full(len(cs), a))
            cand, par, let = np.concatenate(cand), np.concatenate(par), np.concatenate(let)
            cand, keep = np.unique(cand, return_index=True)
            fresh = ~seen[cand]
            cand, keep = cand[fresh], keep[fresh]
            order = np.argsort(keep, kind="stable")                  # first discovery order
            cand, keep = cand[order], keep[order]
            seen[cand] = True
            flat.append(cand)
            parents.append(par[keep])
            letters.append(let[keep])
        return flat[:-1], parents[:-1], letters[:-1]

    def _encode(self, word) -> list[int]:
        if isinstance(word, np.ndarray):
            return [int(x) for x in word]
        index = {s: i for i, s in enumerate(self.alphabet)}
        out = []
        for s in word:
            if isinstance(s, (int, np.integer)):
                out.append(int(s))
            elif s in index:
                out.append(index[s])
            else:
                from statetrack.errors import AlphabetError

                raise AlphabetError(f"symbol {s!r} is not in the cascade's alphabet {list(self.alphabet)}")
        return out
