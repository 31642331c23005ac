"""DeltaProduct: n_h delta-rule sub-steps per token, output read after the last; three backends."""
from __future__ import annotations

import torch

from statetrack.kernels._common import check_inputs, dispatch


def delta_product(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    backend: str = "chunk",
    cu_seqlens: torch.Tensor | None = None,
    max_seqlen: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """DeltaProduct (P2): each token's transition is a product of n_h generalized Householder factors.

        for j < n_h:  S <- (I - beta_{t,j} k_{t,j} k_{t,j}^T) S + beta_{t,j} k_{t,j} v_{t,j}^T
        o_t = scale * S^T q_t            (read after the token's last sub-step)

    n_h is read off ``k.shape[2]``. The memory of k viewed as ``[B, T * n_h, H, K]`` is the
    interleaved layout fla uses; with n_h = 1 this is exactly :func:`delta_rule`.

    Args:
        q: ``[B, T, H, K]``; k: ``[B, T, n_h, H, K]``; v: ``[B, T, n_h, H, V]``;
        beta: ``[B, T, n_h, H]`` in [0, 2].
        scale, initial_state, output_final_state, backend, cu_seqlens, max_seqlen: as in :func:`delta_rule`
            (``cu_seqlens`` counts tokens, not sub-steps; sequences share chunks of 64 // n_h tokens).

    Returns:
        ``(o, S_T)``: ``o`` ``[B, T, H, V]`` in the input dtype; ``S_T`` ``[B, H, K, V]`` float32
        (float64 for float64 inputs) or None.

    Example:
        >>> import torch.nn.functional as F
        >>> B, T, n_h, H, K = 2, 16, 2, 4, 32
        >>> q = torch.randn(B, T, H, K)
        >>> k = F.normalize(torch.randn(B, T, n_h, H, K), dim=-1)
        >>> v, beta = torch.randn(B, T, n_h, H, K), 2 * torch.rand(B, T, n_h, H)
        >>> o, _ = delta_product(q, k, v, beta, backend="naive")
        >>> o.shape
        torch.Size([2, 16, 4, 32])
    """
    if k.dim() != 5:
        from statetrack.kernels._common import KernelArgumentError
        raise KernelArgumentError(f"delta_product: k must be [B, T, n_h, H, K], got shape {tuple(k.shape)}")
    check_inputs("delta_product", backend, q, k, v, beta, "beta", initial_state, n_h=k.shape[2],
                 cu_seqlens=cu_seqlens, max_seqlen=max_seqlen)
    fn = dispatch(backend, "delta_product")
    return fn(q, k, v, beta, scale=scale, initial_state=initial_state, output_final_state=output_final_state,
              cu_seqlens=cu_seqlens, max_seqlen=max_seqlen)


__all__ = ["delta_product"]
