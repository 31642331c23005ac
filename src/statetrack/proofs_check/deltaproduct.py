"""P2 (Siems et al., DeltaProduct, arXiv 2502.10297): products of n_h generalized Householder factors
``A = prod_{j=1}^{n_h} (I - beta_j k_j k_j^T)``, |k_j| = 1, beta_j in [0, 2].

Our reading. The search tools returned P2's abstract and section titles but not its theorem text
(the stored pages of arxiv.org/html/2502.10297v2..v7 come back as their first screen only), so the
rows below check statements in our own words, as we read P2's abstract ("diagonal plus rank-n_h
state-transition matrices, formed as products of n_h generalized Householder transformations"),
its Sec. 4 title ("Two Layer DeltaNet Can Solve Dihedral group Word Problems") and the facts
listed in shared/PAPER_NOTES.md (S_n in one layer with n_h = n - 1; rotation groups such as S4 and
A5 with n_h = 2). Rounding model of every row: none (float64 matrices, exact where stated).

- :func:`check_norm_rank` (``p2.norm_rank``): ``|A|_2 <= 1`` and ``rank(A - I) <= n_h``, so at
  least n - n_h eigenvalues equal 1 (identity plus rank n_h).
- :func:`check_reachable_eigenvalues` (``p2.reachable_eigenvalues``): n_h = 1 reaches only the real
  eigenvalue 1 - beta in [-1, 1]; n_h = 2 in width 2 reaches every pair {lambda, conj(lambda)} with
  |lambda| <= 1 (construction: beta_1 = beta_2 = 1 + |lambda|, k_1 . k_2 = c with
  c^2 = 2|lambda|(1 + cos arg lambda)/(1 + |lambda|)^2, so det = |lambda|^2 and
  trace = 2 Re lambda); nothing outside the unit disk (norm bound).
- :func:`check_one_layer_groups` (``p2.one_layer_groups``): a permutation matrix P on n points
  needs at least rank(I - P) = n - cycles factors (rank bound above) and ``permutation_factors``
  uses exactly that many, so in its permutation action a group needs n_h = max over its elements
  of n - cycles at width n (S_n: n - 1); and S4, A4, A5 reach n_h = 2 at width 3 through their
  rotation groups (``orthogonal`` construction, verified on words in float64).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from statetrack.constructions.weights import Factor, product_matrix
from statetrack.proofs_check.result import ClaimResult, verdict

REFERENCE = "P2 (our reading, see module doc)"


def _random_product(rng, n: int, k: int, factor) -> np.ndarray:
    keys = rng.standard_normal((k, n))
    betas = rng.uniform(0, 2, k)
    ends = rng.random(k) < 0.2
    betas[ends] = rng.choice([0.0, 1.0, 2.0], ends.sum())
    return product_matrix([factor(key, b) for key, b in zip(keys, betas)], n)


def check_norm_rank(*, samples: int = 2000, seed: int = 0, max_n: int = 8, factor=Factor.householder) -> ClaimResult:
    """Sampled products (n <= max_n, n_h <= n + 2): spectral norm <= 1 + 64 n_h n eps and rank(A - I) <= n_h."""
    rng = np.random.default_rng(seed)
    eps = np.finfo(np.float64).eps
    bad, worst_norm, ones_short = [], 0.0, 0
    for _ in range(samples):
        n = int(rng.integers(1, max_n + 1))
        k = int(rng.integers(1, n + 3))
        a = _random_product(rng, n, k, factor)
        norm = float(np.linalg.norm(a, 2))
        rank = int(np.linalg.matrix_rank(a - np.eye(n), tol=1e-9))
        worst_norm = max(worst_norm, norm - 1)
        if norm > 1 + 64 * k * n * eps or rank > k:
            bad.append({"n": n, "n_h": k, "norm": norm, "rank_A_minus_I": rank})
        ones = int(np.sum(np.abs(np.linalg.eigvals(a) - 1) < 1e-6))
        ones_short += ones < n - k
    ok = not bad and ones_short == 0
    evidence = (f"{samples:,} products of n_h GH factors (n <= {max_n}, n_h <= n+2, beta in [0, 2]): max norm - 1 = "
                f"{worst_norm:.1e}, {len(bad)} with norm above 1 + 64 n_h n eps or rank(A - I) > n_h; "
                f"{ones_short} with fewer than n - n_h eigenvalues at 1")
    return ClaimResult("p2.norm_rank", REFERENCE, "float64", verdict(ok), evidence, bad[0] if bad else None,
                       {"samples": samples, "seed": seed, "max_norm_minus_1": worst_norm, "violations": len(bad)})


def two_factor_pair(lam: complex) -> list[Factor]:
    """Two GH factors in R^2 whose product has eigenvalues lam and conj(lam) (|lam| <= 1)."""
    r, th = abs(lam), math.atan2(lam.imag, lam.real)
    c = math.sqrt(min(1.0, 2 * r * (1 + math.cos(th)) / (1 + r) ** 2))
    return [Factor.householder(np.array([c, math.sqrt(1 - c * c)]), 1 + r),
            Factor.householder(np.array([1.0, 0.0]), 1 + r)]


def check_reachable_eigenvalues(*, grid: int = 24, samples: int = 2000, seed: int = 0,
                                construct=two_factor_pair) -> ClaimResult:
    """n_h = 1: spectrum {1, 1 - beta}; n_h = 2, width 2: every target on a polar grid of the closed
    unit disk is reached (``construct(lam) -> factors``, error <= 1e-9); nothing outside it."""
    rng = np.random.default_rng(seed)
    one_bad = 0
    for _ in range(samples):
        n = int(rng.integers(1, 9))
        beta = float(rng.uniform(0, 2))
        ev = np.linalg.eigvals(Factor.householder(rng.standard_normal(n), beta).matrix())
        one_bad += bool(np.any(np.abs(ev.imag) > 1e-12) or
                        np.any(np.minimum(np.abs(ev - 1), np.abs(ev - (1 - beta))) > 1e-9))
    worst, misses = 0.0, []
    targets = [r * complex(math.cos(t), math.sin(t)) for r in np.linspace(0, 1, grid + 1)
               for t in np.linspace(0, math.pi, grid + 1)]
    for lam in targets:
        fs = construct(lam)
        ok_form = len(fs) == 2 and all(f.symmetric and 0 <= f.beta <= 2 for f in fs)
        m = product_matrix(fs, 2)
        ev = np.linalg.eigvals(m)
        # the pair {lam, conj(lam)} is fixed by trace and determinant (eigenvalues of a defective
        # matrix, lam real and double, are only accurate to sqrt(eps))
        err = max(abs(np.trace(m) - 2 * lam.real), abs(np.linalg.det(m) - abs(lam) ** 2))
        worst = max(worst, err)
        if err > 1e-9 or not ok_form:
            misses.append({"target": lam, "eigenvalues": ev, "error": err})
    outside = max(float(np.abs(np.linalg.eigvals(_random_product(rng, int(rng.integers(1, 9)), 2, Factor.householder))).max())
                  for _ in range(samples))
    ok = one_bad == 0 and not misses and outside <= 1 + 1e-12
    evidence = (f"n_h = 1: {samples:,} factors, {one_bad} with an eigenvalue other than 1 and 1 - beta; n_h = 2, "
                f"width 2: {len(targets) - len(misses)} of {len(targets)} targets on a polar grid of the closed unit "
                f"disk reached (trace and det within {worst:.1e}, beta = 1 + |lambda| in [1, 2]); largest |lambda| of "
                f"{samples:,} random 2-factor products {outside:.6f} (<= 1: the disk is all)")
    return ClaimResult("p2.reachable_eigenvalues", REFERENCE, "float64", verdict(ok), evidence,
                       misses[0] if misses else {"example": {"target": targets[len(targets) // 2],
                                                             "betas": [f.beta for f in construct(targets[len(targets) // 2])]}},
                       {"grid_targets": len(targets), "misses": len(misses), "max_error": worst,
                        "n_h_1_violations": one_bad, "max_modulus_2_factors": outside, "seed": seed})


def _cycles(perm) -> int:
    """Cycles of a permutation given as a sequence of images, fixed points included (sympy counts)."""
    from sympy.combinatorics import Permutation

    return Permutation([int(x) for x in perm]).cycles


def check_one_layer_groups(*, max_points: int = 6, rotation_groups=("S4", "A4", "A5"), factorize=None,
                           word_len: int = 300) -> ClaimResult:
    """Permutations: rank(I - P) = n - cycles and the swaps reach it exactly; rotation groups: n_h = 2 at width 3."""
    from statetrack.automata.groups import group
    from statetrack.constructions import compile
    from statetrack.constructions.factorize import permutation_factors
    from statetrack.constructions.reps import is_faithful_rep
    from statetrack.verify import check

    factorize = factorize or permutation_factors
    bad, counted = [], 0
    for n in range(1, max_points + 1):
        for perm in itertools.permutations(range(n)):
            p = np.zeros((n, n))
            p[list(perm), range(n)] = 1.0
            need = n - _cycles(perm)
            fs = factorize(perm)
            counted += 1
            # swaps have entries 0, +-1 and coefficient 1: float64 products of them are exact integers
            exact = np.array_equal(product_matrix(fs, n), p)
            if int(np.linalg.matrix_rank(np.eye(n) - p)) != need or len(fs) != need or not exact:
                bad.append({"perm": list(perm), "needs": need, "factors": len(fs), "exact": bool(exact)})
    natural = {}
    for n in range(3, max_points + 1):
        for name in (f"S{n}", f"A{n}", f"Z{n}", f"D{n}"):
            g = group(name)
            natural[name] = {"width": g.degree, "n_h": int(max(g.degree - _cycles(e) for e in g.elements))}
    rotations = {}
    for name in rotation_groups:
        g = group(name)
        w = compile(g, "orthogonal")
        layer = w.layers[0]
        faithful = is_faithful_rep(g.cayley_table(), layer.codebook)
        rebuilt = max(float(np.abs(layer.transition(e) - layer.codebook[e]).max()) for e in range(g.order))
        rep = check(w, max_len=1, dtypes=("float64",), long_words=2, long_len=word_len, seed=3)[0]
        rotations[name] = {"width": layer.width, "n_h": max(layer.factors_per_symbol()), "faithful": faithful,
                           "max_rebuild_error": rebuilt, "float64_words_exact": rep.passed}
        if not (faithful and rebuilt < 1e-12 and rep.passed and layer.width == 3 and
                max(layer.factors_per_symbol()) <= 2):
            bad.append({"group": name, **rotations[name]})
    ok = not bad
    nat = ", ".join(f"{k} n_h {v['n_h']}" for k, v in natural.items())
    rot = ", ".join(f"{k} width {v['width']} n_h {v['n_h']}" for k, v in rotations.items())
    evidence = (f"all {counted:,} permutations of <= {max_points} points: rank(I - P) = n - cycles = swaps used, "
                f"products exact ({len([b for b in bad if 'perm' in b])} failures), so at width n a group in its "
                f"permutation action needs n_h = max(n - cycles): {nat}; rotation groups: {rot}, faithful, rebuilt "
                f"and exact in float64 on 2 words of length {word_len:,} ({len([b for b in bad if 'group' in b])} failures)")
    return ClaimResult("p2.one_layer_groups", REFERENCE, "float64 (swaps exact)", verdict(ok), evidence,
                       bad[0] if bad else rotations, {"permutation_action": natural, "rotation_groups": rotations,
                                                       "permutations_checked": counted})
