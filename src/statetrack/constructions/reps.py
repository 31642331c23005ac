"""Faithful orthogonal representations of small groups, and how few reflections they need.

A representation rho sends each element g of a :class:`~statetrack.automata.groups.Group` to an
orthogonal (d, d) matrix with ``rho(g then h) = rho(h) @ rho(g)`` (the state is H_t = rho(x_t) H_{t-1},
as for the permutation matrices of the ``group`` construction). Its cost as one DeltaProduct layer
is the width d and n_h = max over g of rank(I - rho(g)): by Cartan-Dieudonne that many reflections
and no fewer write rho(g) (``factorize.fewest_reflections``).

Target matrix groups searched (:func:`candidate_targets`):

- width 1: {1, -1};
- width 2: the dihedral group of the regular N-gon in O(2) (rotations by 2 pi k / N and the N
  reflections), which holds every cyclic and dihedral group;
- width 3: the cube's full symmetry group O_h (48 signed permutation matrices; its rotations are S4,
  its even-permutation rotations A4) and the icosahedron's I_h (120 matrices, rotations A5);
- direct sums of the factors' best representations, for product names like ``A4xZ5``;
- the permutation representation itself (width = degree), P1's construction, as the fallback.

:func:`embed` finds an injective homomorphism from the group into a target by trying images for a
small generating set (same element orders) and extending along the Cayley graph; the result is
checked on every pair of elements (homomorphism) and for distinct images (faithful) before use.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from statetrack.automata.groups import Group
from statetrack.constructions.factorize import reflection_length

_TOL = 1e-9


@dataclass(frozen=True)
class Representation:
    """rho as an array of matrices: mats (order, d, d), row g = rho(element g).

    Attributes: name (how it was found, e.g. ``cube O_h``), exact (every entry is a small dyadic
    number, so every float format stores it without error).
    """

    name: str
    mats: np.ndarray
    exact: bool

    @property
    def width(self) -> int:
        return int(self.mats.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """int (order,): rank(I - rho(g)), the fewest reflections per element."""
        return np.array([reflection_length(m) for m in self.mats], dtype=np.int64)

    @property
    def n_h(self) -> int:
        return int(self.lengths.max(initial=0))

    def cost(self) -> tuple[int, int, int]:
        """Sort key: fewest factors, then narrowest, then exact before inexact."""
        return (self.n_h, self.width, 0 if self.exact else 1)


def is_dyadic(x: np.ndarray, bits: int = 7) -> bool:
    """Every entry is k / 2^j with |k| < 2^bits, j <= 2 (stored exactly even in bfloat16)."""
    y = np.asarray(x, dtype=np.float64) * 4.0
    return bool(np.all(y == np.round(y)) and np.abs(y).max(initial=0) < 2 ** bits)


# ---------------------------------------------------------------------- target matrix groups
def closure(gens: list[np.ndarray], limit: int = 1000) -> np.ndarray:
    """Every product of the generators (float64 (k, d, d)), found breadth first; duplicates
    within 1e-9 merged."""
    d = gens[0].shape[0]
    found = [np.eye(d)]
    frontier = [np.eye(d)]
    while frontier:
        nxt = []
        for m in frontier:
            for g in gens:
                p = g @ m
                if not any(np.abs(p - q).max() < 1e-9 for q in found):
                    found.append(p)
                    nxt.append(p)
                    if len(found) > limit:
                        raise ValueError("closure exceeds the limit: the generators do not make a finite group")
        frontier = nxt
    return np.array(found)


def polygon_group(N: int) -> np.ndarray:
    """The 2N symmetries of the regular N-gon in O(2): rotations by 2 pi k/N, then reflections."""
    a = 2 * math.pi * np.arange(N) / N
    c, s = np.cos(a), np.sin(a)
    for v, exact in ((0.0, 0.0), (1.0, 1.0), (-1.0, -1.0)):      # snap exact cosines and sines
        c[np.abs(c - v) < 1e-12], s[np.abs(s - v) < 1e-12] = exact, exact
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    ref = np.stack([np.stack([c, s], -1), np.stack([s, -c], -1)], -2)
    return np.concatenate([rot, ref])


@lru_cache(maxsize=None)
def _cached(name: str) -> np.ndarray:
    mats = {"cube": _cube_group, "icosahedron": _icosahedral_group}[name]()
    mats.setflags(write=False)
    return mats


def cube_group() -> np.ndarray:
    """O_h: the 48 signed 3 x 3 permutation matrices (integer entries), (48, 3, 3)."""
    return _cached("cube")


def icosahedral_group() -> np.ndarray:
    """I_h, (120, 3, 3): see :func:`_icosahedral_group`."""
    return _cached("icosahedron")


def _cube_group() -> np.ndarray:
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[list(perm), range(3)] = signs
            out.append(m)
    return np.array(out)


def _icosahedral_group() -> np.ndarray:
    """I_h: the 120 symmetries of the icosahedron with vertices (0, +-1, +-phi) and cyclic shifts.

    Generated by the cyclic shift of coordinates, the sign flip of the first two coordinates, the
    rotation by 2 pi/5 about the vertex axis (0, 1, phi), and -I.
    """
    phi = (1 + math.sqrt(5)) / 2
    shift = np.eye(3)[[2, 0, 1]]
    flip = np.diag([-1.0, -1.0, 1.0])
    five = 0.5 * np.array([[1 / phi, -phi, 1.0], [phi, 1.0, 1 / phi], [-1.0, 1 / phi, phi]])
    return closure([shift, flip, five, -np.eye(3)], limit=200)


def candidate_targets(order: int) -> list[tuple[str, np.ndarray, bool]]:
    """(name, matrices (k, d, d), exact) of the matrix groups a group of this order may embed into."""
    out = [("scalar +-1", np.array([[[1.0]], [[-1.0]]]), True)]
    for N in sorted({order, order // 2} - {0}):
        mats = polygon_group(N)
        out.append((f"{N}-gon O(2)", mats, is_dyadic(mats)))
    if 48 % order == 0:
        out.append(("cube O_h", cube_group(), True))
    if 120 % order == 0:
        out.append(("icosahedron I_h", icosahedral_group(), False))
    return out


# ---------------------------------------------------------------------- embeddings
def generating_set(table: np.ndarray) -> list[int]:
    """A few elements generating the group (Cayley table (order, order)), large orders first."""
    n = len(table)
    orders = np.array([_element_order(table, g) for g in range(n)])
    gens: list[int] = []
    span = {0}
    for g in np.argsort(-orders, kind="stable"):
        if len(span) == n:
            break
        if int(g) in span:
            continue
        gens.append(int(g))
        span = _subgroup(table, gens)
    return gens


def _element_order(table: np.ndarray, g: int) -> int:
    k, x = 1, g
    while x != 0:
        x, k = int(table[x, g]), k + 1
    return k


def _subgroup(table: np.ndarray, gens: list[int]) -> set[int]:
    span, frontier = {0}, [0]
    while frontier:
        nxt = []
        for x in frontier:
            for s in gens:
                y = int(table[x, s])
                if y not in span:
                    span.add(y)
                    nxt.append(y)
        frontier = nxt
    return span


def _matrix_order(m: np.ndarray, limit: int = 1000) -> int:
    p, k = m.copy(), 1
    while np.abs(p - np.eye(len(m))).max() > 1e-9:
        p, k = m @ p, k + 1
        if k > limit:
            return 0
    return k


def extend(table: np.ndarray, gens: list[int], images: list[np.ndarray]) -> np.ndarray | None:
    """rho on every element from rho on the generators, or None if the images are inconsistent.

    table[g, h] is "g then h"; rho(g then s) = rho(s) @ rho(g).
    """
    n, d = len(table), images[0].shape[0]
    rho: list[np.ndarray | None] = [None] * n
    rho[0] = np.eye(d)
    frontier = [0]
    while frontier:
        nxt = []
        for g in frontier:
            for s, img in zip(gens, images):
                h = int(table[g, s])
                m = img @ rho[g]
                if rho[h] is None:
                    rho[h] = m
                    nxt.append(h)
                elif np.abs(rho[h] - m).max() > _TOL:
                    return None
        frontier = nxt
    if any(m is None for m in rho):
        return None
    return np.array(rho)


def is_faithful_rep(table: np.ndarray, mats: np.ndarray) -> bool:
    """rho(g then h) = rho(h) rho(g) for every pair, rho(g) orthogonal, and distinct g give distinct matrices."""
    n, d = mats.shape[0], mats.shape[1]
    if np.abs(np.einsum("gji,gjk->gik", mats, mats) - np.eye(d)).max() > 1e-9:
        return False
    prod = np.einsum("hij,gjk->ghik", mats, mats)                      # [g, h] = rho(h) rho(g)
    if np.abs(prod - mats[table]).max() > 1e-9:
        return False
    flat = mats.reshape(n, -1)
    dist = np.abs(flat[:, None, :] - flat[None, :, :]).max(-1) + np.eye(n)
    return bool(dist.min() > 1e-6)


def embed(g: Group, target: np.ndarray, *, max_tries: int = 20_000) -> np.ndarray | None:
    """An injective homomorphism from g into the matrix group ``target`` (k, d, d), as matrices
    (order, d, d), or None if none was found within ``max_tries`` generator images."""
    if g.order > len(target) or len(target) % g.order:
        return None
    table = g.cayley_table()
    gens = generating_set(table)
    if not gens:                                           # the trivial group
        return np.eye(target.shape[1])[None]
    g_orders = np.array([_element_order(table, x) for x in range(g.order)])
    t_orders = np.array([_matrix_order(m, limit=int(g_orders.max())) for m in target])   # 0: larger than any
    # an injective image has at least as many elements of each order as the group
    for k, count in zip(*np.unique(g_orders, return_counts=True)):
        if (t_orders == k).sum() < count:
            return None
    pools = [np.flatnonzero(t_orders == g_orders[s]) for s in gens]
    for tries, choice in enumerate(itertools.product(*pools)):
        if tries >= max_tries:
            break
        rho = extend(table, gens, [target[i] for i in choice])
        if rho is not None and is_faithful_rep(table, rho):
            return rho
    return None


def permutation_rep(g: Group) -> Representation:
    """P1's representation: the permutation matrices on the group's points (exact)."""
    n = g.degree
    mats = np.zeros((g.order, n, n))
    mats[np.arange(g.order)[:, None], g.elements, np.arange(n)[None, :]] = 1.0
    return Representation("permutation (P1)", mats, True)


def direct_sum(g: Group, parts: list[tuple[Group, Representation]]) -> Representation:
    """Block-diagonal representation of a direct product from one representation per factor.

    The product's points are the factors' points in order, so element g restricted to factor i's
    block (shifted to start at 0) is an element of factor i.
    """
    width = sum(r.width for _, r in parts)
    mats = np.zeros((g.order, width, width))
    pt, off = 0, 0
    for fg, rep in parts:
        block = g.elements[:, pt:pt + fg.degree] - pt
        idx = fg.index_of(block)
        if (idx < 0).any():
            raise ValueError(f"{g.name}: the points {pt}..{pt + fg.degree - 1} do not carry {fg.name}")
        mats[:, off:off + rep.width, off:off + rep.width] = rep.mats[idx]
        pt, off = pt + fg.degree, off + rep.width
    return Representation(" + ".join(r.name for _, r in parts), mats, all(r.exact for _, r in parts))


def candidates(g: Group, *, use_products: bool = True) -> list[Representation]:
    """Every faithful orthogonal representation the search finds, cheapest first (see module doc)."""
    from statetrack.automata.groups import group

    found = [permutation_rep(g)]
    for name, target, exact in candidate_targets(g.order):
        rho = embed(g, target)
        if rho is not None:
            found.append(Representation(name, rho, exact and is_dyadic(rho)))
    factors = g.name.split("x")
    if use_products and len(factors) > 1:
        parts = [(fg, best(fg)) for fg in (group(f) for f in factors)]
        found.append(direct_sum(g, parts))
    return sorted(found, key=Representation.cost)


def best(g: Group) -> Representation:
    """The cheapest representation found: fewest factors, then narrowest, then exact."""
    return candidates(g)[0]
