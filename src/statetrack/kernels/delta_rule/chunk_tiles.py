"""Tile helpers shared by the chunked delta-rule kernels (:mod:`.chunk`, :mod:`.chunk_wy`): products at
a chosen precision, where a chunk's rows lie in the flattened time axis (padded batch or packed
sequences), and 16-row loads and stores of a chunk."""
from __future__ import annotations

import triton
import triton.language as tl

BT = 64      # rows of a chunk tile; a chunk holds CS <= BT sub-steps
MAX_K = 128  # keys are held whole in each tile


@triton.jit
def _dot32(a, b, acc, PREC: tl.constexpr):
    """acc + a @ b on float32 operands at precision PREC: "ieee", "tf32", "tf32x3" (Triton's: three TF32
    products on split operands), or "bf16x3": each operand split as hi + lo, both bfloat16 (hi = x rounded,
    lo = x - hi rounded), and lo hi + hi lo + hi hi summed in float32 on the bfloat16 tensor cores, which
    run twice as many products a cycle as TF32 ones; what it drops (lo lo and lo's own rounding) is about
    2^-16 of |a| |b| per term. acc None: no accumulator."""
    a = a.to(tl.float32)
    b = b.to(tl.float32)
    if PREC == "bf16x3":
        ah = a.to(tl.bfloat16)
        al = (a - ah.to(tl.float32)).to(tl.bfloat16)
        bh = b.to(tl.bfloat16)
        bl = (b - bh.to(tl.float32)).to(tl.bfloat16)
        acc = tl.dot(al, bh, acc)
        acc = tl.dot(ah, bl, acc)
        return tl.dot(ah, bh, acc)
    else:
        return tl.dot(a, b, acc, input_precision=PREC)


@triton.jit
def _mm(a, b, DT: tl.constexpr, PREC: tl.constexpr):
    """a @ b with operands cast to DT and float32 accumulation; float32 operands at PREC (:func:`_dot32`)."""
    if DT == tl.float32:
        return _dot32(a, b, None, PREC)
    else:
        return tl.dot(a.to(DT), b.to(DT))


@triton.jit
def _mm_acc(a, b, acc, DT: tl.constexpr, PREC: tl.constexpr):
    """acc + a @ b as :func:`_mm` forms it, accumulated in acc's registers (no temporary product tile)."""
    if DT == tl.float32:
        return _dot32(a, b, acc, PREC)
    else:
        return tl.dot(a.to(DT), b.to(DT), acc)


@triton.jit
def _mm32(a, b, PREC: tl.constexpr):
    """a @ b on float32 operands at precision PREC (used on the C x C products of the inverse)."""
    return _dot32(a, b, None, PREC)


@triton.jit
def _chunk_of(cu, cidx, i_b, i_c, T, NT, VARLEN: tl.constexpr):
    """Chunk program i_c of batch row i_b: (its sequence, its index within the sequence, the sequence's
    tokens [bos, eos) as rows of the flattened [B*T] time axis, its global chunk index for h)."""
    if VARLEN:
        i_n = tl.load(cidx + 2 * i_c).to(tl.int64)
        i_t = tl.load(cidx + 2 * i_c + 1).to(tl.int64)
        bos = tl.load(cu + i_n).to(tl.int64)
        eos = tl.load(cu + i_n + 1).to(tl.int64)
        i_g = i_c.to(tl.int64)
    else:
        i_n = i_b
        i_t = i_c.to(tl.int64)
        bos = i_b * T
        eos = bos + T
        i_g = i_b * NT + i_t
    return i_n, i_t, bos, eos, i_g


@triton.jit
def _spare(cu, cidx, i_c, T, NT, CS, NH: tl.constexpr, VARLEN: tl.constexpr):
    """Whether chunk program i_c is a spare row of a packed chunk table (sized from the shapes, so its last
    rows continue the last sequence past its end): such a program has no token to load or store, and the
    chunk-parallel kernels return at once. Never true without cu_seqlens (every chunk of a row is real)."""
    _, i_t, bos, eos, _ = _chunk_of(cu, cidx, 0, i_c, T, NT, VARLEN)
    return i_t * CS >= (eos - bos) * NH


@triton.jit
def _word_pairs(seg, ta, ma, tb, mb):
    """[len(ta), len(tb)] mask of the pairs of tokens ta[i], tb[j] (rows of the flattened token axis) that
    belong to one word, seg holding each token's word (several words share a chunk); rows off their mask
    pair with nothing."""
    a = tl.load(seg + ta, mask=ma, other=-1)
    b = tl.load(seg + tb, mask=mb, other=-2)
    return a[:, None] == b[None, :]


@triton.jit
def _in_words(mask, seg, ta, ma, tb, mb, SEG: tl.constexpr):
    """``mask`` over the pairs (ta[i], tb[j]); with SEG (several words in the chunk) only the pairs within one
    word (:func:`_word_pairs`)."""
    if SEG:
        mask = mask & _word_pairs(seg, ta, ma, tb, mb)
    return mask


@triton.jit
def _seq_of(cu, coff, i_n, T, NT, TPC, VARLEN: tl.constexpr):
    """Sequence i_n: its tokens [bos, eos) on the flattened time axis, its chunk count, its first
    global chunk index."""
    if VARLEN:
        bos = tl.load(cu + i_n).to(tl.int64)
        eos = tl.load(cu + i_n + 1).to(tl.int64)
        nt = (eos - bos + TPC - 1) // TPC
        boh = tl.load(coff + i_n).to(tl.int64)
    else:
        bos = i_n * T
        eos = bos + T
        nt = NT
        boh = i_n * NT
    return bos, eos, nt, boh


@triton.jit
def _load_rows16(ptr, beta, base, bbase, t0, i: tl.constexpr, CS, end,
                 H, D: tl.constexpr, BD: tl.constexpr):
    """Rows t0 + 16*i .. t0 + 16*i + 15 (below ``end``) of the flattened time axis: a [16, BD] tile
    of ptr (row stride H*D) and its betas."""
    r = 16 * i + tl.arange(0, 16)
    m = (r < CS) & (t0 + r < end)
    od = tl.arange(0, BD)
    x = tl.load(ptr + base + (t0 + r)[:, None] * (H * D) + od[None, :],
                mask=m[:, None] & (od < D)[None, :], other=0.0)
    b = tl.load(beta + bbase + (t0 + r) * H, mask=m, other=0.0).to(tl.float32)
    return x, b


@triton.jit
def _store_rows16(ptr, x, base, t0, i: tl.constexpr, CS, end,
                  H, D: tl.constexpr, BD: tl.constexpr):
    r = 16 * i + tl.arange(0, 16)
    m = (r < CS) & (t0 + r < end)
    od = tl.arange(0, BD)
    tl.store(ptr + base + (t0 + r)[:, None] * (H * D) + od[None, :], x.to(ptr.dtype.element_ty),
             mask=m[:, None] & (od < D)[None, :])


@triton.jit
def _store_tm16(tm, x, base, t0, i: tl.constexpr, j: tl.constexpr, CS, end, H):
    """Block (i, j) of the chunk's 64 x 64 Tm into tm[t0 + 16 i + r, h, 16 j + c] (flattened time)."""
    r = 16 * i + tl.arange(0, 16)
    m = (r < CS) & (t0 + r < end)
    c = 16 * j + tl.arange(0, 16)
    tl.store(tm + base + (t0 + r)[:, None] * (H * 64) + c[None, :], x.to(tm.dtype.element_ty),
             mask=m[:, None])


@triton.jit
def _key_tile(ptr, base, rows, m_rows, k0, H, K: tl.constexpr, BK: tl.constexpr):
    """Keys k0 .. k0 + BK - 1 (masked at K) of the given rows of a [*, H, K] tensor: a [rows, BK] tile."""
    ok = k0 + tl.arange(0, BK)
    return tl.load(ptr + base + rows[:, None] * (H * K) + ok[None, :], mask=m_rows[:, None] & (ok < K)[None, :],
                   other=0.0)


@triton.jit
def _key_tile_t(ptr, base, rows, m_rows, k0, H, K: tl.constexpr, BK: tl.constexpr):
    """:func:`_key_tile` loaded key-major: the [BK, rows] tile, its transpose."""
    ok = k0 + tl.arange(0, BK)
    return tl.load(ptr + base + rows[None, :] * (H * K) + ok[:, None], mask=(ok < K)[:, None] & m_rows[None, :],
                   other=0.0)


@triton.jit
def _chunk_tm(beta, tm, i_h, s, t, mt, H):
    """The chunk's betas [64] (float32) and its Tm [64, 64], zero above the diagonal and on masked rows."""
    b = tl.load(beta + i_h + t * H, mask=mt, other=0.0).to(tl.float32)
    tmc = tl.load(tm + i_h * 64 + t[:, None] * (H * 64) + s[None, :],
                  mask=mt[:, None] & (s[None, :] <= s[:, None]), other=0.0)
    return b, tmc
