"""The transition monoid of a complete DFA, and its classification.

Every word ``w`` acts on the states as the transformation ``f_w(q) = delta*(q, w)``, the state
reached from ``q`` after reading ``w``. The DFA reads left to right, so for words ``u`` and ``v``

    f_uv = "f_u, then f_v",    f_uv(q) = f_v(f_u(q)),    as arrays: ``f_uv = f_v[f_u]``.

The transition monoid is the set of all ``f_w`` (the empty word gives the identity). Throughout
this module "``e`` times ``f``" (:meth:`TransitionMonoid.multiply`) means *apply e first, then f*,
the same order as :meth:`statetrack.automata.groups.Group.compose` and sympy's ``p*q``.

Elements are numbered in shortlex order of their shortest words: element 0 is the identity, then
the letters' transformations (duplicates dropped), then words of length 2, and so on; each
element remembers its shortlex-least word.

Classification (P1 Thm 3 and Thm 4 use these):

- :attr:`~TransitionMonoid.is_group`: every letter permutes the states (then every element does,
  and the monoid is a group).
- :attr:`~TransitionMonoid.is_aperiodic`: no element generates a nontrivial group, i.e.
  ``x**k == x**(k+1)`` for every ``x`` and large k (star-free languages, Schützenberger).
- :attr:`~TransitionMonoid.is_permutation_reset`: every letter is a permutation or a constant
  map (a reset), so the DFA is already one level of a Krohn–Rhodes cascade.

Example
-------
>>> from statetrack.automata.regex import regex_to_dfa
>>> m = transition_monoid(regex_to_dfa("(b*ab*a)*b*", "ab"))   # even number of a's
>>> m.size, m.is_group, m.is_aperiodic
(2, True, False)
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.errors import AlphabetError, DFAError, LimitError

#: Default bound on the number of monoid elements enumerated.
DEFAULT_MAX_ELEMENTS = 100_000
#: Bound on stored transformation entries (elements x states), to keep memory in check.
MAX_ENTRIES = 1 << 28


def _point_dtype(n: int):
    return np.uint8 if n <= 1 << 8 else np.uint16 if n <= 1 << 16 else np.int32


@dataclass(frozen=True, eq=False)
class TransitionMonoid:
    """The transition monoid of a complete DFA.

    Attributes:
        alphabet: the DFA's symbols.
        n_points: the number of DFA states n the transformations act on.
        elements: int array (size, n); row e is the transformation q -> elements[e, q].
        words: the shortlex-least word (tuple of symbols) of each element; words[0] == ().
        right: int64 array (size, n_symbols); right[e, c] = index of "e, then letter c".
        letters: int64 array (n_symbols,); the element of each one-letter word.
    """

    alphabet: tuple[str, ...]
    n_points: int
    elements: np.ndarray
    words: tuple[tuple[str, ...], ...]
    right: np.ndarray
    letters: np.ndarray
    _lookup: dict = field(repr=False)

    # ---------------------------------------------------------------- elements
    @property
    def size(self) -> int:
        return int(self.elements.shape[0])

    def __len__(self) -> int:
        return self.size

    def index_of(self, transformation: Sequence[int] | np.ndarray) -> int:
        """Index of a transformation (n,) in the monoid, or -1 if it is not an element."""
        t = np.asarray(transformation)
        if t.shape != (self.n_points,) or t.min(initial=0) < 0 or t.max(initial=0) >= self.n_points:
            return -1
        return self._lookup.get(t.astype(self.elements.dtype).tobytes(), -1)

    def element_of_word(self, word: str | Sequence[str]) -> int:
        """Index of f_word; AlphabetError names a symbol outside the alphabet."""
        index = {s: c for c, s in enumerate(self.alphabet)}
        e = 0
        for s in word:
            if s not in index:
                raise AlphabetError(f"symbol {s!r} is not in the alphabet of the monoid")
            e = int(self.right[e, index[s]])
        return e

    def multiply(self, e: int, f: int) -> int:
        """Index of "e, then f" (the transformation q -> f(e(q)))."""
        return self.index_of(self.elements[f][self.elements[e]])

    def power(self, e: int, k: int) -> int:
        """Index of e applied k times (k >= 0; power 0 is the identity)."""
        x, out = self.elements[e], np.arange(self.n_points)
        while k:
            if k & 1:
                out = x[out]
            x, k = x[x], k >> 1
        return self.index_of(out)

    def index_and_period(self, e: int) -> tuple[int, int]:
        """(i, p), the least i >= 0, p >= 1 with e**(i+p) == e**i."""
        seen = {0: 0}
        x = 0
        k = 0
        while True:
            x = self.multiply(x, e)
            k += 1
            if x in seen:
                return seen[x], k - seen[x]
            seen[x] = k

    # ---------------------------------------------------------------- structure
    def image(self, e: int) -> frozenset[int]:
        """The set of states f_e(Q)."""
        return frozenset(int(q) for q in np.unique(self.elements[e]))

    def rank(self, e: int) -> int:
        return int(len(np.unique(self.elements[e])))

    def apply(self, subset: Iterable[int], e: int) -> frozenset[int]:
        """The image of a set of states under element e."""
        return frozenset(int(self.elements[e, q]) for q in subset)

    def image_sets(self) -> list[frozenset[int]]:
        """The distinct images f_e(Q) of the whole state set, largest first (then by sorted
        contents); Q itself comes first. The holonomy decomposition starts from these."""
        sets = {self.image(e) for e in range(self.size)}
        return sorted(sets, key=lambda s: (-len(s), sorted(s)))

    def subset_orbit(self, subsets: Iterable[Iterable[int]]) -> list[frozenset[int]]:
        """Every set reachable from ``subsets`` by applying letters, in BFS order."""
        order = []
        seen = set()
        for s in subsets:
            s = frozenset(int(q) for q in s)
            if s not in seen:
                seen.add(s)
                order.append(s)
        letter_maps = [self.elements[e] for e in self.letters]
        for s in order:
            for f in letter_maps:
                t = frozenset(int(f[q]) for q in s)
                if t not in seen:
                    seen.add(t)
                    order.append(t)
        return order

    def idempotents(self) -> list[int]:
        """Indices e with e * e == e."""
        sq = np.take_along_axis(self.elements, self.elements.astype(np.intp), axis=1)
        return [int(e) for e in np.flatnonzero(np.all(sq == self.elements, axis=1))]

    def units(self) -> list[int]:
        """Indices of the permutations (the group of units)."""
        return [e for e in range(self.size) if self.rank(e) == self.n_points]

    # ---------------------------------------------------------------- letters
    @cached_property
    def letter_kinds(self) -> tuple[str, ...]:
        """Per letter: "identity", "permutation", "constant" (a reset) or "other"."""
        kinds = []
        for e in self.letters:
            f = self.elements[e]
            r = len(np.unique(f))
            if np.array_equal(f, np.arange(self.n_points)):
                kinds.append("identity")
            elif r == self.n_points:
                kinds.append("permutation")
            elif r == 1:
                kinds.append("constant")
            else:
                kinds.append("other")
        return tuple(kinds)

    # ---------------------------------------------------------------- classification
    @property
    def is_group(self) -> bool:
        """Every letter is a permutation, so the monoid is a permutation group."""
        return all(k in ("identity", "permutation") for k in self.letter_kinds)

    @property
    def is_permutation_reset(self) -> bool:
        """Every letter is a permutation or a constant map."""
        return all(k != "other" for k in self.letter_kinds)

    @property
    def is_commutative(self) -> bool:
        """The letters commute (then so does every pair of elements)."""
        r, ls = self.right, [int(x) for x in self.letters]
        return all(int(r[ls[a], b]) == int(r[ls[b], a])  # "a then b" == "b then a"
                   for a in range(len(ls)) for b in range(a + 1, len(ls)))

    @cached_property
    def periodic_element(self) -> int | None:
        """An element x whose powers cycle with period > 1 (a nontrivial cyclic subgroup), or None.

        x**k is stable for k >= n (an index is at most n), and x**(k+1) == x**k exactly when
        every cycle of x's functional graph is a fixed point; computed for all elements at once
        by repeated squaring."""
        e = self.elements.astype(np.intp)  # (size, n)
        p = e.copy()
        k = 1
        while k < self.n_points:  # p = x**k, k a power of two >= n
            p = np.take_along_axis(p, p, axis=1)
            k *= 2
        nxt = np.take_along_axis(e, p, axis=1)  # x**(k+1): first x**k, then x
        bad = np.flatnonzero(np.any(nxt != p, axis=1))
        return int(bad[0]) if len(bad) else None

    @property
    def is_aperiodic(self) -> bool:
        """No element generates a nontrivial group (x**k == x**(k+1) for all x)."""
        return self.periodic_element is None

    def summary(self) -> dict:
        """JSON-ready facts: size, classification and letter kinds."""
        return {
            "size": self.size,
            "n_points": self.n_points,
            "is_group": self.is_group,
            "is_aperiodic": self.is_aperiodic,
            "is_permutation_reset": self.is_permutation_reset,
            "is_commutative": self.is_commutative,
            "idempotents": len(self.idempotents()),
            "letter_kinds": dict(zip(self.alphabet, self.letter_kinds)),
        }

    def __repr__(self) -> str:
        return (f"TransitionMonoid(size={self.size}, points={self.n_points}, group={self.is_group}, "
                f"aperiodic={self.is_aperiodic}, permutation_reset={self.is_permutation_reset})")


def transition_monoid(dfa: DFA, *, max_elements: int = DEFAULT_MAX_ELEMENTS) -> TransitionMonoid:
    """Enumerate the transition monoid of a complete DFA (breadth first, shortlex words).

    Raises DFAError for a partial DFA (complete it first: the sink is a real state of the monoid's
    action) and LimitError when there are more than ``max_elements`` elements.
    """
    if not dfa.is_complete:
        q, c = (int(x) for x in np.argwhere(dfa.table < 0)[0])
        raise DFAError(f"the transition monoid needs a complete DFA, but state {q} has no move on "
                       f"{dfa.alphabet[c]!r} (call complete() first)")
    n, m = dfa.n_states, dfa.n_symbols
    dtype = _point_dtype(n)
    gens = dfa.table.T.astype(dtype)  # (m, n): row c is the letter's transformation
    identity = np.arange(n, dtype=dtype)
    rows = [identity]
    words: list[tuple[str, ...]] = [()]
    lookup = {identity.tobytes(): 0}
    right: list[list[int]] = []
    e = 0
    while e < len(rows):  # BFS: rows grows while we walk it
        succ = gens[:, rows[e]]  # (m, n): row c is "e, then letter c"
        out = []
        for c in range(m):
            key = succ[c].tobytes()
            k = lookup.get(key)
            if k is None:
                k = len(rows)
                if k >= max_elements or (k + 1) * n > MAX_ENTRIES:
                    raise LimitError(f"the transition monoid has more than {k} elements, over the limit "
                                     f"(max_elements={max_elements}, at most {MAX_ENTRIES} stored entries)")
                lookup[key] = k
                rows.append(succ[c].copy())
                words.append(words[e] + (dfa.alphabet[c],))
            out.append(k)
        right.append(out)
        e += 1
    elements = np.stack(rows)
    elements.setflags(write=False)
    right_arr = np.array(right, dtype=np.int64).reshape(len(rows), m)
    right_arr.setflags(write=False)
    letters = right_arr[0].copy()
    letters.setflags(write=False)
    return TransitionMonoid(alphabet=dfa.alphabet, n_points=n, elements=elements, words=tuple(words),
                            right=right_arr, letters=letters, _lookup=lookup)
