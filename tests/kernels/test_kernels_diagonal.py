"""Diagonal-recurrence kernels against the float64 loop: output, final state, every gradient.

Decays span [-1, 1] and include exact 0 (a reset, where S_{t-1} cannot be recovered from S_t) and
+-1; odd sizes; NaN-poisoned allocations. CPU runs use TRITON_INTERPRET=1 on small shapes.
"""
import pytest
import torch

from statetrack.kernels import diagonal
from statetrack.kernels.testing import (NAMES, TOLERANCE, assert_close, make_inputs, outputs_and_grads,
                                        poison_empty)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FP32, FP16, BF16 = torch.float32, torch.float16, torch.bfloat16
CPU = pytest.mark.skipif(torch.cuda.is_available(), reason="interpreter-sized; the gpu cases cover it")

CASES = [
    # CPU-sized: the interpreter runs the [16, BK, BV] scans element by element, so keep one block
    pytest.param(FP32, 1, 40, 1, 16, 16, True, id="fp32-T40-h0", marks=CPU),
    pytest.param(FP32, 1, 35, 1, 12, 10, False, id="fp32-T35-K12-V10-no-h0", marks=CPU),
    pytest.param(FP16, 1, 20, 1, 16, 16, True, id="fp16-T20", marks=CPU),
    pytest.param(BF16, 2, 300, 3, 64, 64, True, id="bf16-T300-K64", marks=pytest.mark.gpu),
    pytest.param(FP32, 2, 257, 2, 100, 60, True, id="fp32-K100-V60", marks=pytest.mark.gpu),
    pytest.param(BF16, 1, 129, 2, 128, 128, False, id="bf16-K128", marks=pytest.mark.gpu),
]


@pytest.mark.parametrize("backend", ["chunk", "fused_recurrent"])
@pytest.mark.parametrize("dtype, B, T, H, K, V, h0", CASES)
def test_diagonal_matches_fp64_loop(backend, dtype, B, T, H, K, V, h0):
    check_against_fp64(backend, dtype, B, T, H, K, V, h0)


@CPU
@pytest.mark.parametrize("backend, K, V", [("fused_recurrent", 64, 136), ("chunk", 16, 16)],
                         ids=["fused_recurrent-3-V-blocks", "chunk"])
def test_several_programs_on_cpu(backend, K, V):
    """Two (batch, head) programs, and for fused_recurrent three V-blocks of 64: a mixed-up grid index
    (program axis vs block axis) reads or writes another program's rows. The chunk scan with several
    blocks runs ~1 min in the interpreter, so it is covered by the GPU cases."""
    check_against_fp64(backend, FP32, 1, 9, 2, K, V, True)


def check_against_fp64(backend, dtype, B, T, H, K, V, h0):
    inputs = make_inputs("diagonal", B, T, H, K, V, h0=h0, device=DEVICE)
    ref = outputs_and_grads(diagonal, inputs, torch.float64, "naive")
    with poison_empty():
        out = outputs_and_grads(diagonal, inputs, dtype, backend)
    assert out["o"].dtype == dtype and out["final_state"].dtype == torch.float32
    for name in NAMES:
        if name in ref:
            label = name.replace("dgate", "da")
            assert_close(f"diagonal/{backend}/{str(dtype)[6:]} {label}", ref[name], out[name], TOLERANCE[dtype])


@pytest.mark.parametrize("backend", ["chunk", "fused_recurrent"])
def test_sign_flips_are_exact(backend):
    """a = -1 on every step and no input: the state flips sign each step and returns exactly."""
    B, T, H, K = 1, 34, 1, 16
    h0 = torch.randn(B, H, K, K, device=DEVICE)
    zeros = torch.zeros(B, T, H, K, device=DEVICE)
    _, S = diagonal(zeros, zeros, zeros, -torch.ones(B, T, H, K, device=DEVICE), initial_state=h0,
                    output_final_state=True, backend=backend)
    assert torch.equal(S, h0)  # (-1)^34 = 1, exactly
