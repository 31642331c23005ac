"""The chunk's transitions as one block (WY / UT form), parallel over chunks: A = diag(b) strict_lower(K K^T),
Tm = (I + A)^{-1} from 16 x 16 diagonal inverses by forward substitution merged with small products, and
W = Tm diag(b) K, U = Tm diag(b) V (see :mod:`.chunk` for the whole scheme); Tm is kept for the backward.
With the launch setting ``wy_split`` W and U are formed by ``_wu_fwd_kernel`` instead, from the stored Tm."""
from __future__ import annotations

import triton
import triton.language as tl

from statetrack.kernels.delta_rule.chunk_tiles import (_chunk_of, _chunk_tm, _load_rows16, _mm, _mm32, _spare,
                                                       _store_rows16, _store_tm16, _word_pairs)


@triton.jit
def _unit_lower_inverse16(A):
    """Strict lower part Y of (I + A)^{-1} for a strictly lower 16 x 16 A, by forward substitution.

    Row r of Y is -A[r] - sum_{j<r} A[r, j] Y[j]; rows are filled top-down in place.
    """
    o = tl.arange(0, 16)
    Y = -A
    for r in range(1, 16):
        sel = (o == r)[:, None]
        a = tl.sum(tl.where(sel, Y, 0.0), 0)                 # row r, still -A[r]
        a = a + tl.sum(a[:, None] * Y, 0)                    # rows j >= r carry weight a[j] = 0
        Y = tl.where(sel, a[None, :], Y)
    return Y


@triton.jit
def _unit_lower_inverse16x4(A0, A1, A2, A3, scr, sb, LOADS: tl.constexpr):
    """:func:`_unit_lower_inverse16` of four blocks in one loop: four independent substitution chains
    per step, where four loops one after the other leave each step's reductions waiting on the last.

    With LOADS, row r of each block is read from memory at step r (it is still -A[r] then): -A is stored
    to the scratch slot ``scr + sb`` (4 x 16 x 16 float32) first, which leaves each step one reduction
    instead of two."""
    o = tl.arange(0, 16)
    if LOADS:
        idx = o[:, None] * 16 + o[None, :]
        tl.store(scr + sb + idx, -A0)
        tl.store(scr + sb + 256 + idx, -A1)
        tl.store(scr + sb + 512 + idx, -A2)
        tl.store(scr + sb + 768 + idx, -A3)
        tl.debug_barrier()                        # rows stored by other threads are read below
    Y0, Y1, Y2, Y3 = -A0, -A1, -A2, -A3
    for r in range(1, 16):
        sel = (o == r)[:, None]
        if LOADS:
            a0 = tl.load(scr + sb + r * 16 + o)
            a1 = tl.load(scr + sb + 256 + r * 16 + o)
            a2 = tl.load(scr + sb + 512 + r * 16 + o)
            a3 = tl.load(scr + sb + 768 + r * 16 + o)
        else:
            a0 = tl.sum(tl.where(sel, Y0, 0.0), 0)
            a1 = tl.sum(tl.where(sel, Y1, 0.0), 0)
            a2 = tl.sum(tl.where(sel, Y2, 0.0), 0)
            a3 = tl.sum(tl.where(sel, Y3, 0.0), 0)
        a0 = a0 + tl.sum(a0[:, None] * Y0, 0)
        a1 = a1 + tl.sum(a1[:, None] * Y1, 0)
        a2 = a2 + tl.sum(a2[:, None] * Y2, 0)
        a3 = a3 + tl.sum(a3[:, None] * Y3, 0)
        Y0 = tl.where(sel, a0[None, :], Y0)
        Y1 = tl.where(sel, a1[None, :], Y1)
        Y2 = tl.where(sel, a2[None, :], Y2)
        Y3 = tl.where(sel, a3[None, :], Y3)
    return Y0, Y1, Y2, Y3


@triton.jit
def _wu_blocks(out, y0, y1, y2, y3, x00, x10, x11, x20, x21, x22, x30, x31, x32, x33,
               base, t0, CS, end, H, D: tl.constexpr, BD: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr):
    """out = Tm Y for a chunk's rows, block row by block row from the lower blocks x_ij of Tm held in
    registers; y_i are the 16-row blocks of Y = diag(b) K (or V)."""
    _store_rows16(out, _mm(x00, y0, SDT, SPREC), base, t0, 0, CS, end, H, D, BD)
    _store_rows16(out, _mm(x10, y0, SDT, SPREC) + _mm(x11, y1, SDT, SPREC), base, t0, 1, CS, end, H, D, BD)
    _store_rows16(out, _mm(x20, y0, SDT, SPREC) + _mm(x21, y1, SDT, SPREC) + _mm(x22, y2, SDT, SPREC),
                  base, t0, 2, CS, end, H, D, BD)
    _store_rows16(out, _mm(x30, y0, SDT, SPREC) + _mm(x31, y1, SDT, SPREC) + _mm(x32, y2, SDT, SPREC)
                  + _mm(x33, y3, SDT, SPREC), base, t0, 3, CS, end, H, D, BD)


@triton.jit
def _wu_dense(x, out, tm, beta, xb, bb, t0, CS, end, H, D: tl.constexpr, BD: tl.constexpr,
              SDT: tl.constexpr, SPREC: tl.constexpr):
    """out = Tm diag(b) x for a chunk's rows as one [64, 64] x [64, BD] product: Tm read back from tm
    (its lower triangle; the blocks above the diagonal are never written there)."""
    r = tl.arange(0, 64)
    m = (r < CS) & (t0 + r < end)
    od = tl.arange(0, BD)
    b, tmt = _chunk_tm(beta, tm, bb, r, t0 + r, m, H)
    xm = m[:, None] & (od < D)[None, :]
    xt = tl.load(x + xb + (t0 + r)[:, None] * (H * D) + od[None, :], mask=xm, other=0.0)
    y = _mm(tmt, xt * b[:, None], SDT, SPREC)
    tl.store(out + xb + (t0 + r)[:, None] * (H * D) + od[None, :], y.to(out.dtype.element_ty), mask=xm)


@triton.jit
def _word_rows16(t0, i: tl.constexpr, CS, Tn, NH: tl.constexpr):
    """The tokens of sub-step rows t0 + 16 i .. t0 + 16 i + 15 of a chunk and their mask (for _word_pairs)."""
    r = 16 * i + tl.arange(0, 16)
    return (t0 + r) // NH, (r < CS) & (t0 + r < Tn)


@triton.jit
def _wy_fwd_kernel(
    k, v, beta, w, u, tm, ascr, cu, cidx, T, NT, CS, seg,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    VARLEN: tl.constexpr, INV_FUSED: tl.constexpr, INV_LOADS: tl.constexpr, DENSE_WU: tl.constexpr,
    WU: tl.constexpr, SEG: tl.constexpr,
    DT: tl.constexpr, PREC: tl.constexpr, PREC_C: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    i_bh, i_c = tl.program_id(0), tl.program_id(1)
    if _spare(cu, cidx, i_c, T, NT, CS, NH, VARLEN):
        return
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)
    _, i_t, bos, eos, _ = _chunk_of(cu, cidx, i_b, i_c, T, NT, VARLEN)
    t0 = bos * NH + i_t * CS                      # first sub-step row of the chunk
    Tn = eos * NH                                 # end of its sequence, in sub-step rows
    kb = i_h * K
    vb = i_h * V
    bb = i_h
    tb = i_h * 64

    k0, b0 = _load_rows16(k, beta, kb, bb, t0, 0, CS, Tn, H, K, BK)
    k1, b1 = _load_rows16(k, beta, kb, bb, t0, 1, CS, Tn, H, K, BK)
    k2, b2 = _load_rows16(k, beta, kb, bb, t0, 2, CS, Tn, H, K, BK)
    k3, b3 = _load_rows16(k, beta, kb, bb, t0, 3, CS, Tn, H, K, BK)

    o = tl.arange(0, 16)
    strict = o[:, None] > o[None, :]
    eye = (o[:, None] == o[None, :]).to(tl.float32)
    # A_ij = diag(b_i) K_i K_j^T, blocks on and below the diagonal
    a00 = tl.where(strict, _mm(k0, tl.trans(k0), DT, PREC) * b0[:, None], 0.0)
    a11 = tl.where(strict, _mm(k1, tl.trans(k1), DT, PREC) * b1[:, None], 0.0)
    a22 = tl.where(strict, _mm(k2, tl.trans(k2), DT, PREC) * b2[:, None], 0.0)
    a33 = tl.where(strict, _mm(k3, tl.trans(k3), DT, PREC) * b3[:, None], 0.0)
    a10 = _mm(k1, tl.trans(k0), DT, PREC) * b1[:, None]
    a20 = _mm(k2, tl.trans(k0), DT, PREC) * b2[:, None]
    a21 = _mm(k2, tl.trans(k1), DT, PREC) * b2[:, None]
    a30 = _mm(k3, tl.trans(k0), DT, PREC) * b3[:, None]
    a31 = _mm(k3, tl.trans(k1), DT, PREC) * b3[:, None]
    a32 = _mm(k3, tl.trans(k2), DT, PREC) * b3[:, None]
    if SEG:     # several words in the chunk (seg: each token's word): A only within a word
        r0, m0 = _word_rows16(t0, 0, CS, Tn, NH)
        r1, m1 = _word_rows16(t0, 1, CS, Tn, NH)
        r2, m2 = _word_rows16(t0, 2, CS, Tn, NH)
        r3, m3 = _word_rows16(t0, 3, CS, Tn, NH)
        a00 = tl.where(_word_pairs(seg, r0, m0, r0, m0), a00, 0.0)
        a11 = tl.where(_word_pairs(seg, r1, m1, r1, m1), a11, 0.0)
        a22 = tl.where(_word_pairs(seg, r2, m2, r2, m2), a22, 0.0)
        a33 = tl.where(_word_pairs(seg, r3, m3, r3, m3), a33, 0.0)
        a10 = tl.where(_word_pairs(seg, r1, m1, r0, m0), a10, 0.0)
        a20 = tl.where(_word_pairs(seg, r2, m2, r0, m0), a20, 0.0)
        a21 = tl.where(_word_pairs(seg, r2, m2, r1, m1), a21, 0.0)
        a30 = tl.where(_word_pairs(seg, r3, m3, r0, m0), a30, 0.0)
        a31 = tl.where(_word_pairs(seg, r3, m3, r1, m1), a31, 0.0)
        a32 = tl.where(_word_pairs(seg, r3, m3, r2, m2), a32, 0.0)

    # diagonal blocks of Tm = (I + A)^{-1}, then the blocks below: X_ij = -X_ii sum_m A_im X_mj
    if INV_FUSED:
        sb = (i_bh.to(tl.int64) * tl.num_programs(1) + i_c) * 1024     # this program's scratch slot
        y00, y11, y22, y33 = _unit_lower_inverse16x4(a00, a11, a22, a33, ascr, sb, INV_LOADS)
        x00, x11, x22, x33 = y00 + eye, y11 + eye, y22 + eye, y33 + eye
    else:
        x00 = _unit_lower_inverse16(a00) + eye
        x11 = _unit_lower_inverse16(a11) + eye
        x22 = _unit_lower_inverse16(a22) + eye
        x33 = _unit_lower_inverse16(a33) + eye
    x10 = -_mm32(x11, _mm32(a10, x00, "ieee"), "ieee")
    x21 = -_mm32(x22, _mm32(a21, x11, "ieee"), "ieee")
    x32 = -_mm32(x33, _mm32(a32, x22, "ieee"), "ieee")
    x20 = -_mm32(x22, _mm32(a20, x00, "ieee") + _mm32(a21, x10, "ieee"), "ieee")
    x31 = -_mm32(x33, _mm32(a31, x11, "ieee") + _mm32(a32, x21, "ieee"), "ieee")
    x30 = -_mm32(x33, _mm32(a30, x00, "ieee") + _mm32(a31, x10, "ieee") + _mm32(a32, x20, "ieee"), "ieee")

    _store_tm16(tm, x00, tb, t0, 0, 0, CS, Tn, H)
    _store_tm16(tm, x10, tb, t0, 1, 0, CS, Tn, H)
    _store_tm16(tm, x11, tb, t0, 1, 1, CS, Tn, H)
    _store_tm16(tm, x20, tb, t0, 2, 0, CS, Tn, H)
    _store_tm16(tm, x21, tb, t0, 2, 1, CS, Tn, H)
    _store_tm16(tm, x22, tb, t0, 2, 2, CS, Tn, H)
    _store_tm16(tm, x30, tb, t0, 3, 0, CS, Tn, H)
    _store_tm16(tm, x31, tb, t0, 3, 1, CS, Tn, H)
    _store_tm16(tm, x32, tb, t0, 3, 2, CS, Tn, H)
    _store_tm16(tm, x33, tb, t0, 3, 3, CS, Tn, H)

    # W = Tm diag(b) K and U = Tm diag(b) V, at the precision of the state path (without WU: _wu_fwd_kernel)
    if not WU:
        pass
    elif DENSE_WU:
        # one 64-row product each from Tm as stored (the rounding _mm gives the blocks anyway: the
        # launcher sets DENSE_WU only where tm holds the operand dtype of the state path)
        tl.debug_barrier()                        # the tm blocks above, stored by every thread
        _wu_dense(k, w, tm, beta, kb, bb, t0, CS, Tn, H, K, BK, SDT, SPREC)
        _wu_dense(v, u, tm, beta, vb, bb, t0, CS, Tn, H, V, BV, SDT, SPREC)
    else:
        _wu_blocks(w, k0 * b0[:, None], k1 * b1[:, None], k2 * b2[:, None], k3 * b3[:, None],
                   x00, x10, x11, x20, x21, x22, x30, x31, x32, x33, kb, t0, CS, Tn, H, K, BK, SDT, SPREC)
        v0, _ = _load_rows16(v, beta, vb, bb, t0, 0, CS, Tn, H, V, BV)
        v1, _ = _load_rows16(v, beta, vb, bb, t0, 1, CS, Tn, H, V, BV)
        v2, _ = _load_rows16(v, beta, vb, bb, t0, 2, CS, Tn, H, V, BV)
        v3, _ = _load_rows16(v, beta, vb, bb, t0, 3, CS, Tn, H, V, BV)
        _wu_blocks(u, v0 * b0[:, None], v1 * b1[:, None], v2 * b2[:, None], v3 * b3[:, None],
                   x00, x10, x11, x20, x21, x22, x30, x31, x32, x33, vb, t0, CS, Tn, H, V, BV, SDT, SPREC)


@triton.jit
def _wu_fwd_kernel(
    k, v, beta, w, u, tm, cu, cidx, T, NT, CS,
    H, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    VARLEN: tl.constexpr, SDT: tl.constexpr, SPREC: tl.constexpr,
):
    """W = Tm diag(b) K and U = Tm diag(b) V of one chunk as 64-row products from the Tm that
    _wy_fwd_kernel stored (launched after it where wy_split holds)."""
    i_bh, i_c = tl.program_id(0), tl.program_id(1)
    if _spare(cu, cidx, i_c, T, NT, CS, NH, VARLEN):
        return
    i_b, i_h = (i_bh // H).to(tl.int64), (i_bh % H).to(tl.int64)
    _, i_t, bos, eos, _ = _chunk_of(cu, cidx, i_b, i_c, T, NT, VARLEN)
    t0 = bos * NH + i_t * CS
    Tn = eos * NH
    _wu_dense(k, w, tm, beta, i_h * K, i_h, t0, CS, Tn, H, K, BK, SDT, SPREC)
    _wu_dense(v, u, tm, beta, i_h * V, i_h, t0, CS, Tn, H, V, BV, SDT, SPREC)
