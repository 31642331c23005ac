"""Delta rule and DeltaProduct kernels against the float64 loop: output, final state, every gradient.

Odd sizes (T = 63, K = 60, V not a power of two), beta spanning [0, 2] with both endpoints, an
initial state, and NaN-poisoned allocations. On CPU the Triton kernels run under TRITON_INTERPRET=1
(small shapes, float32/float16: the ``CPU`` cases); on a GPU the ``gpu`` cases run instead, with
bfloat16 and larger heads. The GPU cases share few constexpr combinations (K, V in {64, 100, 128},
one odd shape per dtype) so that the whole GPU file compiles few kernel variants.
"""
import pytest
import torch

from statetrack.kernels import KernelArgumentError, delta_product, delta_rule
from statetrack.kernels.testing import (NAMES, TOLERANCE, assert_close, forced_launch, make_inputs,
                                        outputs_and_grads, poison_empty)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BACKENDS = ["chunk", "fused_recurrent"]
FP32, FP16, BF16 = torch.float32, torch.float16, torch.bfloat16
# interpreter-sized cases: on a GPU each would compile its own kernel variants and the gpu cases
# cover the same paths at larger sizes
CPU = pytest.mark.skipif(torch.cuda.is_available(), reason="interpreter-sized; the gpu cases cover it")
KS = 128 if torch.cuda.is_available() else 32     # K = V of the small checks: a GPU case's K on a GPU


def check_against_naive(fn, op, backend, dtype, B, T, H, K, V, n_h=None, h0=True, seed=0):
    inputs = make_inputs(op, B, T, H, K, V, n_h=n_h, h0=h0, seed=seed, device=DEVICE)
    ref = outputs_and_grads(fn, inputs, torch.float64, "naive")
    with poison_empty():
        out = outputs_and_grads(fn, inputs, dtype, backend)
    assert out["o"].dtype == dtype and out["final_state"].dtype == torch.float32
    for name in NAMES:
        if name in ref:
            label = name.replace("dgate", "dbeta")
            assert_close(f"{op}/{backend}/{str(dtype)[6:]} {label}", ref[name], out[name], TOLERANCE[dtype])


DELTA_CASES = [
    pytest.param(FP32, 2, 63, 2, 60, 28, True, id="fp32-T63-K60-V28-h0", marks=CPU),
    pytest.param(FP32, 1, 130, 1, 32, 64, False, id="fp32-T130-3chunks-no-h0", marks=CPU),
    pytest.param(FP16, 1, 63, 2, 32, 32, True, id="fp16-T63", marks=CPU),
    pytest.param(BF16, 2, 300, 3, 128, 128, True, id="bf16-T300-K128", marks=pytest.mark.gpu),
    pytest.param(FP32, 2, 300, 3, 128, 128, True, id="fp32-T300-K128", marks=pytest.mark.gpu),
    pytest.param(BF16, 3, 200, 2, 100, 60, True, id="bf16-K100-V60", marks=pytest.mark.gpu),
    pytest.param(FP16, 2, 255, 2, 64, 100, False, id="fp16-K64-V100-no-h0", marks=pytest.mark.gpu),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, B, T, H, K, V, h0", DELTA_CASES)
def test_delta_rule_matches_fp64_loop(backend, dtype, B, T, H, K, V, h0):
    check_against_naive(delta_rule, "delta_rule", backend, dtype, B, T, H, K, V, h0=h0)


@pytest.mark.gpu
def test_float32_k128_row_on_gpu():
    """The float32 K = 128 row (the walks' V-block 64, the fused inverse with row loads, the split gradient
    kernels) forced at T = 300 against the fp64 loop, to the float32 tolerance."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    row = next(r for r in SHAPE_CONFIG if r.dtypes == ("float32",))
    with forced_launch(**row.settings):
        check_against_naive(delta_rule, "delta_rule", "chunk", FP32, 2, 300, 3, 128, 128)


@pytest.mark.gpu
def test_float32_with_bfloat16x3_products_on_gpu():
    """float32 inputs with the intra-chunk products as three bfloat16 products on hi / lo splits
    (fp32_intra_precision "bf16x3"; the bench times it as a float32 setting) against the fp64 loop.
    Its bound, 5e-4, sits under what one bfloat16 product per float32 one gives (2e-3 to 4e-3 in the
    bench's accuracy table; a dropped correction term leaves an error of that order, by the same estimate,
    not run broken on a GPU). The interpreter's bfloat16 products are wrong, so only a GPU checks this."""
    inputs = make_inputs("delta_rule", 2, 300, 3, 64, 64, h0=True, seed=0, device=DEVICE)
    ref = outputs_and_grads(delta_rule, inputs, torch.float64, "naive")
    with forced_launch(fp32_intra_precision="bf16x3"), poison_empty():
        out = outputs_and_grads(delta_rule, inputs, FP32, "chunk")
    for name in NAMES:
        if name in ref:
            assert_close(f"delta_rule/chunk/float32@bf16x3 {name}", ref[name], out[name], 5e-4)


@pytest.mark.gpu
def test_chunk_split_kernels_on_gpu():
    """The parallel o / dUn kernels (tuned at K = 128 by `statetrack bench kernels`, whose tune stage
    also checks every candidate setting's error) compute the same function."""
    with forced_launch(split_o=True, split_du=True):
        check_against_naive(delta_rule, "delta_rule", "chunk", BF16, 2, 300, 3, 128, 128)


def check_chunk(n_h, dtype, B, T, H, K, V):
    """The chunk backend against the fp64 loop: the delta rule (n_h None) or DeltaProduct n_h."""
    if n_h is None:
        check_against_naive(delta_rule, "delta_rule", "chunk", dtype, B, T, H, K, V)
    else:
        check_against_naive(delta_product, "delta_product", "chunk", dtype, B, T, H, K, V, n_h=n_h)


@CPU
def test_sixteen_bit_chunk_states_with_split_kernels():
    """The SHAPE_CONFIG row at K = 128 (o and dUn in parallel kernels, chunk states kept in the 16-bit
    input type between chunks, the walks' V-block 64 and three stages, the fused inverse with row loads,
    the gradient kernel split in two launches) still computes the delta rule, within the 16-bit
    tolerance (float16 here: the interpreter's bfloat16 products are wrong); V = 64, so the walks run
    the row's 64-wide V-block."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    row = SHAPE_CONFIG[0].settings
    assert row["state_bv"] == 64
    with forced_launch(**row):
        check_against_naive(delta_rule, "delta_rule", "chunk", FP16, 1, 70, 1, 64, 64)


@CPU
@pytest.mark.parametrize("n_h", [2, 4])
def test_deltaproduct_row_computes_deltaproduct(n_h):
    """DeltaProduct's SHAPE_CONFIG rows (the fused inverse with row loads, 16-bit chunk states, three walk
    stages, W and U in a kernel of their own; at n_h = 4 the split gradient kernels) forced on a small shape, float16 against the fp64 loop
    over two chunks of sub-steps."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    row = next(r for r in SHAPE_CONFIG if r.matches(64, 2048, "float16", n_h))
    assert row.n_h != (1, None)
    with forced_launch(**row.settings):
        check_chunk(n_h, FP16, 1, 80 // n_h, 2, 64, 32)


def test_shape_config_rows_apply_where_they_were_measured():
    from statetrack.kernels.delta_rule.chunk_config import CONFIG, SHAPE_CONFIG, launch_config
    assert CONFIG["state_precision"] == "tf32" and not CONFIG["split_o"]
    kmin, tmin, dtypes, row, _ = SHAPE_CONFIG[0]
    assert dtypes == ("bfloat16", "float16")
    assert launch_config(kmin, tmin, BF16)["state_precision"] == row["state_precision"] == "bf16"
    assert launch_config(kmin, tmin, FP16)["split_o"] is True
    assert launch_config(kmin, tmin - 1, BF16)["state_precision"] == "tf32"           # shorter: defaults
    assert launch_config(kmin // 2, tmin, BF16)["split_o"] is False
    assert launch_config(kmin, tmin, FP32)["split_o"] is False                        # measured for 16 bits
    # float32's own row there: the walks' V-block and the split gradient kernels, one walk stage, no split o
    fp32 = launch_config(kmin, tmin, FP32)
    assert (fp32["state_bv"], fp32["grads_split"], fp32["state_stages"], fp32["grads_scratch"]) == (64, True, 1, "float32")
    assert launch_config(kmin, tmin - 1, FP32)["state_bv"] == CONFIG["state_bv"] == 32
    # the K = 64 row: the fused inverse with row loads alone, for 16-bit inputs from T = 2048 on, and for
    # K = 128 below the K = 128 row's T
    kmin64, tmin64, dtypes64, row64, nh64 = SHAPE_CONFIG[-1]
    assert (kmin64, row64, nh64) == (64, {"wy_inverse": "fused_loads"}, (1, None)) and dtypes64 == dtypes
    assert CONFIG["wy_inverse"] == "serial"
    for K, T, dtype, inverse in ((64, tmin64, BF16, "fused_loads"), (64, tmin64 - 1, BF16, "serial"),
                                 (64, tmin64, FP32, "serial"), (32, tmin64, FP16, "serial"),
                                 (128, tmin - 1, FP16, "fused_loads")):
        cfg = launch_config(K, T, dtype)
        assert cfg["wy_inverse"] == inverse, (K, T, dtype)
        assert cfg["split_o"] is False and cfg["state_precision"] == "tf32", (K, T, dtype)
    # DeltaProduct's rows: that inverse with 16-bit chunk states, three walk stages and the WY kernels split,
    # n_h = 2 .. 4 only, and at n_h = 4 the split gradient kernels too
    products = [r for r in SHAPE_CONFIG if r.n_h != (1, None)]
    assert [r.n_h for r in products] == [(4, 4), (2, 4)]
    assert all((r.k, r.t, r.dtypes) == (kmin64, tmin64, dtypes) for r in products)
    for n_h, states, split in ((1, "tf32", False), (2, "bf16", False), (3, "bf16", False), (4, "bf16", True),
                               (5, "tf32", False)):
        cfg = launch_config(64, tmin64, BF16, n_h)
        assert (cfg["state_precision"], cfg["wy_inverse"], cfg["grads_split"]) == (states, "fused_loads", split), n_h
        assert cfg["state_stages"] == (3 if states == "bf16" else 2), n_h
        assert (cfg["wy_split"], cfg["wy_warps"]) == ((True, 2) if states == "bf16" else (False, 4)), n_h
    assert launch_config(64, tmin64, FP32, 2)["state_precision"] == "tf32"
    assert launch_config(64, tmin64 - 1, BF16, 2)["state_precision"] == "tf32"


def test_shape_config_rows_can_be_kept_to_some_householder_counts(monkeypatch):
    """A row with n_h bounds applies to those DeltaProduct counts only (the delta rule is n_h = 1), and the
    chunk launcher passes its n_h: a product-only row placed first changes DeltaProduct's settings and
    leaves the delta rule's, at the same K, T and dtype."""
    from statetrack.kernels.delta_rule import chunk as chunk_mod       # first: it binds SHAPE_CONFIG
    from statetrack.kernels.delta_rule import chunk_config
    from statetrack.kernels.delta_rule.chunk_config import Row, launch_config
    monkeypatch.setattr(chunk_config, "SHAPE_CONFIG", [Row(64, 256, ("float16",), {"state_bv": 16}, (2, 3)),
                                                       *chunk_config.SHAPE_CONFIG])
    assert [launch_config(64, 256, FP16, n_h)["state_bv"] for n_h in (1, 2, 3, 4)] == [32, 16, 16, 32]
    assert launch_config(64, 256, BF16, 2)["state_bv"] == 32                      # not measured for bf16
    class Seen(Exception):
        pass

    def spy(*args):
        raise Seen(args[3:])
    monkeypatch.setattr(chunk_mod, "launch_config", spy)
    q, k = torch.randn(1, 8, 1, 16), torch.randn(1, 16, 1, 16)
    beta = torch.rand(1, 16, 1)
    with pytest.raises(Seen, match=r"\(2,\)"):
        chunk_mod.chunk_fwd(q, k, k, beta, 0.25, None, False, 2, False)
    with pytest.raises(Seen, match=r"\(3,\)"):
        chunk_mod.chunk_bwd(q, k, k, beta, 0.25, None, (None,) * 4, q, None, 3)


def test_split_kernels_never_run_with_one_state_stage():
    """launch_config drops the split kernels wherever one state stage is left (float32 at K > 64, where
    they never ran on a device), forced or from a row."""
    from statetrack.kernels.delta_rule.chunk_config import launch_config
    with forced_launch(split_o=True, split_du=True, state_stages=1):
        cfg = launch_config(128, 256, FP32)
        assert cfg["state_stages"] == 1 and not cfg["split_o"] and not cfg["split_du"]
    with forced_launch(split_o=True, split_du=True):
        assert launch_config(64, 256, BF16)["split_o"] and not launch_config(128, 256, FP32)["split_o"]


@pytest.mark.parametrize("dtype", [BF16, torch.float16], ids=["bf16", "fp16"])
def test_16bit_inputs_never_run_one_state_stage(dtype):
    """The one-stage reverse walk with 16-bit inputs computed wrong gradients on the H200 (see
    test_program_order.py): launch_config keeps two stages there even when one is forced; the split
    kernels, forced with it, then stay on."""
    from statetrack.kernels.delta_rule.chunk_config import launch_config
    for K in (32, 64, 128):
        with forced_launch(state_stages=1):
            assert launch_config(K, 8192, dtype)["state_stages"] == 2
        with forced_launch(split_o=True, split_du=True, state_stages=1):
            cfg = launch_config(K, 8192, dtype)
            assert cfg["state_stages"] == 2 and cfg["split_o"] and cfg["split_du"]
    with forced_launch(state_stages=3):
        assert launch_config(128, 8192, dtype)["state_stages"] == 3


@CPU
def test_gradient_kernel_with_whole_key_and_value_blocks():
    """grads_bk = grads_bv = 128 (a tune candidate): one K-block (no float32 dk scratch) and one
    V-block, with masked columns (K = 100, V = 72)."""
    with forced_launch(grads_bk=128, grads_bv=128):
        check_against_naive(delta_rule, "delta_rule", "chunk", FP32, 1, 70, 1, 100, 72)


# grads_split: the gradient kernel's work in two launches (src/statetrack/kernels/delta_rule/chunk_grads.py)
GRADS_SPLIT_CASES = [
    pytest.param(FP32, None, 70, 2, 32, 32, id="fp32"),
    pytest.param(FP16, None, 70, 2, 32, 32, id="fp16"),
    pytest.param(FP32, None, 70, 1, 100, 72, id="fp32-K100-V72-two-blocks-each"),
    pytest.param(FP16, 2, 37, 1, 32, 32, id="fp16-nh2"),
    pytest.param(FP32, 3, 23, 2, 60, 28, id="fp32-nh3-chunk63"),
]


@CPU
@pytest.mark.parametrize("dtype, n_h, T, H, K, V", GRADS_SPLIT_CASES)
@pytest.mark.parametrize("kfirst", [False, True], ids=["", "kfirst"])
def test_split_gradient_kernels_compute_the_same_gradients(dtype, n_h, T, H, K, V, kfirst):
    """grads_split (fla's split: dq, dk's output and state parts and dW per (chunk, K-block), then the
    WY backward per chunk) against the fp64 loop over a chunk boundary, with an initial state: the
    delta rule in float32 and float16; K = 100, V = 72 on 64-wide blocks (two K-block programs per
    chunk, masked columns in each second block); DeltaProduct with 32 and 21 tokens per chunk; each
    with the first kernel's grid in either order (grads_kfirst)."""
    with forced_launch(grads_split=True, grads_kfirst=kfirst):
        check_chunk(n_h, dtype, 1, T, H, K, V)


@pytest.mark.gpu
def test_shipped_k128_row_in_bfloat16_on_gpu():
    """The K = 128 row (the split gradient and WY kernels, K-blocks first, the reverse walk's local dUn loaded ahead) in
    bfloat16, where the bench times it; the interpreter's bfloat16 products are wrong, so only a GPU checks
    it: two K-blocks of 64, odd T."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    row = SHAPE_CONFIG[0].settings
    assert row["grads_split"] and row["wy_split"] and row["state_bwd_du_ahead"] and row["grads_kfirst"]
    with forced_launch(**row):
        check_against_naive(delta_rule, "delta_rule", "chunk", BF16, 2, 300, 3, 128, 128)


# state_bwd_khalves: the reverse walk with dS in two 64-row tiles, K, W, Q loaded in 64-wide halves
KHALVES_CASES = [
    pytest.param(FP32, None, {}, 2, 70, 2, 128, 64, id="fp32-K128-V64"),
    pytest.param(FP16, None, {}, 1, 70, 2, 100, 64, id="fp16-K100-masked-second-half"),
    pytest.param(FP16, None, {"split_du": True}, 1, 130, 1, 128, 48, id="fp16-K128-local-du"),
    pytest.param(FP32, 2, {}, 1, 40, 2, 128, 32, id="fp32-nh2-K128"),
]


@CPU
@pytest.mark.parametrize("dtype, n_h, extra, B, T, H, K, V", KHALVES_CASES)
def test_reverse_walk_in_key_halves_computes_the_same_gradients(dtype, n_h, extra, B, T, H, K, V):
    """state_bwd_khalves (fla's reverse walk: dS as two [64, BV] tiles, K dS and Q K^T summed over the
    halves, each half updated with its own Q and W halves) against the fp64 loop over two or three
    chunks, with an initial state (dh0) and a final-state gradient (dht): keys 64-127 all used, and
    K = 100 (the second half masked past key 100); dUn's local part from _du_local_kernel (float16:
    float32 at K > 64 runs one walk stage, which drops the split kernels); DeltaProduct n_h = 2."""
    with forced_launch(state_bwd_khalves=True, **extra):
        check_chunk(n_h, dtype, B, T, H, K, V)


@pytest.mark.gpu
def test_shipped_k128_row_with_the_reverse_walk_in_key_halves_on_gpu():
    """The K = 128 row with state_bwd_khalves (a tune candidate) in bfloat16, which only a GPU checks."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    with forced_launch(**SHAPE_CONFIG[0].settings, state_bwd_khalves=True):
        check_against_naive(delta_rule, "delta_rule", "chunk", BF16, 2, 300, 3, 128, 128)


# state_fwd_tloads / state_bwd_tloads: the walks load K (forward) or Q and W (reverse) key-major, as fla's
FWD, BWD = {"state_fwd_tloads": True}, {"state_bwd_tloads": True}
TLOADS_CASES = [
    pytest.param(FP32, None, {**FWD, **BWD}, 2, 70, 2, 32, 16, id="fp32-K32-both"),
    pytest.param(FP16, None, {**FWD, **BWD, "split_o": True, "split_du": True}, 1, 130, 1, 64, 48,
                 id="fp16-K64-both-split"),
    pytest.param(FP16, None, {**BWD, "split_du": True, "state_bwd_khalves": True}, 1, 70, 2, 100, 32,
                 id="fp16-K100-halves-local-du"),
    pytest.param(FP16, None, {**FWD, "split_o": True}, 1, 70, 2, 100, 32, id="fp16-K100-fwd-split-o"),
    pytest.param(FP32, 2, {**FWD, **BWD}, 1, 40, 2, 32, 16, id="fp32-nh2-both"),
]


@CPU
@pytest.mark.parametrize("dtype, n_h, extra, B, T, H, K, V", TLOADS_CASES)
def test_walks_with_key_major_loads_compute_the_same_delta_rule(dtype, n_h, extra, B, T, H, K, V):
    """state_fwd_tloads and state_bwd_tloads against the fp64 loop over two or three chunks with h0 /
    dh0 and dht: with O and Q K^T formed in the walks (K, Q then loaded both ways) and in the parallel
    kernels; the reverse walk's key halves and K = 100 (keys past 100 masked in the key-major tiles'
    rows); DeltaProduct n_h = 2 (Q^T's columns are the chunk's tokens, W^T's and K^T's its sub-steps)."""
    with forced_launch(**extra):
        check_chunk(n_h, dtype, B, T, H, K, V)


@pytest.mark.gpu
def test_shipped_k128_row_with_key_major_walk_loads_on_gpu():
    """The K = 128 row with both walks' key-major loads (tune candidates) in bfloat16, which only a GPU
    checks."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    with forced_launch(**SHAPE_CONFIG[0].settings, state_fwd_tloads=True, state_bwd_tloads=True):
        check_against_naive(delta_rule, "delta_rule", "chunk", BF16, 2, 300, 3, 128, 128)


# grads_scratch (what the split gradient kernels hand over, in 16 bits) and du_local_kq (the local dUn's
# scores formed as K Q^T): tune candidates over the K = 128 row
SPLIT = {"split_o": True, "split_du": True, "grads_split": True}
SCRATCH_CASES = [
    pytest.param(FP16, None, {**SPLIT, "grads_scratch": "16bit"}, 1, 130, 2, 64, 48, id="fp16-K64-16bit"),
    pytest.param(FP16, None, {**SPLIT, "grads_scratch": "dw16", "grads_bk": 32}, 2, 70, 1, 64, 32,
                 id="fp16-two-key-blocks-dw16"),
    pytest.param(FP16, None, {**SPLIT, "du_local_kq": True}, 1, 130, 2, 100, 48, id="fp16-K100-kq"),
    pytest.param(FP16, 2, {**SPLIT, "du_local_kq": True, "grads_scratch": "16bit"}, 1, 40, 2, 64, 32,
                 id="fp16-nh2-kq-16bit"),
    pytest.param(FP32, None, {**SPLIT, "grads_scratch": "16bit", "du_local_kq": True}, 1, 70, 1, 32, 16,
                 id="fp32-scratch-stays-float32"),
]


@CPU
@pytest.mark.parametrize("dtype, n_h, extra, B, T, H, K, V", SCRATCH_CASES)
def test_split_gradient_scratch_and_transposed_local_scores_compute_the_same_delta_rule(
        dtype, n_h, extra, B, T, H, K, V):
    """grads_scratch "dw16" / "16bit" and du_local_kq against the fp64 loop over two or three chunks: two
    key blocks (dk's part and dW read back per block), K = 100, DeltaProduct n_h = 2 (K Q^T's columns are
    the chunk's tokens, its rows the sub-steps); float32 inputs keep float32 scratch."""
    with forced_launch(**extra):
        check_chunk(n_h, dtype, B, T, H, K, V)


@CPU
def test_wy_backward_launch_settings_default_to_the_gradient_kernels_and_reach_its_launch(monkeypatch):
    """wy_bwd_warps / wy_bwd_stages: None takes grads_warps / grads_stages; set, they launch the second
    split gradient kernel (the WY backward) and leave the first at the gradient kernels' settings."""
    from statetrack.kernels.delta_rule import chunk as chunk_mod
    from statetrack.kernels.delta_rule.chunk_config import launch_config
    cfg = launch_config(64, 256, FP16)
    assert (cfg["wy_bwd_warps"], cfg["wy_bwd_stages"]) == (cfg["grads_warps"], cfg["grads_stages"])
    seen = {}

    def spy(name):
        kernel = getattr(chunk_mod, name)

        class Launch:
            def __getitem__(self, grid):
                def run(*args, **kw):
                    seen[name] = (kw["num_warps"], kw["num_stages"])
                    return kernel[grid](*args, **kw)
                return run
        monkeypatch.setattr(chunk_mod, name, Launch())
    spy("_wy_bwd_kernel")
    spy("_grads_qkw_kernel")
    with forced_launch(**SPLIT, grads_warps=4, grads_stages=3, wy_bwd_warps=2, wy_bwd_stages=2):
        check_chunk(None, FP16, 1, 70, 1, 32, 16)
    assert seen == {"_wy_bwd_kernel": (2, 2), "_grads_qkw_kernel": (4, 3)}


AHEAD = {"split_o": True, "split_du": True, "state_bwd_du_ahead": True}
AHEAD_CASES = [
    pytest.param(FP16, None, {}, 2, 200, 2, 64, 48, id="fp16-4chunks"),
    pytest.param(FP32, None, {"state_bwd_khalves": True}, 1, 130, 1, 100, 32, id="fp32-K100-halves"),
    pytest.param(FP16, 2, {"state_bwd_tloads": True}, 1, 70, 2, 64, 32, id="fp16-nh2-tloads"),
    pytest.param(FP32, None, {}, 1, 64, 1, 32, 16, id="fp32-one-chunk"),
]


@CPU
@pytest.mark.parametrize("dtype, n_h, extra, B, T, H, K, V", AHEAD_CASES)
def test_reverse_walk_with_local_dun_loaded_a_chunk_ahead_computes_the_same_gradients(
        dtype, n_h, extra, B, T, H, K, V):
    """state_bwd_du_ahead (the local dUn of the walk's next chunk loaded at the top of the step before and
    carried over) against the fp64 loop with h0 / dh0 and dht: one to four chunks, a last chunk shorter
    than the others, the key halves, DeltaProduct n_h = 2."""
    with forced_launch(**AHEAD, **extra):
        check_chunk(n_h, dtype, B, T, H, K, V)


@pytest.mark.gpu
def test_k128_row_with_one_wy_kernel_on_gpu():
    """The K = 128 row with A, Tm, W and U in one kernel at 4 warps (as before wy_split; a tune candidate)
    in bfloat16, which only a GPU checks."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    with forced_launch(**{**SHAPE_CONFIG[0].settings, "wy_split": False, "wy_warps": 4}):
        check_against_naive(delta_rule, "delta_rule", "chunk", BF16, 2, 300, 3, 128, 128)


# wy_split (W and U in a kernel of their own) and state_bwd_acc (the reverse walk's dS update accumulated in
# place, dO scaled before rounding)
SPLIT_WY_CASES = [
    pytest.param(FP16, None, {"state_bwd_acc": True, "state_precision": "bf16"}, 2, 200, 2, 64, 48,
                 id="fp16-acc-4chunks"),
    pytest.param(FP32, None, {"wy_split": True, "state_bwd_acc": True, "state_bwd_khalves": True}, 1, 130, 1,
                 100, 32, id="fp32-K100-split-acc-halves"),
    pytest.param(FP16, 2, {**SPLIT, "state_bwd_acc": True, "state_bwd_tloads": True, "wy_split": True,
                           "wy_warps": 2, "state_precision": "bf16", "wy_inverse": "fused_loads"}, 1, 70, 2, 64, 32,
                 id="fp16-nh2-split-2warps-acc-tloads"),
    pytest.param(FP16, None, {"wy_split": True, "wy_inverse": "fused", "state_precision": "bf16"}, 2, 100, 1, 64,
                 64, id="fp16-split-fused-inverse"),
]


@CPU
@pytest.mark.parametrize("dtype, n_h, extra, B, T, H, K, V", SPLIT_WY_CASES)
def test_split_wy_kernels_and_in_place_reverse_walk_update_compute_the_same_delta_rule(
        dtype, n_h, extra, B, T, H, K, V):
    """wy_split and state_bwd_acc against the fp64 loop with h0 / dh0 and dht: up to four chunks, a last
    chunk shorter than the others, K = 100 in key halves, DeltaProduct n_h = 2, 16-bit states, each of the
    three inverses."""
    with forced_launch(**extra):
        check_chunk(n_h, dtype, B, T, H, K, V)


@CPU
@pytest.mark.parametrize("state_precision, split", [("bf16", True), ("tf32", False)])
def test_wy_split_runs_its_second_kernel_only_where_tm_holds_the_state_operand_dtype(
        monkeypatch, state_precision, split):
    """16-bit Tm feeds a float32 state path only through the block products (rounded as they round it),
    so wy_split launches _wu_fwd_kernel with 16-bit states and leaves the one kernel otherwise."""
    from statetrack.kernels.delta_rule import chunk as chunk_mod
    seen = []
    kernel = chunk_mod._wu_fwd_kernel

    class Launch:
        def __getitem__(self, grid):
            seen.append(grid)
            return kernel[grid]
    monkeypatch.setattr(chunk_mod, "_wu_fwd_kernel", Launch())
    with forced_launch(wy_split=True, state_precision=state_precision):
        check_chunk(None, FP16, 1, 70, 1, 32, 16)
    assert bool(seen) == split


@CPU
def test_dw_in_sixteen_bits_is_bit_identical_for_sixteen_bit_inputs():
    """dW only ever enters products, which round it to the input dtype, so handing it over in that dtype
    ("dw16") changes no bit of any gradient; "16bit" also rounds dk's part, which may change dk only."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 130, 2, 64).half() for _ in range(3))
    k = torch.nn.functional.normalize(k.float(), dim=-1).half()
    beta = (2 * torch.rand(1, 130, 2)).half()
    do = torch.randn(1, 130, 2, 64).half()
    grads = {}
    for scratch in ("float32", "dw16", "16bit"):
        xs = [x.clone().requires_grad_() for x in (q, k, v, beta)]
        with forced_launch(**SPLIT, grads_scratch=scratch):
            o, _ = delta_rule(*xs, backend="chunk")
            o.backward(do)
        grads[scratch] = [x.grad for x in xs]
    for a, b in zip(grads["float32"], grads["dw16"]):
        assert torch.equal(a, b)
    for name, a, b in zip("q k v beta".split(), grads["float32"], grads["16bit"]):
        assert torch.equal(a, b) != (name == "k"), name                  # dk's part rounded: dk moves


@CPU
def test_the_backward_runs_with_the_forwards_launch_settings():
    """The saved W and U are stored as the forward's settings say (float32 with float32 states, 16 bits
    with 16-bit ones), so a backward run after the settings changed (a training step's backward outside
    the forced_launch of its forward) must take the forward's: the same gradients, bit for bit."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 130, 1, 64).half() for _ in range(3))
    k = torch.nn.functional.normalize(k.float(), dim=-1).half()
    beta = (2 * torch.rand(1, 130, 1)).half()
    do = torch.randn(1, 130, 1, 64).half()

    def grads(backward_inside):
        xs = [x.clone().requires_grad_() for x in (q, k, v, beta)]
        with forced_launch(state_precision="bf16", wy_split=True, grads_split=True, grads_scratch="16bit"):
            o, _ = delta_rule(*xs, backend="chunk")
            if backward_inside:
                o.backward(do)
        if not backward_inside:
            o.backward(do)
        return [x.grad for x in xs]
    for name, a, b in zip("q k v beta".split(), grads(True), grads(False)):
        assert a.dtype == b.dtype and torch.equal(a, b), name


@pytest.mark.gpu
def test_shipped_k128_row_with_sixteen_bit_scratch_and_transposed_local_scores_on_gpu():
    """The K = 128 row with grads_scratch "16bit" and du_local_kq in bfloat16."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG
    with forced_launch(**{**SHAPE_CONFIG[0].settings, "grads_scratch": "16bit", "du_local_kq": True}):
        check_against_naive(delta_rule, "delta_rule", "chunk", BF16, 2, 300, 3, 128, 128)


@pytest.mark.parametrize("dtype, K, stages", [
    pytest.param(FP32, 128, 1, id="fp32-K128-one-stage"),
    pytest.param(FP32, 100, 1, id="fp32-K100-one-stage"),
    pytest.param(FP32, 64, 2, id="fp32-K64-default"),
    pytest.param(BF16, 128, 3, id="bf16-K128-row"),           # the K = 128 row's three walk stages
])
def test_float32_wide_keys_cap_the_state_pipeline_stages(dtype, K, stages):
    """Two pipeline stages of the sequential kernels' float32 128-wide tiles need more shared memory
    than an H200 block has (237,568 and 245,760 > 232,448 B with triton 3.6), so float32 with K > 64
    runs them with fp32_wide_state_stages (1), even when more are forced."""
    from statetrack.kernels.delta_rule.chunk_config import CONFIG, launch_config
    assert CONFIG["state_stages"] == 2 and CONFIG["fp32_wide_state_stages"] == 1
    assert launch_config(K, 8192, dtype)["state_stages"] == stages
    with forced_launch(state_stages=3):
        assert launch_config(K, 8192, dtype)["state_stages"] == (1 if stages == 1 else 3)


PRODUCT_CASES = [
    pytest.param(FP32, 2, 1, 40, 2, 32, 48, id="fp32-nh2", marks=CPU),
    pytest.param(FP32, 3, 2, 23, 2, 60, 28, id="fp32-nh3-chunk63", marks=CPU),
    pytest.param(BF16, 2, 2, 200, 2, 64, 64, id="bf16-nh2", marks=pytest.mark.gpu),
    pytest.param(BF16, 4, 2, 150, 3, 128, 128, id="bf16-nh4-K128", marks=pytest.mark.gpu),
    pytest.param(BF16, 3, 2, 77, 2, 100, 60, id="bf16-nh3-chunk63-K100", marks=pytest.mark.gpu),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, n_h, B, T, H, K, V", PRODUCT_CASES)
def test_delta_product_matches_fp64_loop(backend, dtype, n_h, B, T, H, K, V):
    check_against_naive(delta_product, "delta_product", backend, dtype, B, T, H, K, V, n_h=n_h)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reflections_keep_the_state_norm(backend):
    """beta = 2 with unit keys and zero values: every step is a reflection, so ||S|| is conserved
    exactly in exact arithmetic; the kernel must keep it to float32 rounding over many chunks."""
    B, T, H, K = 1, 200, 1, KS
    inputs = make_inputs("delta_rule", B, T, H, K, K, device=DEVICE)
    zeros = torch.zeros(B, T, H, K, device=DEVICE)
    h0 = inputs["initial_state"].float()
    _, S = delta_rule(zeros, inputs["k"].float(), zeros, torch.full((B, T, H), 2.0, device=DEVICE),
                      initial_state=h0, output_final_state=True, backend=backend)
    torch.testing.assert_close(S.norm(), h0.norm(), rtol=1e-5, atol=0)


def test_chunk_refuses_keys_wider_than_its_tile():
    x = torch.zeros(1, 4, 1, 192, device=DEVICE)
    with pytest.raises(KernelArgumentError, match="K <= 128"):
        delta_rule(x, x, x, torch.zeros(1, 4, 1, device=DEVICE), backend="chunk")


def test_no_grad_forward_skips_saving_and_matches():
    inputs = make_inputs("delta_rule", 1, 70, 2, KS, KS, device=DEVICE)
    xs = [inputs[n].float() for n in ("q", "k", "v", "gate")]
    with torch.no_grad():
        o, S = delta_rule(*xs, initial_state=inputs["initial_state"].float(), output_final_state=True)
    ref, S_ref = delta_rule(*[x.double() for x in xs], initial_state=inputs["initial_state"],
                            output_final_state=True, backend="naive")
    assert_close("o", ref, o, TOLERANCE[FP32])
    assert_close("final_state", S_ref, S, TOLERANCE[FP32])


def test_forced_launch_can_set_the_shape_rows_aside():
    """The bench's tune stage times each candidate over CONFIG alone, not on top of a shipped row."""
    from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG, launch_config
    kmin, tmin, _, row, _ = SHAPE_CONFIG[0]
    with forced_launch(split_o=False):
        assert launch_config(kmin, tmin, BF16)["state_precision"] == row["state_precision"]
    with forced_launch(shape_rows=False, split_o=False):
        assert launch_config(kmin, tmin, BF16)["state_precision"] == "tf32" and SHAPE_CONFIG == []
    assert SHAPE_CONFIG[0].settings == row                                    # restored


def test_the_reverse_walk_settings_default_to_the_forward_walks_and_keep_the_stage_rules():
    """state_bwd_bv / _warps / _stages: None takes the forward walk's value (so a row's state_stages
    still sets both walks), a value of its own wins, and the stage rules hold for the reverse walk too
    (16-bit inputs never one stage; float32 at K > 64 capped)."""
    from statetrack.kernels.delta_rule.chunk_config import CONFIG, launch_config
    assert CONFIG["state_bwd_bv"] is CONFIG["state_bwd_warps"] is CONFIG["state_bwd_stages"] is None
    cfg = launch_config(64, 256, BF16)
    assert (cfg["state_bwd_bv"], cfg["state_bwd_warps"], cfg["state_bwd_stages"]) == \
        (cfg["state_bv"], cfg["state_warps"], cfg["state_stages"])
    with forced_launch(state_stages=3, state_bwd_warps=2):
        cfg = launch_config(64, 256, BF16)
        assert cfg["state_bwd_stages"] == 3 and cfg["state_bwd_warps"] == 2 and cfg["state_warps"] == 4
    with forced_launch(state_bwd_stages=1, split_o=True, split_du=True):
        assert launch_config(128, 8192, BF16)["state_bwd_stages"] == 2
        cfg = launch_config(128, 256, FP32)
        assert cfg["state_bwd_stages"] == 1 and not cfg["split_du"]
    with forced_launch(state_bwd_stages=3):
        assert launch_config(128, 256, FP32)["state_bwd_stages"] == 1


@CPU
@pytest.mark.parametrize("dtype,n_h", [(FP32, 1), (FP16, 2)], ids=["fp32", "fp16-nh2"])
@pytest.mark.parametrize("setting", [{"wy_inverse": "fused"}, {"wy_inverse": "fused_loads"},
                                     {"wy_dense_wu": True, "state_precision": "bf16"}],
                         ids=["fused-inv", "fused-loads", "dense-wu"])
def test_wy_candidates_compute_the_same_delta_rule(dtype, n_h, setting):
    """The _wy_fwd tune candidates against the fp64 loop, forward and backward, over a chunk boundary:
    wy_inverse "fused" (the four diagonal 16 x 16 inverses of a chunk in one loop), "fused_loads" (each
    step's row read from a scratch copy of -A) and wy_dense_wu (W and U as 64-row products from the
    stored Tm, whose unwritten blocks above the diagonal the poisoned torch.empty fills with NaN: a load
    that does not mask them fails here)."""
    with forced_launch(**setting):
        if n_h == 1:
            check_against_naive(delta_rule, "delta_rule", "chunk", dtype, 1, 70, 2, 32, 32)
        else:
            check_against_naive(delta_product, "delta_product", "chunk", dtype, 1, 37, 1, 32, 32, n_h=n_h)


@CPU
@pytest.mark.parametrize("n_h", [3, 4])
def test_delta_product_with_the_split_kernels(n_h):
    """o and dUn's output part in the parallel kernels (timed in the product stage at 90c495f: slower)
    with 21 and 16 tokens per chunk on 64-row query tiles, against the fp64 loop over a chunk boundary."""
    with forced_launch(split_o=True, split_du=True):
        check_against_naive(delta_product, "delta_product", "chunk", FP16, 1, 30, 1, 32, 32, n_h=n_h)


@pytest.mark.parametrize("key, value", [("wy_inverse", "doubling"), ("grads_scratch", "fp8"), ("fp32_precision", "bf16x3"),
                                        ("state_precision", "bf32"), ("fp32_precision", "tf64"),
                                        ("fp32_intra_precision", "half")])
def test_an_unknown_string_setting_is_refused_by_name(key, value):
    """Every string setting's value is checked against CHOICES before a kernel runs (a state_precision
    other than "tf32" was taken as "bf16" before the table)."""
    with forced_launch(**{key: value}), pytest.raises(KernelArgumentError, match=f"{key} '{value}': expected one of"):
        x = make_inputs("delta_rule", 1, 8, 1, 16, 16, device=DEVICE)
        delta_rule(*(x[n].float() for n in ("q", "k", "v", "gate")), backend="chunk")
