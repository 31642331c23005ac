"""Chunked delta rule (and DeltaProduct) in the WY / UT-transform form, forward and backward in Triton.

The flattened sequence of T * n_h Householder sub-steps is cut into chunks of ``CS`` sub-steps
(``CS = n_h * floor(64 / n_h)``, so a chunk always holds whole tokens). Within one chunk, with S the
state at its start, keys K [C, K], values V [C, V], betas b [C] and queries Q [C / n_h, K]:

    A   = diag(b) * strict_lower(K K^T)          L = I + A,  Tm = L^{-1}   (unit lower triangular)
    W   = Tm diag(b) K,   U = Tm diag(b) V       (the chunk's transitions, applied as one block)
    Un  = U - W S                                (the "new values" each sub-step writes)
    O   = scale * (Q S + mask(Q K^T) Un)         (mask: key j visible to token i if j <= i's last sub-step)
    S' = S + K^T Un

which is the sequential recurrence rewritten: row t of Un is ``b_t (v_t - S_{t-1}^T k_t)``. Only the
last two lines depend on S, so four kernels do the work:

    _wy_fwd_kernel        parallel over chunks: A, Tm (16x16 blocks by forward substitution, merged
                          with small products), W, U; keeps Tm for the backward pass (:mod:`.chunk_wy`;
                          the tile helpers all kernels share are in :mod:`.chunk_tiles`); with ``wy_split``
                          ``_wu_fwd_kernel`` forms W and U after it from the stored Tm
    _state_fwd_kernel     sequential over chunks per (batch, head, V-block): Un, O and S'
    _state_bwd_kernel     sequential over chunks in reverse: dS (state gradients) and dUn (with
                          ``state_bwd_khalves`` at K = 65-128: dS in two 64-row tiles; the walks'
                          ``*_tloads``: K^T, Q^T, W^T loaded key-major, not transposed in registers;
                          ``state_bwd_acc``: dS's update added in the products' accumulator)
    _grads_bwd_kernel     parallel over chunks: dq, dk, dv, dbeta through Un, W, U, Tm and A (its tile
                          steps shared with the two kernels that replace it under grads_split,
                          :mod:`.chunk_grads`)

With ``split_o`` / ``split_du`` (launch settings, :mod:`.chunk_config`) two parallel kernels take the
S-independent products off the sequential walks: ``_o_fwd_kernel`` writes O from the saved S and Un
after the forward walk, ``_du_local_kernel`` writes scale mask(Q K^T)^T dO before the reverse walk.
With ``grads_split`` the gradient kernel's work runs as two launches instead (:mod:`.chunk_grads`):
dq, the output and state parts of dk and dW per (chunk, K-block), then the WY backward per chunk.

Packed sequences (``cu_seqlens``, B = 1): every kernel addresses rows of the flattened time axis
[B * T]; a chunk program looks up (sequence, chunk within it) in a chunk table, a sequential program
walks its sequence's own chunks, and no chunk straddles two sequences. Without ``cu_seqlens`` batch
row b is the sequence [b T, (b + 1) T) and the same code runs with the table replaced by arithmetic.

Precision: float32 inputs use float32 operands at ``fp32_precision`` ("tf32x3": three TF32 products
on split operands, float32-grade) on the state path and ``fp32_intra_precision`` on the intra-chunk
products; bfloat16/float16 inputs feed the tensor cores in that dtype with float32 accumulation, and
the state is always carried in float32.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from statetrack.kernels._common import KernelArgumentError, capturing, cdiv, next_pow2, resolve_scale
from statetrack.kernels.delta_rule.chunk_config import CONFIG, FORCED, SHAPE_CONFIG, launch_config  # noqa: F401
from statetrack.kernels.delta_rule.chunk_tiles import (BT, MAX_K, _chunk_of, _chunk_tm, _key_tile,  # noqa: F401
                                                       _key_tile_t, _mm, _mm32, _mm_acc, _seq_of, _spare,
                                                       _in_words)
from statetrack.kernels.delta_rule.chunk_grads import (_grad_rows, _grads_qkw_kernel, _inverse_grad, _state_grads,
                                                       _wy_bwd_kernel, _wy_key_grads, _wy_value_grads)
from statetrack.kernels.delta_rule.chunk_wy import _wu_fwd_kernel, _wy_fwd_kernel


# ----------------------------------------------------------------------------------------------
# Triton kernels
# ----------------------------------------------------------------------------------------------

@triton.jit
def _state_fwd_kernel(
    q, k, w, u, o, h, h0, ht, cu, coff, T, CS, TPC, NT, scale, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
    BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    USE_H0: tl.constexpr, STORE_HT: tl.constexpr, SAVE: tl.constexpr, OUT: tl.constexpr,
    VARLEN: tl.constexpr, TLOADS: tl.constexpr, SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """Walk the chunks in order: Un = U - W S (written over U), O (unless OUT is off: then
    _o_fwd_kernel writes it afterwards), S += K^T Un; S saved per chunk. With TLOADS (state_fwd_tloads)
    K is loaded key-major, the [BK, 64] operand of K^T Un as it is (fla's load), and row-major as well
    only where O needs Q K^T here (OUT)."""
    i_bh, i_v = tl.program_id(0), tl.program_id(1)
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)       # i_b: the sequence
    bos, eos, nt, boh = _seq_of(cu, coff, i_b, T, NT, TPC, VARLEN)
    s = tl.arange(0, 64)
    r = tl.arange(0, BQ)
    ok = tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    m_kv = mk[:, None] & mv[None, :]
    visible = s[None, :] < (r[:, None] + 1) * NH                       # key j seen by token i
    kb = i_h * K
    vb = i_h * V
    qb = i_h * K
    ob = i_h * V
    sb = (i_b * H + i_h) * K * V

    S = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_H0:
        S += tl.load(h0 + sb + ok[:, None] * V + ov[None, :], mask=m_kv, other=0.0).to(tl.float32)
    for c in range(nt):
        t = bos * NH + c * CS + s
        mt = (s < CS) & (t < eos * NH)
        tq = bos + c * TPC + r
        mq = (r < TPC) & (tq < eos)
        if TLOADS:
            kt = _key_tile_t(k, kb, t, mt, 0, H, K, BK)
        if OUT or not TLOADS:
            kc = tl.load(k + kb + t[:, None] * (H * K) + ok[None, :], mask=mt[:, None] & mk[None, :], other=0.0)
        wc = tl.load(w + kb + t[:, None] * (H * K) + ok[None, :], mask=mt[:, None] & mk[None, :], other=0.0)
        uc = tl.load(u + vb + t[:, None] * (H * V) + ov[None, :], mask=mt[:, None] & mv[None, :], other=0.0)
        if SAVE:
            hb = ((boh + c) * H + i_h) * K * V
            tl.store(h + hb + ok[:, None] * V + ov[None, :], S.to(h.dtype.element_ty), mask=m_kv)
        un = uc.to(tl.float32) - _mm(wc, S, SDT, SPREC)                  # [64, BV]
        if SAVE:
            tl.store(u + vb + t[:, None] * (H * V) + ov[None, :], un.to(u.dtype.element_ty),
                     mask=mt[:, None] & mv[None, :])
        if OUT:
            qc = tl.load(q + qb + tq[:, None] * (H * K) + ok[None, :], mask=mq[:, None] & mk[None, :],
                         other=0.0)
            vis = _in_words(visible, seg, tq, mq, t // NH, mt, SEG)   # several words in the chunk: within one
            qk = tl.where(vis, _mm(qc, tl.trans(kc), DT, PREC), 0.0)         # [BQ, 64]
            oc = (_mm(qc, S, SDT, SPREC) + _mm(qk, un, SDT, SPREC)) * scale
            tl.store(o + ob + tq[:, None] * (H * V) + ov[None, :], oc.to(o.dtype.element_ty),
                     mask=mq[:, None] & mv[None, :])
        if TLOADS:
            S += _mm(kt, un, SDT, SPREC)
        else:
            S += _mm(tl.trans(kc), un, SDT, SPREC)
    if STORE_HT:
        tl.store(ht + sb + ok[:, None] * V + ov[None, :], S, mask=m_kv)


@triton.jit
def _state_rows(k0, ov, mv, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr):
    """Offsets and mask of rows k0 .. k0 + BK - 1 (masked at K), columns ov, of a [K, V] state."""
    ok = k0 + tl.arange(0, BK)
    return ok[:, None] * V + ov[None, :], (ok < K)[:, None] & mv[None, :]


@triton.jit
def _value_rows(ptr, vb, t, start, end, CS, ov, mv, H, V: tl.constexpr):
    """The [64, BV] tile of a [*, H, V] tensor at chunk rows t (the first CS of them, those in [start,
    end): zeros elsewhere), V-block columns ov."""
    s = tl.arange(0, 64)
    m = (s < CS) & (t >= start) & (t < end)
    return tl.load(ptr + vb + t[:, None] * (H * V) + ov[None, :], mask=m[:, None] & mv[None, :], other=0.0)


@triton.jit
def _state_bwd_step(qc, wc, doc, du, scale, DT: tl.constexpr, PREC: tl.constexpr):
    """One chunk's change of (a key tile of) dS: scale Q^T dO - W^T dUn."""
    return _mm(tl.trans(qc), doc, DT, PREC) * scale - _mm(tl.trans(wc), du, DT, PREC)


@triton.jit
def _state_bwd_step_acc(dS, qt, wt, dos, dun, DT: tl.constexpr, PREC: tl.constexpr):
    """dS + Q^T (scale dO) + W^T (-dUn) accumulated in dS's registers, from Q^T and W^T as operands and
    dO already scaled (rounded to the operand dtype once more, as fla rounds its scaled Q)."""
    return _mm_acc(wt, dun, _mm_acc(qt, dos, dS, DT, PREC), DT, PREC)


@triton.jit
def _state_bwd_step_t(qt, wt, doc, du, scale, DT: tl.constexpr, PREC: tl.constexpr):
    """:func:`_state_bwd_step` from Q^T and W^T as loaded ([BK, rows] tiles, :func:`_key_tile_t`)."""
    return _mm(qt, doc, DT, PREC) * scale - _mm(wt, du, DT, PREC)


@triton.jit
def _state_bwd_kernel(
    q, k, w, do, dun, dh, dht, dh0, cu, coff, T, CS, TPC, NT, scale, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
    BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, HALVES: tl.constexpr, TLOADS: tl.constexpr,
    USE_DHT: tl.constexpr, USE_DH0: tl.constexpr, LOCAL_DU: tl.constexpr, DU_AHEAD: tl.constexpr,
    ACC: tl.constexpr, VARLEN: tl.constexpr, SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """Walk the chunks backwards carrying dS = dL/dS(end of chunk):
    dUn = scale mask(Q K^T)^T dO + K dS;  dS <- dS + scale Q^T dO - W^T dUn.
    With LOCAL_DU the first term is already in dun (_du_local_kernel) and only K dS is added.

    BK is the width of a key tile: the whole padded key width, or with HALVES (state_bwd_khalves) half
    of it, keys BK .. 2 BK - 1 forming a second tile: dS is then carried as two [BK, BV] tiles, K, W and
    Q are loaded in halves, K dS = K_0 dS_0 + K_1 dS_1 (Q K^T likewise) and each half of dS is updated
    with its own halves of Q and W (fla's reverse walk at K = 128).

    With TLOADS (state_bwd_tloads) Q and W are loaded as [BK, rows] tiles, key-major, the operands of
    Q^T dO and W^T dUn as they are (fla's loads), where they are otherwise loaded [rows, BK] and
    transposed in registers; without LOCAL_DU Q is then loaded both ways (Q K^T needs it row-major).

    With DU_AHEAD (state_bwd_du_ahead) the local dUn of the next chunk in the walk is loaded one chunk
    ahead, at the top of the step before, and carried over: Triton's pipeliner leaves that load a
    synchronous one inside the step (offline sm_90 builds, triton 3.9), where K, W, Q and dO are prefetched."""
    i_bh, i_v = tl.program_id(0), tl.program_id(1)
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)       # i_b: the sequence
    bos, eos, nt, boh = _seq_of(cu, coff, i_b, T, NT, TPC, VARLEN)
    s = tl.arange(0, 64)
    r = tl.arange(0, BQ)
    ov = i_v * BV + tl.arange(0, BV)
    mv = ov < V
    visible = s[None, :] < (r[:, None] + 1) * NH
    kb = i_h * K
    vb = i_h * V
    qb = i_h * K
    ob = i_h * V
    sb = (i_b * H + i_h) * K * V
    off0, m0 = _state_rows(0, ov, mv, K, V, BK)                        # keys 0 .. BK - 1
    off1, m1 = _state_rows(BK, ov, mv, K, V, BK)                       # keys BK .. 2 BK - 1 (HALVES)

    dS0 = tl.zeros([BK, BV], dtype=tl.float32)
    dS1 = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_DHT:
        dS0 += tl.load(dht + sb + off0, mask=m0, other=0.0).to(tl.float32)
        if HALVES:
            dS1 += tl.load(dht + sb + off1, mask=m1, other=0.0).to(tl.float32)
    if LOCAL_DU and DU_AHEAD:
        du_next = _value_rows(dun, vb, bos * NH + (nt - 1) * CS + s, bos * NH, eos * NH, CS, ov, mv, H, V)
    for cc in range(nt):
        c = nt - 1 - cc
        t = bos * NH + c * CS + s
        mt = (s < CS) & (t < eos * NH)
        tq = bos + c * TPC + r
        mq = (r < TPC) & (tq < eos)
        if LOCAL_DU and DU_AHEAD:
            du_loc = du_next                                           # this chunk's, loaded a step ago
            du_next = _value_rows(dun, vb, t - CS, bos * NH, eos * NH, CS, ov, mv, H, V)  # chunk c - 1
        kc0 = _key_tile(k, kb, t, mt, 0, H, K, BK)
        if TLOADS:
            wt0 = _key_tile_t(w, kb, t, mt, 0, H, K, BK)
            qt0 = _key_tile_t(q, qb, tq, mq, 0, H, K, BK)
            if not LOCAL_DU:
                qc0 = _key_tile(q, qb, tq, mq, 0, H, K, BK)
        else:
            wc0 = _key_tile(w, kb, t, mt, 0, H, K, BK)
            qc0 = _key_tile(q, qb, tq, mq, 0, H, K, BK)
        doc = tl.load(do + ob + tq[:, None] * (H * V) + ov[None, :], mask=mq[:, None] & mv[None, :], other=0.0)
        hb = ((boh + c) * H + i_h) * K * V
        tl.store(dh + hb + off0, dS0.to(dh.dtype.element_ty), mask=m0)
        kds = _mm(kc0, dS0, DT, PREC)                                   # K dS [64, BV]
        if not LOCAL_DU:
            qk = _mm(qc0, tl.trans(kc0), DT, PREC)                      # Q K^T [BQ, 64]
        if HALVES:
            kc1 = _key_tile(k, kb, t, mt, BK, H, K, BK)
            if TLOADS:
                wt1 = _key_tile_t(w, kb, t, mt, BK, H, K, BK)
                qt1 = _key_tile_t(q, qb, tq, mq, BK, H, K, BK)
                if not LOCAL_DU:
                    qc1 = _key_tile(q, qb, tq, mq, BK, H, K, BK)
            else:
                wc1 = _key_tile(w, kb, t, mt, BK, H, K, BK)
                qc1 = _key_tile(q, qb, tq, mq, BK, H, K, BK)
            tl.store(dh + hb + off1, dS1.to(dh.dtype.element_ty), mask=m1)
            kds += _mm(kc1, dS1, DT, PREC)
            if not LOCAL_DU:
                qk += _mm(qc1, tl.trans(kc1), DT, PREC)
        if LOCAL_DU:
            if not DU_AHEAD:                                            # (the shipped rows' load)
                du_loc = tl.load(dun + vb + t[:, None] * (H * V) + ov[None, :], mask=mt[:, None] & mv[None, :],
                                 other=0.0)
            du = du_loc.to(tl.float32) + kds
        else:
            vis = _in_words(visible, seg, tq, mq, t // NH, mt, SEG)
            du = _mm(tl.trans(tl.where(vis, qk, 0.0)), doc, DT, PREC) * scale + kds
        tl.store(dun + vb + t[:, None] * (H * V) + ov[None, :], du.to(dun.dtype.element_ty),
                 mask=mt[:, None] & mv[None, :])
        if ACC:
            dos = doc * scale
            if TLOADS:
                dS0 = _state_bwd_step_acc(dS0, qt0, wt0, dos, -du, DT, PREC)
                if HALVES:
                    dS1 = _state_bwd_step_acc(dS1, qt1, wt1, dos, -du, DT, PREC)
            else:
                dS0 = _state_bwd_step_acc(dS0, tl.trans(qc0), tl.trans(wc0), dos, -du, DT, PREC)
                if HALVES:
                    dS1 = _state_bwd_step_acc(dS1, tl.trans(qc1), tl.trans(wc1), dos, -du, DT, PREC)
        elif TLOADS:
            dS0 += _state_bwd_step_t(qt0, wt0, doc, du, scale, DT, PREC)
            if HALVES:
                dS1 += _state_bwd_step_t(qt1, wt1, doc, du, scale, DT, PREC)
        else:
            dS0 += _state_bwd_step(qc0, wc0, doc, du, scale, DT, PREC)
            if HALVES:
                dS1 += _state_bwd_step(qc1, wc1, doc, du, scale, DT, PREC)
    if USE_DH0:
        tl.store(dh0 + sb + off0, dS0, mask=m0)
        if HALVES:
            tl.store(dh0 + sb + off1, dS1, mask=m1)


@triton.jit
def _local_scores(q, k, cu, cidx, seg, i_bh, i_c, i_v, T, CS, TPC, NT,
                  H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
                  BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, VARLEN: tl.constexpr,
                  DT: tl.constexpr, PREC: tl.constexpr, KQ: tl.constexpr, SEG: tl.constexpr):
    """The start both parallel kernels share, for one (chunk, V-block): the chunk's query tile Q and
    its causal scores mask(Q K^T) [BQ, 64] (with KQ their transpose mask(K Q^T) [64, BQ], formed as
    such, not transposed in registers), with the row indices and masks of keys (t, mt), queries
    (tq, mq) and values (ov, mv), the head and the chunk's global index."""
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)
    _, i_t, bos, eos, i_g = _chunk_of(cu, cidx, i_b, i_c, T, NT, VARLEN)
    s = tl.arange(0, 64)
    r = tl.arange(0, BQ)
    ok = tl.arange(0, BK)
    ov = i_v * BV + tl.arange(0, BV)
    mk, mv = ok < K, ov < V
    t = bos * NH + i_t * CS + s
    mt = (s < CS) & (t < eos * NH)
    tq = bos + i_t * TPC + r
    mq = (r < TPC) & (tq < eos)
    visible = s[None, :] < (r[:, None] + 1) * NH
    kc = tl.load(k + i_h * K + t[:, None] * (H * K) + ok[None, :], mask=mt[:, None] & mk[None, :], other=0.0)
    qc = tl.load(q + i_h * K + tq[:, None] * (H * K) + ok[None, :], mask=mq[:, None] & mk[None, :], other=0.0)
    if KQ:
        seen = _in_words(s[:, None] < (r[None, :] + 1) * NH, seg, t // NH, mt, tq, mq, SEG)   # within a word
        qk = tl.where(seen, _mm(kc, tl.trans(qc), DT, PREC), 0.0)
    else:
        visible = _in_words(visible, seg, tq, mq, t // NH, mt, SEG)
        qk = tl.where(visible, _mm(qc, tl.trans(kc), DT, PREC), 0.0)
    return qc, qk, i_h, i_g, t, mt, tq, mq, ov, mv


@triton.jit
def _o_fwd_kernel(
    q, k, un, h, o, cu, cidx, T, CS, TPC, NT, scale, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
    BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, VARLEN: tl.constexpr, SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """One (chunk, V-block): O = scale (Q S + mask(Q K^T) Un) from the S and Un the state walk saved."""
    i_v = tl.program_id(2)
    if _spare(cu, cidx, tl.program_id(1), T, NT, CS, NH, VARLEN):
        return
    qc, qk, i_h, i_g, t, mt, tq, mq, ov, mv = _local_scores(
        q, k, cu, cidx, seg, tl.program_id(0), tl.program_id(1), i_v, T, CS, TPC, NT, H, K, V, NH, BQ, BK, BV,
        VARLEN, DT, PREC, False, SEG)
    ok = tl.arange(0, BK)
    unc = tl.load(un + i_h * V + t[:, None] * (H * V) + ov[None, :], mask=mt[:, None] & mv[None, :], other=0.0)
    S = tl.load(h + (i_g * H + i_h) * K * V + ok[:, None] * V + ov[None, :], mask=(ok < K)[:, None] & mv[None, :],
                other=0.0)
    oc = (_mm(qc, S, SDT, SPREC) + _mm(qk, unc, SDT, SPREC)) * scale
    tl.store(o + i_h * V + tq[:, None] * (H * V) + ov[None, :], oc.to(o.dtype.element_ty),
             mask=mq[:, None] & mv[None, :])


@triton.jit
def _du_local_kernel(
    q, k, do, dun, cu, cidx, T, CS, TPC, NT, scale, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
    BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, VARLEN: tl.constexpr, KQ: tl.constexpr,
    SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """One (chunk, V-block): the part of dUn that needs no state, scale mask(Q K^T)^T dO, into dun
    (with KQ, du_local_kq: the scores formed as K Q^T rather than transposed in registers)."""
    if _spare(cu, cidx, tl.program_id(1), T, NT, CS, NH, VARLEN):
        return
    _, sc, i_h, _, t, mt, tq, mq, ov, mv = _local_scores(
        q, k, cu, cidx, seg, tl.program_id(0), tl.program_id(1), tl.program_id(2), T, CS, TPC, NT, H, K, V, NH,
        BQ, BK, BV, VARLEN, DT, PREC, KQ, SEG)
    doc = tl.load(do + i_h * V + tq[:, None] * (H * V) + ov[None, :], mask=mq[:, None] & mv[None, :], other=0.0)
    if KQ:
        du = _mm(sc, doc, DT, PREC) * scale
    else:
        du = _mm(tl.trans(sc), doc, DT, PREC) * scale
    tl.store(dun + i_h * V + t[:, None] * (H * V) + ov[None, :], du.to(dun.dtype.element_ty),
             mask=mt[:, None] & mv[None, :])


@triton.jit
def _grads_bwd_kernel(
    q, k, v, beta, tm, h, dh, un, dun, do, dq, dk, dv, dbeta, dk32, cu, cidx, T, CS, TPC, NT, scale, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr,
    BQ: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, NK: tl.constexpr, NV: tl.constexpr,
    VARLEN: tl.constexpr, SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """One chunk: gradients of q, k, v, beta given S, dS(end), Un and dUn of that chunk.

    Output path: dQ = scale (dO S^T + mask(dO Un^T) K), dK += scale mask(dO Un^T)^T Q.
    State path:  dK += Un dS'^T, dW = -dUn S^T, dU = dUn.
    WY path:     d(bV) = Tm^T dU, d(bK) = Tm^T dW, dTm = dU (bV)^T + dW (bK)^T,
                 dA = strict_lower(-Tm^T dTm Tm^T), A = diag(b) strict_lower(K K^T).
    (With grads_split the same work runs as _grads_qkw_kernel and _wy_bwd_kernel, :mod:`.chunk_grads`.)
    """
    if _spare(cu, cidx, tl.program_id(1), T, NT, CS, NH, VARLEN):
        return
    i_h, i_g, s, t, mt, tq, mq, visible = _grad_rows(
        cu, cidx, seg, tl.program_id(0), tl.program_id(1), T, CS, TPC, NT, H, NH, BQ, VARLEN, SEG)
    kb = i_h * K
    vb = i_h * V
    qb = i_h * K
    ob = i_h * V
    hb = (i_g * H + i_h) * K * V
    bb = i_h

    b, tmc = _chunk_tm(beta, tm, i_h, s, t, mt, H)
    tmt = tl.trans(tmc)
    db = tl.zeros([64], dtype=tl.float32)
    P = tl.zeros([BQ, 64], dtype=tl.float32)
    dTm = tl.zeros([64, 64], dtype=tl.float32)
    # value blocks: dO Un^T, dv, the U part of dTm and dbeta
    for iv in range(NV):
        ov = iv * BV + tl.arange(0, BV)
        mv = ov < V
        doc = tl.load(do + ob + tq[:, None] * (H * V) + ov[None, :], mask=mq[:, None] & mv[None, :], other=0.0)
        unc = tl.load(un + vb + t[:, None] * (H * V) + ov[None, :], mask=mt[:, None] & mv[None, :], other=0.0)
        P += _mm(doc, tl.trans(unc), DT, PREC)
        db_v, dTm_v = _wy_value_grads(v, dun, dv, tmt, b, vb, t, mt, ov, mv, H, V, DT, PREC)
        db += db_v
        dTm += dTm_v
    P = tl.where(visible, P, 0.0) * scale
    KK = tl.zeros([64, 64], dtype=tl.float32)
    dk_acc = tl.zeros([64, BK], dtype=tl.float32)      # the whole dk when NK == 1
    # key blocks: dq, the output/state/W parts of dk, the W part of dTm and dbeta
    for ik in range(NK):
        ok = ik * BK + tl.arange(0, BK)
        mk = ok < K
        qc = tl.load(q + qb + tq[:, None] * (H * K) + ok[None, :], mask=mq[:, None] & mk[None, :], other=0.0)
        kc = tl.load(k + kb + t[:, None] * (H * K) + ok[None, :], mask=mt[:, None] & mk[None, :], other=0.0)
        b_dq = tl.zeros([BQ, BK], dtype=tl.float32)
        b_dk = tl.zeros([64, BK], dtype=tl.float32)
        b_dw = tl.zeros([64, BK], dtype=tl.float32)
        for iv in range(NV):
            doc_v, unc_v, dq_v, dk_v, dw_v = _state_grads(h, dh, do, un, dun, hb, vb, t, mt, tq, mq, ok, mk,
                                                          iv, H, V, BV, DT, PREC)     # its dO, Un: unused
            b_dq += dq_v
            b_dk += dk_v
            b_dw += dw_v
        b_dq = b_dq * scale + _mm(P, kc, DT, PREC)
        tl.store(dq + qb + tq[:, None] * (H * K) + ok[None, :], b_dq.to(dq.dtype.element_ty),
                 mask=mq[:, None] & mk[None, :])
        dbk, db_k, dTm_k = _wy_key_grads(tmt, b_dw, kc, b, DT, PREC)   # d(b K)
        b_dk += _mm(tl.trans(P), qc, DT, PREC) + dbk * b[:, None]
        db += db_k
        dTm += dTm_k
        KK += _mm(kc, tl.trans(kc), DT, PREC)
        if NK == 1:
            dk_acc = b_dk
        else:
            tl.store(dk32 + kb + t[:, None] * (H * K) + ok[None, :], b_dk, mask=mt[:, None] & mk[None, :])
    # through the inverse: dA = -Tm^T dTm Tm^T on the strict lower triangle
    dA = _inverse_grad(tmc, dTm, s, t, mt, seg, NH, PREC_C, SEG)
    db += tl.sum(dA * KK, 1)
    M = dA * b[:, None]
    M = M + tl.trans(M)                                                # dK += (M + M^T) K
    if NK == 1:
        ok = tl.arange(0, BK)
        mk = ok < K
        kc = tl.load(k + kb + t[:, None] * (H * K) + ok[None, :], mask=mt[:, None] & mk[None, :], other=0.0)
        dk_acc += _mm(M, kc, DT, PREC)
        tl.store(dk + kb + t[:, None] * (H * K) + ok[None, :], dk_acc.to(dk.dtype.element_ty),
                 mask=mt[:, None] & mk[None, :])
    else:
        tl.debug_barrier()
        for ik in range(NK):
            ok = ik * BK + tl.arange(0, BK)
            mk = ok < K
            m_tk = mt[:, None] & mk[None, :]
            kc = tl.load(k + kb + t[:, None] * (H * K) + ok[None, :], mask=m_tk, other=0.0)
            b_dk = tl.load(dk32 + kb + t[:, None] * (H * K) + ok[None, :], mask=m_tk, other=0.0)
            b_dk += _mm(M, kc, DT, PREC)
            tl.store(dk + kb + t[:, None] * (H * K) + ok[None, :], b_dk.to(dk.dtype.element_ty), mask=m_tk)
    tl.store(dbeta + bb + t * H, db.to(dbeta.dtype.element_ty), mask=mt)


# ----------------------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------------------

_TL_DTYPE = {torch.float32: tl.float32, torch.bfloat16: tl.bfloat16, torch.float16: tl.float16}

def _precision(dtype: torch.dtype, cfg: dict):
    """Operand dtype and precision of the products: (DT, PREC) in general, PREC_C for the C x C
    products through the inverse, (SDT, SPREC) on the state path (W, U, Un and the products with S).

    float32 inputs use float32 operands everywhere, at cfg["fp32_precision"] on the state path and
    cfg["fp32_intra_precision"] elsewhere. 16-bit inputs feed the tensor cores in their own dtype,
    except on the state path when cfg["state_precision"] is "tf32": there W and U are kept in float32
    and S, Un are not rounded to 16 bits, which removes the rounding that otherwise compounds from
    chunk to chunk through the recurrence.
    """
    if dtype == torch.float32:
        p, pi = cfg["fp32_precision"], cfg["fp32_intra_precision"]
        return tl.float32, pi, p, tl.float32, p
    dt = _TL_DTYPE[dtype]
    if cfg["state_precision"] == "tf32":
        return dt, "tf32", "tf32", tl.float32, "tf32"
    return dt, "tf32", "tf32", dt, "tf32"


def _geometry(T: int, n_h: int, K: int, V: int, cfg: dict) -> dict:
    tpc = BT // n_h if n_h <= BT else 1          # tokens per chunk
    if n_h > BT:
        raise ValueError(f"n_h = {n_h} > {BT} sub-steps per token is not supported by the chunk kernels")
    cs = tpc * n_h                                # sub-steps per chunk
    bk = next_pow2(K)
    bv = next_pow2(V)
    mb = cfg["min_block"]
    return dict(TPC=tpc, CS=cs, NT=cdiv(T, tpc), BQ=max(mb, next_pow2(tpc)),
                BK=max(mb, bk), BV=max(mb, bv))


#: chunk programs of one packed call (CUDA grid axis 1)
MAX_CHUNKS = 65_535


def _chunk_plan(B: int, T: int, tpc: int, cu_seqlens, shared: bool = False):
    """Where the chunks are: (N sequences, chunks per batch row NT, chunk programs per batch row,
    chunk table [chunks, 2] int32 (sequence, chunk within it) or None, first chunk of each sequence
    [N + 1] int32 or None, rows of h).

    Without cu_seqlens every batch row is one sequence of T tokens cut into NT chunks; with it (B = 1)
    sequence n owns ceil(len_n / tpc) chunks, none shared with its neighbours. The packed table is sized
    from the shapes alone, not from the lengths, so the plan needs no host sync and a CUDA graph can
    capture it: sum ceil(len_n / tpc) <= (T + N (tpc - 1)) / tpc, and <= T (a chunk holds a token). Rows
    past the real chunks continue the last sequence beyond its end: the chunk-parallel kernels' programs
    there return at once (``chunk_tiles._spare``), and the walks, which go by sequence, never reach them.
    Where that bound passes the grid's 65,535 chunk programs outside a capture, the table takes the exact
    count instead (one read-back). With ``shared`` the sequences are the chunks of :func:`word_chunks`, at
    most tpc tokens each and next-fit, so any two in a row hold more than tpc tokens: at most 2 T / tpc + 1.
    """
    if cu_seqlens is None:
        NT = cdiv(T, tpc)
        return B, NT, NT, None, None, B * NT
    N = cu_seqlens.shape[0] - 1
    cu = cu_seqlens.to(torch.int64)
    nts = (cu[1:] - cu[:-1] + tpc - 1) // tpc
    first = torch.cat([nts.new_zeros(1), nts.cumsum(0)])
    rows = max(1, min(T, (T + N * (tpc - 1)) // tpc, 2 * T // tpc + 1 if shared else T))
    in_capture = capturing(cu)
    if rows > MAX_CHUNKS and not in_capture:
        rows = int(first[-1])
    if rows > MAX_CHUNKS:
        raise KernelArgumentError(
            f"packed input of {T} tokens in {N} sequences {'may need' if in_capture else 'needs'} {rows} "
            f"chunks: the chunk backend allows {MAX_CHUNKS:,} per call; split the batch")
    row = torch.arange(rows, device=cu.device)
    seq = torch.searchsorted(first[1:], row, right=True).clamp_(max=N - 1)
    cidx = torch.stack([seq, row - first[seq]], 1).to(torch.int32).contiguous()
    return N, 0, rows, cidx, first.to(torch.int32).contiguous(), rows


def word_chunks(cu_seqlens: torch.Tensor, T: int, tpc: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole sequences ("words") of at most ``tpc`` tokens packed into chunks, in order, next-fit: a word
    starts a new chunk where it does not fit the current one. Returns the chunks as sequences of their
    own, offsets [N + 1] int32 (the chunks first, then empty ones up to N), and each token's word [T]
    int32, with which the kernels keep the words of a chunk apart (``_word_pairs``).

    Next-fit is sequential, but each word is a map of the fill before it to the fill after it (x + len
    where that fits, else len), and maps compose: an inclusive scan over the words (log2 N rounds of
    gathers on [N, tpc + 1]) gives the fill before every word, with no host sync, so a CUDA graph can
    capture it. Next-fit leaves fewer than 2 T / tpc + 1 chunks."""
    cu = cu_seqlens.to(torch.int64)
    N = cu.shape[0] - 1
    L = (cu[1:] - cu[:-1]).clamp(max=tpc)            # over tpc: refused before (max_seqlen), kept in range here
    x = torch.arange(tpc + 1, device=cu.device)
    fits = x[None, :] + L[:, None] <= tpc
    maps = torch.where(fits, x[None, :] + L[:, None], L[:, None])        # [N, tpc + 1]
    d = 1
    while d < N:                                     # maps[w] <- maps[w] o maps[w - d]
        maps = torch.cat([maps[:d], torch.gather(maps[d:], 1, maps[:-d])])
        d *= 2
    # the first word starts a chunk (a tensor op: an indexed store of a Python value copies from the host,
    # which a CUDA graph capture refuses)
    start = torch.cat([torch.ones(1, dtype=torch.bool, device=cu.device), maps[:-1, 0] + L[1:] > tpc])
    chunk = start.cumsum(0) - 1
    offs = torch.full((N + 2,), T, dtype=torch.int64, device=cu.device)
    offs.scatter_(0, torch.where(start, chunk, N + 1), cu[:-1])          # non-starts into a spare slot
    word = torch.searchsorted(cu[1:], torch.arange(T, device=cu.device), right=True)
    return offs[:N + 1].to(torch.int32), word.to(torch.int32)


def call_config(q, n_h, cu_seqlens=None) -> dict:
    """The launch settings of one call (:func:`launch_config` at its K, tokens per sequence, dtype, n_h)."""
    B, T, H, K = q.shape
    return launch_config(K, T if cu_seqlens is None else T // max(1, len(cu_seqlens) - 1), q.dtype, n_h)


def chunk_fwd(q, k, v, beta, scale, initial_state, output_final_state, n_h, save, cu_seqlens=None, cfg=None,
              seg=None):
    """Forward pass on the flattened layout: q [B, T, H, K], k [B, T*n_h, H, K], v [B, T*n_h, H, V],
    beta [B, T*n_h, H] (B = 1 with cu_seqlens). Returns o, the final state [N, H, K, V] and the
    tensors the backward pass needs. cfg: the call's launch settings (None: :func:`call_config`).
    seg: each token's word where the sequences of cu_seqlens are chunks holding several words
    (:func:`word_chunks`; no initial or final state then)."""
    B, T, H, K = q.shape
    Tn, V = k.shape[1], v.shape[-1]
    cfg = call_config(q, n_h, cu_seqlens) if cfg is None else cfg
    g = _geometry(T, n_h, K, V, cfg)
    DT, PREC, PREC_C, SDT, SPREC = _precision(q.dtype, cfg)
    N, NT, NC, cidx, coff, total = _chunk_plan(B, T, g["TPC"], cu_seqlens, seg is not None)
    varlen = cu_seqlens is not None
    prec = dict(DT=DT, PREC=PREC, PREC_C=PREC_C, SDT=SDT, SPREC=SPREC)
    words = dict(seg=seg, SEG=seg is not None)
    wide = SDT == tl.float32                      # state path in float32: W, U (then Un) stored so
    w = torch.empty(k.shape, device=q.device, dtype=torch.float32 if wide else q.dtype)
    u = torch.empty(v.shape, device=q.device, dtype=torch.float32 if wide else q.dtype)
    tm = torch.empty(B, Tn, H, BT, device=q.device, dtype=q.dtype)
    inv = cfg["wy_inverse"]
    # W and U from Tm as stored (64-row products) only where tm holds the state path's operand dtype, so
    # that they round Tm as the block products do
    dense = _TL_DTYPE[tm.dtype] == SDT
    split_wu = cfg["wy_split"] and dense
    # scratch of the row loads: -A's four diagonal 16 x 16 blocks per chunk program, float32 (without
    # them the kernel never touches it: w stands in, no allocation)
    ascr = torch.empty(B * H * NC * 1024, device=q.device, dtype=torch.float32) if inv == "fused_loads" else w
    _wy_fwd_kernel[(B * H, NC)](
        k, v, beta, w, u, tm, ascr, cu_seqlens, cidx, T, NT, g["CS"], H=H, K=K, V=V, NH=n_h, BK=g["BK"],
        BV=g["BV"], VARLEN=varlen, INV_FUSED=inv != "serial", INV_LOADS=inv == "fused_loads",
        DENSE_WU=cfg["wy_dense_wu"] and dense, WU=not split_wu, **words, **prec,
        num_warps=cfg["wy_warps"],
    )
    if split_wu:
        _wu_fwd_kernel[(B * H, NC)](
            k, v, beta, w, u, tm, cu_seqlens, cidx, T, NT, g["CS"], H=H, K=K, V=V, NH=n_h, BK=g["BK"],
            BV=g["BV"], VARLEN=varlen, SDT=SDT, SPREC=SPREC, num_warps=cfg["wu_warps"],
        )
    split = cfg["split_o"]
    bv = max(min(g["BV"], cfg["state_bv"]), 16)
    o = torch.empty(B, T, H, V, device=q.device, dtype=q.dtype)
    h = torch.empty(total, H, K, V, device=q.device, dtype=q.dtype) if (save or split) else None
    ht = torch.empty(N, H, K, V, device=q.device, dtype=torch.float32) if output_final_state else None
    _state_fwd_kernel[(N * H, cdiv(V, bv))](
        q, k, w, u, o, h, initial_state, ht, cu_seqlens, coff, T, g["CS"], g["TPC"], NT, scale,
        H=H, K=K, V=V, NH=n_h, BQ=g["BQ"], BK=g["BK"], BV=bv, USE_H0=initial_state is not None,
        STORE_HT=output_final_state, SAVE=save or split, OUT=not split, VARLEN=varlen,
        TLOADS=cfg["state_fwd_tloads"], **words, **prec, num_warps=cfg["state_warps"],
        num_stages=cfg["state_stages"],
    )
    if split:
        bvo = min(g["BV"], cfg["par_bv"])
        _o_fwd_kernel[(B * H, NC, cdiv(V, bvo))](
            q, k, u, h, o, cu_seqlens, cidx, T, g["CS"], g["TPC"], NT, scale, H=H, K=K, V=V, NH=n_h,
            BQ=g["BQ"], BK=g["BK"], BV=bvo, VARLEN=varlen, **words, **prec, num_warps=cfg["par_warps"],
        )
    return o, ht, (w, u, tm, h)


def chunk_bwd(q, k, v, beta, scale, initial_state, saved, do, dht, n_h, cu_seqlens=None, cfg=None, seg=None):
    """Backward pass matching :func:`chunk_fwd`; returns dq, dk, dv, dbeta, dh0 (flattened layout). cfg:
    the forward's launch settings (the saved tensors' dtypes follow them; None: :func:`call_config`);
    seg: as the forward's."""
    w, un, tm, h = saved
    B, T, H, K = q.shape
    V = v.shape[-1]
    cfg = call_config(q, n_h, cu_seqlens) if cfg is None else cfg
    g = _geometry(T, n_h, K, V, cfg)
    DT, PREC, PREC_C, SDT, SPREC = _precision(q.dtype, cfg)
    N, NT, NC, cidx, coff, total = _chunk_plan(B, T, g["TPC"], cu_seqlens, seg is not None)
    varlen = cu_seqlens is not None
    prec = dict(DT=DT, PREC=PREC, PREC_C=PREC_C, SDT=SDT, SPREC=SPREC)
    words = dict(seg=seg, SEG=seg is not None)
    bv = min(g["BV"], cfg["state_bwd_bv"])
    dh = torch.empty_like(h)
    dun = torch.empty_like(v)
    dh0 = torch.empty(N, H, K, V, device=q.device, dtype=torch.float32) if initial_state is not None else None
    if cfg["split_du"]:
        bvd = min(g["BV"], cfg["par_bv"])
        _du_local_kernel[(B * H, NC, cdiv(V, bvd))](
            q, k, do, dun, cu_seqlens, cidx, T, g["CS"], g["TPC"], NT, scale, H=H, K=K, V=V, NH=n_h,
            BQ=g["BQ"], BK=g["BK"], BV=bvd, VARLEN=varlen, KQ=cfg["du_local_kq"], **words, **prec,
            num_warps=cfg["par_warps"],
        )
    halves = cfg["state_bwd_khalves"] and g["BK"] == 128      # dS in two 64-row tiles
    _state_bwd_kernel[(N * H, cdiv(V, bv))](
        q, k, w, do, dun, dh, dht, dh0, cu_seqlens, coff, T, g["CS"], g["TPC"], NT, scale,
        H=H, K=K, V=V, NH=n_h, BQ=g["BQ"], BK=g["BK"] // 2 if halves else g["BK"], BV=bv, HALVES=halves,
        TLOADS=cfg["state_bwd_tloads"], USE_DHT=dht is not None, USE_DH0=dh0 is not None,
        LOCAL_DU=cfg["split_du"], DU_AHEAD=cfg["state_bwd_du_ahead"], ACC=cfg["state_bwd_acc"],
        VARLEN=varlen, **words, **prec,
        num_warps=cfg["state_bwd_warps"], num_stages=cfg["state_bwd_stages"],
    )
    bk2, bv2 = min(g["BK"], cfg["grads_bk"]), min(g["BV"], cfg["grads_bv"])
    nk, nv = cdiv(K, bk2), cdiv(V, bv2)
    dq = torch.empty_like(q)
    dk = torch.empty_like(k)
    dv = torch.empty_like(v)
    dbeta = torch.empty_like(beta)          # each element stored once, rounded there from float32
    launch = dict(H=H, K=K, V=V, NH=n_h, BQ=g["BQ"], BK=bk2, BV=bv2, NV=nv, VARLEN=varlen, **words, **prec,
                  num_warps=cfg["grads_warps"], num_stages=cfg["grads_stages"])
    if cfg["grads_split"]:
        # dk's output and state parts and dW, from the (chunk, K-block) programs to the WY ones
        scratch = cfg["grads_scratch"]
        narrow = q.dtype if q.dtype in (torch.bfloat16, torch.float16) else torch.float32
        dkp = torch.empty(k.shape, device=q.device, dtype=narrow if scratch == "16bit" else torch.float32)
        dw = torch.empty(k.shape, device=q.device, dtype=torch.float32 if scratch == "float32" else narrow)
        kfirst = cfg["grads_kfirst"]
        _grads_qkw_kernel[(nk, B * H, NC) if kfirst else (B * H, NC, nk)](
            q, k, h, dh, un, dun, do, dq, dkp, dw, cu_seqlens, cidx, T, g["CS"], g["TPC"], NT, scale,
            KFIRST=kfirst, **launch)
        _wy_bwd_kernel[(B * H, NC)](
            k, v, beta, tm, dun, dkp, dw, dk, dv, dbeta, cu_seqlens, cidx, T, g["CS"], g["TPC"], NT, NK=nk,
            **dict(launch, num_warps=cfg["wy_bwd_warps"], num_stages=cfg["wy_bwd_stages"]))
        return dq, dk, dv, dbeta, dh0
    dk32 = torch.empty(k.shape, device=q.device, dtype=torch.float32) if nk > 1 else None
    _grads_bwd_kernel[(B * H, NC)](
        q, k, v, beta, tm, h, dh, un, dun, do, dq, dk, dv, dbeta, dk32, cu_seqlens, cidx, T, g["CS"],
        g["TPC"], NT, scale, NK=nk, **launch)
    return dq, dk, dv, dbeta, dh0


# ----------------------------------------------------------------------------------------------
# Autograd
# ----------------------------------------------------------------------------------------------

class ChunkHouseholderFunction(torch.autograd.Function):
    """Autograd for the flattened n_h-sub-step recurrence (n_h = 1: the delta rule)."""

    @staticmethod
    def forward(ctx, q, k, v, beta, scale, initial_state, output_final_state, n_h, cu_seqlens, shared):
        h0 = None if initial_state is None else initial_state.detach().to(torch.float32).contiguous()
        save = any(ctx.needs_input_grad[i] for i in (0, 1, 2, 3, 5))
        # one set of launch settings for both passes: the saved W, U dtypes and Tm's use follow them, so a
        # setting changed between the forward and the backward (a forced_launch left) must not reach it
        cfg = call_config(q, n_h, cu_seqlens)
        seg = None
        if shared:                  # words share chunks: the chunks become the sequences
            cu_seqlens, seg = word_chunks(cu_seqlens, q.shape[1], BT // n_h)
        o, ht, saved = chunk_fwd(q, k, v, beta, scale, h0, output_final_state, n_h, save, cu_seqlens, cfg, seg)
        if save:
            ctx.save_for_backward(q, k, v, beta, h0, cu_seqlens, seg, *saved)
        ctx.scale, ctx.n_h, ctx.h0_dtype = scale, n_h, None if initial_state is None else initial_state.dtype
        ctx.cfg = cfg
        return o, ht

    @staticmethod
    def backward(ctx, do, dht):
        q, k, v, beta, h0, cu_seqlens, seg, w, un, tm, h = ctx.saved_tensors
        dq, dk, dv, dbeta, dh0 = chunk_bwd(
            q, k, v, beta, ctx.scale, h0, (w, un, tm, h), do.contiguous(),
            None if dht is None else dht.contiguous(), ctx.n_h, cu_seqlens, ctx.cfg, seg,
        )
        if dh0 is not None:
            dh0 = dh0.to(ctx.h0_dtype)
        return dq, dk, dv, dbeta, None, dh0, None, None, None, None


def chunk_householder(q, k, v, beta, scale, initial_state, output_final_state, n_h, cu_seqlens=None,
                      max_seqlen=None):
    """Shared entry for delta rule and DeltaProduct on the flattened [B, T*n_h, H, *] layout
    (``cu_seqlens`` counts tokens, B = 1). Sequences share chunks where ``max_seqlen`` says they fit one
    (tokens per chunk: 64 // n_h) and no state goes in or out (a shared chunk has no per-word states)."""
    if q.shape[-1] > MAX_K:
        raise KernelArgumentError(
            f"the chunk backend holds a whole key row per tile and supports K <= {MAX_K} (got "
            f"K = {q.shape[-1]}); use backend='fused_recurrent' for wider keys"
        )
    q, k, v, beta = (x.contiguous() for x in (q, k, v, beta))
    if cu_seqlens is not None:
        cu_seqlens = cu_seqlens.contiguous()
    shared = (cu_seqlens is not None and max_seqlen is not None and max_seqlen <= BT // n_h
              and initial_state is None and not output_final_state)
    o, ht = ChunkHouseholderFunction.apply(q, k, v, beta, scale, initial_state, output_final_state, n_h,
                                           cu_seqlens, shared)
    return o, (ht if output_final_state else None)


# ----------------------------------------------------------------------------------------------
# Public function
# ----------------------------------------------------------------------------------------------

def chunk_delta_rule(
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
    """Chunked delta rule, ``S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T``, beta in [0, 2].

    Args:
        q, k: ``[B, T, H, K]``; v: ``[B, T, H, V]``; beta: ``[B, T, H]``; all float32, bfloat16
            or float16 (q, k, v alike) on a CUDA device (or on the CPU under ``TRITON_INTERPRET=1``).
        scale: output scale, ``None`` for ``K ** -0.5``.
        initial_state: ``[B, H, K, V]`` (float32) or None.
        output_final_state: also return ``S_T`` ``[B, H, K, V]`` float32.
        cu_seqlens: packed sequences (B = 1, int ``[N + 1]``); states are then ``[N, H, K, V]``.
        max_seqlen: with cu_seqlens, the longest sequence's tokens, if known: at most 64 and with no
            initial or final state, sequences then share chunks (:func:`word_chunks`) instead of each
            owning a partly empty one. The caller vouches for it inside a CUDA graph capture.

    Returns:
        ``(o [B, T, H, V] in the input dtype, S_T or None)``; differentiable in q, k, v, beta and
        initial_state.

    Example:
        >>> import torch.nn.functional as F
        >>> q = torch.randn(8, 2048, 8, 64, device="cuda", dtype=torch.bfloat16)
        >>> k = F.normalize(torch.randn_like(q, dtype=torch.float32), dim=-1).to(q.dtype)
        >>> v = torch.randn_like(q)
        >>> beta = 2 * torch.rand(8, 2048, 8, device="cuda", dtype=torch.bfloat16)
        >>> o, S = chunk_delta_rule(q, k, v, beta, output_final_state=True)
    """
    return chunk_householder(q, k, v, beta, resolve_scale(scale, q.shape[-1]), initial_state,
                             output_final_state, 1, cu_seqlens, max_seqlen)
