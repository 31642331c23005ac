"""P1 Thm 1 / Lemma 1: parity needs a transition eigenvalue that is not a non-negative real.

On the input 1^t an LRNN layer is the constant recurrence ``h <- round(A h + b)``. If every
eigenvalue of A is real and >= 0, the rounded state is eventually constant, so the output cannot
alternate with the parity of t. A negative eigenvalue lifts the bound: ``h <- -h`` alternates.

Checks (each takes its inputs as parameters, so a test can hand it a broken one):

- :func:`check_float8_exhaustive`: every (a, b, h0) of a float8 format, scalar recurrence.
  With a >= 0 the rounded map is monotone, so every orbit ends on a fixed point; with a < 0 it is
  antitone and orbits end in period <= 2; a = -1, b = 0 alternates from every nonzero start.
- :func:`check_per_step_triangular`: sampled diagonal/triangular stacks (eigenvalues in [0, 1]) in
  float16/bfloat16/float32, eventual period found by exact cycle detection.
- :func:`check_reflection_parity`: the constructive side, the beta = 2 reflection of the ``group``
  construction, in bfloat16, for 10^6 letters and beyond.

Why triangular: rounding after every step breaks the closed form P1's Lemma 1 rounds; for
triangular A each coordinate's update is still a monotone function of itself, which keeps the
result. For non-triangular A it does not (see ``per_step_scope``).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from statetrack.proofs_check.cycles import find_cycles
from statetrack.proofs_check.orbits import (automaton_orbit, engine_agrees, first_disagreement, literal_run,
                                            weights_orbit)
from statetrack.proofs_check.result import ClaimResult, verdict
from statetrack.proofs_check.systems import Family, random_system

REFERENCE = "P1 Thm 1 / Lemma 1"
FLOAT8 = ("float8_e4m3fn", "float8_e5m2")


# ---------------------------------------------------------------------- float8, exhaustive
def float8_states(fmt: str):
    """The values of a float8 format as states: (values (S-1,) float64 sorted, one zero, no NaN;
    code_to_state (256,) int64 with every NaN code -> S-1, -0 -> the state of +0)."""
    import torch

    dt = getattr(torch, fmt)
    vals = torch.arange(256, dtype=torch.uint8).view(dt).to(torch.float64).numpy()
    values = np.unique(vals[~np.isnan(vals)]) + 0.0
    code_to_state = np.where(np.isnan(vals), len(values), np.searchsorted(values, np.where(np.isnan(vals), 0.0, vals)))
    return values, code_to_state.astype(np.int64)


def _transition_table(fmt: str, a: np.ndarray, b: np.ndarray, rounding) -> tuple[np.ndarray, np.ndarray]:
    """T (len(a)*len(b), S) int64: the state of rounding(a h + b) for each state h (NaN state last)."""
    import torch

    dt = getattr(torch, fmt)
    values, code_to_state = float8_states(fmt)
    v = np.append(values, np.nan)
    with np.errstate(invalid="ignore"):
        x = a[:, None, None] * v[None, None, :] + b[None, :, None]          # float64, (Na, Nb, S)
    r = rounding(torch.from_numpy(x))
    if r.dtype != dt:
        raise ValueError(f"rounding must return a {fmt} tensor, got {r.dtype}")
    codes = r.view(torch.uint8).numpy().astype(np.int64)
    return code_to_state[codes].reshape(len(a) * len(b), len(v)), values


def _table_cycles(table: np.ndarray, start_states: int):
    """Transient and eventual period (1, 2, or 0 meaning > 2) of every orbit of the per-row maps
    ``s -> table[r, s]`` (table (P, S)) from every start state < ``start_states``.

    A state lies on a cycle of length 1 or 2 iff f(f(s)) == s. Every orbit is followed until it
    reaches such a state (its transient mu), and dropped then; an orbit still running after S steps
    is on a longer cycle. Returns (mu, period), each (P, start_states) int64; mu = -1 when period is 0.
    """
    P, S = table.shape
    f = table.astype(np.int32).ravel()
    base = (np.arange(P, dtype=np.int32) * S)[:, None]
    on_cycle = (f[base + f.reshape(P, S)] == np.arange(S, dtype=np.int32)).ravel()   # f(f(s)) == s
    mu = np.full(P * start_states, -1, dtype=np.int64)
    period = np.zeros(P * start_states, dtype=np.int64)
    idx = np.arange(P * start_states, dtype=np.int32)
    row = np.repeat(base.ravel(), start_states)                              # flat offset of the row
    state = np.tile(np.arange(start_states, dtype=np.int32), P)
    for t in range(S + 1):
        at = row + state
        done = on_cycle[at]
        if done.any():
            hit = at[done]
            mu[idx[done]] = t
            period[idx[done]] = np.where(f[hit] == state[done], 1, 2)
            keep = ~done
            idx, row, at = idx[keep], row[keep], at[keep]
        if not len(idx):
            break
        state = f[at]
    return mu.reshape(P, start_states), period.reshape(P, start_states)


def _scalar_orbits(fmt: str, a: np.ndarray, rounding):
    """Every (a, b, h0) with b, h0 over all non-NaN values: (mu, period, a_idx, b_idx, h0_idx, values),
    flat arrays of length len(a) * len(values)^2; period 0 means > 2."""
    values, _ = float8_states(fmt)
    table, _ = _transition_table(fmt, a, values, rounding)
    mu, period = _table_cycles(table, len(values))
    n = len(values)
    pair = np.repeat(np.arange(table.shape[0]), n)
    start = np.tile(np.arange(n), table.shape[0])
    return mu.ravel(), period.ravel(), pair // n, pair % n, start, values


def _val(values: np.ndarray, s: int) -> float:
    return float(values[s]) if s < len(values) else float("nan")


def check_float8_exhaustive(fmt: str = "float8_e4m3fn", *, rounding=None, coefficients=None,
                            negative_coefficients=None) -> ClaimResult:
    """Scalar ``h <- round(a h + b)`` over every a >= 0 (or ``coefficients``), every b and h0 of a
    float8 format: every orbit must end constant. Also: every a < 0 ends in period <= 2, and a = -1,
    b = 0 alternates from every nonzero h0.

    Args:
        fmt: ``float8_e4m3fn`` or ``float8_e5m2`` (torch dtypes).
        rounding: float64 tensor -> tensor of the format; default ``x.to(dtype)`` (round to nearest
            even; e4m3fn saturates at +-448, e5m2 overflows to inf).
        coefficients: the a values to test for eventual constancy; default every value >= 0.
        negative_coefficients: the a values to test for period <= 2; default every value < 0
            (-1 must be among them).
    """
    import torch

    if fmt not in FLOAT8:
        raise ValueError(f"unknown float8 format {fmt!r}; choose from {', '.join(FLOAT8)}")
    dt = getattr(torch, fmt)
    custom = rounding is not None
    rounding = rounding or (lambda x: x.to(dt))
    values, _ = float8_states(fmt)
    a_pos = values[values >= 0] if coefficients is None else np.asarray(coefficients, dtype=np.float64)
    mu, period, ia, ib, ih, _ = _scalar_orbits(fmt, a_pos, rounding)
    bad = np.flatnonzero(period != 1)          # 0 = period > 2
    worst = int(np.argmax(mu))
    # negative side: antitone maps, period <= 2; a = -1, b = 0 alternates
    a_neg = values[values < 0] if negative_coefficients is None else np.asarray(negative_coefficients, np.float64)
    mu_n, per_n, ia_n, ib_n, ih_n, _ = _scalar_orbits(fmt, a_neg, rounding)
    bad_neg = np.flatnonzero(per_n == 0)
    m1 = (a_neg[ia_n] == -1.0) & (values[ib_n] == 0.0) & (values[ih_n] != 0.0)
    alternates = bool(m1.any() and np.all(per_n[m1] == 2) and np.all(mu_n[m1] == 0))
    ok = len(bad) == 0 and len(bad_neg) == 0 and alternates

    def triple(a, b, h, i, m, p):
        return {"a": _val(a, int(i[0])), "b": _val(values, int(i[1])), "h0": _val(values, int(i[2])),
                "mu": int(m), "period": int(p)}

    if len(bad):
        k = bad[0]
        witness = triple(a_pos, values, values, (ia[k], ib[k], ih[k]), mu[k], period[k])
    elif len(bad_neg):
        k = bad_neg[0]
        witness = triple(a_neg, values, values, (ia_n[k], ib_n[k], ih_n[k]), mu_n[k], per_n[k])
    else:
        witness = {"longest_transient": triple(a_pos, values, values, (ia[worst], ib[worst], ih[worst]),
                                               mu[worst], period[worst])}
    n2 = int((per_n == 2).sum())
    evidence = (f"a >= 0: {len(mu) - len(bad):,} of {len(mu):,} (a, b, h0) end constant, longest transient "
                f"{int(mu.max())} steps; a < 0: {len(mu_n) - len(bad_neg):,} of {len(mu_n):,} end in period <= 2 "
                f"({n2:,} of period 2); a = -1, b = 0: {int(m1.sum())} nonzero h0 "
                f"{'all alternate from t = 0' if alternates else 'do NOT all alternate'}")
    details = {"values": len(values), "coefficients_tested": len(a_pos), "triples": len(mu),
               "not_constant": len(bad), "longest_transient": int(mu.max()),
               "negative_triples": len(mu_n), "negative_period_2": n2, "negative_period_over_2": len(bad_neg),
               "rounding": getattr(rounding, "__name__", "custom") if custom else "torch .to(dtype)"}
    return ClaimResult("parity.float8_exhaustive", REFERENCE, fmt, verdict(ok), evidence, witness, details)


# ---------------------------------------------------------------------- sampled, per-step rounding
PARITY_FAMILIES = (
    Family("diagonal", "diagonal", layers=1, lo=0.0, hi=1.0),
    Family("triangular", "triangular", layers=1, lo=0.0, hi=1.0),
    Family("diagonal x2", "diagonal", layers=2, lo=0.0, hi=1.0),
    Family("triangular x3", "triangular", layers=3, lo=0.0, hi=1.0),
)
#: largest eigenvalue sampled per format: with eigenvalue 1 a float32 state needs ~2^24 steps to saturate
EIGEN_CAP = {"float32": 0.98}


def sample_periods(fmt: str, family: Family, samples: int, rng: np.random.Generator, max_steps: int) -> dict:
    """Cycle statistics of ``samples`` random stacks of ``family`` on 1^t."""
    cap = EIGEN_CAP.get(fmt, 1.0)
    fam = replace(family, lo=max(family.lo, -cap), hi=min(family.hi, cap))
    system = random_system(rng, fmt, fam, samples)
    cyc = find_cycles(system.step, system.h0(), max_steps=max_steps)
    mu, period, witness = cyc.mu, cyc.period, None
    odd = np.flatnonzero(period != 1)
    if len(odd):
        i = int(odd[0])
        witness = {"family": fam.name, "layers": fam.layers, "width": int(system.row_width[i]), "row": i,
                   "period": int(period[i]), "mu": int(mu[i]), "h0": system.h0()[i].tolist(),
                   "A_layer1": system.transition(0, system.x[[i]], np.array([i]))[0].tolist()}
    hist = {int(p): int(c) for p, c in zip(*np.unique(period, return_counts=True))}
    return {"samples": len(period), "undecided": int((period == 0).sum()), "periods": hist,
            "longest_transient": int(mu.max(initial=0)), "eigenvalues": [fam.lo, fam.hi], "witness": witness}


def check_per_step_triangular(fmts=("float16", "bfloat16", "float32"), *, samples: int = 128, seed: int = 0,
                              families=PARITY_FAMILIES, max_steps: int = 1 << 16) -> ClaimResult:
    """Random diagonal/triangular stacks with eigenvalues in [0, 1] (float32: [0, 0.98]), rounded after
    every step: the eventual period of the joint state on 1^t must be 1 for every sample."""
    rng = np.random.default_rng(seed)
    table, witness, total, bad, undecided, longest = {}, None, 0, 0, 0, 0
    for fmt in fmts:
        for fam in families:
            stats = sample_periods(fmt, fam, samples, rng, max_steps)
            table[f"{fmt}/{fam.name}"] = stats
            total += stats["samples"]
            undecided += stats["undecided"]
            bad += sum(c for p, c in stats["periods"].items() if p > 1)
            longest = max(longest, stats["longest_transient"])
            if witness is None and stats["witness"] is not None:
                witness = {"fmt": fmt, **stats["witness"]}
    ok = bad == 0 and undecided == 0
    names = ", ".join(f.name for f in families)
    evidence = (f"{total - bad - undecided:,} of {total:,} sampled stacks ({names}) end constant on 1^t by exact "
                f"cycle detection, longest transient {longest} steps; {bad} with period > 1, {undecided} undecided "
                f"within {max_steps} steps")
    return ClaimResult("parity.per_step_triangular", REFERENCE + " (per-step rounding)", ", ".join(fmts),
                       verdict(ok), evidence, witness, {"by_format_family": table, "seed": seed})


# ---------------------------------------------------------------------- constructive: the reflection
def parity_weights():
    """The ``group`` construction of parity over {0, 1}: the letter 1 is one swap (beta = 2)."""
    from statetrack.automata.dfa import DFA
    from statetrack.constructions import compile

    dfa = DFA(alphabet=("0", "1"), table=[[0, 1], [1, 0]], start=0, accepting={0})
    return compile(dfa, "group"), dfa


def _scalar_reflection(fmt: str, beta: float) -> dict:
    """Every value h0 of a 16-bit format under h <- round((1 - beta) h): does the sign alternate and
    h_2 == h_0 (then it alternates forever)?"""
    import ml_dtypes

    from statetrack.constructions.engine import round_to

    dt = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}[fmt]
    h = np.arange(1 << 16, dtype=np.uint16).view(dt).astype(np.float32)
    h = h[np.isfinite(h) & (h != 0)]
    a = round_to(1 - round_to(np.float32(beta), fmt), fmt)
    h1 = round_to(a * h, fmt)
    h2 = round_to(a * h1, fmt)
    flips = np.sign(h1) == -np.sign(h)
    returns = h2 == h
    return {"values": int(len(h)), "a": float(a), "alternate_forever": int((flips & returns).sum())}


def check_reflection_parity(weights=None, *, dfa=None, fmt: str = "bfloat16", length: int = 10**6,
                            literal_steps: int = 10**4, beta: float = 2.0, twin_steps: int = 64) -> ClaimResult:
    """The beta = 2 reflection solves parity on 1^t for every t <= ``length`` (indeed forever).

    Three pieces of evidence: (1) scalar ``h <- (1 - beta) h`` in the format, for every nonzero
    value h0: the sign alternates and h_2 == h_0; (2) the compiled ``group`` weights (``weights``,
    default :func:`parity_weights`; ``dfa`` is their automaton) on 1^t until the state repeats bit
    for bit: the decoded state equals the DFA's at every t up to the joint period, hence at every
    t <= length; the fast loop is replayed through the engine for ``twin_steps``; (3) a literal run
    of ``literal_steps`` letters, decoding every step.
    """
    if weights is None:
        weights, dfa = parity_weights()
    letter = weights.alphabet.index("1")
    scalar = _scalar_reflection(fmt, beta)
    ours = weights_orbit(weights, letter, fmt, max_len=min(length, 1 << 16))
    truth = automaton_orbit(dfa.table, dfa.start, dfa.alphabet.index("1"))
    wrong = first_disagreement(ours, truth, horizon=length + 1)
    twin = engine_agrees(weights, letter, fmt, twin_steps)
    literal_wrong = literal_run(weights, letter, fmt, literal_steps, truth.at)
    forever = ours.period is not None and wrong is None
    ok = scalar["alternate_forever"] == scalar["values"] and forever and twin and literal_wrong is None
    decodes = f"correctly at every t <= {length:,}" if forever else f"WRONGLY at t = {wrong}"
    literal = "no error" if literal_wrong is None else f"error at t = {literal_wrong}"
    evidence = (f"scalar h <- {scalar['a']:g} h: {scalar['alternate_forever']:,} of {scalar['values']:,} nonzero "
                f"{fmt} values alternate forever; compiled swap: state repeats after {ours.mu}+{ours.period} steps"
                f" and decodes parity {decodes}; literal run {literal_steps:,} steps: {literal}"
                f"; engine twin {'agrees' if twin else 'DISAGREES'} ({twin_steps} steps)")
    witness = None if ok else {"first_wrong": wrong, "literal_first_wrong": literal_wrong, "scalar": scalar}
    details = {"scalar": scalar, "orbit_mu": ours.mu, "orbit_period": ours.period, "first_wrong": wrong,
               "literal_steps": literal_steps, "engine_twin_steps": twin_steps, "engine_twin_agrees": twin,
               "factors": [{"u": f.u, "w": f.w, "beta": f.beta} for f in weights.layers[0].factors[
                   int(weights.layers[0].route[letter])]]}
    return ClaimResult("parity.reflection_solves", "P1 Thm 3 (parity: one reflection)", fmt, verdict(ok), evidence,
                       witness, details)
