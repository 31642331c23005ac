"""P1 Thm 2 (final wording, seed 004): counting mod 3 needs non-triangular matrices.

P1's first version said "complex eigenvalues are needed"; its final abstract says "non-triangular
matrices are needed", and that is what is checked here. The difference matters: under per-factor
rounding a product of two GH factors with a certified real spectrum in [0, 1] can cycle with
period 3 (``per_step_mod3``), so real eigenvalues alone do not rule out counting mod 3; triangular
structure does. Claim ids: this module was ``mod3_needs_complex`` and its first row was
``mod3.triangular_period``; the row is now ``mod3.non_triangular_needed`` (``details.renamed_from``).

On 1^t, a stack of L layers whose transitions are real triangular (negative eigenvalues allowed)
ends in a period dividing 2^L; 3 divides no power of two, so no decoder outputs t mod 3. Per-step
rounding keeps this: within a layer each coordinate's update is monotone (eigenvalue >= 0) or
antitone (< 0) in itself given the coordinates before it, so two steps make it monotone; a layer
fed a 2^l-periodic input therefore ends in period dividing 2^(l+1).

- :func:`check_triangular_period`: sampled stacks, L = 1, 2, 3, exact cycle detection.
- :func:`check_counters`: the constructive side. The rotation by 2 pi/3 (two reflections, the
  ``rotation`` construction) and the 3-cycle permutation (two swaps, the ``group`` construction)
  count mod 3; per format, the length at which the rotation first decodes wrongly (its entries
  are irrational), and a proof by periodicity that the permutation never does.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from statetrack.proofs_check.cycles import find_cycles
from statetrack.proofs_check.orbits import automaton_orbit, engine_agrees, first_disagreement, weights_orbit
from statetrack.proofs_check.result import ClaimResult, verdict
from statetrack.proofs_check.systems import Family, random_system

REFERENCE = "P1 Thm 2"
MOD3_FAMILIES = (
    Family("triangular x1", "triangular", layers=1, lo=-1.0, hi=1.0),
    Family("diagonal x2", "diagonal", layers=2, lo=-1.0, hi=1.0),
    Family("triangular x2", "triangular", layers=2, lo=-1.0, hi=1.0),
    Family("triangular x3", "triangular", layers=3, lo=-1.0, hi=1.0),
)
#: largest |eigenvalue| sampled per format (an eigenvalue of modulus 1 saturates float32 only after ~2^24 steps)
EIGEN_CAP = {"float32": 0.98}


def _build(family, rng, fmt: str, count: int):
    """A family is a :class:`Family` or any object with ``name``, ``layers`` and ``build(rng, fmt, count)``."""
    if hasattr(family, "build"):
        return family.build(rng, fmt, count)
    cap = EIGEN_CAP.get(fmt, 1.0)
    return random_system(rng, fmt, replace(family, lo=max(family.lo, -cap), hi=min(family.hi, cap)), count)


def check_triangular_period(fmts=("float16", "bfloat16", "float32"), *, samples: int = 128, seed: int = 0,
                            families=MOD3_FAMILIES, max_steps: int = 1 << 16) -> ClaimResult:
    """Random real triangular stacks (eigenvalues in [-1, 1]; float32 [-0.98, 0.98]): the eventual
    period of each L-layer stack on 1^t must divide 2^L."""
    rng = np.random.default_rng(seed)
    table, witness, total, bad, undecided = {}, None, 0, 0, 0
    seen_by_layers: dict[int, set] = {}
    for fmt in fmts:
        for fam in families:
            system = _build(fam, rng, fmt, samples)
            cyc = find_cycles(system.step, system.h0(), max_steps=max_steps)
            limit = 2 ** fam.layers
            ok_rows = (cyc.period > 0) & (limit % np.maximum(cyc.period, 1) == 0)
            hist = {int(p): int(c) for p, c in zip(*np.unique(cyc.period, return_counts=True))}
            table[f"{fmt}/{fam.name}"] = {"samples": int(len(cyc.period)), "periods": hist,
                                          "longest_transient": int(cyc.mu.max(initial=0)),
                                          "undecided": int((cyc.period == 0).sum())}
            seen_by_layers.setdefault(fam.layers, set()).update(p for p in hist if p > 0)
            total += len(cyc.period)
            undecided += int((cyc.period == 0).sum())
            wrong = np.flatnonzero(~ok_rows & (cyc.period > 0))
            bad += len(wrong)
            if witness is None and len(wrong):
                i = int(wrong[0])
                witness = {"fmt": fmt, "family": fam.name, "layers": fam.layers, "row": i,
                           "period": int(cyc.period[i]), "mu": int(cyc.mu[i]), "h0": system.h0()[i].tolist()}
    ok = bad == 0 and undecided == 0
    seen = "; ".join(f"L={L}: {sorted(ps)}" for L, ps in sorted(seen_by_layers.items()))
    evidence = (f"{total - bad - undecided:,} of {total:,} sampled triangular stacks end in a period dividing 2^L "
                f"(periods seen {seen}), so none outputs t mod 3; {bad} violate it, {undecided} undecided within "
                f"{max_steps} steps")
    return ClaimResult("mod3.non_triangular_needed", REFERENCE + " (final wording: non-triangular)", ", ".join(fmts),
                       verdict(ok), evidence, witness,
                       {"by_format_family": table, "seed": seed, "renamed_from": "mod3.triangular_period"})


# ---------------------------------------------------------------------- constructive side
def z3_counters():
    """(rotation weights, permutation weights, letter index of +1, Z3's DFA)."""
    from statetrack.automata.groups import group
    from statetrack.constructions import compile

    g = group("Z3")
    rotation, permutation = compile(g, "rotation"), compile(g, "group")
    letter = g.tokens.index("1,2,0")
    return rotation, permutation, letter, g.to_dfa()


def rotation_survey(moduli, fmts, max_len: int) -> dict:
    """First wrong length of the Z_m rotation counter (``rotation`` construction) on 1^t, per m and format:
    {m: {fmt: {"first_wrong", "periodic_from", "period"}}}. Reported only; Thm 2 asks nothing of it."""
    from statetrack.automata.groups import group
    from statetrack.constructions import compile

    out = {}
    for m in moduli:
        g = group(f"Z{m}")
        weights = compile(g, "rotation")
        letter = g.tokens.index(",".join(str((i + 1) % m) for i in range(m)))
        truth = automaton_orbit(g.to_dfa().table, 0, letter)
        for fmt in fmts:
            ours = weights_orbit(weights, letter, fmt, max_len)
            out.setdefault(m, {})[fmt] = {"first_wrong": first_disagreement(ours, truth, horizon=max_len + 1),
                                          "periodic_from": ours.mu, "period": ours.period, "checked_to": max_len}
    return out


def check_counters(fmts=("float64", "float32", "float16", "bfloat16"), *, max_len: int = 20_000, rotation=None,
                   permutation=None, twin_steps: int = 64, survey_moduli=(), survey_len: int = 5_000) -> ClaimResult:
    """Both counters on 1^t in each format, until the state repeats or t = max_len.

    Holds iff the permutation decodes t mod 3 correctly forever in every format (its orbit is
    periodic and right over one joint period), the rotation is right at every t <= max_len in
    float64, and the fast loop agrees with the engine for ``twin_steps`` letters. The rotation's
    first wrong length per format is reported, and with ``survey_moduli`` that of the Z_m rotation
    for other m (up to ``survey_len`` letters).
    """
    rot_default, perm_default, letter, dfa = z3_counters()
    counters = {"rotation": rotation or rot_default, "permutation": permutation or perm_default}
    truth = automaton_orbit(dfa.table, dfa.start, letter)
    table, twins = {}, True
    for name, weights in counters.items():
        for fmt in fmts:
            ours = weights_orbit(weights, letter, fmt, max_len)
            wrong = first_disagreement(ours, truth, horizon=max_len + 1)
            twin = engine_agrees(weights, letter, fmt, twin_steps)
            twins &= twin
            table.setdefault(name, {})[fmt] = {
                "first_wrong": wrong, "forever": ours.period is not None and wrong is None,
                "periodic_from": ours.mu, "period": ours.period, "checked_to": max_len, "engine_twin_agrees": twin}
    perm_ok = all(r["forever"] for r in table["permutation"].values())
    rot64 = table["rotation"].get("float64", {"first_wrong": None})
    ok = perm_ok and rot64["first_wrong"] is None and "float64" in table["rotation"] and twins

    def show(r):
        if r["forever"]:
            return f"never (periodic from t={r['periodic_from']}, period {r['period']})"
        return f"t={r['first_wrong']}" if r["first_wrong"] is not None else f"none to {max_len:,}"

    rot = ", ".join(f"{fmt} {show(r)}" for fmt, r in table["rotation"].items())
    perm = ", ".join(f"{fmt} {show(r)}" for fmt, r in table["permutation"].items())
    evidence = (f"3-cycle (2 swaps) first wrong: {perm}; rotation 2pi/3 (2 reflections) first wrong: {rot}; "
                f"engine twin {'agrees' if twins else 'DISAGREES'}")
    survey = rotation_survey(survey_moduli, fmts, survey_len) if survey_moduli else {}
    if survey:
        evidence += "; Z_m rotations first wrong: " + "; ".join(
            f"m={m} " + ", ".join(f"{fmt} {show(dict(r, forever=r['period'] is not None and r['first_wrong'] is None))}"
                                  for fmt, r in rows.items() if r["first_wrong"] is not None)
            for m, rows in survey.items() if any(r["first_wrong"] is not None for r in rows.values()))
    witness = {"rotation_first_wrong": {f: r["first_wrong"] for f, r in table["rotation"].items()}}
    return ClaimResult("mod3.counters", "P1 Thm 2 / App. C.1 (rotation = two reflections)", ", ".join(fmts),
                       verdict(ok), evidence, witness,
                       {"counters": table, "letter": "1,2,0", "rotation_survey": survey})
