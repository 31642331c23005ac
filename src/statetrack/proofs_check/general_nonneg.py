"""P1 Thm 1 / Lemma 1 beyond triangular matrices: general real transitions with a non-negative
real spectrum, non-normal ones included, widths up to 8, stacks of several layers.

Rounding model: exact state, rounded read-out, as in P1's Lemma 1 (the state sequence is
``sum_i c_i C(t, m_i) lambda_i^t``; only what a layer hands on is rounded). Layer l runs
``h <- A_l(y) h + B_l(y)`` exactly on its input y and outputs ``round(C_l h)`` in the format; layer
1 reads the letter's embedding. Under per-token or per-factor rounding the statement does not
extend to non-triangular matrices (``per_step_scope``: dense 2 x 2 layers with spectrum in [0, 1]
cycle), so this row states the model it checks.

Transitions: ``A(y) = S T(y) S^-1`` with a random dense S (so A is neither triangular nor normal)
and T(y) upper triangular with random strictly upper entries and diagonal in [0, cap]
(``cap * sigmoid(W y + c)``, some entries pinned to 0 or to cap, so eigenvalues repeat and Jordan
blocks occur). The spectrum is T's diagonal: real, in [0, cap], cap < 1.

Certificate, layer by layer (the input of layer l is constant from T_{l-1} on, layer 1's from 0):
the fixed point h* = (I - A)^-1 b gives the limit output C h*; with q = |A^k|_inf < 1 for some k,
every later error is at most |C|_inf max_{i<k} |A^(J+i) e_{T}|_inf for t >= T + J, so once that
bound is below half of the distance from C h* to the nearest rounding boundary of the format, the
rounded output equals round(C h*) at every t >= T + J. A read-out that overflows (inf, or NaN in
float8_e4m3fn) stays put as well. Each stack is replayed past its bound to confirm the constant
output. float64 arithmetic, with a safety factor;
a layer that cannot be certified within ``max_tail`` steps leaves the sample undecided.
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from statetrack.proofs_check.result import ClaimResult, verdict

REFERENCE = "P1 Thm 1 / Lemma 1 (exact state, rounded read-out)"
#: (precision bits p, smallest normal exponent) per read-out format
FORMATS = {"float32": (24, -126), "bfloat16": (8, -126), "float16": (11, -14),
           "float8_e4m3fn": (4, -6), "float8_e5m2": (3, -14)}


_DTYPES = {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "float16": np.float16,
           "float8_e4m3fn": ml_dtypes.float8_e4m3fn, "float8_e5m2": ml_dtypes.float8_e5m2}


def round_fmt(x: np.ndarray, fmt: str) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(x, dtype=np.float64).astype(_DTYPES[fmt]).astype(np.float64)


def margin(v: np.ndarray, fmt: str) -> np.ndarray:
    """Distance from each v to the nearest point where its rounding to ``fmt`` changes (a lower bound)."""
    p, emin = FORMATS[fmt]
    r = round_fmt(v, fmt)
    a = np.abs(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.maximum(np.floor(np.log2(np.where(a > 0, a, 1.0))), emin)
    up = 2.0 ** (e - p + 1)                                               # gap to the next value away from 0
    down = np.where((a == 2.0 ** e) & (e > emin), up / 2, up)              # the gap below a power of two is half
    av = np.abs(v) * np.where(np.sign(v) == np.sign(r), 1.0, -1.0)         # |v| measured on r's side of 0
    with np.errstate(invalid="ignore"):
        m = np.where(a > 0, np.minimum(a + up / 2 - av, av - a + down / 2), 2.0 ** (emin - p + 1) / 2 - np.abs(v))
    # beyond the largest finite value every v of the same sign rounds to the same inf (or NaN):
    # the margin is the distance to the overflow threshold
    return np.where(np.isfinite(r), m, np.abs(v) - overflow_threshold(fmt))


def overflow_threshold(fmt: str) -> float:
    """The smallest |v| that rounds to a non-finite value in ``fmt``."""
    p, _ = FORMATS[fmt]
    big = float(ml_dtypes.finfo(_DTYPES[fmt]).max)
    return big + 2.0 ** (math.floor(math.log2(big)) - p + 1) / 2


class Stack:
    """One random stack: L layers, widths (n_l), input width d; see the module docstring."""

    def __init__(self, rng: np.random.Generator, widths, d: int, cap: float, diag=None):
        self.layers, din = [], d
        for n in widths:
            q, _ = np.linalg.qr(rng.standard_normal((n, n)))
            s = q @ np.diag(rng.uniform(0.7, 1.4, n)) @ np.linalg.qr(rng.standard_normal((n, n)))[0]  # cond <= 2
            upper = np.triu(rng.standard_normal((n, n)), 1) * rng.uniform(0, 0.5)
            pin = rng.random(n) < 0.3
            pinned = np.where(rng.random(n) < 0.5, 0.0, cap)
            self.layers.append({"S": s, "Si": np.linalg.inv(s), "U": upper, "W": rng.standard_normal((n, din)),
                                "c": rng.standard_normal(n), "pin": pin, "pinned": pinned, "cap": cap,
                                "diag": diag, "V": rng.standard_normal((n, din)) / (2 * math.sqrt(din)),
                                "e": rng.standard_normal(n) / 2, "C": rng.standard_normal((n, n)) / (4 * math.sqrt(n))})
            din = n
        self.x = rng.standard_normal(d)
        self.h0 = [rng.standard_normal(n) for n in widths]
        self._cache: dict = {}

    def transition(self, l: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A, b) of layer l on input y."""
        key = (l, np.asarray(y, dtype=np.float64).tobytes())
        if key not in self._cache:
            self._cache[key] = self._transition(l, y)
        return self._cache[key]

    def _transition(self, l: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.layers[l]
        if p["diag"] is not None:                                   # a test's fixed diagonal
            dg = np.asarray(p["diag"], dtype=np.float64)[:len(p["c"])]
        else:
            with np.errstate(over="ignore"):
                dg = np.where(p["pin"], p["pinned"], p["cap"] / (1 + np.exp(-(p["W"] @ y + p["c"]))))
        a = p["S"] @ (np.diag(dg) + p["U"]) @ p["Si"]
        return a, p["V"] @ y + p["e"]

    def run(self, fmt: str, steps: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """States after ``steps`` letters and every layer's rounded outputs: (states, outputs (steps, n_l))."""
        h = [v.copy() for v in self.h0]
        outs = [np.empty((steps, len(v))) for v in h]
        for t in range(steps):
            y = self.x
            for l, p in enumerate(self.layers):
                a, b = self.transition(l, y)
                h[l] = a @ h[l] + b
                y = round_fmt(p["C"] @ h[l], fmt)
                outs[l][t] = y
        return h, outs


def certify_layer(a: np.ndarray, b: np.ndarray, c: np.ndarray, h: np.ndarray, fmt: str, *,
                  max_tail: int, safety: float = 0.5) -> int | None:
    """Steps J after which round(c h_t) is constant forever, for h_{t+1} = a h_t + b from h; None if not certified."""
    n = len(a)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return 1        # an overflowed (inf/NaN) input: the state is non-finite from the next step on; the replay checks it
    try:
        hstar = np.linalg.solve(np.eye(n) - a, b)
    except np.linalg.LinAlgError:
        return None
    m = margin(c @ hstar, fmt)
    if not np.all(m > 1e-8 * (1 + np.abs(c @ hstar))):
        return None                                                  # the limit sits on a rounding boundary
    p, k = a.copy(), 1
    while np.abs(p).sum(1).max() >= 1:
        p, k = p @ a, k + 1
        if k > 4096:
            return None
    cn = np.abs(c).sum(1).max()
    z = h - hstar
    window = []
    for j in range(max_tail + k):
        window.append(np.abs(z).max())
        if len(window) > k:
            window.pop(0)
        if len(window) == k and cn * max(window) < safety * m.min():
            return j - k + 1
        z = a @ z
    return None


def certify_stack(stack: Stack, fmt: str, *, max_tail: int = 20_000) -> dict:
    """Layer by layer: the time from which each layer's rounded output is constant (see module doc)."""
    start, times = 0, []
    for l, p in enumerate(stack.layers):
        h, outs = stack.run(fmt, start) if start else ([v.copy() for v in stack.h0], None)
        y = stack.x if l == 0 else (outs[l - 1][-1] if start else None)
        if y is None:
            return {"certified": False, "layer": l, "times": times}
        a, b = stack.transition(l, y)
        j = certify_layer(a, b, p["C"], h[l], fmt, max_tail=max_tail)
        if j is None:
            return {"certified": False, "layer": l, "times": times}
        start = max(start + j, 1)
        times.append(start)
    # replay: the outputs really are constant over a window after the last certified time
    _, outs = stack.run(fmt, start + 64)
    tail = outs[-1][start:]
    constant = all(np.array_equal(row, tail[0], equal_nan=True) for row in tail)
    return {"certified": constant, "layer": None, "times": times, "replay_constant": constant}


def stack_period(stack: Stack, fmt: str, steps: int = 400) -> int | None:
    """The period (1, 2, 3, 4) of the last output over the final 32 of ``steps`` letters, if any."""
    _, outs = stack.run(fmt, steps)
    last = outs[-1][-32:]
    for p in (1, 2, 3, 4):
        if all(np.array_equal(last[i], last[i + p], equal_nan=True) for i in range(len(last) - p)):
            return p
    return None


def check_general_nonneg(fmts=("bfloat16", "float16", "float8_e4m3fn"), *, samples: int = 96, seed: int = 0,
                         max_width: int = 8, max_layers: int = 3, cap: float = 0.95, diag=None) -> ClaimResult:
    """Random stacks (widths 1..max_width, 1..max_layers layers), each certified eventually constant.

    ``diag`` fixes every layer's eigenvalues (a test passes a negative one, which must fail).
    """
    rng = np.random.default_rng(seed)
    table, witness, total, certified = {}, None, 0, 0
    for fmt in fmts:
        row = {"samples": 0, "certified": 0, "longest_transient": 0, "by_layers": {}}
        for i in range(samples):
            layers = 1 + i % max_layers
            widths = rng.integers(1, max_width + 1, size=layers)
            stack = Stack(rng, widths, 2, cap, diag)
            cert = certify_stack(stack, fmt)
            row["samples"] += 1
            row["by_layers"][layers] = row["by_layers"].get(layers, 0) + 1
            if cert["certified"]:
                row["certified"] += 1
                row["longest_transient"] = max(row["longest_transient"], cert["times"][-1])
            elif witness is None:
                witness = {"fmt": fmt, "widths": widths.tolist(), "failed_layer": cert["layer"],
                           "observed_period": stack_period(stack, fmt),
                           "eigenvalues": [np.linalg.eigvals(stack.transition(0, stack.x)[0]).tolist()]}
        table[fmt] = row
        total += row["samples"]
        certified += row["certified"]
    ok = certified == total
    per = "; ".join(f"{f}: {r['certified']}/{r['samples']} (longest transient {r['longest_transient']})"
                    for f, r in table.items())
    evidence = (f"{certified:,} of {total:,} random stacks (dense non-normal A = S T S^-1, spectrum real in "
                f"[0, {cap:g}], widths 1..{max_width}, 1..{max_layers} layers) certified: rounded output constant "
                f"for every t past the bound, so no decoder outputs parity or t mod 3 — {per}")
    if not ok:
        evidence += f"; {total - certified} not certified (first: {witness})"
    return ClaimResult("parity.general_nonneg_exact_state", REFERENCE, ", ".join(fmts), verdict(ok), evidence,
                       witness, {"by_format": table, "seed": seed, "cap": cap})
