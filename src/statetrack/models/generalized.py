"""The generalized delta rule the compiled ``direct`` weights need, as a PyTorch loop.

Per token, n_h sub-steps with separate write keys u and read keys w, then an optional additive
write B_t (P1 eq. 1's ``H_t = A H_{t-1} + B`` with ``A`` a product of ``I - beta u w^T``):

    for j < n_h:  S <- S - beta_j u_j (w_j^T S) + beta_j u_j v_j^T
    S <- S + B_t
    o_t = scale * S^T q_t

With ``w = u`` and no write this is the DeltaProduct recurrence of :mod:`statetrack.kernels`, which
has no fused kernel for ``w != u``: this loop is the only implementation (a superset used by
compiled models; learned models never need it). It evaluates each sub-step the way
:func:`statetrack.kernels.delta_product` does (``p = w^T S``; ``S += u (beta (v - p))^T``), so integer
factors stay exact in every float format.
"""
from __future__ import annotations

import torch


def generalized_delta_product(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, *,
                              w: torch.Tensor | None = None, write: torch.Tensor | None = None,
                              scale: float = 1.0, initial_state: torch.Tensor | None = None,
                              output_final_state: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Args: q ``[B,T,H,K]``; k (= u) and w ``[B,T,n_h,H,K]``; v ``[B,T,n_h,H,V]``; beta
    ``[B,T,n_h,H]``; write ``[B,T,H,K,V]`` or None; initial_state ``[B,H,K,V]`` or None (zeros).

    Returns ``o [B,T,H,V]`` (q's dtype) and the final state ``[B,H,K,V]`` (float64 for float64
    inputs, else float32) or None.
    """
    B, T, H, K = q.shape
    n_h, V = k.shape[2], v.shape[-1]
    dtype = q.dtype
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    q, k, v, beta = (x.to(acc) for x in (q, k, v, beta))
    w = k if w is None else w.to(acc)
    S = q.new_zeros(B, H, K, V) if initial_state is None else initial_state.to(acc)
    outs = []
    for t in range(T):
        for j in range(n_h):
            pred = torch.einsum("bhk,bhkv->bhv", w[:, t, j], S)                 # w^T S: (B, H, V)
            upd = beta[:, t, j, :, None] * (v[:, t, j] - pred)                   # (B, H, V)
            S = S + torch.einsum("bhk,bhv->bhkv", k[:, t, j], upd)
        if write is not None:
            S = S + write[:, t].to(acc)
        outs.append(torch.einsum("bhk,bhkv->bhv", q[:, t], S) * scale)
    o = torch.stack(outs, dim=1)                                                  # (B, T, H, V)
    return o.to(dtype), (S if output_final_state else None)
