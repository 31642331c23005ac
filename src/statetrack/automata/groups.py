"""Group word problems over permutation groups built with sympy.

Names: ``S<n>`` (symmetric), ``A<n>`` (alternating), ``Z<n>`` (cyclic), ``D<n>`` (sympy's
DihedralGroup(n), order 2n) and direct products joined by ``x`` (``A4xZ5``), which act on the
disjoint union of the factors' points (sympy's DirectProduct).

Tokens are group elements written in one-line notation ``p(0),p(1),...,p(n-1)``. The word
problem reads tokens x_1..x_t and tracks their running product, the map that applies x_1 first:
point i goes to x_t(...x_1(i)). Elements are numbered in lexicographic order of their one-line
notation, so element 0 is the identity.

Example
-------
>>> g = group("S3")
>>> g.order, g.token(g.product(["1,0,2", "0,2,1"]))
(6, '2,0,1')
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce

import numpy as np

from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA
from statetrack.errors import GroupError, LimitError

_FACTOR = re.compile(r"([SAZD])(\d+)")


def _sympy_factor(letter: str, n: int):
    from sympy.combinatorics.named_groups import (AlternatingGroup, CyclicGroup, DihedralGroup,
                                                   SymmetricGroup)

    if n < 1:
        raise GroupError(f"group {letter}{n}: the index must be at least 1")
    return {"S": SymmetricGroup, "A": AlternatingGroup, "Z": CyclicGroup, "D": DihedralGroup}[letter](n)


def parse_group_name(name: str):
    """The sympy PermutationGroup for a name like ``S5`` or ``A4xZ5``; GroupError if unknown."""
    parts = name.strip().split("x")
    factors = []
    for part in parts:
        m = _FACTOR.fullmatch(part.strip())
        if m is None:
            raise GroupError(f"unknown group {name!r}: use S<n>, A<n>, Z<n>, D<n> or products like A4xZ5")
        factors.append(_sympy_factor(m.group(1), int(m.group(2))))
    if len(factors) == 1:
        return factors[0]
    from sympy.combinatorics.group_constructs import DirectProduct

    return DirectProduct(*factors)


def _keys(perms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint per row of (N, n) permutations; callers verify matches exactly."""
    with np.errstate(over="ignore"):
        return (perms.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


@dataclass(frozen=True, eq=False)
class Group:
    """A finite permutation group with its elements enumerated.

    Attributes:
        name: the canonical name (``"A4xZ5"``).
        degree: the number of points n the group acts on.
        elements: int array (order, degree); row g is element g in one-line notation.
    """

    name: str
    degree: int
    elements: np.ndarray
    _lookup: tuple = field(repr=False)

    @property
    def order(self) -> int:
        return int(self.elements.shape[0])

    def token(self, g: int | Sequence[int]) -> str:
        """One-line notation of element index g (or of a permutation given as a sequence)."""
        perm = self.elements[g] if isinstance(g, (int, np.integer)) else g
        return ",".join(str(int(x)) for x in perm)

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(self.token(g) for g in range(self.order))

    def index_of(self, perms: np.ndarray) -> np.ndarray:
        """Element indices of (N, degree) permutations; -1 where a row is not in the group."""
        perms = np.asarray(perms, dtype=np.int64).reshape(-1, self.degree)
        weights, sorted_keys, order = self._lookup
        keys = _keys(perms, weights)
        pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        idx = order[pos]
        hit = np.all(self.elements[idx] == perms, axis=1)
        return np.where(hit, idx, -1)

    def parse_token(self, token: str) -> int:
        """Element index of a token in one-line notation; GroupError names a bad token."""
        try:
            perm = [int(x) for x in token.split(",")]
        except ValueError:
            raise GroupError(f"token {token!r} is not a permutation in one-line notation "
                             f"like {self.token(0)!r}") from None
        if len(perm) != self.degree:
            raise GroupError(f"token {token!r} has {len(perm)} entries; {self.name} acts on {self.degree} points")
        g = int(self.index_of(np.array([perm]))[0])
        if g < 0:
            raise GroupError(f"token {token!r} is not an element of {self.name}")
        return g

    def compose(self, g: np.ndarray | int, h: np.ndarray | int) -> np.ndarray:
        """Index of the product "g, then h" (point i goes to h(g(i))); broadcasts over arrays."""
        gi, hi = np.broadcast_arrays(np.asarray(g), np.asarray(h))
        out = np.take_along_axis(self.elements[hi.ravel()], self.elements[gi.ravel()], axis=1)
        return self.index_of(out).reshape(gi.shape)

    def product(self, tokens: Sequence[str]) -> np.ndarray:
        """The running product of the tokens (x_1 applied first) as a permutation (degree,)."""
        perms = [self.elements[self.parse_token(t)] for t in tokens]
        return reduce(lambda acc, p: p[acc], perms, np.arange(self.degree))

    def cayley_table(self) -> np.ndarray:
        """int64 (order, order): entry [g, h] is the index of "g, then h"."""
        n = self.order
        table = np.empty((n, n), dtype=np.int64)
        for h in range(n):  # row-block by the second factor: (order, degree) gathers at a time
            table[:, h] = self.index_of(self.elements[h][self.elements])
        return table

    def to_dfa(self) -> DFA:
        """The word problem as a DFA: states and symbols are the elements, start = identity,
        accepting = {identity} (the product is trivial)."""
        toks = self.tokens
        return DFA(alphabet=toks, table=self.cayley_table(), start=0, accepting={0}, labels=toks)

    def __repr__(self) -> str:
        return f"Group({self.name}, order={self.order}, degree={self.degree})"


def group(name: str, max_order: int = DEFAULT_MAX_STATES) -> Group:
    """Build and enumerate the group called ``name``; GroupError / LimitError on bad input."""
    pg = parse_group_name(name)
    order = int(pg.order())
    if order > max_order:
        raise LimitError(f"group {name} has {order} elements, over the limit of {max_order}",
                         api_hint="raise max_order", cli_hint="raise it with --max-states")
    degree = int(pg.degree)
    elements = np.array(sorted(tuple(p.array_form) for p in pg.generate()), dtype=np.int64).reshape(order, degree)
    weights = np.random.default_rng(0x5EED).integers(1, 2**62, size=degree, dtype=np.int64).astype(np.uint64)
    keys = _keys(elements, weights)
    order_idx = np.argsort(keys, kind="stable")
    if len(np.unique(keys)) != order:  # pragma: no cover - a 64-bit fingerprint collision
        raise GroupError(f"internal: element fingerprints of {name} collide")
    elements.setflags(write=False)
    canonical = "x".join(p.strip() for p in name.strip().split("x"))
    return Group(canonical, degree, elements, (weights, keys[order_idx], order_idx))
