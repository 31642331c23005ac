"""P1 Prop 1: products of generalized Householder (GH) factors ``I - beta k k^T`` (|k| = 1).

- :func:`check_norm_bound` (a): beta in [0, 2] => spectral norm of any product <= 1.
- :func:`check_factorization` (b): any matrix of norm <= 1 is a product of <= 3n GH factors, an
  orthogonal one of <= n reflections, a permutation of <= n - 1 swaps (``constructions.factorize``),
  verified by rebuilding each sampled matrix.
- :func:`check_real_spectrum` (c): beta in [0, 1] and at most 2 factors => every eigenvalue real and
  in [0, 1] (the product of two positive semidefinite matrices is similar to a PSD one).
- :func:`check_complex_witness` (c, tight): with 3 factors a complex eigenvalue appears; the
  witness is certified in exact rational arithmetic.

Sampling is seeded numpy (float64); each check takes the pieces it tests as parameters.
"""
from __future__ import annotations

import numpy as np

from statetrack.constructions.weights import Factor, product_matrix
from statetrack.proofs_check.exact import spectrum_facts
from statetrack.proofs_check.result import ClaimResult, verdict

EPS = np.finfo(np.float64).eps


def _keys(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """k random keys in R^n (k, n); some repeat or are basis vectors, the awkward cases."""
    keys = rng.standard_normal((k, n))
    for i in range(k):
        r = rng.random()
        if r < 0.1:
            keys[i] = np.eye(n)[rng.integers(n)]
        elif r < 0.2 and i > 0:
            keys[i] = keys[rng.integers(i)]
    return keys


def _betas(rng: np.random.Generator, k: int, lo: float, hi: float) -> np.ndarray:
    """k betas in [lo, hi], a fifth of them exactly at an end."""
    b = rng.uniform(lo, hi, k)
    ends = rng.random(k) < 0.2
    b[ends] = np.where(rng.random(ends.sum()) < 0.5, lo, hi)
    return b


def check_norm_bound(*, samples: int = 2000, seed: int = 0, beta_range=(0.0, 2.0), max_n: int = 8,
                     factor=Factor.householder) -> ClaimResult:
    """Spectral norm of sampled products (n <= max_n, up to 2n + 2 factors) <= 1 + 64 k n eps.

    ``factor(key, beta) -> Factor`` builds one factor (a test swaps in a broken one).
    """
    rng = np.random.default_rng(seed)
    worst, worst_case, over = -np.inf, None, []
    for _ in range(samples):
        n = int(rng.integers(1, max_n + 1))
        k = int(rng.integers(1, 2 * n + 3))
        keys, betas = _keys(rng, n, k), _betas(rng, k, *beta_range)
        m = product_matrix([factor(key, b) for key, b in zip(keys, betas)], n)
        norm = float(np.linalg.norm(m, 2))
        tol = 64 * k * n * EPS
        case = {"n": n, "k": k, "norm": norm, "keys": keys, "betas": betas}
        if norm - 1 > worst:
            worst, worst_case = norm - 1, case
        if norm > 1 + tol:
            over.append(case)
    # the bound is sharp in beta: one factor with beta = 2 + d has norm 1 + d
    d = 1e-3
    sharp = float(np.linalg.norm(Factor.householder(np.array([1.0, 0.0]), 2 + d).matrix(), 2))
    ok = not over
    betas = f"beta in [{beta_range[0]:g}, {beta_range[1]:g}]"
    evidence = (f"{samples:,} sampled products (n <= {max_n}, k <= 2n+2, {betas}): max norm - 1 = {worst:.2e}, "
                f"{len(over)} above 1 + 64kn*eps; beta = 2 + {d:g} gives {sharp:.6f}")
    return ClaimResult("gh.norm_bound", "P1 Prop 1a", "float64", verdict(ok), evidence,
                       over[0] if over else {"largest": worst_case},
                       {"samples": samples, "max_norm_minus_1": worst, "over": len(over), "beta_2_plus_d": sharp,
                        "seed": seed})


def check_factorization(*, samples: int = 300, seed: int = 0, max_n: int = 8, factorize=None,
                        tol: float = 1e-10) -> ClaimResult:
    """Rebuild sampled contractions (<= 3n factors), orthogonal matrices (<= n) and permutations
    (<= n - 1, exactly) from their GH factors.

    ``factorize``: an object with ``contraction_factors``, ``orthogonal_factors`` and
    ``permutation_factors`` (default: ``statetrack.constructions.factorize``).
    """
    if factorize is None:
        from statetrack.constructions import factorize
    rng = np.random.default_rng(seed)
    rows = {"contraction": [], "orthogonal": [], "permutation": []}
    failures = []
    for i in range(samples):
        n = int(rng.integers(1, max_n + 1))
        kind = ("contraction", "orthogonal", "permutation")[i % 3]
        if kind == "contraction":
            m = _contraction(rng, n)
            fs, bound = factorize.contraction_factors(m), 3 * n
        elif kind == "orthogonal":
            m, _ = np.linalg.qr(rng.standard_normal((n, n)))
            if rng.random() < 0.5:
                m[:, 0] *= -1                                    # both determinants
            fs, bound = factorize.orthogonal_factors(m), n
        else:
            perm = rng.permutation(n)
            m = np.zeros((n, n))
            m[perm, np.arange(n)] = 1.0                          # e_p -> e_{perm[p]}
            fs, bound = factorize.permutation_factors(perm), max(n - 1, 0)
        err = float(np.abs(product_matrix(fs, n) - m).max()) if fs else float(np.abs(np.eye(n) - m).max())
        exact = kind != "permutation" or np.array_equal(product_matrix(fs, n, exact=True).astype(np.float64), m)
        gh = all(f.symmetric and 0.0 <= f.beta <= 2.0 for f in fs)
        rows[kind].append((len(fs), bound, err))
        if err > tol or len(fs) > bound or not gh or not exact:
            failures.append({"kind": kind, "n": n, "matrix": m, "factors": len(fs), "bound": bound, "error": err,
                             "symmetric_beta_0_2": gh, "exact": exact})
    summary = {kind: {"count": len(r), "max_error": max((e for _, _, e in r), default=0.0),
                      "max_factors_over_bound": max((f / max(b, 1) for f, b, _ in r), default=0.0)}
               for kind, r in rows.items()}
    ok = not failures
    evidence = (f"{samples} matrices rebuilt from symmetric GH factors: contractions max error "
                f"{summary['contraction']['max_error']:.1e} with <= 3n factors, orthogonal "
                f"{summary['orthogonal']['max_error']:.1e} with <= n reflections, permutations exact with <= n-1 "
                f"swaps; {len(failures)} failures")
    return ClaimResult("gh.factorization", "P1 Prop 1b", "float64 (permutations exact)", verdict(ok), evidence,
                       failures[0] if failures else None, {"by_kind": summary, "seed": seed, "tol": tol})


def _contraction(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random matrix of norm <= 1: sometimes rank-deficient, sometimes of norm exactly 1, or 0."""
    m = rng.standard_normal((n, n))
    r = rng.random()
    if r < 0.15 and n > 1:
        m[:, rng.integers(n)] = 0.0                              # singular
    if r > 0.9:
        return np.zeros((n, n))
    norm = np.linalg.norm(m, 2)
    return m / norm * (1.0 if rng.random() < 0.3 else rng.random()) if norm > 0 else m


def check_real_spectrum(*, samples: int = 2000, seed: int = 0, k_max: int = 2, beta_range=(0.0, 1.0),
                        max_n: int = 8, tol: float = 1e-7, max_violations: int = 3) -> ClaimResult:
    """Every eigenvalue of a sampled product of <= k_max factors with beta in ``beta_range`` is real
    and in [0, 1]. float64 eigenvalues decide; a sample outside ``tol`` is re-checked exactly
    (Sturm sequences on the rational product) before it counts as a violation. After
    ``max_violations`` certified violations, further suspects are only counted."""
    rng = np.random.default_rng(seed)
    worst_im, lo, hi, violations, rechecked, suspects = 0.0, np.inf, -np.inf, [], 0, 0
    for _ in range(samples):
        n = int(rng.integers(1, max_n + 1))
        k = int(rng.integers(1, k_max + 1))
        fs = [Factor.householder(key, b) for key, b in zip(_keys(rng, n, k), _betas(rng, k, *beta_range))]
        ev = np.linalg.eigvals(product_matrix(fs, n))
        worst_im = max(worst_im, float(np.abs(ev.imag).max()))
        lo, hi = min(lo, float(ev.real.min())), max(hi, float(ev.real.max()))
        if np.abs(ev.imag).max() > tol or ev.real.min() < -tol or ev.real.max() > 1 + tol:
            suspects += 1
            if len(violations) >= max_violations:
                continue
            rechecked += 1
            facts = spectrum_facts(product_matrix(fs, n, exact=True))
            if not facts["in_unit"]:
                violations.append({"n": n, "k": k, "keys": [f.u for f in fs], "betas": [f.beta for f in fs],
                                   "eigenvalues": ev, "exact": facts})
    ok = not violations
    betas = f"beta in [{beta_range[0]:g}, {beta_range[1]:g}]"
    evidence = (f"{samples:,} products of <= {k_max} factors, {betas}, n <= {max_n}: "
                f"max |Im| {worst_im:.1e}, Re in [{lo:.3g}, {hi:.3g}]; {suspects} outside float64 tolerance, "
                f"{rechecked} re-checked exactly, {len(violations)} certified outside [0, 1] or non-real")
    return ClaimResult("gh.real_spectrum", "P1 Prop 1c", "float64 (+ exact re-check)", verdict(ok), evidence,
                       violations[0] if violations else None,
                       {"max_abs_imag": worst_im, "min_real": lo, "max_real": hi, "suspects": suspects,
                        "rechecked_exactly": rechecked,
                        "seed": seed})


def check_complex_witness(*, k: int = 3, n: int = 3, beta_range=(0.0, 1.0), tries: int = 2000, seed: int = 0,
                          want_imag: float = 0.05) -> ClaimResult:
    """Search products of k factors (beta in ``beta_range``) in R^n for a complex eigenvalue with
    |Im| >= want_imag; certify the best one exactly (its characteristic polynomial has fewer real
    roots than distinct roots). With k <= 2 none exists, so the check fails."""
    rng = np.random.default_rng(seed)
    best, best_fs = 0.0, None
    for i in range(tries):
        fs = [Factor.householder(key, b) for key, b in zip(rng.standard_normal((k, n)), rng.uniform(*beta_range, k))]
        im = float(np.abs(np.linalg.eigvals(product_matrix(fs, n)).imag).max())
        if im > best:
            best, best_fs = im, fs
        if best >= want_imag:
            break
    facts = spectrum_facts(product_matrix(best_fs, n, exact=True)) if best_fs else {"complex_pairs": 0}
    ok = best >= want_imag and facts["complex_pairs"] > 0
    witness = None
    if best_fs:
        ev = np.linalg.eigvals(product_matrix(best_fs, n))
        witness = {"keys": [f.key for f in best_fs], "betas": [f.beta for f in best_fs], "eigenvalues": ev,
                   "exact_complex_pairs": facts["complex_pairs"]}
    evidence = (f"{k} factors in R^{n}, beta in [{beta_range[0]:g}, {beta_range[1]:g}]: after {i + 1} tries "
                f"max |Im lambda| = {best:.3f}; exact charpoly has {facts['complex_pairs']} complex pair(s)"
                + (" -> the k <= 2 bound of Prop 1c is tight" if ok else ""))
    return ClaimResult("gh.k3_complex_witness", "P1 Prop 1c (tightness)", "float64 + exact", verdict(ok), evidence,
                       witness, {"tries": i + 1, "max_abs_imag": best, "seed": seed})
