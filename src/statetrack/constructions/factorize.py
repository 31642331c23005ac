"""Matrices as products of generalized Householder factors (P1 Prop 1b).

Every factor returned is symmetric, ``I - beta k k^T / |k|^2`` with beta in [0, 2], listed in
application order (the first factor acts first), so ``product_matrix(factors, n)`` rebuilds the
matrix:

- :func:`permutation_factors`: a permutation of n points, at most n - 1 swaps (beta = 2).
- :func:`orthogonal_factors`: an orthogonal n x n matrix, at most n reflections (beta = 2):
  Householder elimination turns the columns into e_1, e_2, ... one at a time; what is left is
  diag(1, ..., 1, +-1).
- :func:`contraction_factors`: any n x n matrix of spectral norm <= 1, at most 3n factors:
  ``M = U diag(s) V^T`` (SVD) with V^T and U written as reflections, and each singular value s_i in
  [0, 1] as the factor ``I - (1 - s_i) e_i e_i^T`` (beta = 1 - s_i scales coordinate i by s_i).
- :func:`fewest_reflections`: an orthogonal matrix as exactly rank(I - Q) reflections, the fewest
  possible (Cartan-Dieudonne; every reflection changes the fixed space's dimension by one).
- :func:`gh_factors`: picks the tightest of the three for the given matrix.

Bad input (not square, not orthogonal, norm above 1, not a permutation) raises ConstructionError.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from statetrack.constructions.common import swap_factors
from statetrack.constructions.weights import Factor
from statetrack.errors import ConstructionError

#: default tolerance for "orthogonal" and "norm <= 1" in float64
TOL = 1e-9
#: a reflection is left out only when its normal is this short: the product is then off by about as
#: much, so it must stay far below the 1e-12 the factorizations promise (TOL is for input checks)
SKIP = 1e-14


def _square(m) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ConstructionError(f"expected a non-empty square matrix, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ConstructionError("the matrix holds NaN or inf")
    return m


def permutation_factors(perm: Sequence[int]) -> list[Factor]:
    """Swaps whose product sends e_p to e_{perm[p]}: n - (number of cycles) <= n - 1 of them."""
    perm = [int(p) for p in perm]
    n = len(perm)
    if sorted(perm) != list(range(n)):
        raise ConstructionError(f"{perm} is not a permutation of 0..{n - 1}")
    return swap_factors(perm, n)


def reflection_onto(x: np.ndarray, j: int, tol: float = TOL) -> Factor | None:
    """The reflection sending x (unit length, zero before index j) to e_j, or None if x is e_j already.

    Its normal is v = x - e_j; the j-th entry is computed as -(|x|^2 - x_j^2) / (x_j + 1) when
    x_j > 0, which avoids cancelling two nearly equal numbers.
    """
    v = x.copy()
    rest = float(v[j + 1:] @ v[j + 1:])
    v[j] = -rest / (x[j] + 1.0) if x[j] > 0 else x[j] - 1.0
    if np.linalg.norm(v) <= tol:
        return None
    return Factor.householder(v, 2.0)


def orthogonal_factors(q, tol: float = TOL) -> list[Factor]:
    """At most n reflections (beta = 2) whose product is the orthogonal matrix q (n, n)."""
    q = _square(q)
    n = len(q)
    if np.abs(q.T @ q - np.eye(n)).max() > tol:
        raise ConstructionError(f"the matrix is not orthogonal (|Q^T Q - I| = {np.abs(q.T @ q - np.eye(n)).max():.3g})")
    r, found = q.copy(), []
    for j in range(n - 1):
        x = np.zeros(n)
        x[j:] = r[j:, j]
        x /= np.linalg.norm(x)
        h = reflection_onto(x, j, min(tol, SKIP))
        if h is not None:
            r = h.matrix() @ r
            found.append(h)
    if r[n - 1, n - 1] < 0:                                  # det(q) = -1: flip the last axis
        e = np.zeros(n)
        e[n - 1] = 1.0
        found.append(Factor.householder(e, 2.0))
    # H_m ... H_1 q = I, so q = H_1 ... H_m: H_m acts first
    return found[::-1]


def reflection_length(q, tol: float = 1e-9) -> int:
    """rank(I - q) of an orthogonal (n, n) matrix: the fewest reflections whose product is q."""
    q = _square(q)
    return int(np.linalg.matrix_rank(np.eye(len(q)) - q, tol=tol))


def fewest_reflections(q, tol: float = TOL) -> list[Factor]:
    """rank(I - q) reflections (beta = 2) whose product is the orthogonal matrix q (n, n).

    Greedy: while q != I take a basis vector e_j that q moves and the reflection H with normal
    v = q e_j - e_j. H swaps q e_j and e_j, and v is orthogonal to every fixed vector of q, so
    H q fixes e_j and everything q fixed: its fixed space grows by one dimension per step. With
    integer or dyadic q (signed permutations) v has the same entries, so the factors are exact.
    """
    q = _square(q)
    n = len(q)
    if np.abs(q.T @ q - np.eye(n)).max() > tol:
        raise ConstructionError(f"the matrix is not orthogonal (|Q^T Q - I| = {np.abs(q.T @ q - np.eye(n)).max():.3g})")
    r, found = q.copy(), []
    for _ in range(n):
        moved = np.abs(r - np.eye(n)).max(axis=0)              # how far each e_j moves
        j = int(np.argmax(moved))
        if moved[j] <= tol:
            break
        v = r[:, j] - np.eye(n)[j]
        h = Factor.householder(v, 2.0)
        r = h.matrix() @ r
        found.append(h)
    # H_k ... H_1 q = I, so q = H_1 ... H_k: H_k acts first
    return found[::-1]


def contraction_factors(m, tol: float = TOL) -> list[Factor]:
    """At most 3n symmetric GH factors (beta in [0, 2]) whose product is m (n, n), |m|_2 <= 1."""
    m = _square(m)
    n = len(m)
    u, s, vt = np.linalg.svd(m)
    if s[0] > 1 + tol:
        raise ConstructionError(f"the matrix has spectral norm {s[0]:.6g} > 1: no product of GH factors equals it")
    scale = []
    for i, si in enumerate(np.clip(s, 0.0, 1.0)):
        if si < 1.0:
            e = np.zeros(n)
            e[i] = 1.0
            scale.append(Factor.householder(e, 1.0 - float(si)))   # coordinate i times s_i
    return orthogonal_factors(vt, tol=max(tol, 1e-12)) + scale + orthogonal_factors(u, tol=max(tol, 1e-12))


def gh_factors(m, tol: float = TOL) -> list[Factor]:
    """Factors of m: swaps for a permutation matrix, reflections for an orthogonal one, else the
    SVD route (norm <= 1 required)."""
    m = _square(m)
    n = len(m)
    if np.all((m == 0) | (m == 1)) and np.all(m.sum(0) == 1) and np.all(m.sum(1) == 1):
        return permutation_factors(np.argmax(m, axis=0))     # column p holds e_{perm[p]}
    if np.abs(m.T @ m - np.eye(n)).max() <= tol:
        return orthogonal_factors(m, tol)
    return contraction_factors(m, tol)
