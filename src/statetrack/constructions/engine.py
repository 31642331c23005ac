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


def _nonzero(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(v)
    return idx, v[idx]


def nearest_codes(x: np.ndarray, codebook: np.ndarray, bias: np.ndarray | None = None,
                  block: int = 1 << 15) -> np.ndarray:
    """The nearest codeword per row: argmax_c <x, C_c> - |C_c|^2 / 2, in float64, in blocks.

    x (N, D) states, codebook (C, D); bias (C,) defaults to -|C_c|^2 / 2 (pass it precomputed).
    Returns int64 (N,). The one decoding rule: the engine, check and proofs_check all use it.
    """
    x = np.asarray(x).reshape(len(x), -1)
    if bias is None:
        bias = -0.5 * (codebook * codebook).sum(1)
    out = np.empty(len(x), dtype=np.int64)
    for i in range(0, len(x), block):
        scores = x[i:i + block].astype(np.float64) @ codebook.T
        scores += bias
        out[i:i + block] = scores.argmax(-1)
    return out


class _ExactLookup:
    """Find rows that equal one of the rounded codewords, bit for bit, by a 64-bit fingerprint."""

    def __init__(self, rounded: np.ndarray):
        self.rounded = rounded
        self.weights = np.random.default_rng(0xC0DE).integers(1, 2**63, size=rounded.shape[1], dtype=np.uint64)
        keys = self._keys(rounded)
        self.order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[self.order]

    @classmethod
    def build(cls, rounded: np.ndarray, codebook: np.ndarray) -> _ExactLookup | None:
        """None unless every rounded codeword is distinct and still nearest to its own codeword."""
        if len(np.unique(rounded, axis=0)) != len(rounded):
            return None
        if not np.array_equal(nearest_codes(rounded, codebook, -0.5 * (codebook * codebook).sum(1)), np.arange(len(codebook))):
            return None
        return cls(rounded)

    def _keys(self, x: np.ndarray) -> np.ndarray:
        bits = (np.asarray(x, dtype=np.float64) + 0.0).view(np.uint64)   # + 0.0 turns -0.0 into 0.0
        with np.errstate(over="ignore"):
            return (bits * self.weights).sum(axis=1, dtype=np.uint64)

    def find(self, x: np.ndarray) -> np.ndarray:
        """Code per row of x (N, D), or -1 where the row is no rounded codeword."""
        pos = np.minimum(np.searchsorted(self.sorted_keys, self._keys(x)), len(self.order) - 1)
        cand = self.order[pos]
        hit = np.all(self.rounded[cand] == x, axis=1)
        return np.where(hit, cand, -1)


class Simulator:
    """Batched runner for :class:`~statetrack.constructions.weights.LRNNWeights` in one float format.

    State: a list with one array (N, n_i, V_i) per layer.
    """

    def __init__(self, weights, dtype: str = "float64", *, lenient: bool = False):
        """``lenient``: a tuple of layer codes the weights do not store decodes as automaton state -1
        (a wrong state, so verification counts it as a failure at that length) instead of raising
        UnreachableConfigurationError. Only verification uses it: a reachable tuple's prefixes are
        reachable, so a word is already wrong at the length where it first leaves the stored ones."""
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
        self.weights, self.dtype, self.lenient = weights, dtype, lenient
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
                "sparse": [[(_nonzero(t_sf), _nonzero(w_sf)) for t_sf, w_sf in zip(t_s[:n], w_s[:n])]
                           for t_s, w_s, n in zip(self._round(p["coef"][:, :, None] * p["u"]), self._round(p["w"]),
                                                  p["n_factors"])],
                "has_write": bool(np.any(layer.write)),
                "cb": cb, "cb_bias": -0.5 * (cb * cb).sum(1),          # argmax_c <H, C_c> - |C_c|^2/2
                "exact_lookup": _ExactLookup.build(self._round(cb), cb),
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
        """Decoded code (N,) of each layer (of the first ``upto`` layers): the nearest codeword.

        Rows equal to a rounded codeword are found by an exact fingerprint lookup (distance 0 makes
        it the nearest); the rest are scored against the whole codebook.
        """
        out = []
        for lay, h in zip(self._layers[:upto], state):
            x = h.reshape(h.shape[0], -1)
            codes = lay["exact_lookup"].find(x) if lay["exact_lookup"] else np.full(len(x), -1)
            rest = np.flatnonzero(codes < 0)
            if len(rest):
                codes[rest] = nearest_codes(x[rest], lay["cb"], lay["cb_bias"])
            out.append(codes)
        return out

    def step(self, state: list, letters: np.ndarray) -> list:
        """Read one letter per word: letters (N,) int. Returns the new state.

        Layer i's symbol is ``route[letter, id of the lower codes before the letter]``; lower codes
        that form no stored configuration raise UnreachableConfigurationError."""
        letters = np.asarray(letters, dtype=np.int64)
        pre = self.layer_codes(state, upto=len(self._layers) - 1) if len(self._layers) > 1 else []
        return [self._apply(i, h, self.weights.layers[i].symbols(letters, p))
                for i, (h, p) in enumerate(zip(state, self._prefix_ids(pre)))]

    def _prefix_ids(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        """Ids of the code prefixes of length 0..len(codes): [zeros, id(c_0), id(c_0, c_1), ...],
        each (N,); UnreachableConfigurationError where one is not stored."""
        index = self.weights.index
        ids = [np.zeros(len(codes[0]) if codes else 1, dtype=np.int64)]
        for i, c in enumerate(codes):
            ids.append(index.child(i, ids[-1], c))
        if codes and not self.lenient:
            index.require(ids[-1], codes, f"route of layer {len(codes)}")
        return [np.maximum(i, 0) for i in ids] if self.lenient else ids

    def _apply(self, i: int, h: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Layer i's transition for layer symbols s (N,) on states h (N, n, V).

        Rows are grouped by symbol when there are few distinct symbols (each group then shares its
        factors and touches only the coordinates where they are nonzero); otherwise every row
        gathers its own padded factors. Both compute the same rounded values.
        """
        lay = self._layers[i]
        symbols, inverse = np.unique(s, return_inverse=True)
        if len(symbols) * 8 <= len(s) or len(symbols) == 1:
            h = h.copy()
            for k, sym in enumerate(symbols):
                rows = slice(None) if len(symbols) == 1 else np.flatnonzero(inverse == k)
                h[rows] = self._apply_shared(lay, h[rows], int(sym))
        else:
            h = self._apply_gathered(lay, h, s)
        if lay["has_write"]:
            h = self._round(h + lay["write"][s])
        return h

    def _apply_shared(self, lay: dict, h: np.ndarray, s: int) -> np.ndarray:
        """One symbol's factors on every row of h (modified in place and returned)."""
        rnd = self._round
        for (tk, tv), (wk, wv) in lay["sparse"][s]:
            p = rnd(np.einsum("k,nkv->nv", wv, h[:, wk]))                    # w^T H: (N, V)
            h[:, tk] = rnd(h[:, tk] - tv[None, :, None] * p[:, None, :])
        return h

    def _apply_gathered(self, lay: dict, h: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Each row's own factors, padded to the longest list (padding has t = w = 0: a no-op)."""
        rnd = self._round
        t, w = lay["t"][s], lay["w"][s]                   # (N, F, n)
        for f in range(int(lay["active"][s].max(initial=0))):
            p = rnd(np.einsum("nk,nkv->nv", w[:, f], h))                       # w^T H: (N, V)
            h = rnd(h - t[:, f, :, None] * p[:, None, :])
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
                tables.append(nearest_codes(h.reshape(S * C, -1), lay["cb"], lay["cb_bias"]).reshape(S, C))
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
            ids = self._prefix_ids(list(cur[:, :-1].T))
            for i, layer in enumerate(self.weights.layers):
                out[:, t + 1, i] = tables[i][layer.symbols(codes[:, t], ids[i]), cur[:, i]]
        return out

    def automaton_states(self, state: list) -> np.ndarray:
        """Decoded automaton state (N,) int64 (-1 where lenient and the codes are not stored)."""
        codes = self.layer_codes(state)
        if not self.lenient:
            return self.weights.automaton_states(codes)
        ids = self.weights.index.locate(codes)
        return np.where(ids >= 0, self.weights.state_map[np.maximum(ids, 0)], -1)

    def run(self, codes: np.ndarray) -> np.ndarray:
        """Decoded automaton state after each word: codes (N, L) letter indices -> (N,) int64."""
        codes = np.asarray(codes, dtype=np.int64)
        state = self.init(codes.shape[0])
        for t in range(codes.shape[1]):
            state = self.step(state, codes[:, t])
        return self.automaton_states(state)
