"""Delta rule as a plain PyTorch loop over time: the ground truth the Triton kernels are tested against.

One step per token (P1 eq. 1 with a generalized Householder transition, beta in [0, 2]):

    S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T        S: [K, V] per (batch, head)
    o_t = scale * S_t^T q_t

Runs in float64 when the inputs are float64 (float32 otherwise); autograd differentiates the loop.
"""
from __future__ import annotations

import torch

from statetrack.kernels._common import accumulation_dtype, per_sequence, resolve_scale


def naive_delta_rule(
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
    """Sequential delta rule.

    Args:
        q, k: ``[B, T, H, K]``; v: ``[B, T, H, V]``; beta: ``[B, T, H]``.
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` or None (zeros).
        output_final_state: also return ``S_T``.
        cu_seqlens: packed sequences (``B = 1``, int ``[N + 1]``): the loop runs once per sequence,
            initial/final states ``[N, H, K, V]``.
        max_seqlen: accepted for a uniform call; this backend does not use it.

    Returns:
        ``o`` ``[B, T, H, V]`` in q's dtype, and ``S_T`` ``[B, H, K, V]`` (float32, or float64 for
        float64 inputs) or None.

    Example:
        >>> q, k = torch.randn(2, 5, 3, 4).double(), torch.randn(2, 5, 3, 4).double()
        >>> o, S = naive_delta_rule(q, k, torch.randn_like(q), torch.rand(2, 5, 3).double() * 2,
        ...                         output_final_state=True)
        >>> o.shape, S.shape
        (torch.Size([2, 5, 3, 4]), torch.Size([2, 3, 4, 4]))
    """
    if cu_seqlens is not None:
        return per_sequence(naive_delta_rule, q, k, v, beta, cu_seqlens, initial_state, output_final_state, scale=scale)
    B, T, H, K = q.shape
    V = v.shape[-1]
    dtype, acc = q.dtype, accumulation_dtype(q.dtype)
    scale = resolve_scale(scale, K)
    q, k, v, beta = (x.to(acc) for x in (q, k, v, beta))
    if initial_state is None:
        S = q.new_zeros(B, H, K, V)
    else:
        S = initial_state.to(acc)
    outs = []
    for t in range(T):
        k_t = k[:, t]                                               # (B, H, K)
        pred = torch.einsum("bhk,bhkv->bhv", k_t, S)                # S^T k: what the state predicts
        u_t = beta[:, t, :, None] * (v[:, t] - pred)                # (B, H, V)
        S = S + torch.einsum("bhk,bhv->bhkv", k_t, u_t)
        outs.append(torch.einsum("bhk,bhkv->bhv", q[:, t], S) * scale)
    o = torch.stack(outs, dim=1)                                    # (B, T, H, V)
    return o.to(dtype), (S if output_final_state else None)
