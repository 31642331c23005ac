"""Where the kernel bench's eager timings are bound by the host: per shape and bf16, ours beside fla, the
host's time to issue one call (Python, autograd and the kernel launches, measured before the GPU is waited
for) against the GPU's own time (the sum of its kernels under the profiler), forward and forward+backward.

    python3 benchmarks/host_overhead.py [-o OUT.json] [--calls N]
    python3 benchmarks/host_overhead.py --python-only [--src DIR ...]

A call whose host time exceeds its GPU time leaves the GPU idle between kernels: an eager timing then
measures the host. The JSON also lists the host functions that took longest in our fwd+bwd (cProfile).

--python-only (no GPU): our part of that host time alone, on CPU tensors at (1, 64, 1, 64) bf16 with every
Triton launch stubbed out (TRITON_INTERPRET=1, the kernels never run): the Python and PyTorch work a call
does around its launches. Each --src (a checkout's src/, e.g. of an older commit) is timed in a process of
its own, one after the other, for a before / after on the same machine.
"""
from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _host_and_wall(torch, fn, calls: int) -> tuple[float, float]:
    """us per call: the host's time to return from `calls` calls issued back to back, and the wall time
    until the GPU has finished them all."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    t2 = time.perf_counter()
    return (t1 - t0) / calls * 1e6, (t2 - t0) / calls * 1e6


def _gpu_us(torch, fn, calls: int) -> float:
    """us per call of GPU kernel time (the profiler's device time, summed over kernels)."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages()) / calls


def _hot(fn, calls: int, top: int = 12) -> list:
    """[[function, us per call (own time)], ...] of the host's longest functions over `calls` calls."""
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(calls):
        fn()
    pr.disable()
    st = pstats.Stats(pr)
    rows = [(f"{Path(f).name}:{line}({name})", tt / calls * 1e6) for (f, line, name), (_, _, tt, _, _)
            in st.stats.items()]
    return [[n, round(us, 1)] for n, us in sorted(rows, key=lambda r: -r[1])[:top]]


_PYTHON_ONLY = """
import json, os, sys, time
os.environ["TRITON_INTERPRET"] = "1"
import torch
from triton.runtime import interpreter
interpreter.InterpretedFunction.run = lambda self, *a, grid=None, warmup=None, **kw: None   # no kernel runs
from statetrack.kernels import delta_rule
calls = int(sys.argv[1])
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(1, 64, 1, 64, generator=g) for _ in range(3))
xs = [x.bfloat16().requires_grad_() for x in (q, torch.nn.functional.normalize(k, dim=-1), v,
                                               2 * torch.rand(1, 64, 1, generator=g))]
do = torch.randn(1, 64, 1, 64, generator=g).bfloat16()
def fwd():
    with torch.no_grad():
        delta_rule(*xs, backend="chunk")
def fwdbwd():
    for x in xs:
        x.grad = None
    delta_rule(*xs, backend="chunk")[0].backward(do)
out = {}
for name, fn in (("fwd", fwd), ("fwdbwd", fwdbwd)):
    for _ in range(20):
        fn()
    best = float("inf")
    for _ in range(5):          # best of five runs of `calls` calls: the least disturbed by the machine
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls * 1e6)
    out[f"{name}_python_us"] = best
print(json.dumps(out))
"""


def python_only(srcs: list, calls: int, out: Path) -> int:
    """Time _PYTHON_ONLY once per source tree, each in a fresh interpreter, and write one JSON."""
    import subprocess
    from _meta import run_metadata
    rows = []
    for src in srcs:
        env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
        proc = subprocess.run([sys.executable, "-c", _PYTHON_ONLY, str(calls)], env=env, capture_output=True,
                              text=True)
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            print(f"host_overhead.py: {src}: {last}", file=sys.stderr)
            return 2
        rev = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "."], capture_output=True, text=True)
        rows.append({"src": str(src), "commit": (rev.stdout.strip() or None) if rev.returncode == 0 else None,
                     "src_changed_since": bool(dirty.stdout.strip()),
                     **json.loads(proc.stdout.strip().splitlines()[-1])})
        print(json.dumps(rows[-1]), flush=True)
    _write(out, {"meta": run_metadata(seed=0), "method": f"--python-only: (1, 64, 1, 64) bf16 on CPU tensors, every "
                 f"Triton launch stubbed (TRITON_INTERPRET=1); best of 5 x {calls} calls after 20 warm-up calls; "
                 "one process per source tree, one after the other", "rows": rows})
    return 0


def _write(out: Path, res: dict) -> None:
    from statetrack.provenance import atomic_write_bytes
    atomic_write_bytes(out, (json.dumps(res, indent=1) + "\n").encode())
    print(f"wrote {out}")


def main(argv=None) -> int:
    from statetrack.cli_args import Parser, pos_int
    ap = Parser(prog="host_overhead.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default=None, help="the JSON (default benchmarks/results/"
                    "host_overhead_h200.json, with --python-only host_overhead_python_cpu.json)")
    ap.add_argument("--calls", type=pos_int, default=30, help="calls per measurement (default 30)")
    ap.add_argument("--python-only", action="store_true", help="our Python part alone, on the CPU (see above)")
    ap.add_argument("--src", action="append", default=None, metavar="DIR",
                    help="with --python-only: a source tree to time (repeatable; default this checkout's src)")
    args = ap.parse_args(argv)
    from statetrack.errors import StatetrackError
    from statetrack.provenance import check_output_path
    name = "host_overhead_python_cpu.json" if args.python_only else "host_overhead_h200.json"
    try:               # refused before any measuring: a directory, a path under a file
        out = check_output_path(f"benchmarks/results/{name}" if args.out is None else args.out)
    except StatetrackError as e:
        ap.error(f"--out: {e}")
    if args.python_only:
        srcs = args.src or [str(Path(__file__).resolve().parents[1] / "src")]
        missing = [s for s in srcs if not (Path(s) / "statetrack").is_dir()]
        if missing:
            ap.error(f"--src {missing[0]!r} holds no statetrack package")
        return python_only(srcs, args.calls, out)
    import torch
    if not torch.cuda.is_available():
        ap.error("needs a CUDA device")
    from _meta import run_metadata
    from statetrack.kernels import delta_rule
    from statetrack.kernels.bench import _inputs, _load_fla
    from statetrack.kernels.bench_plan import DELTA_SHAPES
    fla = _load_fla()
    impls = {"ours": lambda q, k, v, b: delta_rule(q, k, v, b, backend="chunk")}
    if fla:
        impls["fla"] = lambda q, k, v, b: fla["chunk"](q, k, v, b)
    rows = []
    for (B, T, H, K) in DELTA_SHAPES:
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0, device="cuda")]
        for who, call in impls.items():
            do = torch.randn(B, T, H, K, device="cuda", dtype=torch.bfloat16)

            def fwd():
                with torch.no_grad():
                    call(*xs)

            def fwdbwd():
                for x in xs:
                    x.grad = None
                call(*xs)[0].backward(do)
            row = {"who": who, "shape": [B, T, H, K, K]}
            for kind, fn in (("fwd", fwd), ("fwdbwd", fwdbwd)):
                for _ in range(3):          # compilation, fla's autotuning
                    fn()
                host, wall = _host_and_wall(torch, fn, args.calls)
                row.update({f"{kind}_host_us": host, f"{kind}_wall_us": wall,
                            f"{kind}_gpu_us": _gpu_us(torch, fn, args.calls)})
            if who == "ours":
                row["fwdbwd_host_hot"] = _hot(fwdbwd, args.calls)
            rows.append(row)
            print(json.dumps({k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()
                              if k != "fwdbwd_host_hot"}), flush=True)
    res = {"meta": run_metadata(torch=torch.__version__, device=torch.cuda.get_device_name(),
                                fla=fla and fla["version"], seed=0),
           "method": f"{args.calls} calls issued back to back after 3 warm-up calls: host = time until the last "
                     "returns, wall = until the GPU is done, gpu = the profiler's kernel time; bf16, beta in [0, 2]",
           "rows": rows}
    _write(out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
