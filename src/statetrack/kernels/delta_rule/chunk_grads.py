"""The chunked delta rule's gradients after the reverse walk (see :mod:`.chunk` for the whole scheme),
split in two launches as flash-linear-attention does, and the tile steps they share with the one-launch
``_grads_bwd_kernel`` of :mod:`.chunk`.

With the launch setting ``grads_split`` (:mod:`.chunk_config`) these run instead of that kernel:

    _grads_qkw_kernel   (B H, chunks, K-blocks; with grads_kfirst K-blocks, B H, chunks): the output and
                        state products of one K-block,
                        dQ = scale (dO S^T + mask(dO Un^T) K),
                        dK_part = scale mask(dO Un^T)^T Q + Un dS'^T,   dW = -dUn S^T
    _wy_bwd_kernel      (B H, chunks): back through W = Tm diag(b) K, U = Tm diag(b) V and Tm = L^{-1}:
                        d(bV) = Tm^T dUn, d(bK) = Tm^T dW, dTm = dUn (bV)^T + dW (bK)^T,
                        dA = strict_lower(-Tm^T dTm Tm^T), then dv, dbeta and dK = dK_part + the rest

dK_part and dW pass between them in float32 scratch. The first kernel recomputes the scores
mask(dO Un^T) [BQ, 64] in each K-block program; in return each program holds one K-block's tiles, and
the second holds no K-block's dk across the inverse: d(bK) = Tm^T dW and its dbeta term are formed
once, after it, where dk is written (dTm needs only dW (bK)^T before it).
"""
from __future__ import annotations

import triton
import triton.language as tl

from statetrack.kernels.delta_rule.chunk_tiles import (_chunk_of, _chunk_tm, _in_words, _key_tile, _mm, _mm32,
                                                       _spare)


@triton.jit
def _grad_rows(cu, cidx, seg, i_bh, i_c, T, CS, TPC, NT, H, NH: tl.constexpr, BQ: tl.constexpr, VARLEN: tl.constexpr,
               SEG: tl.constexpr):
    """Chunk program (i_bh, i_c): its head, its global chunk index (row of h), the key rows (s: 0..63,
    t on the flattened sub-step axis, mask mt), the query rows (tq, mask mq) and the causal mask
    [BQ, 64] of scores (key j seen by query i, masked rows off)."""
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)
    _, i_t, bos, eos, i_g = _chunk_of(cu, cidx, i_b, i_c, T, NT, VARLEN)
    s = tl.arange(0, 64)
    r = tl.arange(0, BQ)
    t = bos * NH + i_t * CS + s
    mt = (s < CS) & (t < eos * NH)
    tq = bos + i_t * TPC + r
    mq = (r < TPC) & (tq < eos)
    visible = (s[None, :] < (r[:, None] + 1) * NH) & mq[:, None]
    visible = _in_words(visible, seg, tq, mq, t // NH, mt, SEG)     # several words in the chunk: within one
    return i_h, i_g, s, t, mt, tq, mq, visible


@triton.jit
def _state_grads(h, dh, do, un, dun, hb, vb, t, mt, tq, mq, ok, mk, iv, H, V: tl.constexpr,
                 BV: tl.constexpr, DT: tl.constexpr, PREC: tl.constexpr):
    """V-block iv of one (chunk, K-block): its dO and Un tiles, and its terms of dO S^T (dq),
    Un dS'^T (dk) and -dUn S^T (dW), each [rows, K-block]."""
    ov = iv * BV + tl.arange(0, BV)
    mv = ov < V
    m_tv = mt[:, None] & mv[None, :]
    m_kv = mk[:, None] & mv[None, :]
    hc = tl.load(h + hb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0)
    dhc = tl.load(dh + hb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0)
    doc = tl.load(do + vb + tq[:, None] * (H * V) + ov[None, :], mask=mq[:, None] & mv[None, :], other=0.0)
    unc = tl.load(un + vb + t[:, None] * (H * V) + ov[None, :], mask=m_tv, other=0.0)
    duc = tl.load(dun + vb + t[:, None] * (H * V) + ov[None, :], mask=m_tv, other=0.0)
    return (doc, unc, _mm(doc, tl.trans(hc), DT, PREC), _mm(unc, tl.trans(dhc), DT, PREC),
            -_mm(duc, tl.trans(hc), DT, PREC))


@triton.jit
def _wy_value_grads(v, dun, dv, tmt, b, vb, t, mt, ov, mv, H, V: tl.constexpr,
                    DT: tl.constexpr, PREC: tl.constexpr):
    """One V-block of the way back through U = Tm diag(b) V: stores dv = b * d(bV), d(bV) = Tm^T dUn;
    returns its dbeta term rowsum(d(bV) * V) [64] and its dTm term dUn (bV)^T [64, 64]."""
    m_tv = mt[:, None] & mv[None, :]
    duc = tl.load(dun + vb + t[:, None] * (H * V) + ov[None, :], mask=m_tv, other=0.0)
    vc = tl.load(v + vb + t[:, None] * (H * V) + ov[None, :], mask=m_tv, other=0.0).to(tl.float32)
    dbv = _mm(tmt, duc, DT, PREC)
    tl.store(dv + vb + t[:, None] * (H * V) + ov[None, :], (dbv * b[:, None]).to(dv.dtype.element_ty), mask=m_tv)
    return tl.sum(dbv * vc, 1), _mm(duc, tl.trans(vc * b[:, None]), DT, PREC)


@triton.jit
def _wy_key_grads(tmt, dw, kc, b, DT: tl.constexpr, PREC: tl.constexpr):
    """One K-block of the way back through W = Tm diag(b) K: d(bK) = Tm^T dW [64, K-block], its dbeta
    term rowsum(d(bK) * K) [64] and its dTm term dW (bK)^T [64, 64]."""
    kf = kc.to(tl.float32)
    dbk = _mm(tmt, dw, DT, PREC)
    return dbk, tl.sum(dbk * kf, 1), _mm(dw, tl.trans(kf * b[:, None]), DT, PREC)


@triton.jit
def _inverse_grad(tmc, dTm, s, t, mt, seg, NH: tl.constexpr, PREC_C: tl.constexpr, SEG: tl.constexpr):
    """dA from dTm through Tm = (I + A)^{-1}: dA = -Tm^T dTm Tm^T, kept on A's strict lower triangle
    (its only free entries) and the chunk's rows; with SEG (several words in the chunk) within a word."""
    tmf = tmc.to(tl.float32)
    dA = -_mm32(_mm32(tl.trans(tmf), dTm, PREC_C), tl.trans(tmf), PREC_C)
    keep = _in_words((s[:, None] > s[None, :]) & mt[:, None], seg, t // NH, mt, t // NH, mt, SEG)
    return tl.where(keep, dA, 0.0)


@triton.jit
def _grads_qkw_kernel(
    q, k, h, dh, un, dun, do, dq, dkp, dw, cu, cidx, T, CS, TPC, NT, scale, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
    BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, NV: tl.constexpr, VARLEN: tl.constexpr,
    KFIRST: tl.constexpr, SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """One (chunk, K-block): dq (final), dK_part = scale mask(dO Un^T)^T Q + Un dS'^T and
    dW = -dUn S^T (for _wy_bwd_kernel, in the dtypes grads_scratch chose); one pass over the V-blocks gathers
    all four products. The grid is (B H, chunks, K-blocks), or with KFIRST (K-blocks, B H, chunks): then
    a chunk's K-block programs are launched one after another and read its dO, Un and dUn tiles (which
    every K-block needs whole) while they are still in L2."""
    if KFIRST:
        i_k, i_bh, i_c = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    else:
        i_bh, i_c, i_k = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    if _spare(cu, cidx, i_c, T, NT, CS, NH, VARLEN):
        return
    i_h, i_g, s, t, mt, tq, mq, visible = _grad_rows(
        cu, cidx, seg, i_bh, i_c, T, CS, TPC, NT, H, NH, BQ, VARLEN, SEG)
    ok = i_k * BK + tl.arange(0, BK)
    mk = ok < K
    kb = i_h * K                                   # q and k rows share the head offset, as do dO and Un
    vb = i_h * V
    hb = (i_g * H + i_h) * K * V
    P = tl.zeros([BQ, 64], dtype=tl.float32)
    b_dq = tl.zeros([BQ, BK], dtype=tl.float32)
    b_dk = tl.zeros([64, BK], dtype=tl.float32)
    b_dw = tl.zeros([64, BK], dtype=tl.float32)
    for iv in range(NV):
        doc, unc, dq_v, dk_v, dw_v = _state_grads(h, dh, do, un, dun, hb, vb, t, mt, tq, mq, ok, mk, iv,
                                                  H, V, BV, DT, PREC)
        P += _mm(doc, tl.trans(unc), DT, PREC)
        b_dq += dq_v
        b_dk += dk_v
        b_dw += dw_v
    P = tl.where(visible, P, 0.0) * scale
    qc = _key_tile(q, kb, tq, mq, i_k * BK, H, K, BK)
    kc = _key_tile(k, kb, t, mt, i_k * BK, H, K, BK)
    b_dq = b_dq * scale + _mm(P, kc, DT, PREC)
    b_dk += _mm(tl.trans(P), qc, DT, PREC)
    tl.store(dq + kb + tq[:, None] * (H * K) + ok[None, :], b_dq.to(dq.dtype.element_ty),
             mask=mq[:, None] & mk[None, :])
    m_tk = mt[:, None] & mk[None, :]
    tl.store(dkp + kb + t[:, None] * (H * K) + ok[None, :], b_dk.to(dkp.dtype.element_ty), mask=m_tk)
    tl.store(dw + kb + t[:, None] * (H * K) + ok[None, :], b_dw.to(dw.dtype.element_ty), mask=m_tk)


@triton.jit
def _wy_bwd_kernel(
    k, v, beta, tm, dun, dkp, dw, dk, dv, dbeta, cu, cidx, T, CS, TPC, NT, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
    BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, NK: tl.constexpr, NV: tl.constexpr,
    VARLEN: tl.constexpr, SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """One chunk: dv, dbeta and dk = dK_part + d(bK) b + (M + M^T) K, M = diag(b) dA, given dUn and
    the dK_part, dW of _grads_qkw_kernel. The A terms go as dA K: (M + M^T) K = b * (dA K) + dA^T (b K)
    and rowsum(dA * K K^T) = rowsum((dA K) * K), so no [64, 64] K K^T is carried over the K-blocks."""
    if _spare(cu, cidx, tl.program_id(1), T, NT, CS, NH, VARLEN):
        return
    i_h, _, s, t, mt, _, _, _ = _grad_rows(
        cu, cidx, seg, tl.program_id(0), tl.program_id(1), T, CS, TPC, NT, H, NH, BQ, VARLEN, SEG)
    kb = i_h * K
    vb = i_h * V
    b, tmc = _chunk_tm(beta, tm, i_h, s, t, mt, H)
    tmt = tl.trans(tmc)
    db = tl.zeros([64], dtype=tl.float32)
    dTm = tl.zeros([64, 64], dtype=tl.float32)
    for iv in range(NV):
        ov = iv * BV + tl.arange(0, BV)
        db_v, dTm_v = _wy_value_grads(v, dun, dv, tmt, b, vb, t, mt, ov, ov < V, H, V, DT, PREC)
        db += db_v
        dTm += dTm_v
    for ik in range(NK):
        kc = _key_tile(k, kb, t, mt, ik * BK, H, K, BK)
        dwc = _key_tile(dw, kb, t, mt, ik * BK, H, K, BK)
        dTm += _mm(dwc, tl.trans(kc.to(tl.float32) * b[:, None]), DT, PREC)    # dW (bK)^T
    dA = _inverse_grad(tmc, dTm, s, t, mt, seg, NH, PREC_C, SEG)
    for ik in range(NK):
        ok = ik * BK + tl.arange(0, BK)
        m_tk = mt[:, None] & (ok < K)[None, :]
        kc = _key_tile(k, kb, t, mt, ik * BK, H, K, BK)
        dwc = _key_tile(dw, kb, t, mt, ik * BK, H, K, BK)
        b_dk = _key_tile(dkp, kb, t, mt, ik * BK, H, K, BK).to(tl.float32)
        kf = kc.to(tl.float32)
        dak = _mm(dA, kc, DT, PREC)                                      # dA K
        dbk = _mm(tmt, dwc, DT, PREC)                                    # d(bK) = Tm^T dW, formed once
        db += tl.sum((dbk + dak) * kf, 1)
        b_dk += (dbk + dak) * b[:, None] + _mm(tl.trans(dA), kf * b[:, None], DT, PREC)
        tl.store(dk + kb + t[:, None] * (H * K) + ok[None, :], b_dk.to(dk.dtype.element_ty), mask=m_tk)
    tl.store(dbeta + i_h + t * H, db.to(dbeta.dtype.element_ty), mask=mt)
