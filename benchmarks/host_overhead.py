"""Where the kernel bench's eager timings are bound by the host: per shape and bf16, ours beside fla, the
host's time to issue one call (Python, autograd and the kernel launches, measured before the GPU is waited
for) against the GPU's own time (the sum of its kernels under the profiler), forward and forward+backward.

    python3 benchmarks/host_overhead.py [-o OUT.json] [--calls N]

A call whose host time exceeds its GPU time leaves the GPU idle between kernels: an eager timing then
measures the host. The JSON also lists the host functions that took longest in our fwd+bwd (cProfile).
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


def main(argv=None) -> int:
    from statetrack.cli_args import Parser, pos_int
    ap = Parser(prog="host_overhead.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default="benchmarks/results/host_overhead_h200.json")
    ap.add_argument("--calls", type=pos_int, default=30, help="calls per measurement (default 30)")
    args = ap.parse_args(argv)
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
                                fla=fla and fla["version"]),
           "method": f"{args.calls} calls issued back to back after 3 warm-up calls: host = time until the last "
                     "returns, wall = until the GPU is done, gpu = the profiler's kernel time; bf16, beta in [0, 2]",
           "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=1))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
