"""Exact cycle detection on rounded states.

A finite-precision recurrence on a constant input, ``h_{t+1} = f(h_t)`` with every value in a finite
set D, is eventually periodic: ``h_{t+lam} = h_t`` for all ``t >= mu``. The checks need mu (the
transient) and lam (the eventual period) exactly, so states are compared bit for bit, never with a
tolerance. A state is a value of D, not a bit pattern: :func:`canonical` maps -0 to +0 and every NaN
to one NaN before any comparison (a decoder cannot tell them apart through arithmetic).

:func:`find_cycles` runs Brent's algorithm on a batch of independent orbits at once and drops each
orbit as soon as it is decided; :func:`find_cycle_slow` is its obviously-correct twin (a dict of
every state seen) for one orbit.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: step(h, rows) -> next states: h (M, D) are the current states of the orbits ``rows`` (M,) int64.
Step = Callable[[np.ndarray, np.ndarray], np.ndarray]

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64, 1: np.uint8}


def canonical(x: np.ndarray) -> np.ndarray:
    """A copy of x with -0 turned into +0 and every NaN into the one quiet NaN."""
    x = np.asarray(x)
    y = x + x.dtype.type(0)                      # -0 + 0 = +0 under round-to-nearest
    nan = np.isnan(y)
    if nan.any():
        y[nan] = np.nan
    return y


def keys(x: np.ndarray, *, is_canonical: bool = False) -> np.ndarray:
    """Bit patterns of canonical states, (M, D) unsigned ints: equal rows <=> equal states."""
    c = np.ascontiguousarray(x if is_canonical else canonical(x))
    return c.view(_UINT[c.dtype.itemsize])


@dataclass(frozen=True)
class Cycles:
    """Per orbit: ``mu`` (transient) and ``period`` (eventual period), int64 (N,); 0 = undecided.

    An undecided orbit did not close within ``max_steps``; its mu is -1.
    """

    mu: np.ndarray
    period: np.ndarray
    steps: int

    @property
    def decided(self) -> np.ndarray:
        return self.period > 0


def find_cycles(step: Step, h0: np.ndarray, *, max_steps: int, recent: int = 8) -> Cycles:
    """Transient and period of every orbit h0[i], f(h0[i]), ... (h0: (N, D)).

    Each new state is compared with the ``recent`` states before it: a match with the state j
    steps back, first seen at step t, means period j and transient t - j, exactly. Longer periods
    are caught by Brent's algorithm (a saved state, replaced whenever the distance to it reaches
    the next power of two; the first return to it is one period) and their transient is found by
    a second pass that starts one copy at h0 and one a period ahead. Decided orbits leave the
    batch, so a few long transients do not slow the rest.
    """
    with np.errstate(over="ignore", invalid="ignore"):       # inf and NaN are values of the format
        return _find_cycles(step, h0, max_steps=max_steps, recent=recent)


def _find_cycles(step: Step, h0: np.ndarray, *, max_steps: int, recent: int) -> Cycles:
    h0 = canonical(np.asarray(h0))
    n = len(h0)
    period = np.zeros(n, dtype=np.int64)
    mu = np.full(n, -1, dtype=np.int64)
    rows, cur = np.arange(n), h0
    k = keys(h0, is_canonical=True)
    ring = np.zeros((recent,) + k.shape, dtype=k.dtype)     # keys of the last `recent` states
    ring[0] = k
    slot_time = np.full(recent, -1)                          # the step each ring slot holds
    slot_time[0] = 0
    saved = k
    power = np.ones(n, dtype=np.int64)
    lam = np.zeros(n, dtype=np.int64)
    t = 0
    while len(rows) and t < max_steps:
        cur = canonical(step(cur, rows))
        t += 1
        k = keys(cur, is_canonical=True)
        age = np.where(slot_time >= 0, t - slot_time, 0)                    # (recent,)
        match = np.all(ring == k[None], axis=2) & (age > 0)[:, None]        # (recent, M)
        per = np.where(match, age[:, None], np.iinfo(np.int64).max).min(axis=0)
        found = match.any(axis=0)
        lam += 1
        brent = ~found & np.all(k == saved, axis=1)
        mu[rows[found]] = t - per[found]
        period[rows[found]] = per[found]
        period[rows[brent]] = lam[brent]
        keep = ~(found | brent)
        if not keep.all():
            rows, cur, k, saved, power, lam = rows[keep], cur[keep], k[keep], saved[keep], power[keep], lam[keep]
            ring = ring[:, keep]
        ring[t % recent] = k
        slot_time[t % recent] = t
        reset = power == lam
        saved = np.where(reset[:, None], k, saved)
        power = np.where(reset, power * 2, power)
        lam = np.where(reset, 0, lam)
    steps = t
    # ---- transients of the long periods Brent found
    rows = np.flatnonzero((period > 0) & (mu < 0))
    ahead = h0[rows]
    for j in range(int(period[rows].max(initial=0))):
        go = period[rows] > j
        ahead[go] = canonical(step(ahead[go], rows[go]))
    behind = h0[rows]
    t = 0
    while len(rows):
        same = np.all(keys(ahead) == keys(behind), axis=1)
        mu[rows[same]] = t
        keep = ~same
        rows, ahead, behind = rows[keep], ahead[keep], behind[keep]
        if not len(rows) or t >= max_steps:
            break
        ahead = canonical(step(ahead, rows))
        behind = canonical(step(behind, rows))
        t += 1
    period[(period > 0) & (mu < 0)] = 0        # the second pass ran out of steps: leave it undecided
    return Cycles(mu=mu, period=period, steps=steps)


def find_cycle_slow(step: Step, h0: np.ndarray, row: int, *, max_steps: int) -> tuple[int, int] | None:
    """(mu, period) of the orbit of one state h0 (D,) of orbit ``row``, by remembering every state; None if
    it does not close within max_steps."""
    seen: dict[bytes, int] = {}
    h = canonical(np.asarray(h0)[None])
    rows = np.array([row])
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(max_steps + 1):
            key = keys(h).tobytes()
            if key in seen:
                return seen[key], t - seen[key]
            seen[key] = t
            h = canonical(step(h, rows))
    return None


def orbit(step: Step, h0: np.ndarray, row: int, length: int) -> np.ndarray:
    """The states h_0..h_{length-1} of one orbit: (length, D)."""
    out = [canonical(np.asarray(h0))]
    h = out[0][None]
    rows = np.array([row])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(length - 1):
            h = canonical(step(h, rows))
            out.append(h[0])
    return np.stack(out)
