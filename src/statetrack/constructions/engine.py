"""Run explicit weights in a chosen float format, many words at a time.

The simulator applies each layer's factors one by one, as a DeltaProduct-style layer would:
``H <- H - coef * u (w^T H)`` per factor, then ``H <- H + B(s)``; every quantity (weights, state,
intermediate products) is rounded to the chosen format. Decoding reads the rounded state in
float64 (nearest codebook entry). numpy runs float64/float32/float16; torch (CPU or GPU) runs any
torch dtype, bfloat16 included.
"""
from __future__ import annotations

import numpy as np

DTYPES = ("float64", "float32", "bfloat16", "float16")


class Simulator:
    """Batched runner for :class:`~statetrack.constructions.weights.LRNNWeights`.

    State: a list with one array (N, n_i, V_i) per layer, in ``dtype``.
    """

    def __init__(self, weights, dtype: str = "float64", backend: str = "auto", device: str = "cpu"):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
        if backend == "auto":
            backend = "torch" if dtype == "bfloat16" else "numpy"
        if backend == "numpy" and dtype == "bfloat16":
            raise ValueError("numpy has no bfloat16: use backend='torch'")
        self.weights, self.dtype, self.backend = weights, dtype, backend
        if backend == "torch":
            import torch

            self._torch, self._device = torch, device
            self._dt = getattr(torch, dtype)
        else:
            self._dt = np.dtype(dtype)
        self._layers = []
        for layer in weights.layers:
            p = layer.packed()
            cb = layer.codebook.reshape(layer.n_codes, -1)
            self._layers.append({
                "u": self._arr(p["u"]), "w": self._arr(p["w"]), "coef": self._arr(p["coef"]),
                "write": self._arr(layer.write), "h0": self._arr(layer.h0),
                "route": self._idx(layer.route), "F": p["u"].shape[1],
                "skip_write": not np.any(layer.write),
                # decoding in float64: argmax_c <H, C_c> - |C_c|^2 / 2
                "cb": self._arr(cb, np.float64), "cb_bias": self._arr(-0.5 * (cb * cb).sum(1), np.float64),
            })
        self._state_map = self._idx(weights.state_map)

    # ------------------------------------------------------------------ backend shims
    def _arr(self, x, dtype=None):
        if self.backend == "torch":
            dt = self._dt if dtype is None else getattr(self._torch, np.dtype(dtype).name)
            return self._torch.as_tensor(np.asarray(x, dtype=np.float64)).to(device=self._device, dtype=dt)
        return np.asarray(x, dtype=self._dt if dtype is None else dtype)

    def _idx(self, x):
        if self.backend == "torch":
            return self._torch.as_tensor(np.asarray(x, dtype=np.int64), device=self._device)
        return np.asarray(x, dtype=np.int64)

    def _einsum(self, spec, *ops):
        return (self._torch.einsum if self.backend == "torch" else np.einsum)(spec, *ops)

    def _f64(self, x):
        return x.to(self._torch.float64) if self.backend == "torch" else x.astype(np.float64)

    def numpy(self, x) -> np.ndarray:
        return x.cpu().numpy() if self.backend == "torch" else np.asarray(x)

    # ------------------------------------------------------------------ running
    def init(self, n: int) -> list:
        """Initial states, one (n, width, V) array per layer."""
        return [lay["h0"][None].repeat(n, 0) if self.backend == "numpy" else lay["h0"][None].repeat(n, 1, 1)
                for lay in self._layers]

    def take(self, state: list, rows) -> list:
        """Select rows (words) of a state."""
        rows = self._idx(rows)
        return [h[rows] for h in state]

    def layer_codes(self, state: list, upto: int | None = None) -> list:
        """Decoded code (N,) of each layer (the first ``upto`` layers)."""
        out = []
        for lay, h in zip(self._layers[:upto], state):
            scores = self._einsum("nd,cd->nc", self._f64(h.reshape(h.shape[0], -1)), lay["cb"]) + lay["cb_bias"]
            out.append(scores.argmax(-1))
        return out

    def step(self, state: list, letters) -> list:
        """Read one letter per word: letters (N,) int. Returns the new state."""
        letters = self._idx(letters)
        pre = self.layer_codes(state, upto=len(self._layers) - 1) if len(self._layers) > 1 else []
        new = []
        for i, (lay, h) in enumerate(zip(self._layers, state)):
            s = lay["route"][(letters, *pre[:i])]                 # (N,) layer symbols
            u, w, coef = lay["u"][s], lay["w"][s], lay["coef"][s]  # (N, F, n), (N, F, n), (N, F)
            for f in range(lay["F"]):
                proj = self._einsum("nk,nkv->nv", w[:, f], h)      # w^T H : (N, V)
                h = h - (coef[:, f, None] * u[:, f])[:, :, None] * proj[:, None, :]
            if not lay["skip_write"]:
                h = h + lay["write"][s]
            new.append(h)
        return new

    def automaton_states(self, state: list) -> np.ndarray:
        """Decoded automaton state (N,) int64 as numpy."""
        codes = self.layer_codes(state)
        return self.numpy(self._state_map[tuple(codes)])

    def run(self, codes: np.ndarray) -> np.ndarray:
        """Decoded automaton state after each word: codes (N, L) letter indices -> (N,) int64."""
        codes = np.asarray(codes, dtype=np.int64)
        state = self.init(codes.shape[0])
        for t in range(codes.shape[1]):
            state = self.step(state, codes[:, t])
        return self.automaton_states(state)
