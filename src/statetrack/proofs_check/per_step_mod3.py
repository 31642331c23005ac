"""Why P1 Thm 2 says "non-triangular", not "complex eigenvalues": a real spectrum counting mod 3.

Rounding model: per factor (as ``constructions.engine`` and a DeltaProduct kernel: the projection
``w^T h`` and the update of every GH factor are rounded to the format, then the write ``+ b``).

:func:`check_per_step_period3` searches random one-layer DeltaNet-style layers with two symmetric
GH factors, beta in [0, 1] (so, by P1 Prop 1c, the exact transition has every eigenvalue real and
in [0, 1]), for a rounded orbit on 1^t that ends in a cycle of period 3, and certifies the first
one it finds:

1. the exact product of the stored factors and the exact map the engine applies to the rounded
   keys both have every eigenvalue real and in [0, 1] (rational arithmetic, Sturm sequences);
2. compiled into LRNNWeights with a three-entry codebook (the cycle's states, ordered by t mod 3),
   the engine's Simulator replays the orbit bit for bit and decodes t mod 3 at every t >= mu
   (checked over two periods of an orbit that repeats exactly, hence forever).

So with per-factor rounding a layer whose transition is real, non-negative and non-triangular can
count mod 3 from some t on; P1's Thm 2 excludes triangular transitions (which keep a period
dividing 2^L under any rounding, ``mod3_non_triangular``), and its first-version wording
"complex eigenvalues are needed" is not what this evidence supports.
"""
from __future__ import annotations

import numpy as np

from statetrack.constructions.weights import product_matrix
from statetrack.proofs_check.cycles import find_cycles, orbit
from statetrack.proofs_check.exact import spectrum_facts
from statetrack.proofs_check.orbits import engine_agrees, weights_orbit
from statetrack.proofs_check.per_step_scope import GHLayers
from statetrack.proofs_check.result import ClaimResult, verdict

REFERENCE = "P1 Thm 2 wording (non-triangular vs complex)"


def certify_period(layers: GHLayers, row: int, mu: int, period: int) -> dict:
    """Check one orbit of the given period: exact spectra, the engine's replay, decoded t mod period."""
    states = orbit(layers.step, layers.h0()[row], row, mu + period)
    codebook = np.empty((period, layers.n_dim))
    for t in range(mu, mu + period):
        codebook[t % period] = states[t]
    weights = layers.weights(row, codebook)
    exact = spectrum_facts(product_matrix(weights.layers[0].factors[0], layers.n_dim, exact=True))
    rounded = spectrum_facts(layers.rounded_map(row))
    ours = weights_orbit(weights, 0, layers.fmt, max_len=mu + 4 * period + 8)
    twin = engine_agrees(weights, 0, layers.fmt, mu + 2 * period + 2)
    counts = ours.period == period and all(ours.at(t) == t % period for t in range(mu, mu + 2 * period))
    return {"row": row, "mu": mu, "period": period, "keys": layers.keys[row], "betas": layers.betas[row],
            "write": layers.b[row].astype(np.float64), "h0": layers.h0_[row].astype(np.float64),
            "cycle": codebook, "exact_spectrum_in_unit": exact["in_unit"],
            "rounded_map_spectrum_in_unit": rounded["in_unit"], "engine_replays_orbit": twin,
            "decodes_t_mod_period_for_t_ge_mu": counts,
            "certified": bool(exact["in_unit"] and rounded["in_unit"] and twin and counts)}


def check_per_step_period3(fmt: str = "bfloat16", *, samples: int = 1024, seed: int = 0, k: int = 2, n: int = 2,
                           beta_range=(0.0, 1.0), period: int = 3, max_candidates: int = 8,
                           max_steps: int = 1 << 15, layers: GHLayers | None = None) -> ClaimResult:
    """Find and certify a layer whose per-factor rounded orbit on 1^t has the given period (module doc).

    ``layers`` replaces the sampled layers (a test hands in triangular ones, which must not count).
    """
    rng = np.random.default_rng(seed)
    layers = layers or GHLayers(rng, fmt, samples, n, k, beta_range)
    cyc = find_cycles(layers.step, layers.h0(), max_steps=max_steps)
    hist = {int(p): int(c) for p, c in zip(*np.unique(cyc.period, return_counts=True))}
    witness, tried = None, 0
    for row in np.flatnonzero(cyc.period == period)[:max_candidates]:
        tried += 1
        cert = certify_period(layers, int(row), int(cyc.mu[row]), period)
        if cert["certified"]:
            witness = cert
            break
    ok = witness is not None
    found = (f"certified witness (row {witness['row']}): period {period} from t = {witness['mu']}, exact spectra of "
             f"the stored and the rounded product real in [0, 1], the engine replays the orbit and decodes t mod "
             f"{period} for every t >= {witness['mu']}" if ok else
             f"no certified period-{period} orbit ({tried} candidates tried)")
    evidence = (f"{k} GH factors, beta in [{beta_range[0]:g}, {beta_range[1]:g}], width {n}, rounded per factor: "
                f"{hist.get(period, 0)} of {len(cyc.period)} sampled layers end in period {period} "
                f"(periods seen {sorted(hist)}); {found}")
    if ok:
        evidence += f". A real non-negative spectrum does not stop counting mod {period}; triangularity does"
    return ClaimResult("mod3.per_factor_real_spectrum_counts", REFERENCE, fmt, verdict(ok), evidence, witness,
                       {"periods": hist, "seed": seed, "samples": int(len(cyc.period)), "candidates_tried": tried})
