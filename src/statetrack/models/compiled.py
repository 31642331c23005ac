"""Compiled weights in the model classes: :class:`CompiledLRNN` runs any
:class:`~statetrack.constructions.weights.LRNNWeights` through :class:`~statetrack.models.mixers.DeltaProduct`
mixers, one per layer, and reproduces the source automaton exactly.

Each compiled layer is a ``DeltaProduct`` whose input is the one-hot *layer symbol* (so its q/k/v/beta
projections are lookup tables: a linear map of a one-hot vector picks one column, exactly), with
these documented superset switches (see :mod:`statetrack.models.mixers`):

1. **unnormalized keys, beta set directly**: a factor ``I - beta u w^T / (w^T u)`` becomes the kernel
   sub-step with key u and beta ``beta / (w^T u)``; a swap is key ``e_i - e_j`` with beta 1, exact
   in every float format. (A learned model has L2-normalized keys and ``beta = 2 sigmoid(.)``,
   which reaches 0, 1 and 2 only in the limit.)
2. **n_h = the most factors any symbol needs**; symbols with fewer are padded with identity
   sub-steps (key 0, beta 0).
3. **the additive term B(s)** is folded into the sub-steps' values when it lies in their span (the
   Krohn–Rhodes reset ``A = 0, B = e_q`` is n projections whose values write e_q row by row);
   otherwise the layer gets ``direct_write`` (an extra ``+ B_t``; no kernel, ``naive`` only).
4. **non-symmetric factors** (``u != w``, the ``direct`` construction) need ``read_keys``: no kernel
   takes them, so such layers run the generalized loop (``naive`` only).
5. **non-zero initial state** ``H_0`` (a stored buffer; learned models start from 0).
6. **whole-state read-out**: a layer of width n has n query heads sharing one state's keys and values,
   with ``q = e_i`` and scale 1, so ``o_t`` is the full state ``H_t`` (n x V) at every position.
7. **exact argmax decoder and lookup routing between layers**: the layer's code is
   ``argmax_c <H_t, C_c> - |C_c|^2 / 2`` over its codebook (a linear map then argmax, in float64); the
   next layer's symbol is ``route[letter, id(codes of the lower layers at t-1)]``, where t-1 is what
   the short causal convolution gives a real LRNN (position -1 reads the code of ``H_0``), and the id
   numbers the reachable code tuples (the weights' CodeIndex, looked up by ``torch.searchsorted``).
   A learned model would put an MLP where the lookup is.

The output is the source automaton's state after every prefix: ``state_map[id(codes)]``. A code
tuple the index does not hold raises UnreachableConfigurationError.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from statetrack.models.mixers import DeltaProduct

MAX_GRID_AXIS = 65535     # CUDA's limit on launch-grid axes y and z


def _fold_write(layer, s: int, coef: np.ndarray, u: np.ndarray) -> np.ndarray | None:
    """Values ``v_j`` (F, V) with ``sum_j (F_m..F_{j+1}) coef_j u_j v_j^T == B(s)``, or None if B(s)
    is not in the span of those vectors (float64; exactness is checked end to end in the tests)."""
    B = layer.write[s]                                                      # (n, V)
    F = u.shape[0]
    if not np.any(B):
        return np.zeros((F, B.shape[1]))
    n = layer.width
    cols = []
    for j in range(F):
        m = coef[j] * u[j]
        for jj in range(j + 1, F):                                          # later factors act on it
            m = m - coef[jj] * u[jj] * (u[jj] @ m)
        cols.append(m)
    M = np.stack(cols, axis=1) if cols else np.zeros((n, 0))                # (n, F)
    if M.shape[1] == 0:
        return None
    X, *_ = np.linalg.lstsq(M, B, rcond=None)                               # (F, V)
    if not np.allclose(M @ X, B, rtol=0, atol=1e-12):
        return None
    return np.where(np.abs(X) < 1e-15, 0.0, X)


class CompiledLayer(nn.Module):
    """One compiled layer: a superset :class:`DeltaProduct` plus its codebook decoder and route."""

    def __init__(self, layer, dtype: torch.dtype, backend: str):
        super().__init__()
        p = layer.packed()
        S, F, n = p["u"].shape
        V = layer.h0.shape[1]
        symmetric = bool(np.array_equal(p["u"], p["w"]))
        values = np.zeros((S, F, V))
        direct_write = False
        if symmetric:
            for s in range(S):
                x = _fold_write(layer, s, p["coef"][s], p["u"][s])
                if x is None:
                    direct_write = True
                    break
                values[s] = x
        if not symmetric or direct_write:
            values[:] = 0.0
            direct_write = bool(np.any(layer.write))
        self.symmetric, self.direct_write = symmetric, direct_write
        self.mixer = DeltaProduct(S, n, n, n_h=F, value_dim=V, backend=backend, conv=False, key_norm=False,
                                  beta_activation="identity", output="state", read_keys=not symmetric,
                                  direct_write=direct_write, initial_state=True)
        H, K = n, n
        with torch.no_grad():
            def put(linear: nn.Linear, table: np.ndarray) -> None:
                """table (S, ...) -> linear.weight (prod(...), S): column s is symbol s's row."""
                linear.weight.copy_(torch.as_tensor(table.reshape(S, -1).T.copy()))

            rep = lambda a: np.repeat(a[:, :, None], H, axis=2)             # noqa: E731  (S, F, ...) -> (S, F, H, ...)
            put(self.mixer.k_proj, rep(p["u"]))                             # (S, F, H, K)
            put(self.mixer.b_proj, rep(p["coef"]))                          # (S, F, H)
            put(self.mixer.v_proj, rep(values))                             # (S, F, H, V)
            put(self.mixer.q_proj, np.broadcast_to(np.eye(K), (S, H, K)))   # head i reads row i
            if not symmetric:
                put(self.mixer.w_proj, rep(p["w"]))
            if direct_write:
                put(self.mixer.write_proj, np.broadcast_to(layer.write[:, None], (S, H, K, V)))
            self.mixer.h0.copy_(torch.as_tensor(np.broadcast_to(layer.h0, (H, K, V)).copy()))
        self.mixer.to(dtype)
        cb = layer.codebook.reshape(layer.n_codes, -1)
        self.register_buffer("codebook", torch.as_tensor(cb, dtype=torch.float64))                  # (C, n*V)
        self.register_buffer("cb_bias", torch.as_tensor(-0.5 * (cb * cb).sum(1), dtype=torch.float64))
        self.register_buffer("route", torch.as_tensor(np.asarray(layer.route, dtype=np.int64)))
        self.n_symbols = S
        self.start_code = int(self.decode(torch.as_tensor(layer.h0.reshape(1, 1, -1)))[0, 0])

    def decode(self, states: torch.Tensor) -> torch.Tensor:
        """Nearest codebook entry: states ``[B, T, n*V]`` -> codes int64 ``[B, T]``."""
        return (states.to(torch.float64) @ self.codebook.T + self.cb_bias).argmax(-1)

    def forward(self, symbols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """symbols ``[B, T]`` -> (states ``[B, T, n*V]``, codes ``[B, T]``)."""
        dtype = self.mixer.k_proj.weight.dtype
        x = torch.nn.functional.one_hot(symbols, self.n_symbols).to(dtype)                # (B, T, S)
        if self.mixer.backend == "naive":
            states = self.mixer(x)                                                        # (B, T, n*V)
        else:   # the Triton kernels put B * H programs on one launch-grid axis (CUDA: at most 65535)
            step = max(1, MAX_GRID_AXIS // self.mixer.H)
            states = torch.cat([self.mixer(x[i:i + step]) for i in range(0, x.shape[0], step)])
        return states, self.decode(states)


class CompiledLRNN(nn.Module):
    """Compiled weights as a stack of :class:`CompiledLayer`; ``forward`` gives automaton states.

    Args:
        weights: LRNNWeights from any construction.
        dtype: torch float dtype of the layers (default float64).
        backend: kernel backend (``naive`` | ``fused_recurrent`` | ``chunk``); layers that need the
            generalized loop (non-symmetric factors, direct writes) accept only ``naive``.
    """

    def __init__(self, weights, dtype: torch.dtype | None = None, backend: str = "naive"):
        super().__init__()
        self.weights = weights
        self.dtype = dtype or torch.float64
        self.backend = backend
        self.layers = nn.ModuleList([CompiledLayer(layer, self.dtype, backend) for layer in weights.layers])
        self.register_buffer("state_map", torch.as_tensor(np.asarray(weights.state_map, dtype=np.int64)))
        for i, keys in enumerate(weights.index.keys):
            self.register_buffer(f"index_keys{i}", torch.as_tensor(keys, dtype=torch.int64))
        self.register_buffer("accepting", torch.as_tensor(np.asarray(weights.accepting, dtype=bool)))

    def superset(self) -> list[dict]:
        """Per layer, which superset switches the layer needs beyond a learned DeltaProduct."""
        return [{"n_h": lay.mixer.n_h, "width": lay.mixer.K, "read_keys": not lay.symmetric,
                 "direct_write": lay.direct_write, "kernel": not lay.mixer.generalized,
                 "lag1_route": i > 0} for i, lay in enumerate(self.layers)]

    def child(self, i: int, prefix: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """Ids of prefixes (length i) extended by layer i's codes, any equal shapes; -1 where the
        tuple is not stored (CodeIndex.child in torch)."""
        keys = getattr(self, f"index_keys{i}")
        want = prefix * self.layers[i].codebook.shape[0] + code
        pos = torch.searchsorted(keys, want.contiguous()).clamp(max=max(len(keys) - 1, 0))
        hit = (prefix >= 0) & (keys[pos] == want)
        return torch.where(hit, pos, torch.full_like(pos, -1))

    def require(self, ids: torch.Tensor, codes: list[torch.Tensor], what: str) -> torch.Tensor:
        """ids unchanged when all are stored; else UnreachableConfigurationError (host sync)."""
        if bool((ids < 0).any()):
            self.weights.index.require(ids.cpu().numpy(), [c.cpu().numpy() for c in codes], what)
        return ids

    def route(self, i: int, letters: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """Layer i's symbols ``[B, T]`` from letters and the lower codes' prefix ids (stored ones)."""
        r = self.layers[i].route
        return r[letters] if r.dim() == 1 else r[letters, prefix]

    def decode_states(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """Automaton states from every layer's codes (equal shapes); raises for unstored tuples."""
        ids = torch.zeros_like(codes[0])
        for i, c in enumerate(codes):
            ids = self.child(i, ids, c)
        return self.state_map[self.require(ids, codes, "state map")]

    def forward(self, letters: torch.Tensor, return_codes: bool = False):
        """letters int64 ``[B, T]`` -> automaton state after each prefix, int64 ``[B, T]``."""
        B, T = letters.shape
        prev: list[torch.Tensor] = []            # lower layers' codes at t-1 ("short conv" lag 1)
        prefix = torch.zeros_like(letters)       # id of the tuple prev (length i before layer i)
        codes = []
        for i, layer in enumerate(self.layers):
            symbols = self.route(i, letters, prefix)                                       # (B, T)
            _, c = layer(symbols)
            codes.append(c)
            start = torch.full((B, 1), layer.start_code, dtype=torch.int64, device=c.device)
            prev.append(torch.cat([start, c[:, :-1]], dim=1))
            if i + 1 < len(self.layers):
                prefix = self.require(self.child(i, prefix, prev[-1]), prev, f"route of layer {i + 1}")
        states = self.decode_states(codes)                                                 # (B, T)
        return (states, codes) if return_codes else states

    def accepts(self, letters: torch.Tensor) -> torch.Tensor:
        """Accept bit after each prefix: bool ``[B, T]``."""
        return self.accepting[self.forward(letters)]
