"""Chunked DeltaProduct: the delta-rule WY kernels run on the n_h-times longer interleaved sequence.

A token's n_h sub-steps are n_h consecutive rows of the flattened ``[B, T * n_h, H, K]`` layout, and
chunks always hold whole tokens (``n_h * floor(64 / n_h)`` sub-steps), so the same four kernels as
:mod:`statetrack.kernels.delta_rule.chunk` serve with ``NH = n_h``: only the output mask changes
(token i sees the keys up to its own last sub-step) and queries are read once per token. The
backward pass is native: one reverse sweep over chunks, no second run of the forward recurrence.
"""
from __future__ import annotations

import torch

from statetrack.kernels._common import resolve_scale
from statetrack.kernels.delta_rule.chunk import chunk_householder


def chunk_delta_product(
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
    """Chunked DeltaProduct: n_h Householder sub-steps per token, output after the last.

    Args:
        q: ``[B, T, H, K]``; k: ``[B, T, n_h, H, K]``; v: ``[B, T, n_h, H, V]``;
        beta: ``[B, T, n_h, H]`` in [0, 2]; float32, bfloat16 or float16 on a CUDA device.
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` (float32) or None.
        output_final_state: also return the final state ``[B, H, K, V]`` float32.
        cu_seqlens: packed sequences (B = 1, int ``[N + 1]``, counting tokens); states ``[N, H, K, V]``.
        max_seqlen: as in :func:`statetrack.kernels.delta_rule.chunk.chunk_delta_rule`, with 64 // n_h
            tokens a chunk.

    Returns:
        ``(o [B, T, H, V] in the input dtype, final state or None)``, differentiable in every input.

    Example:
        >>> import torch.nn.functional as F
        >>> B, T, n_h, H, K = 8, 2048, 2, 8, 64
        >>> q = torch.randn(B, T, H, K, device="cuda", dtype=torch.bfloat16)
        >>> k = F.normalize(torch.randn(B, T, n_h, H, K, device="cuda"), dim=-1).bfloat16()
        >>> v = torch.randn(B, T, n_h, H, K, device="cuda", dtype=torch.bfloat16)
        >>> beta = 2 * torch.rand(B, T, n_h, H, device="cuda", dtype=torch.bfloat16)
        >>> o, _ = chunk_delta_product(q, k, v, beta)
    """
    B, T, n_h, H, K = k.shape
    V = v.shape[-1]
    k = k.reshape(B, T * n_h, H, K)
    v = v.reshape(B, T * n_h, H, V)
    beta = beta.reshape(B, T * n_h, H)
    return chunk_householder(q, k, v, beta, resolve_scale(scale, K), initial_state, output_final_state, n_h,
                             cu_seqlens, max_seqlen)
