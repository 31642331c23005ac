"""Kernel benchmark: statetrack's Triton kernels against fla (flash-linear-attention) side by side.

``statetrack bench kernels`` and ``python benchmarks/kernels.py`` call :func:`main`. On one CUDA
device it measures, in a single process so that both libraries see the same GPU state:

* accuracy against the float64 loop (``backend="naive"``) with beta in [0, 1] and [0, 2], for our
  chunk kernel in bfloat16 and float32 and for fla's chunk (bf16) and fused_recurrent (fp32);
* milliseconds (median of ``triton.testing.do_bench``) for the forward pass and for forward +
  backward, bfloat16, at the issue's shapes, ours and fla's, and the ratio fla / ours;
* DeltaProduct with n_h = 2 and 4 against fla's ``chunk_gated_delta_product(g=None)``;
* our float32 chunk time against our bfloat16 time.

fla is optional: without it the fla columns are skipped with a message. Results go to a JSON file
with the device, library versions and the git commit (``--commit`` or ``$STATETRACK_COMMIT``, else
``git rev-parse HEAD``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

DELTA_SHAPES = [(8, 2048, 8, 64), (64, 256, 4, 32), (4, 8192, 16, 128)]   # (B, T, H, K = V)
PRODUCT_SHAPE = (8, 2048, 8, 64)
ACCURACY_SHAPE = (2, 1024, 2, 64)
BARS = {  # minimum fla_ms / ours_ms, fwd+bwd bf16, from issue 6
    "delta_rule (8, 2048, 8, 64)": 1.0,
    "delta_rule (64, 256, 4, 32)": 1.5,
    "delta_rule (4, 8192, 16, 128)": 1.0,
    "delta_product n_h=2 (8, 2048, 8, 64)": 1.0,
    "delta_product n_h=4 (8, 2048, 8, 64)": 1.0,
}


def _git_commit(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("STATETRACK_COMMIT"):
        return os.environ["STATETRACK_COMMIT"]
    from statetrack.provenance import git_info

    return git_info()["commit"] or "unknown"


def _load_fla():
    try:
        from fla.ops.delta_rule import chunk_delta_rule, fused_recurrent_delta_rule
        from fla.ops.gated_delta_product import chunk_gated_delta_product
        import fla
    except Exception as exc:  # noqa: BLE001 - any import failure means "no fla here"
        print(f"fla not importable ({type(exc).__name__}: {exc}); fla columns skipped", flush=True)
        return None
    return dict(version=getattr(fla, "__version__", "?"), chunk=chunk_delta_rule,
                fused_recurrent=fused_recurrent_delta_rule, product=chunk_gated_delta_product)


def _inputs(torch, B, T, H, K, V, dtype, beta_max, n_h=None, seed=0, device="cuda"):
    """q, k (unit rows), v, beta in [0, beta_max]; with n_h, k/v/beta carry a sub-step axis."""
    import torch.nn.functional as F
    g = torch.Generator(device=device).manual_seed(seed)
    extra = () if n_h is None else (n_h,)
    q = torch.randn(B, T, H, K, device=device, generator=g)
    k = F.normalize(torch.randn((B, T) + extra + (H, K), device=device, generator=g), dim=-1)
    v = torch.randn((B, T) + extra + (H, V), device=device, generator=g)
    beta = torch.rand((B, T) + extra + (H,), device=device, generator=g) * beta_max
    return [x.to(dtype) for x in (q, k, v, beta)]


def _rel(torch, ref, out) -> float:
    return ((out.double() - ref.double()).norm() / ref.double().norm()).item()


def _bench(fn, grad_to_none=None, warmup=25, rep=100) -> float:
    from triton.testing import do_bench
    return float(do_bench(fn, warmup=warmup, rep=rep, grad_to_none=grad_to_none, return_mode="median"))


def _fwd_bwd(torch, call, xs):
    do = torch.randn_like(call(*[x.detach() for x in xs])[0])

    def run():
        o = call(*xs)[0]
        o.backward(do)
    return run


def accuracy(torch, fla, log) -> dict:
    """Relative error against the float64 loop run on the same (already rounded) inputs, so that only
    the kernels' own arithmetic is measured (as in shared/bench/anchor_fla_bench.py); beta <= 1 and <= 2.
    Ours: o and every gradient, chunk and fused_recurrent; fla: chunk (o, grads) and fused_recurrent (o)."""
    from statetrack.kernels import delta_rule
    B, T, H, K = ACCURACY_SHAPE
    out = {}
    for bmax in (1.0, 2.0):
        for dtype in (torch.float32, torch.bfloat16):
            q, k, v, beta = _inputs(torch, B, T, H, K, K, dtype, bmax, seed=1)
            do = torch.randn(q.shape, device=q.device, generator=torch.Generator(q.device).manual_seed(2))
            ref_x = [x.double().requires_grad_() for x in (q, k, v, beta)]
            ref_o, _ = delta_rule(*ref_x, backend="naive")
            ref_o.backward(do.double())
            ref_g = [x.grad for x in ref_x]
            row = {}
            for backend in ("chunk", "fused_recurrent"):
                xs = [x.clone().requires_grad_() for x in (q, k, v, beta)]
                o, _ = delta_rule(*xs, backend=backend)
                o.backward(do.to(dtype))
                row[f"ours_{backend}_o"] = _rel(torch, ref_o, o)
                for name, r, x in zip(("dq", "dk", "dv", "dbeta"), ref_g, xs):
                    row[f"ours_{backend}_{name}"] = _rel(torch, r, x.grad)
            if fla is not None:
                xs = [x.clone().requires_grad_() for x in (q, k, v, beta)]
                try:
                    o, _ = fla["chunk"](*xs)
                    o.backward(do.to(dtype))
                    row["fla_chunk_o"] = _rel(torch, ref_o, o)
                    for name, r, x in zip(("dq", "dk", "dv", "dbeta"), ref_g, xs):
                        row[f"fla_chunk_{name}"] = _rel(torch, r, x.grad)
                except Exception as exc:  # noqa: BLE001 - fla refuses float32
                    row["fla_chunk_o"] = f"error: {exc}"[:120]
                row["fla_fused_recurrent_o"] = _rel(torch, ref_o, fla["fused_recurrent"](q, k, v, beta)[0])
            key = f"beta<={bmax:g} {str(dtype).removeprefix('torch.')}"
            out[key] = row
            log(f"accuracy {key}: " + ", ".join(
                f"{n}={val:.2e}" if isinstance(val, float) else f"{n}={val}" for n, val in row.items()))
    return out


def timing_delta_rule(torch, fla, shapes, log, fp32=True) -> list:
    from statetrack.kernels import delta_rule
    rows = []
    for (B, T, H, K) in shapes:
        row = {"op": "delta_rule", "shape": [B, T, H, K, K], "dtype": "bfloat16"}
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0)]
        ours = lambda q, k, v, b: delta_rule(q, k, v, b, backend="chunk")  # noqa: E731
        with torch.no_grad():
            row["ours_fwd_ms"] = _bench(lambda: ours(*xs))
        row["ours_fwdbwd_ms"] = _bench(_fwd_bwd(torch, ours, xs), grad_to_none=xs)
        if fla is not None:
            with torch.no_grad():
                row["fla_fwd_ms"] = _bench(lambda: fla["chunk"](*xs))
            row["fla_fwdbwd_ms"] = _bench(_fwd_bwd(torch, fla["chunk"], xs), grad_to_none=xs)
            row["ratio_fwd"] = row["fla_fwd_ms"] / row["ours_fwd_ms"]
            row["ratio_fwdbwd"] = row["fla_fwdbwd_ms"] / row["ours_fwdbwd_ms"]
        if fp32:
            xs32 = [x.detach().float().requires_grad_() for x in xs]
            row["ours_fp32_fwdbwd_ms"] = _bench(_fwd_bwd(torch, ours, xs32), grad_to_none=xs32)
            row["fp32_over_bf16"] = row["ours_fp32_fwdbwd_ms"] / row["ours_fwdbwd_ms"]
        rows.append(row)
        log("timing " + json.dumps(row))
    return rows


def timing_delta_product(torch, fla, log, n_hs=(2, 4)) -> list:
    from statetrack.kernels import delta_product
    rows = []
    B, T, H, K = PRODUCT_SHAPE
    for n_h in n_hs:
        row = {"op": "delta_product", "n_h": n_h, "shape": [B, T, H, K, K], "dtype": "bfloat16"}
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0, n_h=n_h)]
        ours = lambda q, k, v, b: delta_product(q, k, v, b, backend="chunk")  # noqa: E731
        with torch.no_grad():
            row["ours_fwd_ms"] = _bench(lambda: ours(*xs))
        row["ours_fwdbwd_ms"] = _bench(_fwd_bwd(torch, ours, xs), grad_to_none=xs)
        if fla is not None:
            def theirs(q, k, v, b, n_h=n_h):
                return fla["product"](q, k.flatten(1, 2), v.flatten(1, 2), None, b.flatten(1, 2),
                                      num_householder=n_h)
            try:
                with torch.no_grad():
                    row["fla_fwd_ms"] = _bench(lambda: theirs(*xs))
                row["ratio_fwd"] = row["fla_fwd_ms"] / row["ours_fwd_ms"]
                row["fla_fwdbwd_ms"] = _bench(_fwd_bwd(torch, theirs, xs), grad_to_none=xs)
                row["ratio_fwdbwd"] = row["fla_fwdbwd_ms"] / row["ours_fwdbwd_ms"]
            except Exception as exc:  # noqa: BLE001 - record fla failures instead of dying
                row["fla_error"] = f"{type(exc).__name__}: {exc}"[:200]
        rows.append(row)
        log("timing " + json.dumps(row))
    return rows


SWEEP = {"state_bv": (16, 32, 64), "grads_warps": (4, 8)}


def sweep(torch, shapes, log) -> tuple[list, dict]:
    """Time fwd+bwd (bf16) for each alternative launch setting, one knob at a time from the defaults,
    summed over ``shapes``; return the rows and the best value of each knob."""
    from statetrack.kernels import delta_rule
    from statetrack.kernels.delta_rule import chunk as chunk_mod
    base = dict(chunk_mod.CONFIG)
    rows, best = [], {}
    data = [[x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0)]
            for (B, T, H, K) in shapes]
    ours = lambda q, k, v, b: delta_rule(q, k, v, b, backend="chunk")  # noqa: E731
    for knob, values in SWEEP.items():
        totals = {}
        for value in values:
            chunk_mod.CONFIG.clear()
            chunk_mod.CONFIG.update(base)
            chunk_mod.CONFIG[knob] = value
            total = 0.0
            for (B, T, H, K), xs in zip(shapes, data):
                try:
                    ms = _bench(_fwd_bwd(torch, ours, xs), grad_to_none=xs, warmup=10, rep=50)
                except Exception as exc:  # noqa: BLE001
                    ms = float("inf")
                    log(f"sweep {knob}={value} {(B, T, H, K)}: {type(exc).__name__}: {exc}"[:200])
                total += ms
                rows.append({"shape": [B, T, H, K], knob: value, "fwdbwd_ms": ms})
                log("sweep " + json.dumps(rows[-1]))
            totals[value] = total
        best[knob] = min(totals, key=totals.get)
    chunk_mod.CONFIG.clear()
    chunk_mod.CONFIG.update(base)
    return rows, best


def _verdicts(rows_dr, rows_dp, acc) -> dict:
    v = {}
    for r in rows_dr:
        key = f"delta_rule ({', '.join(map(str, r['shape'][:4]))})"
        if "ratio_fwdbwd" in r:
            v[key] = {"ratio": r["ratio_fwdbwd"], "bar": BARS.get(key), "met": r["ratio_fwdbwd"] >= BARS.get(key, 1.0)}
        if "fp32_over_bf16" in r:
            v[key + " fp32/bf16"] = {"ratio": r["fp32_over_bf16"], "bar": "<= 2", "met": r["fp32_over_bf16"] <= 2.0}
    for r in rows_dp:
        key = f"delta_product n_h={r['n_h']} ({', '.join(map(str, r['shape'][:4]))})"
        if "ratio_fwdbwd" in r:
            v[key] = {"ratio": r["ratio_fwdbwd"], "bar": BARS.get(key), "met": r["ratio_fwdbwd"] >= BARS.get(key, 1.0)}
    for key, row in (acc or {}).items():
        if "float32" in key:
            worst = max(val for n, val in row.items() if n.startswith("ours") and isinstance(val, float))
            v[f"accuracy {key}"] = {"worst_rel_err": worst, "bar": "<= 1e-5", "met": worst <= 1e-5}
        elif isinstance(row.get("fla_chunk_o"), float):
            v[f"accuracy {key}"] = {"ours": row["ours_chunk_o"], "fla": row["fla_chunk_o"],
                                    "bar": "ours <= fla", "met": row["ours_chunk_o"] <= row["fla_chunk_o"]}
    return v


SECTIONS = ("sweep", "accuracy", "delta", "product")


def _run_section(section: str, args, configs: list[str], log) -> dict:
    """Run one section in a fresh process (a kernel fault cannot take the others down)."""
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, "-m", "statetrack.kernels.bench", "--section", section, "--section-out", path]
    cmd += sum((["--config", c] for c in configs), [])
    if args.no_fla:
        cmd.append("--no-fla")
    if args.quick:
        cmd.append("--quick")
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        log(line)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        log(f"section {section} failed (exit {proc.returncode}): {' | '.join(tail)}")
        return {"error": " | ".join(tail)[-400:], "elapsed_s": time.time() - t0}
    with open(path) as f:
        out = json.load(f)
    os.unlink(path)
    out["elapsed_s"] = time.time() - t0
    return out


def _section(section: str, args, fla, log) -> dict:
    import torch
    shapes = DELTA_SHAPES[:1] if args.quick else DELTA_SHAPES
    if section == "sweep":
        rows, best = sweep(torch, [s for s in shapes if s[3] != 32], log)
        return {"rows": rows, "best": best}
    if section == "accuracy":
        return {"accuracy_vs_fp64": accuracy(torch, fla, log)}
    if section == "delta":
        return {"rows": timing_delta_rule(torch, fla, shapes, log, fp32=True)}
    if section == "product":
        return {"rows": timing_delta_product(torch, fla, log)}
    raise ValueError(section)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="statetrack bench kernels", description=__doc__.split("\n")[0])
    p.add_argument("-o", "--out", default=None, help="JSON file to write (default: print only)")
    p.add_argument("--commit", default=None, help="git commit to record (default: $STATETRACK_COMMIT or git)")
    p.add_argument("--no-fla", action="store_true", help="skip fla even if it is installed")
    p.add_argument("--quick", action="store_true", help="anchor shape only")
    p.add_argument("--sweep", action="store_true",
                   help="first time a few launch settings and use the fastest for the measurements")
    p.add_argument("--skip", default="", help="comma list of sections to skip: accuracy,delta,product")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="override a launch setting of the chunk kernels (see chunk.CONFIG)")
    p.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)
    p.add_argument("--section-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    import torch
    if not torch.cuda.is_available():
        print("statetrack bench kernels: needs a CUDA device (none found)", file=sys.stderr)
        return 2
    import triton
    from statetrack.kernels.delta_rule import chunk as chunk_mod

    log = lambda msg: print(msg, flush=True)  # noqa: E731
    for item in args.config:
        key, _, value = item.partition("=")
        if key not in chunk_mod.CONFIG:
            p.error(f"--config: unknown key {key!r} (known: {', '.join(chunk_mod.CONFIG)})")
        chunk_mod.CONFIG[key] = type(chunk_mod.CONFIG[key])(value)

    if args.section:  # child process: one section, results to --section-out
        fla = None if args.no_fla else _load_fla()
        out = _section(args.section, args, fla, log)
        with open(args.section_out, "w") as f:
            json.dump(out, f)
        return 0

    fla = None if args.no_fla else _load_fla()
    res = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "fla": None if fla is None else fla["version"],
        "python": platform.python_version(),
        "commit": _git_commit(args.commit),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "timing_method": "triton.testing.do_bench median (L2 flushed); fwd+bwd = forward, then o.backward(do); "
                         "bfloat16 inputs, k unit rows, beta uniform in [0, 2]; ratio = fla ms / ours ms",
        "backend": "chunk",
    }
    t0 = time.time()
    configs = list(args.config)
    skip = set(filter(None, args.skip.split(",")))
    if args.sweep:
        res["sweep"] = _run_section("sweep", args, configs, log)
        best = res["sweep"].get("best", {})
        configs += [f"{k}={v}" for k, v in best.items() if f"{k}=" not in " ".join(args.config)]
    cfg = dict(chunk_mod.CONFIG)
    for item in configs:
        key, _, value = item.partition("=")
        cfg[key] = type(cfg[key])(value)
    res["config"] = cfg
    res["accuracy_vs_fp64"] = None if "accuracy" in skip else \
        _run_section("accuracy", args, configs, log).get("accuracy_vs_fp64")
    res["delta_rule"] = [] if "delta" in skip else _run_section("delta", args, configs, log).get("rows", [])
    res["delta_product"] = [] if "product" in skip else _run_section("product", args, configs, log).get("rows", [])
    res["verdicts"] = _verdicts(res["delta_rule"], res["delta_product"], res["accuracy_vs_fp64"])
    res["elapsed_s"] = time.time() - t0
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    log("\nbar                                          value   bar    met")
    for key, val in res["verdicts"].items():
        r = val.get("ratio", val.get("worst_rel_err", val.get("ours")))
        log(f"{key:44s} {r:7.3g}  {val['bar']!s:6s} {val['met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
