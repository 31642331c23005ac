"""Diagonal (Mamba / GLA-like) recurrence as a plain PyTorch loop: the ground truth for its kernels.

    S_t = diag(a_t) S_{t-1} + k_t v_t^T        a_t in [-1, 1]^K, S: [K, V] per (batch, head)
    o_t = scale * S_t^T q_t

The decay multiplies the state directly, so negative entries (eigenvalues in [-1, 0), P1 Table 2)
and exact zeros need no special care here; the kernels must match this loop on them.
"""
from __future__ import annotations

import torch

from statetrack.kernels._common import accumulation_dtype, per_sequence, resolve_scale


def naive_diagonal(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sequential diagonal recurrence.

    Args:
        q, k, a: ``[B, T, H, K]``; v: ``[B, T, H, V]``.
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` or None (zeros).
        output_final_state: also return ``S_T``.
        cu_seqlens: packed sequences (``B = 1``, int ``[N + 1]``): the loop runs once per sequence,
            initial/final states ``[N, H, K, V]``.

    Returns:
        ``o`` ``[B, T, H, V]`` in q's dtype, and ``S_T`` ``[B, H, K, V]`` (float32, or float64 for
        float64 inputs) or None.

    Example:
        >>> q = torch.randn(1, 6, 2, 3).double()
        >>> a = torch.rand(1, 6, 2, 3).double() * 2 - 1
        >>> o, S = naive_diagonal(q, torch.randn_like(q), torch.randn_like(q), a, output_final_state=True)
        >>> o.shape, S.shape
        (torch.Size([1, 6, 2, 3]), torch.Size([1, 2, 3, 3]))
    """
    if cu_seqlens is not None:
        return per_sequence(naive_diagonal, q, k, v, a, cu_seqlens, initial_state, output_final_state, scale=scale)
    B, T, H, K = q.shape
    V = v.shape[-1]
    dtype, acc = q.dtype, accumulation_dtype(q.dtype)
    scale = resolve_scale(scale, K)
    q, k, v, a = (x.to(acc) for x in (q, k, v, a))
    S = q.new_zeros(B, H, K, V) if initial_state is None else initial_state.to(acc)
    outs = []
    for t in range(T):
        S = a[:, t, :, :, None] * S + torch.einsum("bhk,bhv->bhkv", k[:, t], v[:, t])
        outs.append(torch.einsum("bhk,bhkv->bhv", q[:, t], S) * scale)
    o = torch.stack(outs, dim=1)                                    # (B, T, H, V)
    return o.to(dtype), (S if output_final_state else None)
