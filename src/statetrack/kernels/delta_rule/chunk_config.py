"""Launch settings of the chunked delta-rule kernels (:mod:`statetrack.kernels.delta_rule.chunk`).

``CONFIG`` holds the defaults, ``SHAPE_CONFIG`` per-shape rows that a device measurement showed to be
faster, and ``FORCED`` what a caller imposes over both (``statetrack bench kernels --config`` and its
``tune`` stage, :func:`statetrack.kernels.testing.forced_launch`). :func:`launch_config` merges them.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from statetrack.kernels._common import KernelArgumentError

# defaults; `statetrack bench kernels` times alternatives in its tune stage and records them
CONFIG = {
    "wy_warps": 4,
    "wy_inverse": "serial",  # the four 16 x 16 diagonal inverses of a chunk: "serial" (one loop each),
                             # "fused" (one loop, four chains), "fused_loads" (that, each step's row read
                             # from a float32 scratch copy of -A instead of extracted by a reduction)
    "wy_dense_wu": False,  # True: W and U as one 64-row product each from the stored Tm (not 10 16-row
                           # ones); taken only where tm holds the state path's operand dtype (float32
                           # inputs, or 16-bit inputs with state_precision "bf16")
    "wy_split": False,     # True: W and U in a second kernel (64-row products from the stored Tm, at
                           # wu_warps), so the first forms only A and Tm at wy_warps; taken where Tm is stored
                           # in the state path's operand dtype (elsewhere the one kernel does both)
    "wu_warps": 4,
    "state_bv": 32,        # V-block of the sequential kernels (more blocks = more programs in flight)
    "state_warps": 4,
    "state_stages": 2,
    "state_bwd_bv": None,      # the reverse walk's own V-block, warps and stages (fla tunes its reverse
    "state_bwd_warps": None,   # walk apart from its forward one); None: the forward walk's state_bv,
    "state_bwd_stages": None,  # state_warps, state_stages
    "state_bwd_khalves": False,  # True: at a 128-wide key tile (K 65-128) the reverse walk carries dS as two
                                 # [64, BV] tiles and loads K, W, Q in 64-wide halves (as fla's does)
    "state_bwd_du_ahead": False,  # True: with split_du the reverse walk loads the next chunk's local dUn a
                                  # step ahead (by hand; Triton's pipeliner leaves that load synchronous)
    "state_bwd_acc": False,  # True: the reverse walk adds Q^T dO and -W^T dUn into dS in place (tl.dot's
                             # accumulator, no [K, BV] temporaries), dO scaled before it is rounded to the
                             # operand dtype (fla scales and rounds Q so)
    "state_fwd_tloads": False,   # True: the forward walk loads K key-major ([K, chunk], K^T Un's operand)
    "state_bwd_tloads": False,   # True: the reverse walk loads Q and W key-major ([K, chunk] tiles, the
                                 # operands of Q^T dO and W^T dUn as they are; fla's loads), not row-major
                                 # and transposed in registers
    "fp32_wide_state_stages": 1,  # cap on state_stages for float32 inputs with K > 64: two stages of the
                                  # float32 K, W, Q tiles took 237,568 / 245,760 B of shared memory
                                  # (triton 3.6, single-TF32 products), over the H200's 232,448 per block
    "grads_warps": 8,
    "grads_stages": 1,
    "grads_bk": 64,        # K- and V-blocks of the gradient kernel (128: K = 128 in one block, no
    "grads_bv": 64,        # float32 dk scratch round trip, but larger register tiles)
    "grads_split": False,  # True: that kernel as two (fla's split): dq, dk's output/state parts and dW per
                           # (chunk, K-block), then dv, dbeta, the rest of dk per chunk (the WY backward)
    "grads_kfirst": False,  # True: the first split kernel's grid puts the K-blocks first, so that a chunk's
                            # K-block programs run back to back and share its dO, Un, dUn tiles in L2 (fla's
                            # order for its dq / dk / dW kernel); False: (B H, chunks, K-blocks)
    "wy_bwd_warps": None,   # the second split gradient kernel's (the WY backward's) own warps and stages;
    "wy_bwd_stages": None,  # None: grads_warps, grads_stages (fla's autotuner picked 2 warps, 2 stages for
                            # its WY backward at K = 128 on the H200, 4 warps, 3 stages for dq/dk/dW)
    "grads_scratch": "float32",  # what grads_split hands from its first kernel to the second: dW and dk's
                                 # output/state part in "float32", dW alone in the input dtype ("dw16": the
                                 # products round dW to it anyway, so bit-identical for 16-bit inputs), or
                                 # both ("16bit": dk's part is rounded once more); float32 inputs: float32
    "split_o": False,      # True: o in a parallel kernel after the state walk (off its critical path)
    "split_du": False,     # True: dUn's output part in a parallel kernel before the reverse walk
    "du_local_kq": False,  # True: that dUn kernel forms its scores as K Q^T, not Q K^T transposed in registers
    "par_warps": 4,        # warps of those two parallel kernels
    "par_bv": 64,          # their V-block (128 at K = V = 128: Q K^T formed once per chunk, not twice)
    "fp32_precision": "tf32x3",   # float32 products on the state path: "ieee" (exact), "tf32x3" or "tf32"
    "fp32_intra_precision": "tf32x3",  # float32 intra-chunk products (K K^T, Q K^T, the gradient
                                       # products): those, or "bf16x3" (three bfloat16 products on hi / lo
                                       # splits, chunk_tiles._dot32; error 1.5e-5 on the H200). On the
                                       # state path bf16x3 gave NaN and an illegal memory access (H200,
                                       # triton 3.6, f1e347b), so fp32_precision refuses it
    "min_block": 64,              # smallest K / V / query tile (16-bit dots on 32-wide tiles
                                  # miscompiled on H100 with triton 3.6; 64 is the tested shape)
    "state_precision": "tf32",    # 16-bit inputs: "tf32" keeps the state path in float32, "bf16" not
}


class Row(NamedTuple):
    """A SHAPE_CONFIG row: settings over CONFIG for K >= k, T >= t (tokens), these input dtypes and
    Householder counts n_h[0] .. n_h[1] (None: no upper end; the delta rule is n_h = 1)."""
    k: int
    t: int
    dtypes: tuple[str, ...]
    settings: dict
    n_h: tuple[int, int | None] = (1, None)

    def matches(self, K: int, T: int, dtype_name: str | None, n_h: int) -> bool:
        lo, hi = self.n_h
        return (K >= self.k and T >= self.t and (dtype_name is None or dtype_name in self.dtypes)
                and lo <= n_h and (hi is None or n_h <= hi))


# per-shape overrides of CONFIG, first match wins, each a row the bench measured faster than CONFIG on the
# device, within its error slack (the tune stage for the delta rule, the product stage for DeltaProduct).
SHAPE_CONFIG: list[Row] = [
    # H200, (4, 8192, 16, 128) bf16, commit 70a8c4a (benchmarks/results/kernels_h200.json, tune):
    # fwd 1.32 ms / fwd+bwd 3.85 ms against CONFIG's 2.27 / 4.93; o off the state walk, dUn's output
    # part before the reverse walk, and the chunk states rounded to 16 bits between chunks as fla stores
    # them (worst error vs our float32 6.4e-3 -> 8.4e-3). Measured at this K and T only, so kept to them.
    # Then, at e28d5ee (benchmarks/results/logs/tune_k128_h200.log, the tune stage on this shape alone):
    # the walks' V-block 64 (128 programs: one wave where 256 ran as two) and the gradient kernel's loads
    # in two stages, fwd+bwd 3.42 ms against this row's 3.85 without them (fwd 1.29 / 1.31), the same error.
    # Then, at eddd51a (benchmarks/results/kernels_h200_k128.json, tune): the four diagonal inverses of
    # _wy_fwd in one loop, each step's row read from a float32 copy of -A: fwd 1.103 ms against 1.285,
    # fwd+bwd 3.230 against 3.401, the same error. At 90c495f (kernels_h200_tune_product.json, tune) over
    # that: three walk stages and the gradient kernel split in two launches at 4 warps, fwd 0.988 /
    # fwd+bwd 2.910 ms against 1.101 / 3.222, worst error vs our float32 8.40e-3 against 8.36e-3.
    # At fd700c3 (benchmarks/results/kernels_h200.json, tune): o and the local dUn with one 128-wide
    # V-block (Q K^T once per chunk), fwd 0.953 / fwd+bwd 2.796 ms against the row's 0.989 / 2.904, the
    # same error (8.40e-3); fla in that run 1.007 / 2.850.
    # At 7f76b2d (benchmarks/results/logs/tune_k128_7f76b2d.json, tune on this shape alone): dW and dk's
    # output/state part handed between the split gradient kernels in 16 bits, fwd+bwd 2.631 ms against the
    # row's 2.800 (dW alone 2.683, bit-identical), worst error vs our float32 8.51e-3 against 8.40e-3;
    # again at 265d09b (kernels_h200.json, tune): 2.652 against dW alone 2.703 (fla 2.870 in that run).
    # At 068c021 (benchmarks/results/logs/tune_k128_068c021.json, tune on this shape alone): the reverse walk
    # adding Q^T dO and -W^T dUn into dS in place with the local dUn loaded a chunk ahead, fwd+bwd 2.443 ms
    # against the row's 2.626 (each alone level: 2.628, 2.636), worst error vs our float32 8.67e-3 against
    # 8.51e-3 (dO scaled before rounding). At f897bf6 (logs/tune_k128_f897bf6.json, the same): W and U in a
    # kernel of their own and the inverse kernel at 2 warps, fwd 0.886 / fwd+bwd 2.361 ms against the row's
    # 0.961 / 2.436, the same error (8.67e-3); A in a third kernel too, 0.951 / 2.425. At 7f125cb (full bench,
    # kernels_h200.json, tune): the W / U kernel at 2 warps, fwd 0.861 (CUDA graph 0.851) / fwd+bwd 2.339 ms
    # against the row's (4 warps) 0.888 (0.876) / 2.368, the same error; at 8 warps 0.879 (0.869) / 2.356.
    # At f1e347b (full bench, kernels_h200.json, tune): the first split gradient kernel's grid with the
    # K-blocks first (grads_kfirst), fwd+bwd 2.226 ms (CUDA graph 2.209) against the row's 2.282 (2.262),
    # the same error (8.67e-3).
    # Measured for the delta rule; it applies to DeltaProduct at this K and T too, unmeasured there.
    Row(128, 8192, ("bfloat16", "float16"), {"split_o": True, "split_du": True, "state_precision": "bf16",
                                             "state_bv": 64, "grads_stages": 2, "wy_inverse": "fused_loads",
                                             "state_stages": 3, "grads_split": True, "grads_warps": 4,
                                             "par_bv": 128, "grads_scratch": "16bit", "state_bwd_acc": True,
                                             "state_bwd_du_ahead": True, "wy_split": True, "wy_warps": 2,
                                             "wu_warps": 2, "grads_kfirst": True}),
    # float32 at K = 128, T >= 8192: the launch settings of the row above that float32 inputs take (the
    # walks' V-block 64, the fused inverse with row loads, the split gradient kernels at 4 warps with two
    # load stages; one walk stage for float32 at K > 64 drops the split o / dUn kernels, and the states and
    # the gradient scratch stay float32). H200, (4, 8192, 16, 128), tf32x3 products: fwd+bwd 24.6 ms against
    # CONFIG's 31.1 in one process at 265d09b (kernels_h200.json: the tune's float32 run of its best against
    # the delta stage), 24.1 at 7f76b2d; fwd 11.09 against 11.22. Checked against the fp64 loop on the GPU
    # (tests/kernels/test_kernels_householder.py, the float32 K = 128 row case).
    Row(128, 8192, ("float32",), {"state_bv": 64, "wy_inverse": "fused_loads", "grads_split": True,
                                  "grads_warps": 4, "grads_stages": 2}),
    # DeltaProduct n_h = 4 only: the row below with the split gradient kernels of the K = 128 row (4 warps,
    # two load stages, 16-bit scratch). H200, (8, 2048, 8, 64) bf16 at c8dbc60, product stage in one
    # process (benchmarks/results/kernels_h200_product.json): fwd+bwd 1.206 ms against 1.449, fwd 0.613
    # against 0.614, worst error vs our float32 8.93e-3 against 8.75e-3. At n_h = 2 the same call read fwd
    # 0.316 against 0.314 and fwd+bwd 1.003 against 1.034 (a noisy host that call: fla's eager forward took
    # 0.682 ms where its CUDA graph took 0.339), so n_h = 2 keeps the one-launch gradient kernel.
    # Both DeltaProduct rows: W and U in a kernel of their own and the inverse kernel at 2 warps (the K = 128
    # row's WY kernels; f1e347b, kernels_h200.json, product stage, same process): n_h = 2 fwd 0.268 / fwd+bwd
    # 0.691 ms against 0.319 / 0.910 (as CUDA graphs 0.259 / 0.679 against 0.315 / 0.740), n_h = 4 0.514 /
    # 1.115 against 0.625 / 1.228 (graphs 0.507 / 1.105 against 0.618 / 1.217), worst error vs our float32
    # unchanged (8.7e-3, 8.9e-3). At 7f125cb the eager fwd+bwd had read the other way (0.990 / 1.262 against
    # 0.766 / 1.223, no graph column then) with the forward faster as now.
    Row(64, 2048, ("bfloat16", "float16"), {"wy_inverse": "fused_loads", "state_precision": "bf16",
                                            "state_stages": 3, "grads_split": True, "grads_warps": 4,
                                            "grads_stages": 2, "grads_scratch": "16bit", "wy_split": True,
                                            "wy_warps": 2}, n_h=(4, 4)),
    # H200, DeltaProduct (8, 2048, 8, 64) bf16 at 265d09b (benchmarks/results/kernels_h200.json, product
    # stage, fla beside): over the K = 64 row below, the chunk states rounded to 16 bits between chunks and
    # three walk stages, n_h = 2 fwd 0.319 / fwd+bwd 0.799 ms against 0.430 / 0.960 (fla 0.373 / 2.449;
    # as CUDA graphs 0.315 against fla's 0.340), n_h = 4 0.626 / 1.470 against 0.831 / 1.863 (fla 0.651 /
    # 2.365; graphs 0.618 against 0.639); worst error vs our float32 8.7e-3 against 6.6e-3 (fla keeps its
    # states in 16 bits too). Measured at n_h = 2 and 4 only (n_h = 3 between them, unmeasured); the delta
    # rule keeps the row below (16-bit states there: fwd+bwd 0.921 against 0.747 ms in the same run).
    Row(64, 2048, ("bfloat16", "float16"), {"wy_inverse": "fused_loads", "state_precision": "bf16",
                                            "state_stages": 3, "wy_split": True, "wy_warps": 2}, n_h=(2, 4)),
    # H200, DeltaProduct (8, 2048, 8, 64) bf16 at fd700c3 (kernels_h200.json, product stage, same process):
    # the fused inverse with row loads over CONFIG, n_h = 2 fwd 0.428 / fwd+bwd 0.950 ms against 0.520 /
    # 1.038, n_h = 4 0.821 / 1.848 against 1.005 / 2.023 (the WY kernel is most of the product's forward).
    # The row applies to the delta rule too (rows do not look at n_h): there the inverse took fwd 1.285 ->
    # 1.103 ms at K = 128 (eddd51a); at K = 64 the delta stage read fwd 0.225 ms at 9863c1e against 0.270
    # with the serial inverse at fd700c3 (two machines, kernels_h200_k64.json). Side by side at 265d09b
    # (kernels_h200.json, tune): fwd 0.228 / fwd+bwd 0.747 ms against CONFIG's 0.452 / 1.130, same error.
    Row(64, 2048, ("bfloat16", "float16"), {"wy_inverse": "fused_loads"}),
]

# settings forced over CONFIG and SHAPE_CONFIG (the bench's --config and tune stage write here)
FORCED: dict = {}

# the values each string setting takes; launch_config and the bench's --config refuse any other by name
CHOICES = {"wy_inverse": ("serial", "fused", "fused_loads"), "grads_scratch": ("float32", "dw16", "16bit"),
           "fp32_precision": ("ieee", "tf32", "tf32x3"),
           "fp32_intra_precision": ("ieee", "tf32", "tf32x3", "bf16x3"),
           "state_precision": ("tf32", "bf16")}

# settings whose None takes another's value (the reverse walk's own, unless set: the forward walk's; the WY
# backward's, unless set: the gradient kernels')
INHERITS = {"state_bwd_bv": "state_bv", "state_bwd_warps": "state_warps", "state_bwd_stages": "state_stages",
            "wy_bwd_warps": "grads_warps", "wy_bwd_stages": "grads_stages"}


def setting_type(key: str) -> type:
    """The type a value of setting ``key`` has (an inheriting setting's: the one it inherits)."""
    return type(CONFIG[INHERITS.get(key, key)])


def shape_row(K: int, T: int, dtype_name: str | None = None, n_h: int = 1) -> dict:
    """The settings of the first SHAPE_CONFIG row that matches (:meth:`Row.matches`; dtype_name such as
    "bfloat16", None: any), or {} where none does."""
    for row in SHAPE_CONFIG:
        if row.matches(K, T, dtype_name, n_h):
            return row.settings
    return {}


def launch_config(K: int, T: int, dtype: torch.dtype | None = None, n_h: int = 1) -> dict:
    """CONFIG, then the first SHAPE_CONFIG row that matches K, T (tokens), this dtype and n_h, then
    FORCED; the reverse walk's settings left at None take the forward walk's; then the stage rules
    (for both walks), which nothing overrides:

    * float32 inputs with K > 64: state_stages capped at fp32_wide_state_stages (shared memory);
    * 16-bit inputs: at least two state stages. On the H200 (triton 3.6, bf16, K = 128) the reverse
      walk built with one stage gave wrong dK / dV / dbeta (relative error 1.6 to 1.3e7) or an illegal
      memory access, with or without the split kernels, while the forward was bit-identical to the
      two-stage build (tests/kernels/test_program_order.py, GPU cases, at a115239). The float32
      one-stage walk passes the same GPU tests;
    * the split kernels (split_o, split_du) only with two or more stages: the one case left with one
      stage, float32 at K > 64, has never run them on a device."""
    cfg = dict(CONFIG)
    cfg.update(shape_row(K, T, str(dtype).rsplit(".", 1)[-1] if dtype is not None else None, n_h))
    cfg.update(FORCED)
    for key, allowed in CHOICES.items():
        if cfg[key] not in allowed:
            raise KernelArgumentError(f"{key} {cfg[key]!r}: expected one of {', '.join(map(repr, allowed))}")
    for key, source in INHERITS.items():
        if cfg[key] is None:
            cfg[key] = cfg[source]
    for key in ("state_stages", "state_bwd_stages"):
        if dtype == torch.float32 and K > 64:
            cfg[key] = min(cfg[key], cfg["fp32_wide_state_stages"])
        elif dtype in (torch.bfloat16, torch.float16):
            cfg[key] = max(cfg[key], 2)
    if min(cfg["state_stages"], cfg["state_bwd_stages"]) == 1:
        cfg["split_o"] = cfg["split_du"] = False
    return cfg
