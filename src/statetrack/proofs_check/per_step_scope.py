"""Where P1 Thm 1 stops: rounding after every step, non-triangular transitions.

P1's Lemma 1 rounds the exact sequence ``sum_i c_i C(t, m_i) lambda_i^t``: the state is computed
exactly and only then rounded. A real kernel rounds after every step (and here, as in
``constructions.engine``, after every GH factor). For diagonal and triangular transitions that
changes nothing (each coordinate's update stays monotone in itself, see ``parity_needs_negative``).
For a product of two GH factors ``(I - b2 k2 k2^T)(I - b1 k1 k1^T)`` with b in [0, 1] — every
eigenvalue real and in [0, 1] — it does: the rounded state on 1^t can settle into a cycle of
period 2, which a decoder reads as the parity of t.

:func:`check_per_step_gh_cycles` searches random DeltaNet-style layers (keys, betas, write, H_0)
for such an orbit by exact cycle detection and certifies the first one it finds:

1. the stored factors are symmetric GH factors with beta in [0, 1] (so the exact transition has
   real eigenvalues in [0, 1]), and the rounded map the engine applies, ``(I - t2 w2^T)(I - t1 w1^T)``
   with the rounded t = beta k/|k|^2 and w = k, also has all its eigenvalues real in [0, 1]
   (exact rational arithmetic, Sturm sequences);
2. compiled into LRNNWeights with a two-entry codebook (the two states of the cycle), the project's
   engine (``Simulator``) reproduces the orbit bit for bit, and its decoded output equals t mod 2
   at every t >= mu (checked over one period, hence forever).

The claim row states this scope limit of Thm 1 and holds when such a witness is found and
certified; it reports how often the sampled layers end in period > 1.
"""
from __future__ import annotations

import numpy as np

from statetrack.constructions.engine import round_to
from statetrack.constructions.weights import Factor, Layer, LRNNWeights, product_matrix
from statetrack.proofs_check.cycles import find_cycles, orbit
from statetrack.proofs_check.exact import spectrum_facts
from statetrack.proofs_check.orbits import engine_agrees, weights_orbit
from statetrack.proofs_check.result import ClaimResult, verdict

REFERENCE = "P1 Thm 1 scope (Lemma 1 rounds the exact sequence)"


class GHLayers:
    """N one-layer DeltaNet-style recurrences on 1^t in the engine's arithmetic:
    per factor ``p = round(w^T h)``, ``h = round(h - t p)``; then ``h = round(h + b)``.

    Attributes: keys (N, k, n) float64 unit keys, betas (N, k), t/w (N, k, n) rounded write/read
    keys (t = beta key / |key|^2, w = key, as the engine stores them), b (N, n), h0 (N, n) rounded.
    """

    def __init__(self, rng: np.random.Generator, fmt: str, count: int, n: int, k: int, beta_range):
        self.fmt, self.n_dim = fmt, n
        keys = rng.standard_normal((count, k, n))
        self.keys = keys / np.linalg.norm(keys, axis=2, keepdims=True)
        self.betas = rng.uniform(*beta_range, (count, k))
        coef = self.betas / np.einsum("rkn,rkn->rk", self.keys, self.keys)
        self.t = round_to(coef[:, :, None] * self.keys, fmt)
        self.w = round_to(self.keys, fmt)
        self.b = round_to(rng.standard_normal((count, n)), fmt)
        self.h0_ = round_to(rng.standard_normal((count, n)), fmt)

    def h0(self) -> np.ndarray:
        return self.h0_

    def step(self, h: np.ndarray, rows: np.ndarray) -> np.ndarray:
        fmt = self.fmt
        t, w = self.t[rows], self.w[rows]
        for f in range(t.shape[1]):
            p = round_to(np.einsum("mk,mk->m", w[:, f], h), fmt)              # w^T h: (M,)
            h = round_to(h - t[:, f] * p[:, None], fmt)
        return round_to(h + self.b[rows], fmt)

    def weights(self, row: int, codebook: np.ndarray) -> LRNNWeights:
        """Row ``row`` as one-layer LRNNWeights over the alphabet {1}; codebook (C, n)."""
        factors = tuple(Factor.householder(self.keys[row, f], float(self.betas[row, f]))
                        for f in range(self.keys.shape[1]))
        n = self.n_dim
        layer = Layer(factors=(factors,), write=np.asarray(self.b[row], dtype=np.float64)[None, :, None],
                      h0=np.asarray(self.h0_[row], dtype=np.float64)[:, None],
                      codebook=np.asarray(codebook, dtype=np.float64)[:, :, None], route=np.zeros(1, dtype=np.int64))
        return LRNNWeights(alphabet=("1",), layers=(layer,), state_map=np.arange(len(codebook), dtype=np.int64),
                           accepting=np.arange(len(codebook)) == 0, construction="per-step-witness",
                           source={"kind": "witness", "n": n})

    def rounded_map(self, row: int) -> np.ndarray:
        """The exact linear map the engine applies (before rounding its results): prod (I - t_f w_f^T)."""
        from fractions import Fraction

        n = self.n_dim
        m = np.array([[Fraction(int(i == j)) for j in range(n)] for i in range(n)], dtype=object)
        for f in range(self.t.shape[1]):
            t = [Fraction(float(x)) for x in self.t[row, f]]
            w = [Fraction(float(x)) for x in self.w[row, f]]
            step = np.array([[Fraction(int(i == j)) - t[i] * w[j] for j in range(n)] for i in range(n)], dtype=object)
            m = step.dot(m)
        return m


def certify(layers: GHLayers, row: int, mu: int, period: int) -> dict:
    """Check one period-2 orbit: exact spectra, the engine's replay, decoded parity for t >= mu."""
    states = orbit(layers.step, layers.h0()[row], row, mu + 2)
    even, odd = (states[mu], states[mu + 1]) if mu % 2 == 0 else (states[mu + 1], states[mu])
    weights = layers.weights(row, np.stack([even, odd]).astype(np.float64))
    factors = weights.layers[0].factors[0]
    exact = spectrum_facts(product_matrix(factors, layers.n_dim, exact=True))
    rounded = spectrum_facts(layers.rounded_map(row))
    ours = weights_orbit(weights, 0, layers.fmt, max_len=mu + 4 * period + 8)
    twin = engine_agrees(weights, 0, layers.fmt, mu + 2 * period + 2)
    parity_ok = ours.period == period and all(ours.at(t) == t % 2 for t in range(mu, mu + 2 * period))
    return {"row": row, "mu": mu, "period": period,
            "keys": layers.keys[row], "betas": layers.betas[row], "write": layers.b[row].astype(np.float64),
            "h0": layers.h0_[row].astype(np.float64), "cycle": [even.astype(np.float64), odd.astype(np.float64)],
            "exact_spectrum_in_unit": exact["in_unit"], "rounded_map_spectrum_in_unit": rounded["in_unit"],
            "engine_replays_orbit": twin, "decodes_parity_for_t_ge_mu": parity_ok,
            "certified": bool(exact["in_unit"] and rounded["in_unit"] and twin and parity_ok)}


def general_nonneg_2x2(rng: np.random.Generator, fmt: str, count: int):
    """Dense 2 x 2 layers ``h <- round(A h + b)`` with A = S diag(l) S^-1, l in [0, 1], rounded to the
    format; kept only where the rounded A still has real eigenvalues in [0, 1] (checked exactly:
    discriminant, trace and determinant of the dyadic entries). Returns a StackSystem."""
    from fractions import Fraction

    from statetrack.proofs_check.systems import fixed_system

    lam = rng.uniform(0, 1, (count, 2))
    s = rng.standard_normal((count, 2, 2))
    a = round_to(s @ (lam[:, :, None] * np.linalg.inv(s)), fmt)

    def real_unit(m):
        (p, q), (r, t) = [[Fraction(float(x)) for x in row] for row in m]
        tr, det = p + t, p * t - q * r
        disc = tr * tr - 4 * det
        return disc >= 0 and det >= 0 and tr >= 0 and (1 - tr + det) >= 0 and tr <= 2   # both roots in [0, 1]

    keep = np.array([real_unit(m) for m in a])
    a = a[keep]
    return fixed_system(fmt, a, rng.standard_normal((len(a), 2)), rng.standard_normal((len(a), 2)))


def check_per_step_gh_cycles(fmt: str = "bfloat16", *, samples: int = 512, seed: int = 0, k: int = 2, n: int = 2,
                             beta_range=(0.0, 1.0), survey=(), general: bool = False,
                             max_steps: int = 1 << 15) -> ClaimResult:
    """Find and certify a GH layer (k factors, beta in ``beta_range``, width n) whose per-step
    rounded state on 1^t ends in period 2 (see the module docstring). ``survey``: extra
    (fmt, k, n) settings whose period > 1 rate is only reported; ``general``: also report the rate
    for dense 2 x 2 transitions with real spectrum in [0, 1] (:func:`general_nonneg_2x2`)."""
    rng = np.random.default_rng(seed)
    layers = GHLayers(rng, fmt, samples, n, k, beta_range)
    cyc = find_cycles(layers.step, layers.h0(), max_steps=max_steps)
    rates = {f"{fmt}/k={k}/n={n}": _rate(cyc)}
    witness = None
    tried = 0
    for row in np.flatnonzero(cyc.period == 2):
        if tried == 8:
            break
        tried += 1
        cert = certify(layers, int(row), int(cyc.mu[row]), 2)
        if cert["certified"]:
            witness = cert
            break
    for fmt_s, k_s, n_s in survey:
        other = GHLayers(rng, fmt_s, samples, n_s, k_s, beta_range)
        rates[f"{fmt_s}/k={k_s}/n={n_s}"] = _rate(find_cycles(other.step, other.h0(), max_steps=max_steps))
    if general:
        dense = general_nonneg_2x2(rng, fmt, samples)
        rates[f"{fmt}/dense 2x2, spectrum in [0, 1]"] = _rate(find_cycles(dense.step, dense.h0(), max_steps=max_steps))
    main = rates[f"{fmt}/k={k}/n={n}"]
    ok = witness is not None
    found = (f"certified witness: period 2 from t = {witness['mu']}, exact spectra in [0, 1], the engine replays it "
             f"and decodes t mod 2 for every t >= {witness['mu']}" if ok else
             f"no certified period-2 orbit ({tried} candidates tried)")
    others = "".join(f"; {name}: {r['period_over_1']} of {r['samples']} end in period > 1"
                     for name, r in rates.items() if name != f"{fmt}/k={k}/n={n}")
    evidence = (f"{k} GH factor(s), beta in [{beta_range[0]:g}, {beta_range[1]:g}], width {n}, rounded per factor: "
                f"{main['period_over_1']} of {main['samples']} sampled layers end in period > 1 "
                f"(periods {sorted(main['periods'])}); {found}{others}")
    return ClaimResult("parity.per_step_scope", REFERENCE, fmt, verdict(ok), evidence, witness,
                       {"rates": rates, "seed": seed, "candidates_tried": tried})


def _rate(cyc) -> dict:
    hist = {int(p): int(c) for p, c in zip(*np.unique(cyc.period, return_counts=True))}
    return {"samples": int(len(cyc.period)), "period_over_1": int((cyc.period > 1).sum()),
            "undecided": int((cyc.period == 0).sum()), "periods": hist}

