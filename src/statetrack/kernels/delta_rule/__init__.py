"""Delta rule, ``S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T``, three backends."""
from __future__ import annotations

import torch

from statetrack.kernels._common import check_inputs, dispatch


def delta_rule(
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
    """Delta rule with beta in [0, 2] (transition eigenvalue ``1 - beta`` in [-1, 1], P1 Prop 1a).

        S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T ;   o_t = scale * S_t^T q_t

    Keys are used as given: normalize them first (the transition is a reflection only for unit k).

    Args:
        q, k: ``[B, T, H, K]``; v: ``[B, T, H, V]``; beta: ``[B, T, H]``.
        scale: ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` (float32), or None for zeros.
        output_final_state: return ``S_T`` as well.
        backend: ``"chunk"`` (chunked WY form, the fast one), ``"fused_recurrent"`` (one step at a
            time on the GPU) or ``"naive"`` (PyTorch loop, also float64).
        cu_seqlens: packed variable-length input: int32/int64 ``[N + 1]`` offsets (0, ..., T) of N
            sequences laid end to end along time with ``B = 1``; each starts from its own initial
            state (``[N, H, K, V]``) and ends in its own final state. None: B sequences of length T.
        max_seqlen: with cu_seqlens, the longest sequence's tokens, if the caller knows it (checked
            against cu_seqlens outside CUDA graph captures). The chunk backend then lets sequences of at
            most 64 tokens share chunks, where no initial or final state is asked for; the others ignore it.

    Returns:
        ``(o, S_T)``: ``o`` ``[B, T, H, V]`` in the input dtype; ``S_T`` ``[B, H, K, V]`` float32
        (float64 for float64 inputs), or None unless ``output_final_state``.

    Example:
        >>> import torch.nn.functional as F
        >>> q = torch.randn(2, 16, 4, 32)
        >>> k = F.normalize(torch.randn(2, 16, 4, 32), dim=-1)
        >>> v, beta = torch.randn(2, 16, 4, 32), 2 * torch.rand(2, 16, 4)
        >>> o, S = delta_rule(q, k, v, beta, output_final_state=True, backend="naive")
        >>> o.shape, S.shape
        (torch.Size([2, 16, 4, 32]), torch.Size([2, 4, 32, 32]))
    """
    check_inputs("delta_rule", backend, q, k, v, beta, "beta", initial_state, cu_seqlens=cu_seqlens,
                 max_seqlen=max_seqlen)
    fn = dispatch(backend, "delta_rule")
    return fn(q, k, v, beta, scale=scale, initial_state=initial_state, output_final_state=output_final_state,
              cu_seqlens=cu_seqlens, max_seqlen=max_seqlen)


__all__ = ["delta_rule"]
