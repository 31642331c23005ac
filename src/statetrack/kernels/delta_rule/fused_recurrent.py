"""Delta rule (and DeltaProduct) one sub-step at a time in Triton, forward and backward.

Each program owns one (batch, head, V-block) column slab of the state S [K, BV] in registers and
walks the flattened sequence of T * n_h sub-steps:

    w = v - S^T k;   u = beta w;   S <- S + k u^T;   after a token's last sub-step: o = scale S^T q

The forward pass saves every residual w (float32) and the final state. The backward pass walks the
sequence in reverse carrying dS = dL/dS and rebuilds the earlier states exactly as written,
S_prev = S - k u^T with u = beta w recomputed by the same float32 product as the forward's (additions
only, so no division and no matrix inverse: this works for beta = 1, where the transition I - k k^T is
singular). Per sub-step, with du = dS^T k:

    dv = beta du,   dbeta = du . w,   dk = dS u - beta S_prev du,
    dS <- dS - beta k du^T,        and per token dq = scale S dO, dS += scale q dO^T.

Saving w rather than u spares the backward one reduction per sub-step (S_prev^T k, which w already
is) and the loads of v.

The loads do not depend on the state, so both passes fetch the next sub-step's k, v (or w) and beta,
and the next token's q (and dO), before the current sub-step's arithmetic: the loads are in flight
while the reductions run (software pipelining by hand; rows past either end load as zeros and are
never used). The arithmetic is the unpipelined loop's, in the same order.

dq, dk and dbeta sum over the value axis, so with several V-blocks each block writes a float32
partial that is summed afterwards.

Packed input (``cu_seqlens``, B = 1): program (n, h, V-block) walks sequence n's rows
[bos, eos) of the time axis from state n of initial_state; without it, batch row b is the sequence
[b T, (b + 1) T) of the flattened [B * T] time axis.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from statetrack.kernels._common import cdiv, next_pow2, nprog, resolve_scale, sum_blocks, warps_autotuned
from statetrack.kernels.delta_rule.chunk_tiles import _seq_of


@triton.jit
def _in_rows(o, r, n):
    """Mask over the offsets ``o``: row r lies in [0, n). (Built elementwise: the interpreter's
    ``&`` of a block mask with a scalar one gives an int32 mask, which its loads reject.)"""
    rr = o * 0 + r
    return (rr >= 0) & (rr < n)


@triton.jit
def _load_sub_step(pk, px, pb, r, n, ok, ox, mk, mx, H, K: tl.constexpr, X: tl.constexpr):
    """Sub-step row r's key [BK], value or residual [BX] (from px, row stride H * X) and beta, all
    float32; zeros for a row outside [0, n)."""
    kt = tl.load(pk + r * H * K, mask=mk & _in_rows(ok, r, n), other=0.0).to(tl.float32)
    xt = tl.load(px + r * H * X, mask=mx & _in_rows(ox, r, n), other=0.0).to(tl.float32)
    bt = tl.load(pb + r * H, mask=(r >= 0) & (r < n), other=0.0).to(tl.float32)
    return kt, xt, bt


@warps_autotuned("K", "V", "NH", "BK", "BV")
@triton.jit
def _recurrent_fwd_kernel(
    q, k, v, beta, o, wbuf, h0, ht, cu, T, scale, H, NPROG,
    K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    USE_H0: tl.constexpr, STORE_HT: tl.constexpr, SAVE: tl.constexpr, VARLEN: tl.constexpr,
):
    i_bh, i_v = tl.program_id(0), tl.program_id(1)
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)     # i_b: the sequence
    bos, eos, L, _ = _seq_of(cu, cu, i_b, T, T, 1, VARLEN)
    ok = tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    m_kv = mk[:, None] & mv[None, :]
    sb = (i_b * H + i_h) * K * V
    S = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_H0:
        S += tl.load(h0 + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0).to(tl.float32)
    pk = k + (bos * NH * H + i_h) * K + ok
    pv = v + (bos * NH * H + i_h) * V + ov
    if SAVE:
        pw = wbuf + (bos * NH * H + i_h) * V + ov
    pb = beta + bos * NH * H + i_h
    pq = q + (bos * H + i_h) * K + ok
    po = o + (bos * H + i_h) * V + ov
    n = L * NH                                                  # sub-step rows of this sequence
    kn, vn, bn = _load_sub_step(pk, pv, pb, 0, n, ok, ov, mk, mv, H, K, V)
    qn = tl.load(pq, mask=mk & _in_rows(ok, 0, L), other=0.0).to(tl.float32)
    for t in range(L):
        qt = qn
        qn = tl.load(pq + (t + 1) * H * K, mask=mk & _in_rows(ok, t + 1, L), other=0.0).to(tl.float32)
        for j in tl.static_range(NH):
            row = t * NH + j
            kt, vt, bt = kn, vn, bn
            kn, vn, bn = _load_sub_step(pk, pv, pb, row + 1, n, ok, ov, mk, mv, H, K, V)
            wt = vt - tl.sum(S * kt[:, None], 0)
            S += kt[:, None] * (bt * wt)[None, :]
            if SAVE:
                tl.store(pw + row * H * V, wt, mask=mv)
        tl.store(po + t * H * V, (tl.sum(S * qt[:, None], 0) * scale).to(o.dtype.element_ty), mask=mv)
    if STORE_HT:
        tl.store(ht + sb + ok[:, None] * V + ov[None, :], S, mask=m_kv)


@warps_autotuned("K", "V", "NH", "BK", "BV")
@triton.jit
def _recurrent_bwd_kernel(
    q, k, beta, wbuf, ht, do, dht, dq, dk, dv, dbeta, dh0, cu, T, R, scale, H, NPROG,
    K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    USE_DHT: tl.constexpr, USE_DH0: tl.constexpr, VARLEN: tl.constexpr,
):
    i_bh, i_v = tl.program_id(0), tl.program_id(1)
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)     # i_b: the sequence
    bos, eos, L, _ = _seq_of(cu, cu, i_b, T, T, 1, VARLEN)
    ok = tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    m_kv = mk[:, None] & mv[None, :]
    sb = (i_b * H + i_h) * K * V
    S = tl.load(ht + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0)
    dS = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_DHT:
        dS += tl.load(dht + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0).to(tl.float32)
    pk = k + (bos * NH * H + i_h) * K + ok
    pw = wbuf + (bos * NH * H + i_h) * V + ov
    pb = beta + bos * NH * H + i_h
    pq = q + (bos * H + i_h) * K + ok
    pdo = do + (bos * H + i_h) * V + ov
    pdv = dv + (bos * NH * H + i_h) * V + ov
    # float32 partials over V-blocks: [NV, R, H, ...] with R = B * T token rows (R * NH sub-step rows)
    pdq = dq + ((i_v * R + bos) * H + i_h) * K + ok
    pdk = dk + ((i_v * R + bos) * NH * H + i_h) * K + ok
    pdb = dbeta + (i_v * R + bos) * NH * H + i_h
    n = L * NH
    kn, wn, bn = _load_sub_step(pk, pw, pb, n - 1, n, ok, ov, mk, mv, H, K, V)
    qn = tl.load(pq + (L - 1) * H * K, mask=mk & _in_rows(ok, L - 1, L), other=0.0).to(tl.float32)
    don = tl.load(pdo + (L - 1) * H * V, mask=mv & _in_rows(ov, L - 1, L), other=0.0).to(tl.float32)
    for tt in range(L):
        t = L - 1 - tt
        qt, dot = qn, don
        qn = tl.load(pq + (t - 1) * H * K, mask=mk & _in_rows(ok, t - 1, L), other=0.0).to(tl.float32)
        don = tl.load(pdo + (t - 1) * H * V, mask=mv & _in_rows(ov, t - 1, L), other=0.0).to(tl.float32)
        tl.store(pdq + t * H * K, tl.sum(S * dot[None, :], 1) * scale, mask=mk)
        dS += scale * qt[:, None] * dot[None, :]
        for jj in tl.static_range(NH):
            row = t * NH + (NH - 1 - jj)
            kt, wt, bt = kn, wn, bn
            kn, wn, bn = _load_sub_step(pk, pw, pb, row - 1, n, ok, ov, mk, mv, H, K, V)
            ut = bt * wt                                                # the forward's u, bit for bit
            du = tl.sum(dS * kt[:, None], 0)                            # [BV]
            dkt = tl.sum(dS * ut[None, :], 1)                           # [BK]
            S -= kt[:, None] * ut[None, :]                              # state before this sub-step
            dkt -= bt * tl.sum(S * du[None, :], 1)
            dS -= bt * kt[:, None] * du[None, :]
            tl.store(pdv + row * H * V, (bt * du).to(dv.dtype.element_ty), mask=mv)
            tl.store(pdk + row * H * K, dkt, mask=mk)
            tl.store(pdb + row * H, tl.sum(du * wt, 0))
    if USE_DH0:
        tl.store(dh0 + sb + ok[:, None] * V + ov[None, :], dS, mask=m_kv)


def _blocks(K: int, V: int) -> tuple[int, int]:
    bk = max(16, next_pow2(K))
    bv = max(16, min(next_pow2(V), max(16, 4096 // bk)))
    return bk, bv


def recurrent_fwd(q, k, v, beta, scale, h0, n_h, save, cu_seqlens=None):
    """Forward on the flattened layout; N = B sequences, or len(cu_seqlens) - 1 packed ones (B = 1)."""
    B, T, H, K = q.shape
    Tn, V = k.shape[1], v.shape[-1]
    N = B if cu_seqlens is None else len(cu_seqlens) - 1
    BK, BV = _blocks(K, V)
    o = torch.empty(B, T, H, V, device=q.device, dtype=q.dtype)
    wbuf = torch.empty(B, Tn, H, V, device=q.device, dtype=torch.float32) if save else None
    ht = torch.empty(N, H, K, V, device=q.device, dtype=torch.float32)
    grid = (N * H, cdiv(V, BV))
    _recurrent_fwd_kernel[grid](
        q, k, v, beta, o, wbuf, h0, ht, cu_seqlens, T, scale, H, nprog(grid[0] * grid[1]), K=K, V=V, NH=n_h,
        BK=BK, BV=BV, USE_H0=h0 is not None, STORE_HT=True, SAVE=save, VARLEN=cu_seqlens is not None,
    )
    return o, ht, wbuf


def recurrent_bwd(q, k, v, beta, scale, h0, wbuf, ht, do, dht, n_h, cu_seqlens=None):
    B, T, H, K = q.shape
    Tn, V = k.shape[1], v.shape[-1]
    N = B if cu_seqlens is None else len(cu_seqlens) - 1
    BK, BV = _blocks(K, V)
    NV = cdiv(V, BV)
    dq = torch.empty(NV, B, T, H, K, device=q.device, dtype=torch.float32)
    dk = torch.empty(NV, B, Tn, H, K, device=q.device, dtype=torch.float32)
    dbeta = torch.empty(NV, B, Tn, H, device=q.device, dtype=torch.float32)
    dv = torch.empty_like(v)
    dh0 = torch.empty(N, H, K, V, device=q.device, dtype=torch.float32) if h0 is not None else None
    _recurrent_bwd_kernel[(N * H, NV)](
        q, k, beta, wbuf, ht, do, dht, dq, dk, dv, dbeta, dh0, cu_seqlens, T, B * T, scale, H, nprog(N * H * NV),
        K=K, V=V, NH=n_h, BK=BK, BV=BV, USE_DHT=dht is not None, USE_DH0=h0 is not None,
        VARLEN=cu_seqlens is not None,
    )
    return sum_blocks(dq), sum_blocks(dk), dv, sum_blocks(dbeta), dh0


class FusedRecurrentHouseholderFunction(torch.autograd.Function):
    """Autograd for the flattened n_h-sub-step recurrence, one step at a time."""

    @staticmethod
    def forward(ctx, q, k, v, beta, scale, initial_state, output_final_state, n_h, cu_seqlens):
        h0 = None if initial_state is None else initial_state.detach().to(torch.float32).contiguous()
        save = any(ctx.needs_input_grad[i] for i in (0, 1, 2, 3, 5))
        o, ht, wbuf = recurrent_fwd(q, k, v, beta, scale, h0, n_h, save, cu_seqlens)
        if save:
            ctx.save_for_backward(q, k, v, beta, h0, wbuf, ht, cu_seqlens)
        ctx.scale, ctx.n_h = scale, n_h
        ctx.h0_dtype = None if initial_state is None else initial_state.dtype
        return o, (ht.clone() if output_final_state else None)

    @staticmethod
    def backward(ctx, do, dht):
        q, k, v, beta, h0, wbuf, ht, cu_seqlens = ctx.saved_tensors
        dq, dk, dv, dbeta, dh0 = recurrent_bwd(
            q, k, v, beta, ctx.scale, h0, wbuf, ht, do.contiguous(),
            None if dht is None else dht.contiguous(), ctx.n_h, cu_seqlens,
        )
        if dh0 is not None:
            dh0 = dh0.to(ctx.h0_dtype)
        return (dq.to(q.dtype), dk.to(k.dtype), dv, dbeta.to(beta.dtype), None, dh0, None, None, None)


def fused_recurrent_householder(q, k, v, beta, scale, initial_state, output_final_state, n_h,
                                cu_seqlens=None):
    """Shared entry for delta rule and DeltaProduct on the flattened [B, T*n_h, H, *] layout
    (``cu_seqlens`` counts tokens, B = 1)."""
    q, k, v, beta = (x.contiguous() for x in (q, k, v, beta))
    if cu_seqlens is not None:
        cu_seqlens = cu_seqlens.contiguous()
    o, ht = FusedRecurrentHouseholderFunction.apply(q, k, v, beta, scale, initial_state,
                                                    output_final_state, n_h, cu_seqlens)
    return o, (ht if output_final_state else None)


def fused_recurrent_delta_rule(
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
    """Delta rule, one step at a time: ``S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T``.

    Args:
        q, k: ``[B, T, H, K]``; v: ``[B, T, H, V]``; beta: ``[B, T, H]`` in [0, 2]; float32,
            bfloat16 or float16 on a CUDA device (or on the CPU under ``TRITON_INTERPRET=1``).
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` (float32) or None.
        output_final_state: also return ``S_T`` ``[B, H, K, V]`` float32.
        cu_seqlens: packed sequences (B = 1, int ``[N + 1]``); states are then ``[N, H, K, V]``.
        max_seqlen: accepted for a uniform call; this backend does not use it.

    Returns:
        ``(o [B, T, H, V] in the input dtype, S_T or None)``, differentiable in every input.

    Example:
        >>> q = torch.randn(2, 512, 4, 64, device="cuda")
        >>> k = torch.nn.functional.normalize(torch.randn_like(q), dim=-1)
        >>> o, S = fused_recurrent_delta_rule(q, k, torch.randn_like(q),
        ...                                   2 * torch.rand(2, 512, 4, device="cuda"),
        ...                                   output_final_state=True)
    """
    return fused_recurrent_householder(q, k, v, beta, resolve_scale(scale, q.shape[-1]), initial_state,
                                       output_final_state, 1, cu_seqlens)
