"""Random finite-precision LRNN stacks on the input 1^t, for the sampled checks.

One layer: ``h <- round(A(y) h + B(y))``, output ``y' = round(C h)``; layer 1 reads the embedding
x of the letter 1, layer l+1 reads layer l's output of the same step (P1 eq. 1, stacked). The
arithmetic of one step is float32 (float64 for the float64 format) and its result is rounded once
to the format (``engine.round_to``): the most favourable per-step rounding model. A batch holds N
independent stacks (one per row) of equal widths; the joint state of a stack is the concatenation
of its layers' states, shape (N, sum of widths), and it is what the cycle detection compares.

Transitions are lower triangular (diagonal as a special case), so their eigenvalues are their
diagonal entries, which lie in [lo, hi]: ``lo + (hi - lo) * sigmoid(W y + c)``, except entries
pinned to an atom (lo, 0 or hi, independent of y) so that exact 0, hi (and -1 when lo = -1) occur.
Layer 1's input is constant, so its transition is constant; higher layers' transitions change with
their input until it settles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statetrack.constructions.engine import round_to


def compute_dtype(fmt: str):
    return np.float64 if fmt == "float64" else np.float32


@dataclass(frozen=True)
class Family:
    """A kind of random stack. kind: ``diagonal`` | ``triangular`` | ``fixed`` (A given, see
    :func:`fixed_system`); eigenvalues in [lo, hi]; ``layers`` stacked layers; widths drawn from
    ``widths`` (one width per batch)."""

    name: str
    kind: str
    layers: int
    lo: float
    hi: float
    widths: tuple[int, ...] = (1, 2, 3)
    atom_p: float = 0.2


class StackSystem:
    """N random stacks of triangular layers in one float format (see the module docstring).

    Attributes (per layer l, a dict with leading axis N):
        W (N, n, d), c (N, n): pre-activations of the diagonal; pin (N, n) bool, pinned (N, n).
        M (N, n*n, d), m (N, n*n): strictly lower entries (used by ``triangular`` only).
        V (N, n, d), e (N, n): B(y) = V y + e.  Cm (N, n, n): read-out y' = Cm h.
        A (N, n, n): a constant transition (``fixed`` layers).
    """

    def __init__(self, fmt: str, x: np.ndarray, layers: list[dict], h0: list[np.ndarray]):
        self.fmt, self.x, self.layers = fmt, x, layers
        self._h0 = [self.round(h) for h in h0]
        self.widths = [int(h.shape[1]) for h in h0]
        self._cache_rows = None
        everyone = np.arange(len(x))
        # layer 1 reads the constant letter: its A and B never change
        with np.errstate(over="ignore", invalid="ignore"):
            first = (self.transition(0, x, everyone),
                     np.einsum("mnd,md->mn", layers[0]["V"], x) + layers[0]["e"])
        self._first = first
        self._cache_rows = None

    def round(self, a):
        return round_to(np.asarray(a, dtype=compute_dtype(self.fmt)), self.fmt)

    @property
    def n(self) -> int:
        return len(self.x)

    def h0(self) -> np.ndarray:
        """Initial joint states (N, D)."""
        return np.concatenate(self._h0, axis=1)

    def _params(self, rows: np.ndarray) -> list[dict]:
        """Every layer's parameters for these rows (cached while the same rows come back)."""
        if self._cache_rows is None or len(self._cache_rows) != len(rows) or not np.array_equal(self._cache_rows, rows):
            self._cache = [{key: v[rows] for key, v in lay.items() if isinstance(v, np.ndarray)}
                           for lay in self.layers]
            self._cache_first = (self._first[0][rows], self._first[1][rows]) if hasattr(self, "_first") else None
            self._cache_rows = rows.copy()
        return self._cache

    def transition(self, l: int, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Layer l's A(y) for the given rows: (M, n, n), rounded to the format."""
        lay, p = self.layers[l], self._params(rows)[l]
        if "A" in lay:
            return p["A"]
        if l == 0 and self._cache_first is not None:
            return self._cache_first[0]
        m, n = len(rows), p["c"].shape[1]
        z = np.einsum("mnd,md->mn", p["W"], y) + p["c"]
        diag = np.where(p["pin"], p["pinned"], lay["lo"] + (lay["hi"] - lay["lo"]) / (1 + np.exp(-z)))
        if lay["kind"] == "triangular" and n > 1:   # M and m are zero outside the strictly lower part
            a = (np.einsum("mkd,md->mk", p["M"], y) + p["m"]).reshape(m, n, n)
        else:
            a = np.zeros((m, n, n), dtype=diag.dtype)
        a[:, np.arange(n), np.arange(n)] = diag
        return self.round(a)

    def step(self, h: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """One letter for the stacks ``rows``: joint states h (M, D) -> (M, D).

        Overflow to inf and inf - inf = NaN are part of the model; call it under
        ``np.errstate(over="ignore", invalid="ignore")`` to silence numpy's warnings.
        """
        params = self._params(rows)
        y = self.x[rows]
        out, off = [], 0
        for l, (p, n) in enumerate(zip(params, self.widths)):
            hl = h[:, off:off + n]
            off += n
            a = self.transition(l, y, rows)
            b = self._cache_first[1] if l == 0 and self._cache_first is not None else \
                np.einsum("mnd,md->mn", p["V"], y) + p["e"]
            hl = self.round(np.einsum("mij,mj->mi", a, hl) + b)
            y = self.round(np.einsum("mij,mj->mi", p["Cm"], hl))
            out.append(hl)
        return np.concatenate(out, axis=1)


def random_system(rng: np.random.Generator, fmt: str, family: Family, count: int, d0: int = 2) -> StackSystem:
    """``count`` random stacks of ``family``; each row draws its width from ``family.widths``.

    Rows narrower than the batch width n = max(widths) have their extra coordinates switched off
    (zero diagonal, lower part, write and read-out, h0 = 0), so those coordinates stay exactly 0.
    """
    cd = compute_dtype(fmt)
    n, layers, d = max(family.widths), [], d0
    width = rng.choice(np.array(family.widths), size=count)
    live = np.arange(n)[None, :] < width[:, None]                               # (N, n)

    def g(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(cd)

    atoms = np.array(sorted(_closed(family.lo, family.hi)), dtype=cd)
    for _ in range(family.layers):
        pin = (rng.random((count, n)) < family.atom_p) | ~live
        pinned = np.where(live, atoms[rng.integers(0, len(atoms), (count, n))], 0).astype(cd)
        strict = np.tril(np.ones((n, n), dtype=bool), -1)
        lower = (live[:, :, None] & live[:, None, :] & strict).reshape(count, n * n)
        lay = {"kind": family.kind, "lo": cd(family.lo), "hi": cd(family.hi),
               "W": g(count, n, d, scale=1.5), "c": g(count, n, scale=1.5), "pin": pin, "pinned": pinned,
               "M": g(count, n * n, d, scale=1 / np.sqrt(d)) * lower[:, :, None],
               "m": g(count, n * n) * lower,
               "V": g(count, n, d, scale=1 / np.sqrt(d)) * live[:, :, None], "e": g(count, n) * live,
               "Cm": g(count, n, n, scale=1 / np.sqrt(n)) * (live[:, :, None] & live[:, None, :])}
        layers.append(lay)
        d = n
    x = g(count, d0)
    h0 = [g(count, n) * (2.0 ** rng.uniform(-2, 2, (count, 1))).astype(cd) * live for _ in range(family.layers)]
    system = StackSystem(fmt, round_to(x, fmt), layers, h0)
    system.row_width = width
    return system


def fixed_system(fmt: str, a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> StackSystem:
    """One layer with a constant transition: a (N, n, n), b (N, n), h0 (N, n); y unused."""
    cd = compute_dtype(fmt)
    count, n = b.shape
    lay = {"kind": "fixed", "A": round_to(np.asarray(a, dtype=cd), fmt),
           "V": np.zeros((count, n, 1), dtype=cd), "e": round_to(np.asarray(b, dtype=cd), fmt),
           "Cm": np.eye(n, dtype=cd)[None].repeat(count, 0)}
    return StackSystem(fmt, np.zeros((count, 1), dtype=cd), [lay], [np.asarray(h0, dtype=cd)])


def _closed(lo: float, hi: float) -> set:
    return {v for v in (lo, 0.0, hi) if lo <= v <= hi}
