"""DeltaProduct as a plain PyTorch loop: the ground truth for the DeltaProduct kernels.

Each token applies n_h delta-rule sub-steps, each with its own key, value and beta (P2), and the
output is read after the last one:

    for j in 0..n_h-1:  S <- (I - beta_{t,j} k_{t,j} k_{t,j}^T) S + beta_{t,j} k_{t,j} v_{t,j}^T
    o_t = scale * S^T q_t

so the transition of one token is a product of n_h generalized Householder factors.
"""
from __future__ import annotations

import torch

from statetrack.kernels._common import accumulation_dtype, per_sequence, resolve_scale


def naive_delta_product(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
    max_seqlen: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sequential DeltaProduct.

    Args:
        q: ``[B, T, H, K]``; k: ``[B, T, n_h, H, K]``; v: ``[B, T, n_h, H, V]``;
        beta: ``[B, T, n_h, H]`` (in [0, 2] for eigenvalues in [-1, 1]).
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` or None (zeros).
        output_final_state: also return the state after the last token.
        cu_seqlens: packed sequences (``B = 1``, int ``[N + 1]``): the loop runs once per sequence,
            initial/final states ``[N, H, K, V]``.
        max_seqlen: accepted for a uniform call; this backend does not use it.

    Returns:
        ``o`` ``[B, T, H, V]`` in q's dtype, and the final state ``[B, H, K, V]`` (float32, or float64
        for float64 inputs) or None.

    Example:
        >>> B, T, n_h, H, K = 2, 5, 3, 2, 4
        >>> q = torch.randn(B, T, H, K).double()
        >>> k, v = torch.randn(B, T, n_h, H, K).double(), torch.randn(B, T, n_h, H, K).double()
        >>> o, _ = naive_delta_product(q, k, v, torch.rand(B, T, n_h, H).double() * 2)
        >>> o.shape
        torch.Size([2, 5, 2, 4])
    """
    if cu_seqlens is not None:
        return per_sequence(naive_delta_product, q, k, v, beta, cu_seqlens, initial_state, output_final_state,
                            scale=scale)
    B, T, H, K = q.shape
    n_h, V = k.shape[2], v.shape[-1]
    dtype, acc = q.dtype, accumulation_dtype(q.dtype)
    scale = resolve_scale(scale, K)
    q, k, v, beta = (x.to(acc) for x in (q, k, v, beta))
    S = q.new_zeros(B, H, K, V) if initial_state is None else initial_state.to(acc)
    outs = []
    for t in range(T):
        for j in range(n_h):
            k_tj = k[:, t, j]                                       # (B, H, K)
            pred = torch.einsum("bhk,bhkv->bhv", k_tj, S)
            u = beta[:, t, j, :, None] * (v[:, t, j] - pred)        # (B, H, V)
            S = S + torch.einsum("bhk,bhv->bhkv", k_tj, u)
        outs.append(torch.einsum("bhk,bhkv->bhv", q[:, t], S) * scale)
    o = torch.stack(outs, dim=1)                                    # (B, T, H, V)
    return o.to(dtype), (S if output_final_state else None)
