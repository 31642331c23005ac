"""Build the chunk kernels for an H100/H200 (sm_90) without a GPU and report what each build holds.

The chunk forward and backward run on CPU tensors with a stand-in Triton driver that names sm_90 as its
target; every launch is compiled (``warmup``) instead of run. Per kernel: registers and stack bytes (spills,
from ``cuobjdump --dump-resource-usage``), shared memory, and counts in its PTX of prefetched loads
(``cp.async``), plain loads (``ld.global``: the ones Triton's pipeliner did not prefetch), stores and
tensor-core products (``wgmma``, or ``mma.sync`` below 4 warps). Nothing is timed: these are the facts a
device call then explains. The local Triton compiles, which may differ from the device's.

    python benchmarks/offline_sm90.py --shape 8192,16,128 --dtype bfloat16 --config split_du=true
    python benchmarks/offline_sm90.py --shape 2048,8,64 --nh 2 --rows      # with the SHAPE_CONFIG rows
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

COUNTS = {"cp.async": r"cp\.async\.c[ga]", "ld.global": r"ld\.global", "st.global": r"st\.global",
          "wgmma": r"wgmma\.mma_async", "mma.sync": r"mma\.sync"}


class StandInDriver:
    """What JITFunction.run asks of the active driver, answered for an sm_90 device that is not there."""

    def __init__(self):
        from triton.backends.compiler import GPUTarget
        self.target = GPUTarget("cuda", 90, 32)

    def get_current_target(self):
        return self.target

    def get_current_device(self):
        return 0

    def get_current_stream(self, device=None):
        return 0

    def get_device_interface(self):
        import torch
        return torch.cuda

    def __getattr__(self, name):
        raise AttributeError(f"the stand-in sm_90 driver has no {name!r}: this Triton asks more of it")


def resources(kernel) -> dict:
    """Registers, stack and shared bytes of a compiled kernel, and its PTX counts."""
    import triton
    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kernel.asm["cubin"])
        f.flush()
        usage = subprocess.run([tool, "--dump-resource-usage", f.name], capture_output=True, text=True).stdout
    row = {"registers": int(re.search(r"REG:(\d+)", usage).group(1)),
           "stack": int(re.search(r"STACK:(\d+)", usage).group(1)), "shared": kernel.metadata.shared}
    ptx = kernel.asm["ptx"]
    row.update({name: len(re.findall(pat, ptx)) for name, pat in COUNTS.items()})
    return row


def build_all(T: int, H: int, K: int, n_h: int, dtype_name: str, settings: dict, rows: bool) -> list:
    """Compile the chunk forward and backward at (1, T, H, K = V) for sm_90 with ``settings`` forced (over
    the SHAPE_CONFIG rows if ``rows``, else over CONFIG); the settings in force, then one row per distinct
    kernel build in launch order."""
    import torch
    from triton.runtime import driver
    from triton.runtime.jit import JITFunction

    from statetrack.kernels.delta_rule import chunk as chunk_mod
    from statetrack.kernels.testing import forced_launch

    dtype = getattr(torch, dtype_name)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, T, H, K, generator=g).to(dtype)
    k = torch.nn.functional.normalize(torch.randn(1, T * n_h, H, K, generator=g), dim=-1).to(dtype)
    v = torch.randn(1, T * n_h, H, K, generator=g).to(dtype)
    beta = torch.rand(1, T * n_h, H, generator=g).to(dtype)
    built, real_run = [], JITFunction.run

    def compile_only(self, *args, grid, warmup, **kwargs):
        kernel = real_run(self, *args, grid=grid, warmup=True, **kwargs)
        built.append((self.fn.__name__, kernel))
        return kernel

    driver.set_active(StandInDriver())
    JITFunction.run = compile_only
    try:
        with forced_launch(shape_rows=rows, **settings):
            cfg = chunk_mod.launch_config(K, T, dtype, n_h)
            o, _, saved = chunk_mod.chunk_fwd(q, k, v, beta, K ** -0.5, None, False, n_h, True)
            chunk_mod.chunk_bwd(q, k, v, beta, K ** -0.5, None, saved, torch.zeros_like(o), None, n_h)
    finally:
        JITFunction.run = real_run
        driver._active = None          # the next use makes the real one again (none without a GPU)
    out, seen = [], set()
    for name, kernel in built:
        if id(kernel) not in seen:
            seen.add(id(kernel))
            out.append({"kernel": name, **resources(kernel)})
    return [{"launch_config": cfg}] + out


def main(argv=None) -> int:
    from statetrack.kernels._common import KernelArgumentError
    from statetrack.kernels.bench import _apply_config        # --config as the bench parses it, into FORCED
    from statetrack.kernels.delta_rule.chunk_tiles import BT, MAX_K

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="8192,16,128", help="T,H,K (K = V)")
    p.add_argument("--nh", type=int, default=1, help="Householder factors per token (1: the delta rule)")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--config", action="append", default=[], help="KEY=VALUE launch setting, repeatable")
    p.add_argument("--rows", action="store_true", help="apply the SHAPE_CONFIG rows (default: CONFIG alone)")
    args = p.parse_args(argv)
    try:
        T, H, K = (int(x) for x in args.shape.split(","))
    except ValueError:
        p.error(f"--shape: {args.shape!r} is not three integers T,H,K")
    if min(T, H, K) < 1 or K > MAX_K:
        p.error(f"--shape: T, H, K must be at least 1 and K at most {MAX_K}, got {args.shape}")
    if not 1 <= args.nh <= BT:
        p.error(f"--nh: the chunk kernels take 1 to {BT} Householder factors per token, got {args.nh}")
    _apply_config(args.config, p)
    try:
        rows = build_all(T, H, K, args.nh, args.dtype, {}, args.rows)
    except (KernelArgumentError, ValueError, FileNotFoundError) as e:     # a setting or tool the build refused
        p.error(str(e).splitlines()[0])
    cfg = rows.pop(0)["launch_config"]
    print("settings: " + ", ".join(f"{k}={v}" for k, v in sorted(cfg.items())))
    cols = ["registers", "stack", "shared", *COUNTS]
    print(f"{'kernel':24s} " + " ".join(f"{c:>9s}" for c in cols))
    for r in rows:
        print(f"{r['kernel']:24s} " + " ".join(f"{r[c]:>9d}" for c in cols))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
