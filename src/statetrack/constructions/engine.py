"""Run explicit weights in a chosen float format, many words at a time (numpy only).

Finite-precision model (P1 eq. 1 with every stored quantity in a fixed format D): weights, the
projection ``p = w^T H`` and the state are rounded to the format after each factor,

    p <- round(w^T H);   H <- round(H - t p^T)   with t = round(beta u / (w^T u)),

then ``H <- round(H + B(s))``. Arithmetic between two roundings is float32 (float64 for the
float64 format), as a GPU kernel holding values in registers would do. float16 and bfloat16 are
rounded to nearest-even from float32 (bfloat16 through ml_dtypes, the numpy dtype jax uses).
Decoding reads the rounded state in float64: the nearest codebook entry.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

DTYPES = ("float64", "float32", "bfloat16", "float16")


def round_to(x: np.ndarray, fmt: str) -> np.ndarray:
    """Round an array to the float format ``fmt`` (returned in its compute type: f64 or f32)."""
    if fmt == "float64":
        return x
    x = np.asarray(x, dtype=np.float32)
    if fmt == "float32":
        return x
    if fmt == "float16":
        with np.errstate(over="ignore"):                 # beyond 65504 rounds to inf, as it should
            return x.astype(np.float16).astype(np.float32)
    if fmt == "bfloat16":
        return x.astype(ml_dtypes.bfloat16).astype(np.float32)
    raise ValueError(f"unknown float format {fmt!r}; choose from {', '.join(DTYPES)}")


class Simulator:
    """Batched runner for :class:`~statetrack.constructions.weights.LRNNWeights` in one float format.

    State: a list with one array (N, n_i, V_i) per layer.
    """

    def __init__(self, weights, dtype: str = "float64"):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
        self.weights, self.dtype = weights, dtype
        self._layers = []
        for layer in weights.layers:
            p = layer.packed()
            cb = layer.codebook.reshape(layer.n_codes, -1)
            self._layers.append({
                "t": self._round(p["coef"][:, :, None] * p["u"]),       # (S, F, n) write keys
                "w": self._round(p["w"]),                                # (S, F, n) read keys
                "active": p["n_factors"],                                # (S,) factors per symbol
                "write": self._round(layer.write), "h0": self._round(layer.h0),
                "route": layer.route, "F": p["u"].shape[1],
                "has_write": bool(np.any(layer.write)),
                "cb": cb, "cb_bias": -0.5 * (cb * cb).sum(1),          # argmax_c <H, C_c> - |C_c|^2/2
            })

    def _round(self, x):
        return round_to(x, self.dtype)

    # ------------------------------------------------------------------ running
    def init(self, n: int) -> list[np.ndarray]:
        """Initial states, one (n, width, V) array per layer."""
        return [np.repeat(lay["h0"][None], n, axis=0) for lay in self._layers]

    @staticmethod
    def take(state: list, rows) -> list:
        """Select rows (words) of a state."""
        return [h[rows] for h in state]

    def layer_codes(self, state: list, upto: int | None = None) -> list[np.ndarray]:
        """Decoded code (N,) of each layer (of the first ``upto`` layers)."""
        return [(h.reshape(h.shape[0], -1).astype(np.float64) @ lay["cb"].T + lay["cb_bias"]).argmax(-1)
                for lay, h in zip(self._layers[:upto], state)]

    def step(self, state: list, letters: np.ndarray) -> list:
        """Read one letter per word: letters (N,) int. Returns the new state."""
        letters = np.asarray(letters, dtype=np.int64)
        pre = self.layer_codes(state, upto=len(self._layers) - 1) if len(self._layers) > 1 else []
        return [self._apply(i, h, lay["route"][(letters, *pre[:i])])
                for i, (lay, h) in enumerate(zip(self._layers, state))]

    def _apply(self, i: int, h: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Layer i's transition for layer symbols s (N,) on states h (N, n, V)."""
        lay, rnd = self._layers[i], self._round
        if len(s) and s.min() == s.max():                 # one symbol for every word: shared factors
            s0 = int(s[0])
            for f in range(int(lay["active"][s0])):
                p = rnd(np.einsum("k,nkv->nv", lay["w"][s0, f], h))              # w^T H: (N, V)
                h = rnd(h - lay["t"][s0, f][None, :, None] * p[:, None, :])
        else:
            t, w = lay["t"][s], lay["w"][s]               # (N, F, n); padding rows are 0
            for f in range(int(lay["active"][s].max(initial=0))):
                p = rnd(w[:, f, None, :] @ h)             # w^T H: (N, 1, V)
                h = rnd(h - t[:, f, :, None] * p)         # exact no-op where t = w = 0
        if lay["has_write"]:
            h = rnd(h + lay["write"][s])
        return h

    # ------------------------------------------------------------------ ideal codes
    def codeword_state(self, codes: np.ndarray) -> list[np.ndarray]:
        """The state whose layers sit exactly on the rounded codewords: codes (N, n_layers)."""
        return [self._round(lay["cb"][codes[:, i]].reshape(len(codes), *lay["h0"].shape))
                for i, lay in enumerate(self._layers)]

    def code_tables(self) -> list[np.ndarray]:
        """Per layer, int64 (S, C): the code reached by applying symbol s to codeword c, in float64.

        The noise-free dynamics of the decoded codes; statetrack.verify uses it to split long words
        into segments that start on exact codewords.
        """
        if getattr(self, "_code_tables", None) is None:
            exact = self if self.dtype == "float64" else Simulator(self.weights, "float64")
            tables = []
            for i, (lay, layer) in enumerate(zip(exact._layers, self.weights.layers)):
                S, C = layer.n_symbols, layer.n_codes
                h = lay["cb"][np.tile(np.arange(C), S)].reshape(S * C, *lay["h0"].shape)
                h = exact._apply(i, h, np.repeat(np.arange(S), C))
                tables.append((h.reshape(S * C, -1) @ lay["cb"].T + lay["cb_bias"]).argmax(-1).reshape(S, C))
            self._code_tables = tables
        return self._code_tables

    def ideal_codes(self, codes: np.ndarray) -> np.ndarray:
        """Every layer's code before and after each letter, from the code tables alone.

        codes: (N, L) letters. Returns int64 (N, L + 1, n_layers).
        """
        tables = self.code_tables()
        N, L = codes.shape
        out = np.empty((N, L + 1, len(self._layers)), dtype=np.int64)
        out[:, 0] = [int(c[0]) for c in self.layer_codes(self.init(1))]
        for t in range(L):
            cur = out[:, t]
            for i, lay in enumerate(self._layers):
                out[:, t + 1, i] = tables[i][lay["route"][(codes[:, t], *cur[:, :i].T)], cur[:, i]]
        return out

    def automaton_states(self, state: list) -> np.ndarray:
        """Decoded automaton state (N,) int64."""
        return self.weights.state_map[tuple(self.layer_codes(state))]

    def run(self, codes: np.ndarray) -> np.ndarray:
        """Decoded automaton state after each word: codes (N, L) letter indices -> (N,) int64."""
        codes = np.asarray(codes, dtype=np.int64)
        state = self.init(codes.shape[0])
        for t in range(codes.shape[1]):
            state = self.step(state, codes[:, t])
        return self.automaton_states(state)
