"""DeltaProduct one sub-step at a time: the delta-rule recurrent kernels with ``NH = n_h`` sub-steps
per token (:mod:`statetrack.kernels.delta_rule.fused_recurrent`), reading q and writing o once per
token after its last sub-step."""
from __future__ import annotations

import torch

from statetrack.kernels._common import resolve_scale
from statetrack.kernels.delta_rule.fused_recurrent import fused_recurrent_householder


def fused_recurrent_delta_product(
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
    """DeltaProduct, one Householder sub-step at a time.

    Args:
        q: ``[B, T, H, K]``; k: ``[B, T, n_h, H, K]``; v: ``[B, T, n_h, H, V]``;
        beta: ``[B, T, n_h, H]`` in [0, 2]; float32, bfloat16 or float16 on a CUDA device.
        scale, initial_state, output_final_state, cu_seqlens: as in the chunked version.
        max_seqlen: accepted for a uniform call; this backend does not use it.

    Returns:
        ``(o [B, T, H, V] in the input dtype, final state [B, H, K, V] float32 or None)``.

    Example:
        >>> B, T, n_h, H, K = 2, 256, 3, 4, 32
        >>> q = torch.randn(B, T, H, K, device="cuda")
        >>> k = torch.nn.functional.normalize(torch.randn(B, T, n_h, H, K, device="cuda"), dim=-1)
        >>> v = torch.randn(B, T, n_h, H, K, device="cuda")
        >>> o, _ = fused_recurrent_delta_product(q, k, v, 2 * torch.rand(B, T, n_h, H, device="cuda"))
    """
    B, T, n_h, H, K = k.shape
    V = v.shape[-1]
    return fused_recurrent_householder(
        q, k.reshape(B, T * n_h, H, K), v.reshape(B, T * n_h, H, V), beta.reshape(B, T * n_h, H),
        resolve_scale(scale, K), initial_state, output_final_state, n_h, cu_seqlens,
    )
