"""Diagonal (Mamba / GLA-like) recurrence with decays in [-1, 1]; three backends."""
from __future__ import annotations

import torch

from statetrack.kernels._common import check_inputs, dispatch


def diagonal(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    backend: str = "chunk",
    cu_seqlens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Diagonal linear recurrence with signed decays (P1 Table 2, Mamba with ``a = 2 s - 1``).

        S_t = diag(a_t) S_{t-1} + k_t v_t^T ;   o_t = scale * S_t^T q_t ;   a_t in [-1, 1]^K

    The decays multiply directly (no log-space cumulative products), so negative and zero entries
    are exact in every backend.

    Args:
        q, k, a: ``[B, T, H, K]``; v: ``[B, T, H, V]``.
        scale, initial_state, output_final_state, backend: as in :func:`delta_rule`.
        cu_seqlens: packed sequences as in :func:`delta_rule` (states ``[N, H, K, V]``); the naive and
            fused_recurrent backends only.

    Returns:
        ``(o, S_T)``: ``o`` ``[B, T, H, V]`` in the input dtype; ``S_T`` ``[B, H, K, V]`` float32
        (float64 for float64 inputs) or None.

    Example:
        >>> q = torch.randn(2, 16, 4, 32)
        >>> k, v = torch.randn_like(q), torch.randn_like(q)
        >>> a = 2 * torch.rand(2, 16, 4, 32) - 1
        >>> o, _ = diagonal(q, k, v, a, backend="naive")
        >>> o.shape
        torch.Size([2, 16, 4, 32])
    """
    check_inputs("diagonal", backend, q, k, v, a, "a", initial_state, cu_seqlens=cu_seqlens)
    fn = dispatch(backend, "diagonal")
    return fn(q, k, v, a, scale=scale, initial_state=initial_state, output_final_state=output_final_state,
              cu_seqlens=cu_seqlens)


__all__ = ["diagonal"]
