"""What `statetrack bench kernels` measures (:mod:`statetrack.kernels.bench`): the shapes, the float32
variants, the launch settings its tune stage tries, and issue 13's bars, apart from the machinery.
A short device call times a few candidates at one shape (about 70 s on a fresh H200, 12 s warm):

    statetrack bench kernels --shapes 4,8192,16,128 --candidates 7-9,13-14 --no-fla -o tune.json \
        --skip env,compile,accuracy,varlen,delta,product,profile
"""
from __future__ import annotations

from statetrack.kernels.delta_rule.chunk_config import SHAPE_CONFIG

DELTA_SHAPES = [(8, 2048, 8, 64), (64, 256, 4, 32), (4, 8192, 16, 128)]   # (B, T, H, K = V)
PRODUCT_SHAPE = (8, 2048, 8, 64)
PRODUCT_NH = (2, 4)
_K128_ROW = SHAPE_CONFIG[0].settings   # the shipped row at K = 128, T >= 8192 (16-bit inputs)
# also timed in the product stage, each over the shipped settings (with their error against our float32).
# At 265d09b (kernels_h200.json), over the K = 64 row: the 16-bit chunk states (n_h = 2 fwd 0.365 / fwd+bwd
# 0.841 ms against 0.430 / 0.960), with three walk stages (0.319 / 0.799: now SHAPE_CONFIG's DeltaProduct
# row), with o off the walk (0.376 / 0.911), the whole K = 128 row (0.340 / 1.133). Before: o off the forward
# walk with the float32 state path (slower at 90c495f), the fused inverse with row loads (faster at fd700c3;
# the K = 64 row). At c8dbc60 (kernels_h200_product.json) over the DeltaProduct row: four walk stages level
# (fwd 0.319 against 0.314 ms at n_h = 2, 0.619 against 0.614 at n_h = 4), o off the walk slower (0.333,
# 0.635), the split gradient kernels fwd+bwd 1.206 against 1.449 at n_h = 4 (now its own row) and level at
# n_h = 2 (fwd 0.316 / 0.314, fwd+bwd 1.003 / 1.034 on a noisy host), kept here to time n_h = 2 again
# At f1e347b the K = 128 row's WY kernels (wy_split, wy_warps 2) beat the rows both ways at n_h = 2 and 4
# (now in both rows); the split gradient kernels at n_h = 2 (no wy_split then): fwd 0.317 / fwd+bwd 0.731
# against 0.319 / 0.910 (graphs 0.314 / 0.625 against 0.315 / 0.740), not yet timed over the wy_split row
PRODUCT_ALTS = {
    "grads_split": {k: _K128_ROW[k] for k in ("grads_split", "grads_warps", "grads_stages", "grads_scratch")},
    "one_wy_kernel": {"wy_split": False, "wy_warps": 4},   # the rows' WY kernels before f1e347b
}
ACCURACY_SHAPE = (2, 1024, 2, 64)
VARLEN_LENGTHS = (1, 63, 64, 65, 300, 1000)
VARLEN_HEADS, VARLEN_K = 4, 64
VARLEN_DTYPES = ("bfloat16", "float32")
# float32 settings timed at every shape: the shipped one (three TF32 products per float32 product),
# single TF32 products on the intra-chunk dots, single TF32 products everywhere, and three bfloat16
# products on hi / lo splits (chunk_tiles._dot32; bfloat16 tensor cores run twice TF32's rate) on the
# intra-chunk dots; all but the first count for the fp32/bf16 bar only where their error (accuracy
# stage) stays under TF32_HOLDS. bf16x3 on the state path too ("bf16x3all", f1e347b) gave NaN in o, dq,
# dk, dbeta and an illegal memory access in the GPU test on the H200 (triton 3.6): refused (CHOICES)
FP32_VARIANTS = {"tf32x3": {}, "tf32": {"fp32_intra_precision": "tf32"},
                 "tf32all": {"fp32_intra_precision": "tf32", "fp32_precision": "tf32"},
                 "bf16x3": {"fp32_intra_precision": "bf16x3"}}
TF32_HOLDS = 1e-3        # worst relative error (o and every gradient) for a reduced-precision float32 to count
# launch settings tried at K >= TUNE_MIN_K (`tune`), each over CONFIG alone (SHAPE_CONFIG set aside);
# the first is CONFIG's own
TUNE_CANDIDATES = [
    {"split_o": False, "split_du": False},
    {"split_o": True, "split_du": True},
    {"split_o": True, "split_du": True, "state_bv": 64},
    {"split_o": True, "split_du": False, "state_bv": 16},
    {"split_o": True, "split_du": True, "state_stages": 3},
    {"split_o": True, "split_du": True, "state_precision": "bf16"},   # fla's rounding of W, S, Un
    {"split_o": True, "split_du": True, "grads_bk": 128},
    # the shipped K = 128 row, then over it dW alone handed over in 16 bits (the row hands dk's part over
    # so too: 2.631 against 2.683 ms at 7f76b2d, error 8.51e-3 against 8.40e-3; 2.626 against 2.677 at 068c021)
    _K128_ROW,
    {**_K128_ROW, "grads_scratch": "dw16"},
    # the row as it was before its WY kernels were split (at f897bf6: fwd+bwd 2.436 ms against 2.361)
    {**_K128_ROW, "wy_split": False, "wy_warps": 4},
    # the K = 64 row (the fused inverse with row loads) over CONFIG, and with the 16-bit chunk states
    {"split_o": False, "split_du": False, "wy_inverse": "fused_loads"},
    {"split_o": False, "split_du": False, "wy_inverse": "fused_loads", "state_precision": "bf16"},
    # that, with the WY kernels of the K = 128 row (W and U apart, the inverse at 2 warps; wy_split needs the
    # 16-bit states: Tm is stored in 16 bits)
    {"split_o": False, "split_du": False, "wy_inverse": "fused_loads", "state_precision": "bf16", "wy_split": True,
     "wy_warps": 2},
    # the K = 128 row with the W / U kernel (64-row products from the stored Tm) at 8 and 4 warps (it ships at
    # 2: at 7f125cb fwd+bwd 2.339 ms against 2.356 at 8 and 2.368 at 4)
    {**_K128_ROW, "wu_warps": 8},
    {**_K128_ROW, "wu_warps": 4},
    # the row's split gradient kernel with its grid in the old order, (B H, chunks, K-blocks): at f1e347b
    # fwd+bwd 2.282 ms against 2.226 with the K-blocks first (grads_kfirst, now in the row)
    {**_K128_ROW, "grads_kfirst": False},
    # dropped after a115239 / e28d5ee: state_warps 8 and grads_bk = grads_bv = 128 with 8 warps (slower
    # than the split row at K = 64 and 128); state_bv 64 and grads_stages 2 over the 16-bit-state row
    # (now in the K = 128 row). After eddd51a / 90c495f: wy_inverse "fused_loads", state_stages 3 and
    # grads_split at 4 warps (now in the row); grads_warps 4 for the one-launch kernel (3.95 ms against
    # 3.40 at 8); wy_dense_wu with fused_loads (slower than fused_loads alone). state_stages 1 was
    # tried at 70a8c4a: wrong results on the H200 (worst error 1.63 against 6.4e-3, then a CUDA error);
    # the GPU tests at a115239 traced it to the bf16 one-stage reverse walk, so launch_config never runs
    # 16-bit inputs with one stage (chunk_config.py). After fd700c3 (kernels_h200.json, tune; fwd+bwd
    # against the row's 2.904 ms, all at K = 128): par_bv 128 (2.796, now in the row) and with 8 warps
    # (2.951); the inverse without row loads (2.959); W and U as 64-row products (2.957); state_stages 4
    # and state_bwd_stages 4 (out of shared memory: 253,952 B needed, 232,448 per block); grads_stages 3
    # (3.082); the split gradient kernels at 8 warps (3.360); the one-launch gradient kernel at 8 warps
    # (3.095); the reverse walk's V-block 32 (3.109) and with 2 warps (28.55: spilled). At fd700c3, level
    # with the row (2.904): the reverse walk in key halves (2.922) and with two stages (2.915). At 7f76b2d
    # (benchmarks/results/logs/tune_k128_7f76b2d.json; the row 2.800 ms): the walks' key-major loads, reverse
    # 2.794, forward 2.795, both 2.798; the local dUn's scores as K Q^T 2.794; all three with dW in 16 bits
    # 2.684 (dW alone 2.683): the key-major loads and K Q^T change nothing measurable. At 068c021 (logs/
    # tune_k128_068c021.json; the row 2.626 ms before state_bwd_acc and state_bwd_du_ahead, now in it):
    # fla's WY backward launch, 2 warps (3.095) and 2 warps, 2 stages with grads_stages 3 (3.227); the
    # reverse walk's dS update in place alone (2.628) and the local dUn loaded ahead alone (2.636), where
    # the two together took 2.443; W and U's operand blocks reloaded where used (fwd 0.986 against 0.956);
    # W and U in a kernel of their own with the inverse kernel at 4 warps (fwd 1.043) and 8 (1.437), the one
    # WY kernel at 8 warps with the operand blocks reloaded (1.387). At f897bf6 (logs/tune_k128_f897bf6.json,
    # over the row with state_bwd_acc and state_bwd_du_ahead, 2.436): W / U apart with the inverse at 2 warps
    # (2.361, now in the row); A = diag(b) K K^T formed in a third kernel ([64, 64], wgmma) so that the inverse
    # kernel held no key tile, at 4 warps (2.516) and 2 (2.425). At f1e347b (kernels_h200.json, tune narrowed
    # to 0, 7, 10 and these): the four diagonal 16 x 16 inverses by repeated squaring (wy_inverse "doubling":
    # (I + N)(I + N^2)(I + N^4)(I + N^8), N = -A, six float32 products a block on a chain of depth six) over
    # the K = 128 row, fwd+bwd 2.285 against 2.282 (fwd 0.869 against 0.864), with grads_kfirst 2.236 against
    # 2.226; over the K = 64 one 0.777 against 0.645 eager, 0.494 against 0.495 as CUDA graphs: level, so its
    # code was removed. The K = 128 row at K = 64: fwd+bwd as CUDA graphs 0.354 against the shipped 0.495 (fla
    # 0.462) but eager 0.856 against 0.645 (more launches on a host-bound shape)
]
TUNE_ERR_SLACK = 1.5     # a candidate counts only if its error is at most this times the shipped one's
TUNE_MIN_K = 64          # 64: at (8, 2048, 8, 64) fla's forward is faster than ours as CUDA graphs (0.18 vs
                         # 0.27 ms at 70a8c4a), so the settings that helped at K = 128 are worth timing there
# issue 13's bars: fla ms / ours ms (fwd+bwd, fwd), bfloat16
SMALL = [(8, 2048, 8, 64), (64, 256, 4, 32)]
BAR_FWDBWD = {s: (2.5 if s in SMALL else 1.5) for s in DELTA_SHAPES}
BAR_FWD = 1.0
BAR_FP32 = 2.0           # our fp32 fwd+bwd ms / our bf16 fwd+bwd ms
BAR_TESTS_S = 120.0
