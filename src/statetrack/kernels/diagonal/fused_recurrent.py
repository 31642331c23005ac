"""Diagonal recurrence one step at a time in Triton: ``S_t = diag(a_t) S_{t-1} + k_t v_t^T``.

Each program owns one (batch, head, V-block) slab S [K, BV] of the state in registers. The decay
multiplies directly, in float32, so a in [-1, 1] needs no sign bookkeeping and a = 0 is exact.

Backward. The gradient of a_t is ``da_t = rowsum(dS_t * S_{t-1})`` and needs the state *before* step
t, which cannot be recovered from S_t by dividing by a_t (a_t may be 0). The forward pass therefore
keeps a float32 checkpoint of the state every ``L`` steps; the backward pass walks the checkpoints in
reverse, replays the L steps after each one (writing the states to a per-program scratch buffer,
which stays in L2, and producing dq on the way), then walks those L steps backwards:

    dS += scale q_t dO_t^T;  dk_t = dS v_t;  dv_t = dS^T k_t;  da_t = rowsum(dS * S_{t-1});  dS *= a_t

Every loop fetches the next step's inputs (a, k, v and q or dO) before the current step's
arithmetic, so the loads are in flight while it runs (software pipelining by hand; steps outside the
block or sequence are masked). The arithmetic is the unpipelined loop's, in the same order. The
saved S_{t-1} is still read where it is used: fetching it a step early too raised the backward's
registers from 128 to 167 per thread at 4 warps (sm_90 build, K = V = 32).

Packed input (``cu_seqlens``, B = 1): program (n, h, V-block) walks sequence n's rows [bos, eos) of
the time axis from state n of initial_state, and keeps its checkpoints (at its own steps 0, L, 2L,
...) in rows ``bos // L + n + c`` of the checkpoint buffer: distinct for distinct sequences, since a
sequence of length l starting at b has ceil(l / L) <= (b + l) // L - b // L + 1 of them, and fewer
than ``ceil(T / L) + N`` rows in all. Without it, batch row b is the sequence [b T, (b + 1) T) and
owns rows [b NC, (b + 1) NC).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from statetrack.kernels._common import cdiv, next_pow2, nprog, resolve_scale, sum_blocks, warps_autotuned
from statetrack.kernels.delta_rule.chunk_tiles import _seq_of
from statetrack.kernels.delta_rule.fused_recurrent import _in_rows

L_CKPT = 32  # steps between checkpoints


@triton.jit
def _ckpt_seq(cu, i_n, T, NC, L: tl.constexpr, VARLEN: tl.constexpr):
    """Sequence i_n: its first row bos on the time axis, its length, its checkpoint count and the
    checkpoint row of its step 0 (see the module notes)."""
    bos, eos, nc, c0 = _seq_of(cu, cu, i_n, T, NC, L, VARLEN)
    if VARLEN:
        c0 = bos // L + i_n
    return bos, eos - bos, nc, c0


@triton.jit
def _step_masks(ok, ov, mk, mv, t, lo, hi):
    """Load masks over K and V for step t: mk and mv where t lies in [lo, hi), else all false."""
    return mk & _in_rows(ok, t - lo, hi - lo), mv & _in_rows(ov, t - lo, hi - lo)


@triton.jit
def _load_akv(pa, pk, pv, t, mkt, mvt, H, K: tl.constexpr, V: tl.constexpr):
    """Step t's decay and key [BK] and value [BV] as float32; where masked a = 1 and k = v = 0 (a step
    that leaves the state, and dS, as they are)."""
    at = tl.load(pa + t * H * K, mask=mkt, other=1.0).to(tl.float32)
    kt = tl.load(pk + t * H * K, mask=mkt, other=0.0).to(tl.float32)
    vt = tl.load(pv + t * H * V, mask=mvt, other=0.0).to(tl.float32)
    return at, kt, vt


@warps_autotuned("K", "V", "BK", "BV")
@triton.jit
def _diag_recurrent_fwd_kernel(
    q, k, v, a, o, ckpt, h0, ht, cu, T, NC, scale, H, NPROG,
    K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, L: tl.constexpr,
    USE_H0: tl.constexpr, STORE_HT: tl.constexpr, SAVE: tl.constexpr, VARLEN: tl.constexpr,
):
    i_bh, i_v = tl.program_id(0), tl.program_id(1)
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)     # i_b: the sequence
    bos, Ls, _, c0 = _ckpt_seq(cu, i_b, T, NC, L, VARLEN)
    ok = tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    m_kv = mk[:, None] & mv[None, :]
    sb = (i_b * H + i_h) * K * V
    S = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_H0:
        S += tl.load(h0 + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0).to(tl.float32)
    pk = k + (bos * H + i_h) * K + ok
    pa = a + (bos * H + i_h) * K + ok
    pq = q + (bos * H + i_h) * K + ok
    pv = v + (bos * H + i_h) * V + ov
    po = o + (bos * H + i_h) * V + ov
    mkn, mvn = _step_masks(ok, ov, mk, mv, 0, 0, Ls)
    an, kn, vn = _load_akv(pa, pk, pv, 0, mkn, mvn, H, K, V)
    qn = tl.load(pq, mask=mkn, other=0.0).to(tl.float32)
    for t in range(Ls):
        at, kt, vt, qt = an, kn, vn, qn
        mkn, mvn = _step_masks(ok, ov, mk, mv, t + 1, 0, Ls)           # prefetch step t + 1
        an, kn, vn = _load_akv(pa, pk, pv, t + 1, mkn, mvn, H, K, V)
        qn = tl.load(pq + (t + 1) * H * K, mask=mkn, other=0.0).to(tl.float32)
        if SAVE:
            cb = ((c0 + t // L) * H + i_h) * K * V
            tl.store(ckpt + cb + ok[:, None] * V + ov[None, :], S, mask=m_kv & (t % L == 0))
        S = at[:, None] * S + kt[:, None] * vt[None, :]
        tl.store(po + t * H * V, (tl.sum(S * qt[:, None], 0) * scale).to(o.dtype.element_ty), mask=mv)
    if STORE_HT:
        tl.store(ht + sb + ok[:, None] * V + ov[None, :], S, mask=m_kv)


@warps_autotuned("K", "V", "BK", "BV")
@triton.jit
def _diag_recurrent_bwd_kernel(
    q, k, v, a, ckpt, scratch, do, dht, dq, dk, dv, da, dh0, cu, T, NC, R, scale, H, NPROG,
    K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, L: tl.constexpr,
    USE_DHT: tl.constexpr, USE_DH0: tl.constexpr, VARLEN: tl.constexpr,
):
    i_bh, i_v = tl.program_id(0), tl.program_id(1)
    NV = tl.num_programs(1)
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)     # i_b: the sequence
    bos, Ls, nc, c0 = _ckpt_seq(cu, i_b, T, NC, L, VARLEN)
    ok = tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    m_kv = mk[:, None] & mv[None, :]
    tile = ok[:, None] * BV + tl.arange(0, BV)[None, :]
    sb = (i_b * H + i_h) * K * V
    pscr = scratch + (i_bh * NV + i_v).to(tl.int64) * L * BK * BV
    dS = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_DHT:
        dS += tl.load(dht + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0).to(tl.float32)
    pk = k + (bos * H + i_h) * K + ok
    pa = a + (bos * H + i_h) * K + ok
    pq = q + (bos * H + i_h) * K + ok
    pv = v + (bos * H + i_h) * V + ov
    pdo = do + (bos * H + i_h) * V + ov
    pdv = dv + (bos * H + i_h) * V + ov
    # float32 partials over V-blocks: [NV, R, H, K] with R = B * T rows
    part = ((i_v * R + bos) * H + i_h) * K + ok
    for cc in range(nc):
        c = nc - 1 - cc
        cb = ((c0 + c) * H + i_h) * K * V
        S = tl.load(ckpt + cb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0)
        end = tl.minimum(Ls, c * L + L)                     # this block's steps: [c L, end)
        mkn, mvn = _step_masks(ok, ov, mk, mv, c * L, 0, end)
        an, kn, vn = _load_akv(pa, pk, pv, c * L, mkn, mvn, H, K, V)
        don = tl.load(pdo + c * L * H * V, mask=mvn, other=0.0).to(tl.float32)
        for i in range(L):                                  # replay: S_{t-1} to scratch, dq
            t = c * L + i
            at, kt, vt, dot = an, kn, vn, don
            mkn, mvn = _step_masks(ok, ov, mk, mv, t + 1, 0, end)
            an, kn, vn = _load_akv(pa, pk, pv, t + 1, mkn, mvn, H, K, V)
            don = tl.load(pdo + (t + 1) * H * V, mask=mvn, other=0.0).to(tl.float32)
            mkt, _ = _step_masks(ok, ov, mk, mv, t, 0, Ls)
            tl.store(pscr + i * BK * BV + tile, S)
            S = at[:, None] * S + kt[:, None] * vt[None, :]
            tl.store(dq + part + t * H * K, tl.sum(S * dot[None, :], 1) * scale, mask=mkt)
        tl.debug_barrier()
        t = c * L + L - 1
        mkn, mvn = _step_masks(ok, ov, mk, mv, t, 0, Ls)
        an, kn, vn = _load_akv(pa, pk, pv, t, mkn, mvn, H, K, V)
        qn = tl.load(pq + t * H * K, mask=mkn, other=0.0).to(tl.float32)
        don = tl.load(pdo + t * H * V, mask=mvn, other=0.0).to(tl.float32)
        for ii in range(L):                                 # walk back through the same steps
            i = L - 1 - ii
            t = c * L + i
            at, kt, vt, qt, dot = an, kn, vn, qn, don
            mkn, mvn = _step_masks(ok, ov, mk, mv, t - 1, c * L, Ls)  # prefetch step t - 1
            an, kn, vn = _load_akv(pa, pk, pv, t - 1, mkn, mvn, H, K, V)
            qn = tl.load(pq + (t - 1) * H * K, mask=mkn, other=0.0).to(tl.float32)
            don = tl.load(pdo + (t - 1) * H * V, mask=mvn, other=0.0).to(tl.float32)
            mkt, mvt = _step_masks(ok, ov, mk, mv, t, 0, Ls)
            dS += scale * qt[:, None] * dot[None, :]
            tl.store(dk + part + t * H * K, tl.sum(dS * vt[None, :], 1), mask=mkt)
            S_prev = tl.load(pscr + i * BK * BV + tile)
            tl.store(da + part + t * H * K, tl.sum(dS * S_prev, 1), mask=mkt)
            tl.store(pdv + t * H * V, tl.sum(dS * kt[:, None], 0).to(dv.dtype.element_ty), mask=mvt)
            dS = at[:, None] * dS
        tl.debug_barrier()
    if USE_DH0:
        tl.store(dh0 + sb + ok[:, None] * V + ov[None, :], dS, mask=m_kv)


def _blocks(K: int, V: int) -> tuple[int, int]:
    bk = max(16, next_pow2(K))
    bv = max(16, min(next_pow2(V), max(16, 4096 // bk)))
    return bk, bv


def _ckpt_rows(B: int, T: int, cu_seqlens) -> tuple[int, int, int]:
    """(sequences N, checkpoints per dense sequence NC, checkpoint rows in all); see the module notes."""
    NC = cdiv(T, L_CKPT)
    if cu_seqlens is None:
        return B, NC, B * NC
    N = len(cu_seqlens) - 1
    return N, NC, NC + N


def diag_recurrent_fwd(q, k, v, a, scale, h0, save, cu_seqlens=None):
    """Forward; N = B sequences, or len(cu_seqlens) - 1 packed ones (B = 1)."""
    B, T, H, K = q.shape
    V = v.shape[-1]
    BK, BV = _blocks(K, V)
    N, NC, rows = _ckpt_rows(B, T, cu_seqlens)
    o = torch.empty_like(v)
    ckpt = torch.empty(rows, H, K, V, device=q.device, dtype=torch.float32) if save else None
    ht = torch.empty(N, H, K, V, device=q.device, dtype=torch.float32)
    grid = (N * H, cdiv(V, BV))
    _diag_recurrent_fwd_kernel[grid](
        q, k, v, a, o, ckpt, h0, ht, cu_seqlens, T, NC, scale, H, nprog(grid[0] * grid[1]), K=K, V=V,
        BK=BK, BV=BV, L=L_CKPT, USE_H0=h0 is not None, STORE_HT=True, SAVE=save, VARLEN=cu_seqlens is not None,
    )
    return o, ht, ckpt


def diag_recurrent_bwd(q, k, v, a, scale, h0, ckpt, do, dht, cu_seqlens=None):
    B, T, H, K = q.shape
    V = v.shape[-1]
    BK, BV = _blocks(K, V)
    N, NC, _ = _ckpt_rows(B, T, cu_seqlens)
    NV = cdiv(V, BV)
    scratch = torch.empty(N * H * NV, L_CKPT, BK, BV, device=q.device, dtype=torch.float32)
    dq = torch.empty(NV, B, T, H, K, device=q.device, dtype=torch.float32)
    dk = torch.empty(NV, B, T, H, K, device=q.device, dtype=torch.float32)
    da = torch.empty(NV, B, T, H, K, device=q.device, dtype=torch.float32)
    dv = torch.empty_like(v)
    dh0 = torch.empty(N, H, K, V, device=q.device, dtype=torch.float32) if h0 is not None else None
    _diag_recurrent_bwd_kernel[(N * H, NV)](
        q, k, v, a, ckpt, scratch, do, dht, dq, dk, dv, da, dh0, cu_seqlens, T, NC, B * T, scale, H,
        nprog(N * H * NV), K=K, V=V, BK=BK, BV=BV, L=L_CKPT, USE_DHT=dht is not None, USE_DH0=h0 is not None,
        VARLEN=cu_seqlens is not None,
    )
    return sum_blocks(dq), sum_blocks(dk), dv, sum_blocks(da), dh0


class FusedRecurrentDiagonalFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, q, k, v, a, scale, initial_state, output_final_state, cu_seqlens):
        h0 = None if initial_state is None else initial_state.detach().to(torch.float32).contiguous()
        save = any(ctx.needs_input_grad[i] for i in (0, 1, 2, 3, 5))
        o, ht, ckpt = diag_recurrent_fwd(q, k, v, a, scale, h0, save, cu_seqlens)
        if save:
            ctx.save_for_backward(q, k, v, a, h0, ckpt, cu_seqlens)
        ctx.scale = scale
        ctx.h0_dtype = None if initial_state is None else initial_state.dtype
        return o, (ht if output_final_state else None)

    @staticmethod
    def backward(ctx, do, dht):
        q, k, v, a, h0, ckpt, cu_seqlens = ctx.saved_tensors
        dq, dk, dv, da, dh0 = diag_recurrent_bwd(q, k, v, a, ctx.scale, h0, ckpt, do.contiguous(),
                                                 None if dht is None else dht.contiguous(), cu_seqlens)
        if dh0 is not None:
            dh0 = dh0.to(ctx.h0_dtype)
        return dq.to(q.dtype), dk.to(k.dtype), dv, da.to(a.dtype), None, dh0, None, None


def fused_recurrent_diagonal(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    cu_seqlens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Diagonal recurrence one step at a time: ``S_t = diag(a_t) S_{t-1} + k_t v_t^T``, a in [-1, 1].

    Args:
        q, k, a: ``[B, T, H, K]``; v: ``[B, T, H, V]``; float32, bfloat16 or float16 (q, k, v
            alike) on a CUDA device (or on the CPU under ``TRITON_INTERPRET=1``).
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` (float32) or None.
        output_final_state: also return ``S_T`` ``[B, H, K, V]`` float32.
        cu_seqlens: packed sequences (B = 1, int ``[N + 1]``, empty ones allowed); states are then
            ``[N, H, K, V]``.

    Returns:
        ``(o [B, T, H, V] in the input dtype, S_T or None)``, differentiable in q, k, v, a and the
        initial state.

    Example:
        >>> q = torch.randn(2, 512, 4, 16, device="cuda")
        >>> a = 2 * torch.rand(2, 512, 4, 16, device="cuda") - 1
        >>> o, S = fused_recurrent_diagonal(q, torch.randn_like(q), torch.randn_like(q), a,
        ...                                 output_final_state=True)
    """
    q, k, v, a = (x.contiguous() for x in (q, k, v, a))
    if cu_seqlens is not None:
        cu_seqlens = cu_seqlens.contiguous()
    o, ht = FusedRecurrentDiagonalFunction.apply(q, k, v, a, resolve_scale(scale, q.shape[-1]),
                                                 initial_state, output_final_state, cu_seqlens)
    return o, (ht if output_final_state else None)
