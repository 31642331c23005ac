"""Chunked diagonal recurrence in Triton: ``S_t = diag(a_t) S_{t-1} + k_t v_t^T``, a in [-1, 1].

Chunks of ``BT`` steps are processed one after another per (batch, head, K-block, V-block); inside a
chunk the BT states are computed at once by a parallel prefix scan over time of the affine maps
``S -> a_t * S + k_t v_t^T`` (combine: apply the earlier map, then the later one):

    (a1, X1) then (a2, X2)  =  (a2 a1, a2 X1 + X2)

held as [BT, BK, BV] register tiles. The decays are multiplied directly in float32 — no logarithms,
no cumulative products divided back out — so negative decays and exact zeros are handled exactly
(the sign is carried by the arithmetic itself; P1 Table 2 notes that log-space cumulative products
cannot represent it).

Backward, per chunk in reverse: the states before each step, S_{t-1}, come from a scan of the
inputs shifted by one step started at the saved chunk-start state; the state gradients
G_t = dL/dS_t from a reverse scan of ``G_t = scale q_t dO_t^T + a_{t+1} G_{t+1}``; then
dq_t = scale S_t dO_t, dk_t = G_t v_t, dv_t = G_t^T k_t, da_t = rowsum(G_t * S_{t-1}).
Sums over a split axis (o over K-blocks; dq, dk, da over V-blocks; dv over K-blocks) are float32
partials added afterwards.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from statetrack.kernels._common import KernelArgumentError, cdiv, next_pow2, resolve_scale, sum_blocks

BT = 16  # steps per chunk (the scan axis)


@triton.jit
def _affine_combine(a1, x1, a2, x2):
    """Compose two steps S -> a S + x: first (a1, x1), then (a2, x2)."""
    return a1 * a2, a2 * x1 + x2


@triton.jit
def _load_tile(ptr, base, t, mt, o, m, stride, other):
    return tl.load(ptr + base + t[:, None] * stride + o[None, :], mask=mt[:, None] & m[None, :],
                   other=other).to(tl.float32)


@triton.jit
def _diag_chunk_fwd_kernel(
    q, k, v, a, o, ckpt, h0, ht, T, NT, scale, H, B,
    K: tl.constexpr, V: tl.constexpr, BT: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    USE_H0: tl.constexpr, STORE_HT: tl.constexpr, SAVE: tl.constexpr,
):
    i_bh, i_kv = tl.program_id(0), tl.program_id(1)
    NV = tl.cdiv(V, BV)
    i_k, i_v = i_kv // NV, i_kv % NV
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)
    s = tl.arange(0, BT)
    ok = i_k * BK + tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    m_kv = mk[:, None] & mv[None, :]
    last = (s == BT - 1)[:, None, None]
    kb = (i_b * T * H + i_h) * K
    vb = (i_b * T * H + i_h) * V
    ob = ((i_k * B + i_b) * T * H + i_h) * V                   # float32 partial over K-blocks
    sb = (i_b * H + i_h) * K * V
    S = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_H0:
        S += tl.load(h0 + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0).to(tl.float32)
    for c in range(NT):
        t = c * BT + s
        mt = t < T
        if SAVE:
            cb = ((i_b * NT + c) * H + i_h) * K * V
            tl.store(ckpt + cb + ok[:, None] * V + ov[None, :], S, mask=m_kv)
        at = _load_tile(a, kb, t, mt, ok, mk, H * K, 1.0)                  # [BT, BK]
        kt = _load_tile(k, kb, t, mt, ok, mk, H * K, 0.0)
        qt = _load_tile(q, kb, t, mt, ok, mk, H * K, 0.0)
        vt = _load_tile(v, vb, t, mt, ov, mv, H * V, 0.0)                  # [BT, BV]
        A3 = tl.broadcast_to(at[:, :, None], (BT, BK, BV))
        X3 = kt[:, :, None] * vt[:, None, :]
        P3, L3 = tl.associative_scan((A3, X3), 0, _affine_combine)
        S3 = L3 + P3 * S[None, :, :]                                       # S_t for the BT steps
        oc = tl.sum(qt[:, :, None] * S3, 1) * scale                         # [BT, BV]
        tl.store(o + ob + t[:, None] * (H * V) + ov[None, :], oc, mask=mt[:, None] & mv[None, :])
        S = tl.sum(tl.where(last, S3, 0.0), 0)                             # padded steps are identities
    if STORE_HT:
        tl.store(ht + sb + ok[:, None] * V + ov[None, :], S, mask=m_kv)


@triton.jit
def _diag_chunk_bwd_kernel(
    q, k, v, a, ckpt, do, dht, dq, dk, dv, da, dh0, T, NT, scale, H, B,
    K: tl.constexpr, V: tl.constexpr, BT: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    USE_DHT: tl.constexpr, USE_DH0: tl.constexpr,
):
    i_bh, i_kv = tl.program_id(0), tl.program_id(1)
    NV = tl.cdiv(V, BV)
    i_k, i_v = i_kv // NV, i_kv % NV
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)
    s = tl.arange(0, BT)
    ok = i_k * BK + tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    m_kv = mk[:, None] & mv[None, :]
    first = (s == 0)[:, None, None]
    kb = (i_b * T * H + i_h) * K
    vb = (i_b * T * H + i_h) * V
    pkb = ((i_v * B + i_b) * T * H + i_h) * K                   # partials over V-blocks
    pvb = ((i_k * B + i_b) * T * H + i_h) * V                   # partials over K-blocks
    sb = (i_b * H + i_h) * K * V
    D = tl.zeros([BK, BV], dtype=tl.float32)                    # dL/d(state after the chunk), from later steps
    if USE_DHT:
        D += tl.load(dht + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0).to(tl.float32)
    for cc in range(NT):
        c = NT - 1 - cc
        t = c * BT + s
        mt = t < T
        cb = ((i_b * NT + c) * H + i_h) * K * V
        S0 = tl.load(ckpt + cb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0)
        at = _load_tile(a, kb, t, mt, ok, mk, H * K, 1.0)
        kt = _load_tile(k, kb, t, mt, ok, mk, H * K, 0.0)
        qt = _load_tile(q, kb, t, mt, ok, mk, H * K, 0.0)
        vt = _load_tile(v, vb, t, mt, ov, mv, H * V, 0.0)
        dot = _load_tile(do, vb, t, mt, ov, mv, H * V, 0.0)
        # states before each step: scan of the inputs shifted down by one step, started at S0
        mp = mt & (s > 0)
        ap = _load_tile(a, kb, t - 1, mp, ok, mk, H * K, 1.0)
        kp = _load_tile(k, kb, t - 1, mp, ok, mk, H * K, 0.0)
        vp = _load_tile(v, vb, t - 1, mp, ov, mv, H * V, 0.0)
        Pp, Lp = tl.associative_scan((tl.broadcast_to(ap[:, :, None], (BT, BK, BV)),
                                      kp[:, :, None] * vp[:, None, :]), 0, _affine_combine)
        E3 = Lp + Pp * S0[None, :, :]                                      # S_{t-1}
        S3 = at[:, :, None] * E3 + kt[:, :, None] * vt[:, None, :]         # S_t
        # state gradients: G_t = scale q_t dO_t^T + a_{t+1} G_{t+1}; the chunk's last step also gets D
        mn = (t + 1 < T) & (s < BT - 1)
        an = _load_tile(a, kb, t + 1, mn, ok, mk, H * K, 1.0)
        Xg = scale * qt[:, :, None] * dot[:, None, :]
        Xg += tl.where((s == BT - 1)[:, None, None], D[None, :, :], 0.0)
        _, G3 = tl.associative_scan((tl.broadcast_to(an[:, :, None], (BT, BK, BV)), Xg), 0,
                                    _affine_combine, reverse=True)
        m_tk = mt[:, None] & mk[None, :]
        m_tv = mt[:, None] & mv[None, :]
        tl.store(dq + pkb + t[:, None] * (H * K) + ok[None, :], tl.sum(S3 * dot[:, None, :], 2) * scale,
                 mask=m_tk)
        tl.store(dk + pkb + t[:, None] * (H * K) + ok[None, :], tl.sum(G3 * vt[:, None, :], 2), mask=m_tk)
        tl.store(da + pkb + t[:, None] * (H * K) + ok[None, :], tl.sum(G3 * E3, 2), mask=m_tk)
        tl.store(dv + pvb + t[:, None] * (H * V) + ov[None, :], tl.sum(G3 * kt[:, :, None], 1), mask=m_tv)
        a0 = tl.sum(tl.where(s[:, None] == 0, at, 0.0), 0)                 # a of the chunk's first step
        D = a0[:, None] * tl.sum(tl.where(first, G3, 0.0), 0)
    if USE_DH0:
        tl.store(dh0 + sb + ok[:, None] * V + ov[None, :], D, mask=m_kv)


def _blocks(K: int, V: int) -> tuple[int, int]:
    return min(16, max(16, next_pow2(K))), min(32, max(16, next_pow2(V)))


def diag_chunk_fwd(q, k, v, a, scale, h0, save):
    B, T, H, K = q.shape
    V = v.shape[-1]
    BK, BV = _blocks(K, V)
    NK, NV, NT = cdiv(K, BK), cdiv(V, BV), cdiv(T, BT)
    o = torch.empty(NK, B, T, H, V, device=q.device, dtype=torch.float32)
    ckpt = torch.empty(B, NT, H, K, V, device=q.device, dtype=torch.float32) if save else None
    ht = torch.empty(B, H, K, V, device=q.device, dtype=torch.float32)
    _diag_chunk_fwd_kernel[(B * H, NK * NV)](
        q, k, v, a, o, ckpt, h0, ht, T, NT, scale, H, B, K=K, V=V, BT=BT, BK=BK, BV=BV,
        USE_H0=h0 is not None, STORE_HT=True, SAVE=save, num_warps=4,
    )
    return sum_blocks(o).to(q.dtype), ht, ckpt


def diag_chunk_bwd(q, k, v, a, scale, h0, ckpt, do, dht):
    B, T, H, K = q.shape
    V = v.shape[-1]
    BK, BV = _blocks(K, V)
    NK, NV, NT = cdiv(K, BK), cdiv(V, BV), cdiv(T, BT)
    dq = torch.empty(NV, B, T, H, K, device=q.device, dtype=torch.float32)
    dk = torch.empty(NV, B, T, H, K, device=q.device, dtype=torch.float32)
    da = torch.empty(NV, B, T, H, K, device=q.device, dtype=torch.float32)
    dv = torch.empty(NK, B, T, H, V, device=q.device, dtype=torch.float32)
    dh0 = torch.empty(B, H, K, V, device=q.device, dtype=torch.float32) if h0 is not None else None
    _diag_chunk_bwd_kernel[(B * H, NK * NV)](
        q, k, v, a, ckpt, do, dht, dq, dk, dv, da, dh0, T, NT, scale, H, B, K=K, V=V, BT=BT, BK=BK, BV=BV,
        USE_DHT=dht is not None, USE_DH0=h0 is not None, num_warps=4,
    )
    return sum_blocks(dq), sum_blocks(dk), sum_blocks(dv), sum_blocks(da), dh0


class ChunkDiagonalFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, q, k, v, a, scale, initial_state, output_final_state):
        h0 = None if initial_state is None else initial_state.detach().to(torch.float32).contiguous()
        save = any(ctx.needs_input_grad[i] for i in (0, 1, 2, 3, 5))
        o, ht, ckpt = diag_chunk_fwd(q, k, v, a, scale, h0, save)
        if save:
            ctx.save_for_backward(q, k, v, a, h0, ckpt)
        ctx.scale = scale
        ctx.h0_dtype = None if initial_state is None else initial_state.dtype
        return o, (ht if output_final_state else None)

    @staticmethod
    def backward(ctx, do, dht):
        q, k, v, a, h0, ckpt = ctx.saved_tensors
        dq, dk, dv, da, dh0 = diag_chunk_bwd(q, k, v, a, ctx.scale, h0, ckpt, do.contiguous(),
                                             None if dht is None else dht.contiguous())
        if dh0 is not None:
            dh0 = dh0.to(ctx.h0_dtype)
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), da.to(a.dtype), None, dh0, None


def chunk_diagonal(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Chunked diagonal recurrence (time-parallel scan within chunks of 16 steps), a in [-1, 1].

    Args:
        q, k, a: ``[B, T, H, K]``; v: ``[B, T, H, V]``; float32, bfloat16 or float16 (q, k, v
            alike) on a CUDA device (or on the CPU under ``TRITON_INTERPRET=1``).
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` (float32) or None.
        output_final_state: also return ``S_T`` ``[B, H, K, V]`` float32.
        cu_seqlens: not supported here (raises); packed input runs on ``fused_recurrent``.

    Returns:
        ``(o [B, T, H, V] in the input dtype, S_T or None)``, differentiable in q, k, v, a and the
        initial state.

    Example:
        >>> q = torch.randn(8, 1024, 4, 16, device="cuda", dtype=torch.bfloat16)
        >>> a = (2 * torch.rand(8, 1024, 4, 16, device="cuda") - 1).bfloat16()
        >>> o, S = chunk_diagonal(q, torch.randn_like(q), torch.randn_like(q), a, output_final_state=True)
    """
    if cu_seqlens is not None:
        raise KernelArgumentError(
            "diagonal: the chunk backend does not take packed input (cu_seqlens); "
            "use backend='fused_recurrent' or 'naive'")
    q, k, v, a = (x.contiguous() for x in (q, k, v, a))
    o, ht = ChunkDiagonalFunction.apply(q, k, v, a, resolve_scale(scale, q.shape[-1]), initial_state,
                                        output_final_state)
    return o, (ht if output_final_state else None)
