"""Permutation–reset cascades: the explicit, runnable form of a Krohn–Rhodes decomposition.

A cascade has levels 0..L-1. Level i has ``widths[i]`` states; reading a letter, level i applies an
:class:`Action` (a permutation of its states, or a constant map = a reset) chosen from the letter
and the states of levels 0..i-1 *before* the letter (P1 Thm 4: the lower levels feed forward, so
level i is a permutation–reset automaton driven by (letter, lower levels)). The cascade state maps
to a DFA state through ``state_map``.

Only reachable cascade states are stored: ``tables[i]`` has one column per reachable prefix (the
states of levels 0..i-1), numbered by a prefix trie; the LRNN construction takes tables and trie
as they are (routes over a CodeIndex). Their size is what :class:`CascadeLimits` bounds.

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

import math
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
        max_table_entries: most stored dependency-table entries: ``n_letters`` per reachable
            configuration of the levels above each level, plus one state-map entry per reachable
            cascade state (the sparse tables; see :func:`sparse_entries`).
        max_configurations: most cascade states the breadth-first exploration from the initial
            state visits before giving up.
        max_images: most images ``X·w`` the decomposition enumerates before giving up (a cascade
            from more is far beyond the table limit anyway; this keeps the refusal fast).
    """

    max_levels: int = 16
    max_width: int = 64
    max_table_entries: int = 1 << 20
    max_configurations: int = 1 << 17
    max_images: int = 1 << 15

    def exceeded(self, name: str, needed: int, unit: str, detail: str = "") -> LimitError:
        """The one-line error for a limit: which, by how much, what to raise."""
        limit = getattr(self, name)
        flag = {"max_levels": " (--max-levels)", "max_width": " (--max-width)"}.get(name, "")
        return LimitError(f"the Krohn-Rhodes cascade needs {needed} {unit}{detail}, over the limit of {limit} "
                          f"({name}) by {needed - limit}; raise {name}{flag} to at least {needed} "
                          f"or use the direct construction")

    def check(self, widths: Sequence[int], n_letters: int, entries: int | None = None) -> None:
        """Raise LimitError naming the first exceeded limit (``entries``: the stored table entries)."""
        if len(widths) > self.max_levels:
            raise self.exceeded("max_levels", len(widths), "levels", f" (widths {list(widths)})")
        if max(widths, default=0) > self.max_width:
            raise self.exceeded("max_width", max(widths), "states on one level")
        if entries is not None and entries > self.max_table_entries:
            raise self.exceeded("max_table_entries", entries, "dependency-table entries",
                                f" (level widths {list(widths)})")


def table_entries(widths: Sequence[int], n_letters: int) -> int:
    """Entries of *dense* dependency tables plus state map (every tuple of level states, reachable
    or not): sum_i m * prod_{j<i} C_j + prod_j C_j, for comparison with the stored (sparse) entries."""
    total, prefix = 0, 1
    for w in widths:
        total += n_letters * prefix
        prefix *= int(w)
    return total + prefix




@dataclass(frozen=True, eq=False)
class Cascade:
    """A cascade of permutation–reset levels over its reachable states, with a map onto a DFA's states.

    Only cascade states reachable from ``initial`` are stored. A *prefix* of length i is the tuple
    of states of levels 0..i-1 of some reachable cascade state; prefixes of length i are numbered
    0..P_i-1 (P_0 = 1: the empty prefix) and linked as a trie by ``children``.

    Attributes:
        alphabet: the letters (index = position).
        widths: (L,) number of states per level.
        actions: per level, the distinct actions used (``actions[i][0]`` is the identity).
        tables: per level i, int64 (n_letters, P_i): index into ``actions[i]`` for a letter and
            the prefix (levels 0..i-1) *before* the letter.
        children: per level i, int64 (P_i, C_i): the prefix of length i+1 that extends prefix p
            by level i's state x, -1 when no reachable cascade state starts that way.
        initial: the cascade state before any letter, (L,).
        state_map: int64 (P_L,): the DFA state each reachable cascade state stands for.
        name: the decomposition that produced it.
        info: JSON-ready facts from the decomposition (image counts, level grouping, ...).
    """

    alphabet: tuple[str, ...]
    widths: tuple[int, ...]
    actions: tuple[tuple[Action, ...], ...]
    tables: tuple[np.ndarray, ...]
    children: tuple[np.ndarray, ...]
    initial: tuple[int, ...]
    state_map: np.ndarray
    name: str = "holonomy"
    info: dict = field(default_factory=dict)
    _images: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        L, m = len(self.widths), len(self.alphabet)
        if L == 0 or not len(self.actions) == len(self.tables) == len(self.children) == len(self.initial) == L:
            raise ConstructionError("a cascade needs at least one level and one action list, table, trie "
                                    "level and initial state per level")
        count = 1
        for i, (w, acts, tab, ch) in enumerate(zip(self.widths, self.actions, self.tables, self.children)):
            if not acts or not acts[0].is_identity or any(a.width != w for a in acts):
                raise ConstructionError(f"level {i}: actions must have width {w}, the first the identity")
            if tab.shape != (m, count) or tab.min() < 0 or tab.max() >= len(acts):
                raise ConstructionError(f"level {i}: the dependency table has shape {tab.shape}, expected "
                                        f"{(m, count)} with entries < {len(acts)}")
            ids = np.sort(ch[ch >= 0])
            if ch.shape != (count, w) or not np.array_equal(ids, np.arange(len(ids))):
                raise ConstructionError(f"level {i}: the prefix trie has shape {ch.shape}, expected {(count, w)} "
                                        f"numbering its prefixes 0, 1, ... once each")
            if not 0 <= self.initial[i] < w:
                raise ConstructionError(f"level {i}: initial state {self.initial[i]} is not in 0..{w - 1}")
            count = len(ids)
        if self.state_map.shape != (count,):
            raise ConstructionError(f"the state map has shape {self.state_map.shape}, expected {(count,)}")
        images = tuple(np.array([a.image for a in acts], dtype=np.int64) for acts in self.actions)
        object.__setattr__(self, "_images", images)

    # ------------------------------------------------------------------ facts
    @property
    def n_levels(self) -> int:
        return len(self.widths)

    @property
    def n_letters(self) -> int:
        return len(self.alphabet)

    @property
    def n_configurations(self) -> int:
        """Reachable cascade states stored (P_L)."""
        return int(self.state_map.shape[0])

    @property
    def table_entries(self) -> int:
        """Stored entries: n_letters per prefix of every level, plus the state map."""
        return sum(int(t.size) for t in self.tables) + self.n_configurations

    def prefixes(self, i: int) -> np.ndarray:
        """The reachable prefixes of length i as level states, int64 (P_i, i), row p = prefix p."""
        vals = np.zeros((1, 0), dtype=np.int64)
        for j in range(i):
            p, x = np.nonzero(self.children[j] >= 0)
            nxt = np.empty((len(p), j + 1), dtype=np.int64)
            nxt[self.children[j][p, x]] = np.concatenate([vals[p], x[:, None]], axis=1)
            vals = nxt
        return vals

    def locate(self, states: np.ndarray, upto: int | None = None) -> np.ndarray:
        """Prefix ids of the first ``upto`` levels (all: the cascade state's id) of states (N, L) -> (N,);
        -1 for a tuple that no reachable cascade state starts with."""
        states = np.asarray(states, dtype=np.int64).reshape(-1, self.n_levels)
        p = np.zeros(len(states), dtype=np.int64)
        for i in range(self.n_levels if upto is None else upto):
            ok = p >= 0
            p[ok] = self.children[i][p[ok], states[ok, i]]
        return p

    def action(self, level: int, letter: int, lower: Sequence[int]) -> Action:
        """The action of ``letter`` on ``level`` when the lower levels are in states ``lower``."""
        p = int(self.locate(np.array([*lower, *[0] * (self.n_levels - level)]), upto=level)[0])
        if p < 0:
            raise ConstructionError(f"levels 0..{level - 1} in states {tuple(lower)} are never reached")
        return self.actions[level][int(self.tables[level][letter, p])]

    def summary(self) -> dict:
        kinds = [sorted({a.kind for a in acts} - {"identity"}) for acts in self.actions]
        return {"decomposition": self.name, "levels": self.n_levels, "widths": list(self.widths),
                "actions_per_level": [len(a) for a in self.actions], "action_kinds": kinds,
                "reachable_configurations": self.n_configurations,
                "product_of_widths": math.prod(self.widths),
                "table_entries": self.table_entries,
                "dense_table_entries": table_entries(self.widths, self.n_letters)}

    # ------------------------------------------------------------------ running
    def step(self, state: Sequence[int], letter: int) -> tuple[int, ...]:
        """One letter: every level reads the lower levels' states before the letter."""
        return tuple(int(x) for x in self.step_batch(np.array([state]), np.array([letter]))[0])

    def run(self, word) -> tuple[int, ...]:
        """Cascade state after a word (a str of one-character letters, or letter sequences/indices)."""
        state = self.initial
        for letter in self._encode(word):
            state = self.step(state, letter)
        return state

    def decode(self, state: Sequence[int]) -> int:
        """The DFA state a cascade state stands for (-1: none, an unreachable tuple)."""
        p = int(self.locate(np.array(state))[0])
        return int(self.state_map[p]) if p >= 0 else -1

    def step_batch(self, states: np.ndarray, letters: np.ndarray) -> np.ndarray:
        """Vectorized :meth:`step`: reachable states (N, L), letters (N,) -> (N, L)."""
        states = np.asarray(states, dtype=np.int64)
        letters = np.asarray(letters, dtype=np.int64)
        new = np.empty_like(states)
        p = np.zeros(len(states), dtype=np.int64)
        for i in range(self.n_levels):
            if np.any(p < 0):
                raise ConstructionError("step from a cascade state that is never reached")
            act = self.tables[i][letters, p]
            new[:, i] = self._images[i][act, states[:, i]]
            p = self.children[i][p, states[:, i]]
        return new

    def run_batch(self, codes: np.ndarray) -> np.ndarray:
        """Decoded DFA state after each word: codes (N, T) letter indices -> (N,); -1 where the
        cascade left its reachable states (a broken cascade)."""
        codes = np.asarray(codes, dtype=np.int64)
        ids = np.full(codes.shape[0], int(self.locate(np.array(self.initial))[0]))
        succ = self.successors()
        for t in range(codes.shape[1]):
            ok = ids >= 0
            ids[ok] = succ[ids[ok], codes[ok, t]]
        return np.where(ids >= 0, self.state_map[ids], -1)

    def successors(self) -> np.ndarray:
        """int64 (P_L, n_letters): the id of each stored cascade state after each letter (-1: outside)."""
        got = self.__dict__.get("_succ")
        if got is None:
            leaves = self.prefixes(self.n_levels)
            got = np.stack([self.locate(self._step_any(leaves, a)) for a in range(self.n_letters)], axis=1)
            self.__dict__["_succ"] = got
        return got

    def _step_any(self, states: np.ndarray, letter: int) -> np.ndarray:
        """Like step_batch for one letter, on stored states only (their prefixes are all in the trie)."""
        return self.step_batch(states, np.full(len(states), letter))

    def reachable(self) -> np.ndarray:
        """Every cascade state reachable from ``initial``: int64 (R, L), in BFS order."""
        flat, _, _ = self._explore(np.zeros(1, dtype=np.int64), np.zeros((1, self.n_letters), dtype=np.int64))
        return self.prefixes(self.n_levels)[np.concatenate(flat) - 1]

    def counterexample(self, dfa) -> tuple[str, ...] | None:
        """A shortest word on which the cascade and ``dfa`` disagree, or None when they agree on
        every word of every length.

        Explores the pairs (cascade state, DFA state) reachable from (initial, start) breadth-first;
        they agree on all words exactly when every reachable pair has ``decode(c) == q`` (a cascade
        state outside the stored ones decodes to -1, a disagreement).
        """
        if tuple(dfa.alphabet) != self.alphabet:
            raise ConstructionError(f"the DFA's alphabet {list(dfa.alphabet)} differs from the cascade's "
                                    f"{list(self.alphabet)}")
        dfa = dfa.complete()
        flat, parents, letters = self._explore(np.array([dfa.start]), dfa.table)
        decoded = np.append(self.state_map, -1)                      # id -1 -> -1
        for depth, f in enumerate(flat):
            cs, qs = np.divmod(f, dfa.n_states)
            wrong = np.flatnonzero(decoded[cs - 1] != qs)
            if len(wrong):
                k, word = int(wrong[0]), []
                for d in range(depth, 0, -1):
                    word.append(self.alphabet[letters[d][k]])
                    k = parents[d][k]
                return tuple(reversed(word))
        return None

    def _explore(self, start: np.ndarray, table: np.ndarray):
        """Breadth-first search over pairs (cascade state id, automaton state) from (initial, start[0]).

        ``table`` (n, n_letters) drives the second component (zeros: cascade states alone). Pairs are
        flat ints ``(id + 1) * n + q`` (id -1, a state outside the stored ones, is a dead end). Returns
        per depth: the new pairs, the index of each one's parent in the previous depth, and the letter.
        """
        n = table.shape[0]
        succ = np.vstack([self.successors(), np.full((1, self.n_letters), -1)])   # row -1: dead end
        seen = np.zeros((self.n_configurations + 1) * n, dtype=bool)
        first = (int(self.locate(np.array(self.initial))[0]) + 1) * n + int(start[0])
        seen[first] = True
        flat, parents, letters = [np.array([first])], [np.array([-1])], [np.array([-1])]
        while len(flat[-1]):
            cs, qs = np.divmod(flat[-1], n)
            live = cs > 0
            cand, par, let = [], [], []
            for a in range(self.n_letters):
                cand.append((succ[cs[live] - 1, a] + 1) * n + table[qs[live], a])
                par.append(np.flatnonzero(live))
                let.append(np.full(int(live.sum()), a))
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
