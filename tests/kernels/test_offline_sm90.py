"""benchmarks/offline_sm90.py: the chunk kernels built for sm_90 without a GPU (compiled, not run)."""
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SCRIPT = os.path.join(ROOT, "benchmarks", "offline_sm90.py")


def table(*args):
    """The script's kernel rows {name: {column: int}}, run without the interpreter (it compiles for real)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("kernel "))
    cols = lines[head].split()[1:]
    return {r.split()[0]: dict(zip(cols, map(int, r.split()[1:]))) for r in lines[head + 1:] if r.strip()}


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CPU-machine tool; on a GPU the kernels are timed")
def test_builds_every_chunk_kernel_and_counts_the_loads_the_pipeliner_left():
    """Forward and backward kernels with the split o / dUn kernels at K = 64 (bf16, two stages): each has
    registers and shared memory; the reverse walk prefetches its tiles (cp.async) and loads the local dUn
    plainly, and loading it a chunk ahead by hand adds a plain load (the prologue's)."""
    base = table("--shape", "256,2,64", "--config", "split_o=true", "--config", "split_du=true")
    assert set(base) == {"_wy_fwd_kernel", "_state_fwd_kernel", "_o_fwd_kernel", "_du_local_kernel",
                         "_state_bwd_kernel", "_grads_bwd_kernel"}
    assert all(r["registers"] > 0 and r["shared"] > 0 for r in base.values())
    walk = base["_state_bwd_kernel"]
    assert walk["cp.async"] > 0 and walk["ld.global"] > 0 and walk["wgmma"] > 0
    ahead = table("--shape", "256,2,64", "--config", "split_o=true", "--config", "split_du=true",
                  "--config", "state_bwd_du_ahead=true")["_state_bwd_kernel"]
    assert ahead["ld.global"] == 2 * walk["ld.global"] and ahead["cp.async"] == walk["cp.async"]


@pytest.mark.parametrize("args, msg", [
    (["--shape", "a,b"], "'a,b' is not three integers"),
    (["--shape=-5,2,64"], "at least 1 and K at most 128"),
    (["--shape", "256,2,200"], "at least 1 and K at most 128"),
    (["--nh", "0"], "1 to 64 Householder factors"),
    (["--config", "wy_inverse=x"], "wy_inverse takes one of"),
])
def test_bad_arguments_are_one_line_errors(args, msg):
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and msg in out.stderr and "Traceback" not in out.stderr, out.stderr[-500:]
