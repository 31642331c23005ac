"""One compiled model reading one letter over and over, in a float format, until its state repeats.

:func:`weights_orbit` runs layer 0 of an :class:`~statetrack.constructions.weights.LRNNWeights`
on ``letter^t`` with the engine's finite-precision model (``constructions.engine``: each factor's
projection and update rounded to the format, arithmetic in between in float32) but without the
engine's per-step bookkeeping, so that 10^5 steps take about a second. It remembers every state
(bit for bit, see ``cycles.canonical``) and stops when one repeats: from then on the orbit, and so
the decoded output, is periodic forever. :func:`engine_agrees` replays the first steps through the
engine's :class:`Simulator` and compares the states bit for bit (the slow twin).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from statetrack.constructions.engine import nearest_codes, round_to
from statetrack.proofs_check.cycles import canonical, keys
from statetrack.proofs_check.systems import compute_dtype


@dataclass(frozen=True)
class Orbit:
    """Decoded automaton state after t letters, t = 0..len(decoded)-1.

    If ``period`` is not None the state after ``mu + period`` letters equals the state after ``mu``
    bit for bit, so ``decoded[t] = decoded[mu + (t - mu) % period]`` for every t >= mu, forever.
    """

    decoded: np.ndarray
    mu: int | None
    period: int | None

    def at(self, t: int) -> int:
        if self.period is None or t < len(self.decoded):
            return int(self.decoded[t])
        return int(self.decoded[self.mu + (t - self.mu) % self.period])


class _LayerStep:
    """Layer 0 of ``weights`` for one layer symbol, in the engine's arithmetic."""

    def __init__(self, weights, letter: int, fmt: str):
        if weights.n_layers != 1:
            raise ValueError("weights_orbit runs one-layer models only")
        layer = weights.layers[0]
        s = int(layer.route[letter])
        self.fmt = fmt
        self.factors = [(round_to(f.coefficient * f.u, fmt), round_to(f.w, fmt)) for f in layer.factors[s]]
        self.write = round_to(layer.write[s], fmt) if np.any(layer.write[s]) else None
        self.h0 = round_to(np.asarray(layer.h0, dtype=np.float64), fmt)
        cb = layer.codebook.reshape(layer.n_codes, -1)
        self.cb, self.bias = cb, -0.5 * (cb * cb).sum(1)
        self.state_map = np.asarray(weights.state_map)

    def __call__(self, h: np.ndarray) -> np.ndarray:
        fmt = self.fmt
        for t, w in self.factors:
            p = round_to(np.einsum("k,kv->v", w, h), fmt)            # w^T H: (V,)
            h = round_to(h - t[:, None] * p[None, :], fmt)
        if self.write is not None:
            h = round_to(h + self.write, fmt)
        return h

    def decode(self, h: np.ndarray) -> int:
        return int(self.state_map[int(nearest_codes(h.reshape(1, -1), self.cb, self.bias)[0])])


def weights_orbit(weights, letter: int, fmt: str, max_len: int) -> Orbit:
    """Decoded states of ``weights`` on letter^t for t = 0.. until the state repeats or t = max_len."""
    step = _LayerStep(weights, letter, fmt)
    h = canonical(step.h0)
    seen: dict[bytes, int] = {}
    decoded = []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(max_len + 1):
            key = keys(h).tobytes()
            if key in seen:
                return Orbit(np.array(decoded, dtype=np.int64), seen[key], t - seen[key])
            seen[key] = t
            decoded.append(step.decode(h))
            if t < max_len:
                h = canonical(step(h))
    return Orbit(np.array(decoded, dtype=np.int64), None, None)


def literal_run(weights, letter: int, fmt: str, steps: int, expected) -> int | None:
    """Run ``steps`` letters without cycle bookkeeping; the first t whose decoded state differs from
    ``expected(t)``, or None. (The literal counterpart of a periodic-orbit argument.)"""
    step = _LayerStep(weights, letter, fmt)
    h = step.h0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            if step.decode(h) != expected(t):
                return t
            h = step(h)
    return None


def engine_agrees(weights, letter: int, fmt: str, steps: int) -> bool:
    """True iff the engine's Simulator and the fast loop give bit-identical states for ``steps`` letters."""
    step = _LayerStep(weights, letter, fmt)
    sim = weights.simulator(fmt)
    state = sim.init(1)
    h = step.h0
    letters = np.array([letter])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            state = sim.step(state, letters)
            h = step(h)
            if not np.array_equal(keys(np.asarray(state[0][0], dtype=compute_dtype(fmt))), keys(h)):
                return False
    return True


def automaton_orbit(table: np.ndarray, start: int, letter: int) -> Orbit:
    """States of a DFA on letter^t until one repeats (table (n_states, n_symbols))."""
    seen, states, q = {}, [], int(start)
    while q not in seen:
        seen[q] = len(states)
        states.append(q)
        q = int(table[q, letter])
    return Orbit(np.array(states, dtype=np.int64), seen[q], len(states) - seen[q])


def first_disagreement(a: Orbit, b: Orbit, horizon: int) -> int | None:
    """First t < horizon with a.at(t) != b.at(t), or None. When both orbits are periodic, checking
    t < max(mu_a, mu_b) + lcm(period_a, period_b) decides every t, and the horizon is ignored."""
    if a.period is not None and b.period is not None:
        horizon = max(a.mu, b.mu) + a.period * b.period // gcd(a.period, b.period)
    else:
        horizon = min(horizon, *(len(o.decoded) for o in (a, b) if o.period is None))
    for t in range(horizon):
        if a.at(t) != b.at(t):
            return t
    return None
