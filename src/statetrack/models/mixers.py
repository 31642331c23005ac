"""Token mixers: DeltaNet, DeltaProduct(n_h) and a diagonal (Mamba-like) layer, each with an
eigenvalue-range switch (P1 Table 2).

All three map ``[B, T, d_model] -> [B, T, d_model]`` through a linear recurrence on a matrix state
``S: [B, H, K, V]`` per head, run by :mod:`statetrack.kernels` with an explicit ``backend``
(``naive`` | ``fused_recurrent`` | ``chunk``):

* **DeltaProduct(n_h)**: per token, n_h sub-steps ``S <- (I - beta k k^T) S + beta k v^T``, each
  with its own key, value and beta (P2); DeltaNet is n_h = 1. q, k, v come from linear maps, the
  short causal convolution (kernel 4, SiLU) and, for q and k, L2 normalization.
  ``beta = sigmoid(.)`` gives the factor's eigenvalue ``1 - beta`` in [0, 1]; ``beta = 2 sigmoid(.)``
  gives [-1, 1] (the write ``beta k v^T`` doubles with it).
* **Diagonal**: ``S <- diag(a) S + k v^T`` with Mamba's ``s = exp(-Delta exp(A_log))`` in (0, 1],
  ``Delta = softplus(.)`` per head, values scaled by Delta; ``a = s`` for [0, 1] and ``a = 2 s - 1``
  for [-1, 1].

Output: ``o_t = scale S_t^T q_t`` per head, RMS-normalized per head, then a linear map back to
d_model.

**Superset switches** (used by compiled weights, :mod:`statetrack.models.compiled`; all off for a
learned model): ``key_norm=False`` (unnormalized keys, so integer factors such as a swap
``I - (e_i - e_j)(e_i - e_j)^T`` stay exact), ``beta_activation="identity"`` (beta read off the
projection; 0, 1 and 2 are only limits of the sigmoid), ``conv=False``, ``output="state"`` (return
the raw ``o`` with ``scale = 1``, no norm and no output map), ``read_keys=True`` (a separate read key
w per sub-step: ``S <- S - beta u (w^T S) + beta u v^T``, the non-symmetric factors of the
``direct`` construction), ``direct_write=True`` (an additive ``B_t`` after the sub-steps) and a
stored ``initial_state``. The last three have no kernel: they run through
:func:`statetrack.models.generalized.generalized_delta_product`, a PyTorch loop (backend
``naive`` only).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from statetrack.errors import ModelError  # noqa: F401  (defined in statetrack.errors; re-exported)
from statetrack.models.conv import ShortConv

EIG_RANGES = ("0,1", "-1,1")
BACKENDS = ("naive", "fused_recurrent", "chunk")




def parse_eig_range(text: str) -> str:
    """``"[0,1]"``, ``"0,1"``, ``"[-1, 1]"``... -> ``"0,1"`` or ``"-1,1"``; ModelError otherwise."""
    norm = str(text).replace(" ", "").strip("[]()")
    if norm not in EIG_RANGES:
        raise ModelError(f"unknown eigenvalue range {text!r}; choose 0,1 or -1,1")
    return norm


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ModelError(f"unknown kernel backend {backend!r}; choose from {', '.join(BACKENDS)}")
    return backend


class DeltaProduct(nn.Module):
    """DeltaProduct with n_h Householder sub-steps per token (DeltaNet when n_h = 1).

    Args:
        d_model: width of the input and output ``[B, T, d_model]``.
        n_heads, head_dim: H heads with K = head_dim; value_dim V defaults to K.
        n_h: sub-steps (generalized Householder factors) per token.
        eig_range: ``"0,1"`` (beta = sigmoid) or ``"-1,1"`` (beta = 2 sigmoid).
        backend: kernel backend passed to :mod:`statetrack.kernels`.
        conv_size: short-convolution kernel size (0 or ``conv=False``: none).
        The remaining keywords are the superset switches described in the module docstring.
    """

    def __init__(self, d_model: int, n_heads: int, head_dim: int, *, n_h: int = 1, eig_range: str = "-1,1",
                 backend: str = "naive", conv_size: int = 4, value_dim: int | None = None,
                 conv: bool = True, key_norm: bool = True, beta_activation: str = "sigmoid",
                 output: str = "project", read_keys: bool = False, direct_write: bool = False,
                 initial_state: bool = False, bias: bool = False):
        super().__init__()
        if n_h < 1 or n_heads < 1 or head_dim < 1 or d_model < 1:
            raise ModelError(f"DeltaProduct sizes must be positive (d_model={d_model}, n_heads={n_heads}, "
                             f"head_dim={head_dim}, n_h={n_h})")
        if beta_activation not in ("sigmoid", "identity") or output not in ("project", "state"):
            raise ModelError(f"bad DeltaProduct switches beta_activation={beta_activation!r}, output={output!r}")
        H, K, V = n_heads, head_dim, value_dim or head_dim
        self.d_model, self.H, self.K, self.V, self.n_h = d_model, H, K, V, n_h
        self.eig_range, self.backend = parse_eig_range(eig_range), check_backend(backend)
        # a buffer, not a float: runs trained together (statetrack.train.batched) stack it per run
        self.register_buffer("max_beta", torch.tensor(2.0 if self.eig_range == "-1,1" else 1.0), persistent=False)
        self.key_norm, self.beta_activation, self.output = key_norm, beta_activation, output
        self.scale = 1.0 if output == "state" else K ** -0.5
        self.q_proj = nn.Linear(d_model, H * K, bias=bias)
        self.k_proj = nn.Linear(d_model, n_h * H * K, bias=bias)
        self.v_proj = nn.Linear(d_model, n_h * H * V, bias=bias)
        self.b_proj = nn.Linear(d_model, n_h * H, bias=bias)
        self.w_proj = nn.Linear(d_model, n_h * H * K, bias=bias) if read_keys else None
        self.write_proj = nn.Linear(d_model, H * K * V, bias=bias) if direct_write else None
        self.convs = nn.ModuleList([ShortConv(c, conv_size) for c in (H * K, n_h * H * K, n_h * H * V)]) \
            if conv and conv_size > 0 else None
        if initial_state:
            self.register_buffer("h0", torch.zeros(H, K, V))
        else:
            self.h0 = None
        if output == "project":
            self.o_norm = nn.RMSNorm(V, eps=1e-6)
            self.o_proj = nn.Linear(H * V, d_model, bias=False)

    @property
    def generalized(self) -> bool:
        """True when a superset switch without a kernel is on (read keys or a direct write)."""
        return self.w_proj is not None or self.write_proj is not None

    # ---------------------------------------------------------------- projections
    @property
    def packs(self) -> bool:
        """True when :meth:`recur` takes packed words (``cu_seqlens``) inside a CUDA graph: every backend
        (the chunk backend sizes its chunk table from the shapes), not the generalized (non-symmetric)
        path."""
        return not self.generalized

    def project(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Recurrence inputs from ``x [B, T, d_model]``: q ``[B,T,H,K]``, k ``[B,T,n_h,H,K]``,
        v ``[B,T,n_h,H,V]``, beta ``[B,T,n_h,H]``; w like k and write ``[B,T,H,K,V]`` when enabled.
        ``pos`` (packed words, ``[T]``): each slot's position in its word, for the convolution."""
        B, T, _ = x.shape
        H, K, V, n_h = self.H, self.K, self.V, self.n_h
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.convs is not None:
            q, k, v = (conv(t, pos) for conv, t in zip(self.convs, (q, k, v)))
        q = q.view(B, T, H, K)
        k = k.view(B, T, n_h, H, K)
        v = v.view(B, T, n_h, H, V)
        if self.key_norm:
            # in float32, returned in the projections' dtype (as fla's l2norm): under CUDA autocast
            # F.normalize runs in float32 and would hand float32 q, k (and with them v, beta: recur takes
            # q's dtype) to the kernels, so a bf16 run would take the float32 chunk path
            q, k = (F.normalize(t.float(), dim=-1).to(t.dtype) for t in (q, k))
        b = self.b_proj(x).view(B, T, n_h, H)
        beta = self.max_beta * torch.sigmoid(b) if self.beta_activation == "sigmoid" else b
        out = {"q": q, "k": k, "v": v, "beta": beta}
        if self.w_proj is not None:
            out["w"] = self.w_proj(x).view(B, T, n_h, H, K)
        if self.write_proj is not None:
            out["write"] = self.write_proj(x).view(B, T, H, K, V)
        return out

    # ---------------------------------------------------------------- recurrence
    def recur(self, p: dict[str, torch.Tensor], initial_state: torch.Tensor | None = None,
              output_final_state: bool = False, cu_seqlens: torch.Tensor | None = None,
              max_seqlen: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the recurrence on :meth:`project`'s output: ``o [B, T, H, V]`` and the final state.
        ``cu_seqlens``: packed words (B = 1), as the kernels take them; ``max_seqlen``: their longest, if
        known (the chunk kernels then let short words share chunks)."""
        q = p["q"]
        k, v, beta = (p[n].to(q.dtype) for n in ("k", "v", "beta"))
        if initial_state is None and self.h0 is not None:
            initial_state = self.h0.to(q.dtype if q.dtype == torch.float64 else torch.float32)
            n_seq = q.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
            initial_state = initial_state.expand(n_seq, -1, -1, -1).contiguous()
        if self.generalized:
            from statetrack.models.generalized import generalized_delta_product

            if cu_seqlens is not None:
                raise ModelError("read keys / direct writes (non-symmetric compiled factors) take no packed input")
            if self.backend != "naive":
                raise ModelError("read keys / direct writes (non-symmetric compiled factors) run only with "
                                 f"backend 'naive', not {self.backend!r}: the kernels take u == w")
            w = p.get("w")
            return generalized_delta_product(q, k, v, beta, w=None if w is None else w.to(q.dtype),
                                             write=p.get("write"), scale=self.scale,
                                             initial_state=initial_state, output_final_state=output_final_state)
        from statetrack import kernels

        if self.n_h == 1:
            return kernels.delta_rule(q, k[:, :, 0].contiguous(), v[:, :, 0].contiguous(),
                                      beta[:, :, 0].contiguous(), scale=self.scale, initial_state=initial_state,
                                      output_final_state=output_final_state, backend=self.backend,
                                      cu_seqlens=cu_seqlens, max_seqlen=max_seqlen)
        return kernels.delta_product(q, k.contiguous(), v.contiguous(), beta.contiguous(), scale=self.scale,
                                     initial_state=initial_state, output_final_state=output_final_state,
                                     backend=self.backend, cu_seqlens=cu_seqlens, max_seqlen=max_seqlen)

    def readout(self, o: torch.Tensor) -> torch.Tensor:
        """The recurrence output ``o [B, T, H, V]`` -> ``[B, T, d_model]`` (``output="state"``:
        ``[B, T, H * V]``, the raw o)."""
        B, T = o.shape[:2]
        if self.output == "project":
            return self.o_proj(self.o_norm(o).reshape(B, T, self.H * self.V))
        return o.reshape(B, T, self.H * self.V)

    def forward(self, x: torch.Tensor, initial_state: torch.Tensor | None = None, return_state: bool = False):
        """``[B, T, d_model] -> [B, T, d_model]``: :meth:`project`, :meth:`recur`, :meth:`readout`."""
        o, S = self.recur(self.project(x), initial_state, output_final_state=return_state)
        o = self.readout(o)
        return (o, S) if return_state else o

    # ---------------------------------------------------------------- analysis
    @torch.no_grad()
    def transition_matrices(self, x: torch.Tensor) -> torch.Tensor:
        """Each token's transition ``A_t = F_{n_h} ... F_1`` per head: ``[B, T, H, K, K]`` float64.

        With read keys the factors are ``I - beta u w^T``; otherwise ``I - beta k k^T``.
        """
        p = self.project(x)
        k, beta = p["k"].double(), p["beta"].double()               # (B,T,n_h,H,K), (B,T,n_h,H)
        w = p["w"].double() if "w" in p else k
        B, T, n_h, H, K = k.shape
        A = torch.eye(K, dtype=torch.float64, device=k.device).expand(B, T, H, K, K).clone()
        for j in range(n_h):
            F_j = torch.eye(K, dtype=torch.float64, device=k.device) - beta[:, :, j, :, None, None] * \
                k[:, :, j, :, :, None] * w[:, :, j, :, None, :]
            A = F_j @ A
        return A


class DeltaNet(DeltaProduct):
    """DeltaNet: one Householder step per token (DeltaProduct with n_h = 1)."""

    def __init__(self, d_model: int, n_heads: int, head_dim: int, **kw):
        if kw.setdefault("n_h", 1) != 1:
            raise ModelError("DeltaNet has n_h = 1; use DeltaProduct for more sub-steps")
        super().__init__(d_model, n_heads, head_dim, **kw)


class Diagonal(nn.Module):
    """Diagonal (Mamba-like) mixer: ``S <- diag(a_t) S + k_t (Delta_t v_t)^T``, a_t in [0,1] or [-1,1].

    Args:
        d_model, n_heads, head_dim: as in :class:`DeltaProduct`.
        eig_range: ``"0,1"`` (a = s) or ``"-1,1"`` (a = 2 s - 1), ``s = exp(-Delta exp(A_log))``.
        backend, conv_size: as in :class:`DeltaProduct`.
    """

    def __init__(self, d_model: int, n_heads: int, head_dim: int, *, eig_range: str = "-1,1",
                 backend: str = "naive", conv_size: int = 4, value_dim: int | None = None,
                 dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__()
        H, K, V = n_heads, head_dim, value_dim or head_dim
        self.d_model, self.H, self.K, self.V = d_model, H, K, V
        self.eig_range, self.backend = parse_eig_range(eig_range), check_backend(backend)
        # lowest eigenvalue, a buffer so that runs trained together can differ (a = low + (1 - low) s)
        self.register_buffer("eig_low", torch.tensor(0.0 if self.eig_range == "0,1" else -1.0), persistent=False)
        self.q_proj = nn.Linear(d_model, H * K, bias=False)
        self.k_proj = nn.Linear(d_model, H * K, bias=False)
        self.v_proj = nn.Linear(d_model, H * V, bias=False)
        self.dt_proj = nn.Linear(d_model, H, bias=True)
        self.convs = nn.ModuleList([ShortConv(c, conv_size) for c in (H * K, H * K, H * V)]) if conv_size > 0 else None
        # Mamba's initialization: A = 1..K per channel, Delta = softplus(bias) log-uniform in [dt_min, dt_max]
        self.A_log = nn.Parameter(torch.log(torch.arange(1, K + 1, dtype=torch.float32)).repeat(H, 1))  # (H, K)
        with torch.no_grad():
            dt = torch.exp(torch.rand(H) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.o_norm = nn.RMSNorm(V, eps=1e-6)
        self.o_proj = nn.Linear(H * V, d_model, bias=False)

    @property
    def packs(self) -> bool:
        """True when :meth:`recur` takes packed words (``cu_seqlens``): naive and one-step backends."""
        return self.backend != "chunk"

    def project(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """q, k ``[B,T,H,K]``, v ``[B,T,H,V]`` (scaled by Delta), a ``[B,T,H,K]`` and Delta ``[B,T,H]``;
        ``pos`` as in :meth:`DeltaProduct.project`."""
        B, T, _ = x.shape
        H, K, V = self.H, self.K, self.V
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.convs is not None:
            q, k, v = (conv(t, pos) for conv, t in zip(self.convs, (q, k, v)))
        delta = F.softplus(self.dt_proj(x))                                        # (B, T, H)
        s = torch.exp(-delta[..., None] * torch.exp(self.A_log))                   # (B, T, H, K) in (0, 1]
        a = self.eig_low + (1 - self.eig_low) * s                                 # s or 2s - 1: P1 Table 2
        v = v.view(B, T, H, V) * delta[..., None]
        return {"q": q.view(B, T, H, K), "k": k.view(B, T, H, K), "v": v, "a": a, "delta": delta}

    def recur(self, p, initial_state=None, output_final_state=False, cu_seqlens=None, max_seqlen=None):
        """As the DeltaNet mixer's; ``max_seqlen`` is taken for a uniform call and not used (the diagonal
        kernels give every word chunks of its own)."""
        from statetrack import kernels

        q = p["q"]
        k, v, a = (p[n].to(q.dtype) for n in ("k", "v", "a"))
        return kernels.diagonal(q, k, v, a, initial_state=initial_state, output_final_state=output_final_state,
                                backend=self.backend, cu_seqlens=cu_seqlens)

    def readout(self, o: torch.Tensor) -> torch.Tensor:
        """``o [B, T, H, V]`` -> ``[B, T, d_model]``."""
        B, T = o.shape[:2]
        return self.o_proj(self.o_norm(o).reshape(B, T, self.H * self.V))

    def forward(self, x: torch.Tensor, initial_state: torch.Tensor | None = None, return_state: bool = False):
        o, S = self.recur(self.project(x), initial_state, output_final_state=return_state)
        y = self.readout(o)
        return (y, S) if return_state else y

    @torch.no_grad()
    def transition_eigenvalues(self, x: torch.Tensor) -> torch.Tensor:
        """The diagonal transitions themselves: ``a [B, T, H, K]`` (float64; real eigenvalues)."""
        return self.project(x)["a"].double()
