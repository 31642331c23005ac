"""Packed variable-length input (``cu_seqlens``) against the float64 loop run once per sequence.

Sequences of lengths 1, 63, 64, 65 and 300 laid end to end (B = 1): a length-1 sequence, one just
under, at and over a chunk, and one of several chunks; for the diagonal op 1, 31, 32, 33 and 70
around its checkpoint interval (32 steps). Output, per-sequence final states and every gradient
(initial states included) are compared with NaN-poisoned allocations. A chunk or a state that leaks
across a boundary shows in the next sequence's output, which ``test_ignoring_the_boundaries_fails``
demonstrates. Empty sequences (equal neighbouring offsets) pass their state through unchanged.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.kernels import KernelArgumentError, delta_product, delta_rule, diagonal
from statetrack.kernels.diagonal.fused_recurrent import L_CKPT
from statetrack.kernels.testing import (TOLERANCE, assert_close, forced_launch, make_inputs, poison_empty,
                                        relative_error)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FP32, BF16 = torch.float32, torch.bfloat16
# interpreter-sized cases; on a GPU the gpu cases (one K = V = 64 shape) cover the same paths
CPU = pytest.mark.skipif(torch.cuda.is_available(), reason="interpreter-sized; the gpu cases cover it")
LENGTHS = (1, 63, 64, 65, 300)
DIAG_LENGTHS = (1, L_CKPT - 1, L_CKPT, L_CKPT + 1, 2 * L_CKPT + 6)


def packed(lengths, device=DEVICE, dtype=torch.int32):
    return torch.tensor([0] + list(torch.tensor(lengths).cumsum(0).tolist()), dtype=dtype, device=device)


def outputs(fn, inputs, h0, cu, dtype, backend):
    """o, final states and all gradients of <o, do> + <S, dS> for one packed call."""
    xs = [inputs[n].detach().to(dtype).clone().requires_grad_() for n in ("q", "k", "v", "gate")]
    state_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    h = h0.detach().to(state_dtype).clone().requires_grad_()
    o, S = fn(*xs, initial_state=h, output_final_state=True, backend=backend, cu_seqlens=cu)
    dS = torch.randn(S.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).to(S.device)
    ((o.double() * inputs["do"]).sum() + (S.double() * dS).sum()).backward()
    return dict(o=o, final_state=S, dq=xs[0].grad, dk=xs[1].grad, dv=xs[2].grad, dgate=xs[3].grad, dh0=h.grad,
                dS=dS)


def check_packed(fn, op, backend, dtype, lengths, H, K, V, n_h=None, seed=0):
    """Compare one packed call with the float64 loop per sequence; return the kernel's results."""
    T = sum(lengths)
    inputs = make_inputs(op, 1, T, H, K, V, n_h=n_h, h0=False, seed=seed, device=DEVICE)
    h0 = torch.randn(len(lengths), H, K, V, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(seed + 1)).to(DEVICE)
    cu = packed(lengths)
    ref = outputs(fn, inputs, h0, cu, torch.float64, "naive")
    with poison_empty():
        out = outputs(fn, inputs, h0, cu, dtype, backend)
    assert out["final_state"].shape == (len(lengths), H, K, V)
    for name, r in ref.items():
        if name != "dS":
            assert_close(f"{op}/{backend}/varlen {name}", r, out[name], TOLERANCE[dtype])
    return dict(out, h0=h0)


@CPU
@pytest.mark.parametrize("backend", ["chunk", "fused_recurrent"])
def test_delta_rule_packed_matches_fp64_loop_per_sequence(backend):
    check_packed(delta_rule, "delta_rule", backend, FP32, LENGTHS, 1, 32, 16)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=40), st.sampled_from([64, 32, 16]))
def test_chunk_table_is_sized_from_shapes_and_holds_every_chunk(lengths, tpc):
    """The packed chunk table has as many rows as the shapes bound (no read-back of the lengths, so a
    CUDA graph can capture it): its first rows are the chunks in order, (sequence, chunk within it); the
    rest continue the last sequence past its end, where every token is masked."""
    from statetrack.kernels.delta_rule.chunk import _chunk_plan

    T, N = sum(lengths), len(lengths)
    n, _, rows, cidx, first, h_rows = _chunk_plan(1, T, tpc, packed(lengths, "cpu"))
    exact = [(i, c) for i, L in enumerate(lengths) for c in range(-(-L // tpc))]
    assert (n, rows, h_rows) == (N, min(T, (T + N * (tpc - 1)) // tpc), rows)
    assert rows >= len(exact) and cidx.shape == (rows, 2)
    assert [tuple(r) for r in cidx[:len(exact)].tolist()] == exact
    assert first.tolist() == [0] + torch.tensor([-(-L // tpc) for L in lengths]).cumsum(0).tolist()
    spare = cidx[len(exact):]
    assert (spare[:, 0] == N - 1).all() and (spare[:, 1] * tpc >= lengths[-1]).all()


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from([64, 32, 21, 1]))
def test_word_chunks_pack_next_fit_and_fit_the_shared_table(data, tpc):
    """word_chunks (a scan of fill maps, no host sync) packs words as the sequential next-fit does, tags each
    token with its word, and the shared plan's table (2 T / tpc + 1 rows at most) holds every chunk."""
    from statetrack.kernels.delta_rule.chunk import _chunk_plan, word_chunks

    lengths = data.draw(st.lists(st.integers(1, tpc), min_size=1, max_size=60))
    chunks, fill = [], tpc + 1
    for i, L in enumerate(lengths):
        if fill + L > tpc:
            chunks.append(i)
            fill = 0
        fill += L
    cu = packed(lengths, "cpu")
    T = sum(lengths)
    offs, word = word_chunks(cu, T, tpc)
    assert offs.tolist() == [int(cu[i]) for i in chunks] + [T] * (len(lengths) + 1 - len(chunks))
    assert word.tolist() == [i for i, L in enumerate(lengths) for _ in range(L)]
    _, _, rows, cidx, _, _ = _chunk_plan(1, T, tpc, offs, shared=True)
    assert len(chunks) <= rows <= 2 * T // tpc + 1
    assert [tuple(r) for r in cidx[:len(chunks)].tolist()] == [(i, 0) for i in range(len(chunks))]


def test_chunk_table_past_the_grid_bound_takes_the_exact_count():
    """40,000 full chunks: the shape bound (79,375 rows) passes the grid's 65,535, so outside a capture the
    table holds the exact 40,000; 70,000 one-token sequences need 70,000 chunks, a clear error."""
    from statetrack.kernels.delta_rule.chunk import _chunk_plan

    _, _, rows, cidx, _, _ = _chunk_plan(1, 64 * 40_000, 64, packed([64] * 40_000, "cpu"))
    assert rows == 40_000 and cidx[-1].tolist() == [39_999, 0]
    with pytest.raises(KernelArgumentError, match="needs 70000 chunks"):
        _chunk_plan(1, 70_000, 64, packed([1] * 70_000, "cpu"))


@CPU
def test_chunk_packed_with_spare_table_rows():
    """Four full chunks and a short sequence: the table has three rows past the last chunk, whose
    programs read NaN-poisoned state rows; nothing of theirs may reach the results."""
    check_packed(delta_rule, "delta_rule", "chunk", FP32, (64, 64, 64, 64, 2), 1, 16, 16)


@CPU
@pytest.mark.parametrize("dtype, settings", [
    (FP32, {}),
    (torch.float16, dict(split_o=True, split_du=True, grads_split=True, wy_split=True, state_precision="bf16")),
], ids=["one-kernel", "split-kernels"])
def test_spare_chunk_programs_return_at_once(dtype, settings):
    """The spare rows of a packed chunk table (three here, past (64, 64, 64, 64, 2)'s five chunks) are
    launched but have nothing to do: every chunk-parallel kernel's program there reads only its table
    entry and sequence bounds and stores nothing (it used to run the chunk's products on masked tiles)."""
    from statetrack.kernels.testing import traced_launches

    lengths = (64, 64, 64, 64, 2)
    inputs = make_inputs("delta_rule", 1, sum(lengths), 1, 16, 16, h0=False, device=DEVICE)
    h0 = torch.zeros(len(lengths), 1, 16, 16, dtype=torch.float64, device=DEVICE)
    with forced_launch(**settings), traced_launches() as launches:
        outputs(delta_rule, inputs, h0, packed(lengths), dtype, "chunk")
    parallel = [la for la in launches if "state" not in la["kernel"]]     # the walks run per sequence
    names = {la["kernel"] for la in parallel}
    expected = ({"_wy_fwd_kernel", "_grads_bwd_kernel"} if not settings else
                {"_wy_fwd_kernel", "_wu_fwd_kernel", "_o_fwd_kernel", "_du_local_kernel", "_grads_qkw_kernel",
                 "_wy_bwd_kernel"})
    assert names == expected
    for la in parallel:
        assert la["grid"][1] == 8                                         # 5 chunks + 3 spare rows
        lo_hi = [la["buffers"][b] for b in ("cu", "cidx")]
        spare_reads = [b for p, b in la["reads"] if p[1] >= 5]
        assert spare_reads and not [b for p, b in la["writes"] if p[1] >= 5], la["kernel"]
        for b in spare_reads:
            assert all(any(lo <= x < hi for lo, hi in lo_hi) for x in b.tolist()), la["kernel"]


WORDS = (5, 17, 3, 40, 64, 1, 30, 29, 2, 60, 4, 33)      # next-fit: 6 chunks for 12 words


def check_shared_chunks(fn, op, dtype, lengths, H, K, V, n_h=None):
    """Words sharing chunks (cu_seqlens with max_seqlen, no states) against the float64 loop run once per
    word; returns how many chunks held them (the chunk table of word_chunks)."""
    from statetrack.kernels.delta_rule import chunk as chunk_mod

    inputs = make_inputs(op, 1, sum(lengths), H, K, V, n_h=n_h, h0=False, device=DEVICE)
    cu = packed(lengths)

    def run(dt, backend, max_seqlen):
        xs = [inputs[n].detach().to(dt).clone().requires_grad_() for n in ("q", "k", "v", "gate")]
        o, S = fn(*xs, backend=backend, cu_seqlens=cu, max_seqlen=max_seqlen)
        assert S is None
        (o.double() * inputs["do"]).sum().backward()
        return dict(o=o, dq=xs[0].grad, dk=xs[1].grad, dv=xs[2].grad, dbeta=xs[3].grad)

    made = []
    real = chunk_mod.word_chunks
    chunk_mod.word_chunks = lambda *a: made.append(real(*a)) or made[-1]
    try:
        ref = run(torch.float64, "naive", None)
        with poison_empty():
            out = run(dtype, "chunk", max(lengths))
    finally:
        chunk_mod.word_chunks = real
    for name, r in ref.items():
        assert_close(f"{op}/shared chunks {name}", r, out[name], TOLERANCE[dtype])
    assert len(made) == 1
    return int((made[0][0][1:] > made[0][0][:-1]).sum())


@CPU
def test_words_share_chunks_and_match_the_fp64_loop_per_word():
    """Twelve words of 1-64 tokens in six chunks (next-fit), the delta rule in float32: each word's o and
    gradients as the float64 loop over that word alone gives them."""
    assert check_shared_chunks(delta_rule, "delta_rule", FP32, WORDS, 2, 16, 16) == 6


@CPU
def test_words_share_chunks_with_split_kernels_in_float16():
    """The same with o, the local dUn and the gradients in their own kernels, W / U split off and 16-bit
    chunk states (every kernel that masks scores or A per word), float16."""
    with forced_launch(split_o=True, split_du=True, grads_split=True, wy_split=True, state_precision="bf16",
                       wy_inverse="fused_loads"):
        assert check_shared_chunks(delta_rule, "delta_rule", torch.float16, WORDS, 1, 16, 16) == 6


@CPU
def test_words_share_chunks_for_delta_product_and_wide_keys():
    """DeltaProduct n_h = 2 (32 tokens a chunk: 64 sub-steps), and K = 80 (two gradient K-blocks)."""
    assert check_shared_chunks(delta_product, "delta_product", FP32, (5, 17, 3, 31, 1, 32, 2), 1, 16, 16,
                               n_h=2) == 4
    assert check_shared_chunks(delta_rule, "delta_rule", FP32, (5, 17, 40, 3), 1, 80, 16) == 2


def test_max_seqlen_is_checked():
    """max_seqlen goes with cu_seqlens, and no sequence may pass it (outside a graph capture)."""
    x = torch.zeros(1, 6, 1, 4, device=DEVICE)
    b = torch.zeros(1, 6, 1, device=DEVICE)
    with pytest.raises(KernelArgumentError, match="max_seqlen must be a positive int given with cu_seqlens"):
        delta_rule(x, x, x, b, backend="naive", max_seqlen=4)
    with pytest.raises(KernelArgumentError, match="sequence 1 has 4 tokens, more than max_seqlen = 3"):
        delta_rule(x, x, x, b, backend="naive", cu_seqlens=packed((2, 4)), max_seqlen=3)
    with pytest.raises(KernelArgumentError, match="max_seqlen must be a positive int given with cu_seqlens"):
        delta_rule(x, x, x, b, backend="naive", cu_seqlens=packed((2, 4)), max_seqlen=4.0)
    # any integer type will do (a numpy one from lengths.max(), say); bool is not a length
    o, _ = delta_rule(x, x, x, b, backend="naive", cu_seqlens=packed((2, 4)), max_seqlen=np.int64(4))
    assert o.shape == x.shape
    with pytest.raises(KernelArgumentError, match="max_seqlen must be a positive int given with cu_seqlens"):
        delta_rule(x, x, x, b, backend="naive", cu_seqlens=packed((2, 4)), max_seqlen=True)


@pytest.fixture
def split_kernels():
    """Run the chunk backend with o and the local part of dUn in their own parallel kernels."""
    with forced_launch(split_o=True, split_du=True):
        yield


@CPU
def test_chunk_packed_with_split_kernels(split_kernels):
    check_packed(delta_rule, "delta_rule", "chunk", FP32, (1, 65, 70), 2, 32, 48)


@CPU
@pytest.mark.parametrize("backend", ["chunk", "fused_recurrent"])
def test_delta_product_packed_matches_fp64_loop_per_sequence(backend):
    check_packed(delta_product, "delta_product", backend, FP32, (1, 31, 33), 1, 32, 16, n_h=2)


@CPU
def test_chunk_packed_with_split_gradient_kernels():
    """grads_split: the (chunk, K-block) and WY-backward programs read their chunk from the table; two
    V-blocks (V = 72) for the delta rule, and DeltaProduct n_h = 2."""
    with forced_launch(grads_split=True):
        check_packed(delta_rule, "delta_rule", "chunk", FP32, (1, 63, 65, 70), 2, 32, 72)
        check_packed(delta_product, "delta_product", "chunk", FP32, (1, 31, 33), 1, 32, 16, n_h=2)


@CPU
def test_chunk_packed_with_the_fused_inverse_and_row_loads():
    """wy_inverse "fused_loads" (SHAPE_CONFIG's K = 64 row, 16-bit inputs whose mean sequence length is
    2048 or more) over packed chunks, a sequence's last one short: the delta rule and DeltaProduct
    n_h = 2. (The interpreter runs programs one at a time, so two chunk programs sharing a scratch
    slot would pass here; the slot is the program's grid index, the buffer sized by the grid.)"""
    with forced_launch(wy_inverse="fused_loads"):
        check_packed(delta_rule, "delta_rule", "chunk", FP32, (1, 63, 65, 70), 2, 32, 16)
        check_packed(delta_product, "delta_product", "chunk", FP32, (1, 31, 33), 1, 32, 16, n_h=2)


@CPU
def test_chunk_packed_with_the_reverse_walk_in_key_halves():
    """state_bwd_khalves: each reverse walk program reads its sequence's chunks in two 64-wide key
    halves (K = 100: the second half masked past key 100)."""
    with forced_launch(state_bwd_khalves=True):
        check_packed(delta_rule, "delta_rule", "chunk", FP32, (1, 63, 65, 70), 2, 100, 32)


@CPU
def test_chunk_packed_with_key_major_walk_loads():
    """state_fwd_tloads, state_bwd_tloads: the key-major K, Q and W tiles take their columns (tokens,
    sub-steps) from the sequence's own chunk rows, masked at its end."""
    with forced_launch(state_fwd_tloads=True, state_bwd_tloads=True):
        check_packed(delta_rule, "delta_rule", "chunk", FP32, (1, 63, 65, 70), 2, 32, 16)
        check_packed(delta_product, "delta_product", "chunk", FP32, (1, 31, 33), 1, 32, 16, n_h=2)


@CPU
def test_chunk_packed_with_local_dun_loaded_a_chunk_ahead():
    """state_bwd_du_ahead: each reverse walk program prefetches its own sequence's previous chunk, never
    the rows of the sequence before it (a 1-token sequence has no previous chunk; 130 tokens have three)."""
    with forced_launch(split_o=True, split_du=True, state_bwd_du_ahead=True):
        check_packed(delta_rule, "delta_rule", "chunk", FP32, (1, 63, 130, 65), 2, 32, 16)
        check_packed(delta_product, "delta_product", "chunk", FP32, (1, 31, 33), 1, 32, 16, n_h=2)


@CPU
@pytest.mark.parametrize("backend", ["naive", "fused_recurrent"])
def test_diagonal_packed_matches_fp64_loop_per_sequence(backend):
    """Lengths 1 and around the checkpoint interval: a checkpoint row shared by two sequences, or
    counted from the start of the time axis instead of the sequence's, breaks dq, dk, da there."""
    check_packed(diagonal, "diagonal", backend, FP32, DIAG_LENGTHS, 2, 16, 16)


@CPU
@pytest.mark.parametrize("fn, op", [(delta_rule, "delta_rule"), (diagonal, "diagonal")], ids=["delta_rule", "diagonal"])
def test_empty_sequences_pass_the_state_through(fn, op):
    """Empty sequences first, in the middle and last: final state = initial state and dh0 = dS,
    exactly; the others match the per-sequence loop."""
    lengths = (0, 3, 0, 0, L_CKPT + 2, 0)
    out = check_packed(fn, op, "fused_recurrent", FP32, lengths, 2, 16, 16)
    for n in (i for i, length in enumerate(lengths) if length == 0):
        assert torch.equal(out["final_state"][n], out["h0"][n].float()), f"sequence {n}: state changed"
        assert torch.equal(out["dh0"][n], out["dS"][n].float()), f"sequence {n}: dh0 != dS"


def test_diagonal_chunk_refuses_packed_input():
    x = torch.zeros(1, 4, 1, 8, device=DEVICE)
    with pytest.raises(KernelArgumentError, match="chunk backend does not take packed input"):
        diagonal(x, x, x, x, backend="chunk", cu_seqlens=torch.tensor([0, 1, 4], device=DEVICE))


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["chunk", "fused_recurrent"])
def test_packed_on_gpu(backend):
    """bf16 only: float32 packed input runs in the benchmark's varlen stage (each dtype compiles anew)."""
    check_packed(delta_rule, "delta_rule", backend, BF16, LENGTHS + (1000, 7), 3, 64, 64)


@pytest.mark.gpu
def test_packed_split_kernels_on_gpu(split_kernels):
    check_packed(delta_rule, "delta_rule", "chunk", BF16, LENGTHS + (1000, 7), 3, 64, 64)


@pytest.mark.gpu
@pytest.mark.parametrize("K, first, then, max_seqlen", [
    (64, (3, 40, 60, 97), (64, 1, 65, 70), None),
    (32, (3, 40, 60, 33, 64), (64, 1, 62, 9, 64), 64),          # words sharing chunks: word_chunks captured too
], ids=["own-chunks", "shared-chunks"])
def test_chunk_packed_inside_a_cuda_graph(K, first, then, max_seqlen):
    """The batched trainer captures packed chunk calls in a CUDA graph: capture once, replay with other
    lengths (same count, same total) and match the eager call on those lengths."""
    H, T = 2, sum(first)
    gen = torch.Generator().manual_seed(3)
    xs = [torch.randn(1, T, H, K, generator=gen).to(DEVICE, BF16) for _ in range(3)]
    xs[1] = torch.nn.functional.normalize(xs[1].float(), dim=-1).to(BF16)
    beta = torch.rand(1, T, H, generator=gen).to(DEVICE, BF16)
    cu = packed(first)

    def step():
        ins = [x.detach().requires_grad_() for x in (*xs, beta)]
        o, _ = delta_rule(*ins, backend="chunk", cu_seqlens=cu, max_seqlen=max_seqlen)
        o.float().square().sum().backward()
        return [o] + [x.grad for x in ins]

    step()                                                   # compile outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = step()
    cu.copy_(packed(then))
    graph.replay()
    eager = step()
    for name, a, b in zip(("o", "dq", "dk", "dv", "dbeta"), captured, eager):
        assert_close(f"graph {name}", b.double(), a.double(), 1e-6)


@pytest.mark.gpu
def test_words_share_chunks_on_gpu():
    """bf16 at the trainer's head size (K = V = 32): words sharing chunks against the float64 loop per word."""
    assert check_shared_chunks(delta_rule, "delta_rule", BF16, WORDS, 3, 32, 32) == 6


@pytest.mark.gpu
def test_packed_delta_product_on_gpu():
    check_packed(delta_product, "delta_product", "chunk", BF16, (1, 31, 32, 33, 150), 3, 64, 64, n_h=2)


@CPU
@pytest.mark.parametrize("fn, op, backend", [(delta_rule, "delta_rule", "chunk"),
                                             (diagonal, "diagonal", "fused_recurrent")],
                         ids=["delta_rule-chunk", "diagonal-fused_recurrent"])
def test_ignoring_the_boundaries_fails_the_comparison(fn, op, backend):
    """The comparison can fail: the same rows run as one sequence (no cu_seqlens) differ from the
    per-sequence reference far beyond the float32 budget."""
    lengths = (5, 70)
    inputs = make_inputs(op, 1, sum(lengths), 1, 16, 16, h0=False, device=DEVICE)
    xs = [inputs[n].float() for n in ("q", "k", "v", "gate")]
    ref, _ = fn(*[x.double() for x in xs], backend="naive", cu_seqlens=packed(lengths))
    joined, _ = fn(*xs, backend=backend)
    assert relative_error(ref, joined) > 100 * TOLERANCE[FP32]
    with pytest.raises(AssertionError, match="relative error"):
        assert_close("o", ref, joined, TOLERANCE[FP32])


@pytest.mark.parametrize("cu, h0_n, message", [
    (torch.tensor([0.0, 4.0]), 1, "int32 or int64"),
    (torch.tensor([1, 4]), 1, "from 0 to T"),
    (torch.tensor([0, 3]), 1, "from 0 to T"),
    (torch.tensor([0, 3, 2, 4]), 3, "non-decreasing"),
    (torch.tensor([0, 1, 4]), 3, r"\(2, 1, 8, 8\)"),
])
def test_bad_cu_seqlens_is_one_clear_error(cu, h0_n, message):
    x = torch.zeros(1, 4, 1, 8, device=DEVICE)
    h0 = torch.zeros(h0_n, 1, 8, 8, device=DEVICE)
    with pytest.raises(KernelArgumentError, match=message):
        delta_rule(x, x, x, torch.zeros(1, 4, 1, device=DEVICE), initial_state=h0, backend="naive",
                   cu_seqlens=cu.to(DEVICE))


def test_chunk_refuses_empty_sequences():
    """The chunk backend needs every sequence non-empty; the check says so before any kernel runs."""
    x = torch.zeros(1, 4, 1, 8, device=DEVICE)
    with pytest.raises(KernelArgumentError, match="strictly increasing for the chunk backend"):
        delta_rule(x, x, x, torch.zeros(1, 4, 1, device=DEVICE), backend="chunk",
                   cu_seqlens=torch.tensor([0, 2, 2, 4], device=DEVICE))


def test_packed_needs_batch_of_one():
    x = torch.zeros(2, 4, 1, 8, device=DEVICE)
    with pytest.raises(KernelArgumentError, match="B must be 1"):
        delta_rule(x, x, x, torch.zeros(2, 4, 1, device=DEVICE), backend="naive",
                   cu_seqlens=torch.tensor([0, 4], device=DEVICE))
