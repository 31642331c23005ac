"""Kernel benchmark: statetrack's Triton kernels against fla (flash-linear-attention) side by side.

``statetrack bench kernels -o benchmarks/results/kernels_h200.json`` (or ``python benchmarks/kernels.py``)
measures on one CUDA device, in stages, each in a child process (a kernel fault costs one stage):

* ``env``: the device's copy bandwidth and bf16 matrix rate (the roofline's two ceilings);
* ``compile``: every variant of our kernels that the later stages run, compiled once by one call on
  a one-row batch in several processes at a time (Triton's disk cache then serves the stages);
* ``accuracy``: relative error against the float64 loop (beta <= 1 and <= 2), ours and fla's;
* ``varlen``: packed sequences (``cu_seqlens``) against the float64 loop run per sequence;
* ``delta``: delta rule at every shape of issue 13, forward and forward + backward, bfloat16 and
  float32, ours and fla's; our float32 both with three-TF32 products and with single TF32 products
  on the intra-chunk dots; the roofline fraction of each bf16 time;
* ``product``: DeltaProduct n_h = 2 and 4 against fla's ``chunk_gated_delta_product(g=None)``;
* ``tune``: alternative launch settings of the chunk kernels at K >= TUNE_MIN_K (the shipped ones included);
* ``profile``: GPU time of every kernel of one forward and one forward + backward (torch.profiler), ours
  and fla's, delta rule at every shape and DeltaProduct: which kernel a gap in the timings comes from.

Each child prints one ``ROW {json}`` line per shape; the parent adds it to the results and rewrites
the JSON file at once, so a stage cut off by ``--budget`` keeps what it had finished. The file ends
with ``verdicts``: one entry per bar of issue 13 (``ratio``/``value``, ``bar``, ``met``). fla is
optional (its columns are skipped with a message). Versions, device and git commit are recorded.
A call that ran out of time is finished by another on the same commit and kind of device:
``--resume FILE`` keeps the stages FILE finished and runs the others; a timing stage (delta, product,
profile) that FILE has cut goes on past the rows it had finished.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time

from statetrack.kernels.bench_plan import (  # noqa: F401  (the stages read these as module globals)
    ACCURACY_SHAPE, BAR_FP32, BAR_FWD, BAR_FWDBWD, BAR_TESTS_S, DELTA_SHAPES, FP32_VARIANTS, PRODUCT_NH,
    PRODUCT_ALTS, PRODUCT_SHAPE, SMALL, TF32_HOLDS, TUNE_CANDIDATES, TUNE_ERR_SLACK, TUNE_MIN_K, VARLEN_DTYPES,
    VARLEN_HEADS, VARLEN_K, VARLEN_LENGTHS)
from statetrack.kernels.bench_roofline import add_roofline, chunk_flops, min_bytes, roofline_ms  # noqa: F401

# most needed first; the short accuracy and varlen stages before the timings (fla autotunes at every
# new shape: the delta stage took 250 s of a 430 s budget on a fresh H200)
SECTIONS = ("env", "compile", "accuracy", "varlen", "delta", "product", "tune", "profile")
# where each stage's rows go in the results ("env": the ceilings)
STAGE_KEY = {"env": "ceilings", "compile": "compile", "accuracy": "accuracy_vs_fp64", "varlen": "varlen",
             "delta": "delta_rule", "product": "delta_product", "tune": "tune", "profile": "profile"}
# the stages whose rows stand alone, with the fields that name a row: under --resume a cut stage of
# these goes on past the rows it had finished (the others run again whole: tune's best-of rows need all
# of its rows)
ROW_ID = {"delta": ("op", "shape"), "product": ("op", "n_h", "shape"), "profile": ("op", "n_h", "shape", "who")}
DONE: set = set()        # in a resumed stage's child: the rows already measured, as _row_id tuples
PROFILE_ITERS = 5        # profiled calls per (op, shape, pass), after one unprofiled call
COMPILE_WORKERS = 8      # processes that compile our kernel variants side by side before the timings
DEVICE = "cuda"          # the CPU tests point the stages at the interpreter


def _git_commit(explicit: str | None) -> str:
    if explicit:
        return explicit
    from statetrack.provenance import git_info          # which takes $STATETRACK_COMMIT first

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


def parse_pytest_log(text: str) -> dict:
    """Counts and wall time from pytest's last summary line ('3 passed, 1 skipped in 41.2s')."""
    lines = [ln for ln in text.splitlines() if re.search(r"\b(passed|failed|error|errors)\b.* in [\d.]+s", ln)]
    if not lines:
        return {"found": False}
    line = lines[-1]
    seconds = float(re.search(r" in ([\d.]+)s", line).group(1))
    out = {"found": True, "line": line.strip("= ").strip(), "seconds": seconds}
    for word in ("passed", "failed", "skipped", "error", "errors"):
        m = re.search(rf"(\d+) {word}\b", line)
        out[word] = int(m.group(1)) if m else 0
    out["errors"] += out.pop("error")
    return out


def verdicts(res: dict) -> dict:
    """One entry per bar of issue 13, from what the stages recorded (missing data: met = False)."""
    v = {}
    delta = {tuple(r["shape"][:4]): r for r in res.get("delta_rule", [])}
    tuned = _best_tuned(res.get("tune", []))
    acc = res.get("accuracy_vs_fp64") or []
    holds = {prec: prec == "tf32x3" or _variant_holds(acc, prec) for prec in FP32_VARIANTS}
    for shape in DELTA_SHAPES:
        r = dict(delta.get(shape, {}))
        name = f"delta_rule {shape}"
        t = tuned.get(shape)
        fp32_from = {}
        if t and "ours_bf16_fwdbwd_ms" in r and t["ours_bf16_fwdbwd_ms"] < r["ours_bf16_fwdbwd_ms"]:
            for k in [k for k in r if k.startswith("ours_bf16_")]:     # no column of the shipped settings stays
                del r[k]
            r.update({k: t[k] for k in t if k.startswith("ours_bf16_")}, config=t["config"])
            # float32 inputs ship with settings of their own (a float32 row where there is one); the tune
            # times the bf16 winner on float32 too: per product setting the faster of the two counts
            for k in (k for k in t if k.startswith("ours_fp32_")):
                if not isinstance(r.get(k), float) or t[k] < r[k]:
                    r[k] = t[k]
                    fp32_from[k] = "tune: the bf16 config on float32"
        cfg = {"config": r.get("config", "shipped")}
        for kind, bar in (("fwdbwd", BAR_FWDBWD[shape]), ("fwd", BAR_FWD)):
            ours, fla = r.get(f"ours_bf16_{kind}_ms"), r.get(f"fla_bf16_{kind}_ms")
            ratio = fla / ours if isinstance(ours, float) and isinstance(fla, float) else None
            v[f"{name} {kind} bf16 vs fla"] = dict(ratio=ratio, bar=f">= {bar}",
                                                   met=ratio is not None and ratio >= bar, **cfg)
        for kind in ("fwd", "fwdbwd"):
            _add_graph_ratio(v[f"{name} {kind} bf16 vs fla"], r, kind=kind)
        best = None
        for prec in FP32_VARIANTS:
            ms = r.get(f"ours_fp32_{prec}_fwdbwd_ms")
            if isinstance(ms, float) and holds[prec] and (best is None or ms < best[1]):
                best = (prec, ms)
        bf = r.get("ours_bf16_fwdbwd_ms")
        ratio = best[1] / bf if best and isinstance(bf, float) else None
        v[f"{name} fp32 / bf16 fwdbwd"] = dict(
            ratio=ratio, bar=f"<= {BAR_FP32}", met=ratio is not None and ratio <= BAR_FP32,
            fp32_products=None if best is None else best[0], **cfg,
            fp32_settings=None if best is None else fp32_from.get(f"ours_fp32_{best[0]}_fwdbwd_ms", "shipped"))
    for r in res.get("delta_product", []):
        # as for the delta rule's tune: an alternative timed in the same process that beat the shipped
        # settings both ways within the error slack counts, and the verdict names it
        best = best_product_alt(r)
        tag, cfg = ("ours_bf16", "shipped") if best is None else (f"ours_{best[0]}_bf16", best[1])
        for kind, bar in (("fwdbwd", 1.5), ("fwd", 1.0)):
            ours, fla = r.get(f"{tag}_{kind}_ms"), r.get(f"fla_bf16_{kind}_ms")
            ratio = fla / ours if isinstance(ours, float) and isinstance(fla, float) else None
            v[f"delta_product n_h={r['n_h']} {tuple(r['shape'][:4])} {kind} bf16 vs fla"] = dict(
                ratio=ratio, bar=f">= {bar}", met=ratio is not None and ratio >= bar, config=cfg)
        for kind in ("fwd", "fwdbwd"):
            _add_graph_ratio(v[f"delta_product n_h={r['n_h']} {tuple(r['shape'][:4])} {kind} bf16 vs fla"], r, tag, kind)
    for n_h in PRODUCT_NH:
        for kind, bar in (("fwdbwd", 1.5), ("fwd", 1.0)):
            v.setdefault(f"delta_product n_h={n_h} {PRODUCT_SHAPE} {kind} bf16 vs fla",
                         dict(ratio=None, bar=f">= {bar}", met=False))
    exact = [{k: val for k, val in r.items() if "@" not in k} for r in acc]
    worst = _worst(exact, "ours_chunk_")
    v["float32 chunk accuracy vs fp64 (tf32x3 products, shipped)"] = dict(
        value=worst, bar="<= 1e-05", met=worst is not None and worst <= 1e-5)
    for prec in list(FP32_VARIANTS)[1:]:
        v[f"float32 chunk accuracy vs fp64 ({prec} products)"] = dict(
            value=_worst(acc, f"ours_chunk@{prec}_"), bar=f"<= {TF32_HOLDS:g} to count for the fp32 ratio",
            met=holds[prec])
    vl = res.get("varlen") or []
    v["varlen on GPU vs per-sequence fp64 loop"] = dict(
        value=max((r["worst_over_tolerance"] for r in vl), default=None), bar="every error <= its dtype's tolerance",
        met=bool(vl) and all(r["worst_over_tolerance"] <= 1.0 for r in vl))
    tests = res.get("gpu_tests") or {}
    v["GPU kernel tests green"] = dict(value=tests.get("line"), bar=f"no failure, < {BAR_TESTS_S:g} s",
                                       met=bool(tests.get("found")) and tests.get("failed", 1) == 0
                                       and tests.get("errors", 1) == 0 and tests.get("passed", 0) > 0
                                       and tests["seconds"] < BAR_TESTS_S)
    return v


def _add_graph_ratio(entry: dict, row: dict, ours: str = "ours_bf16", kind: str = "fwd") -> None:
    """For the reader, beside a verdict: fla / ours (the columns named ``ours``) replayed as CUDA graphs
    (the GPU's time alone), where both were."""
    og, fg = row.get(f"{ours}_{kind}_graph_ms"), row.get(f"fla_bf16_{kind}_graph_ms")
    if isinstance(og, float) and isinstance(fg, float):
        entry["ratio_as_cuda_graphs"] = fg / og


def _best_tuned(rows) -> dict:
    """Per shape: the tune row with the fastest bf16 fwd+bwd, with the float32 times of that config."""
    best, shipped = {}, {}
    for r in rows:
        if r.get("config") == TUNE_CANDIDATES[0] and not r.get("fp32_of_best"):
            shipped.setdefault(tuple(r["shape"][:4]), r)
    for r in rows:
        s = tuple(r["shape"][:4])
        if r.get("fp32_of_best") or s not in shipped or not _admissible(r, shipped[s]):
            continue
        if s not in best or r["ours_bf16_fwdbwd_ms"] < best[s]["ours_bf16_fwdbwd_ms"]:
            best[s] = dict(r)
    for r in rows:
        s = tuple(r["shape"][:4])
        if r.get("fp32_of_best") and s in best and best[s]["config"] == r["config"]:
            best[s].update({k: val for k, val in r.items() if k.startswith("ours_fp32_")})
    return best


def suggested_rows(tune_rows) -> list:
    """SHAPE_CONFIG rows (the tune stage times bf16; float16 takes the same 16-bit path) for the shapes
    whose fastest admissible candidate differs from what ships there: CONFIG with that shape's row."""
    from statetrack.kernels.delta_rule import chunk_config
    rows = []
    for r in _best_tuned(tune_rows).values():
        K, T = r["shape"][3], r["shape"][1]
        shipped = {**chunk_config.CONFIG, **chunk_config.shape_row(K, T, "bfloat16")}
        if {**chunk_config.CONFIG, **r["config"]} != shipped:
            rows.append([K, T, ["bfloat16", "float16"], r["config"]])
    return rows


def best_product_alt(r: dict) -> tuple[str, dict] | None:
    """The product stage's alternative (name, settings) that was faster than the shipped settings in fwd
    and in fwd+bwd, with its error within TUNE_ERR_SLACK of theirs, the fastest such by fwd; or None."""
    base = [r.get(f"ours_bf16_{x}") for x in ("fwd_ms", "fwdbwd_ms", "worst_err_vs_fp32")]
    best = None
    for name, over in (r.get("alt_configs") or {}).items():
        alt = [r.get(f"ours_{name}_bf16_{x}") for x in ("fwd_ms", "fwdbwd_ms", "worst_err_vs_fp32")]
        if not all(isinstance(x, float) for x in base + alt):
            continue
        if alt[0] < base[0] and alt[1] < base[1] and _within_slack(alt[2], base[2]):
            if best is None or alt[0] < best[0]:
                best = (alt[0], name, over)
    return None if best is None else best[1:]


def suggested_product_rows(product_rows) -> list:
    """DeltaProduct SHAPE_CONFIG rows, one per n_h with a :func:`best_product_alt`: the shipped row at that
    shape with that alternative over it, kept to that n_h."""
    from statetrack.kernels.delta_rule import chunk_config
    rows = []
    for r in product_rows:
        best = best_product_alt(r)
        if best is not None:
            K, T = r["shape"][3], r["shape"][1]
            settings = {**chunk_config.shape_row(K, T, "bfloat16", r["n_h"]), **best[1]}
            rows.append([K, T, ["bfloat16", "float16"], settings, [r["n_h"], r["n_h"]]])
    return rows


def _worst(acc: list, prefix: str) -> float | None:
    """Largest float32 error among the accuracy rows' entries named prefix*."""
    errs = [val for row in acc if "float32" in row.get("key", "") for n, val in row.items()
            if n.startswith(prefix) and isinstance(val, float)]
    return max(errs) if errs else None


def _variant_holds(acc: list, prec: str) -> bool:
    worst = _worst(acc, f"ours_chunk@{prec}_")
    return worst is not None and worst <= TF32_HOLDS


# ------------------------------------------------------------------ measurements (child processes)

def _inputs(torch, B, T, H, K, V, dtype, beta_max, n_h=None, seed=0, device=None):
    """q, k (unit rows), v, beta in [0, beta_max]; with n_h, k/v/beta carry a sub-step axis."""
    import torch.nn.functional as F
    device = device or DEVICE
    g = torch.Generator(device=device).manual_seed(seed)
    extra = () if n_h is None else (n_h,)
    q = torch.randn(B, T, H, K, device=device, generator=g)
    k = F.normalize(torch.randn((B, T) + extra + (H, K), device=device, generator=g), dim=-1)
    v = torch.randn((B, T) + extra + (H, V), device=device, generator=g)
    beta = torch.rand((B, T) + extra + (H,), device=device, generator=g) * beta_max
    return [x.to(dtype) for x in (q, k, v, beta)]


def _rel(ref, out) -> float:
    return ((out.double() - ref.double()).norm() / ref.double().norm()).item()


def _bench(fn, grad_to_none=None, warmup=10, rep=50) -> float:
    from triton.testing import do_bench
    return float(do_bench(fn, warmup=warmup, rep=rep, grad_to_none=grad_to_none, return_mode="median"))


def _bench_graph(fn, grad_to_none=None) -> float:
    """Median ms of fn replayed as a CUDA graph: the GPU's time alone, without the host's launches
    (grad_to_none: set to None before each captured call, as in the eager timing)."""
    from triton.testing import do_bench_cudagraph
    return float(do_bench_cudagraph(fn, rep=50, grad_to_none=grad_to_none, return_mode="median"))


def _time_pair(torch, call, xs, row, prefix):
    """row[prefix_fwd_ms], row[prefix_fwdbwd_ms] for call(*xs); an exception is recorded, not raised.
    On CUDA also both replayed as CUDA graphs (prefix_fwd_graph_ms, prefix_fwdbwd_graph_ms): sub-millisecond
    calls are bound by the host's launches, which differ between machines (benchmarks/host_overhead.py: at
    K <= 64 ours and fla's fwd+bwd both); the graph time is the GPU's alone."""
    try:
        with torch.no_grad():
            row[f"{prefix}_fwd_ms"] = _bench(lambda: call(*xs))
        do = torch.randn_like(call(*[x.detach() for x in xs])[0])

        def run():
            call(*xs)[0].backward(do)
        row[f"{prefix}_fwdbwd_ms"] = _bench(run, grad_to_none=xs)
    except Exception as exc:  # noqa: BLE001 - e.g. fla refusing float32, out of memory
        row[f"{prefix}_error"] = f"{type(exc).__name__}: {exc}"[:200]
        torch.cuda.empty_cache()
        return
    if DEVICE == "cuda":
        def fwd():
            with torch.no_grad():
                call(*xs)
        for kind, fn, grads in (("fwd", fwd, None), ("fwdbwd", run, xs)):
            try:
                row[f"{prefix}_{kind}_graph_ms"] = _bench_graph(fn, grads)
            except Exception as exc:  # noqa: BLE001 - a kernel that cannot be captured: say so, keep the rest
                row[f"{prefix}_{kind}_graph_error"] = f"{type(exc).__name__}: {exc}"[:200]
        for x in xs:
            x.grad = None


def _row_id(section: str, row: dict) -> tuple:
    return tuple(json.dumps(row.get(field)) for field in ROW_ID[section])


def _done(section: str, row: dict) -> bool:
    """Whether a resumed stage already has this row (named by its ROW_ID fields)."""
    return _row_id(section, row) in DONE


def _emit(section, data):
    print("ROW " + json.dumps({"section": section, "data": data}), flush=True)


def compile_jobs() -> list:
    """(op, T, H, K, n_h, dtype name, backend, forced settings) of every kernel variant the stages use.
    B is left out: it is not a kernel argument, while T and H are (Triton specializes on them)."""
    jobs = []
    for (B, T, H, K) in DELTA_SHAPES:
        jobs.append(("delta_rule", T, H, K, 1, "bfloat16", "chunk", {}))
        jobs += [("delta_rule", T, H, K, 1, "float32", "chunk", over) for over in FP32_VARIANTS.values()]
        if K >= TUNE_MIN_K:
            jobs += [("delta_rule", T, H, K, 1, "bfloat16", "chunk", c) for c in TUNE_CANDIDATES[1:]]
    B, T, H, K = PRODUCT_SHAPE
    jobs += [("delta_product", T, H, K, n_h, "bfloat16", "chunk", over) for n_h in PRODUCT_NH
             for over in ({}, *PRODUCT_ALTS.values())]
    B, T, H, K = ACCURACY_SHAPE
    jobs += [("delta_rule", T, H, K, 1, dt, "fused_recurrent", {}) for dt in ("float32", "bfloat16")]
    return jobs


def _compile_job(job) -> tuple:
    """Run one job's forward (no grad) and forward + backward once; return (job, seconds, error)."""
    import torch
    from statetrack.kernels import delta_product, delta_rule
    from statetrack.kernels.testing import forced_launch
    op, T, H, K, n_h, dtype, backend, over = job
    t0 = time.time()
    try:
        xs = _inputs(torch, 1, T, H, K, K, getattr(torch, dtype), 2.0, n_h=None if op == "delta_rule" else n_h)
        fn = delta_rule if op == "delta_rule" else delta_product
        # the shipped variant ({}) with its SHAPE_CONFIG row, as the delta stage times it; an explicit
        # delta-rule one over CONFIG alone, as the tune stage times it (rows hold no float32 settings); a
        # DeltaProduct alternative over the shipped row, as the product stage times it
        with forced_launch(shape_rows=op == "delta_product" or not over, **over):
            with torch.no_grad():
                fn(*xs, backend=backend)
            xs = [x.requires_grad_() for x in xs]
            fn(*xs, backend=backend)[0].sum().backward()
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        return job, time.time() - t0, None
    except Exception as exc:  # noqa: BLE001 - reported; the timing stage meets it again
        return job, time.time() - t0, f"{type(exc).__name__}: {exc}"[:200]


def section_compile(torch, fla, args):
    import multiprocessing
    jobs = compile_jobs()
    workers = max(1, min(COMPILE_WORKERS, len(jobs), (os.cpu_count() or 2) // 2))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for job, secs, err in pool.imap_unordered(_compile_job, jobs):
            _emit("compile", {"job": list(job), "s": round(secs, 1), "error": err})


def section_env(torch, fla, args):
    n = 256 * 2**20                                    # 1 GiB of float32, copied: 2 GiB moved
    a = torch.empty(n, device="cuda")
    b = torch.empty_like(a)
    a.normal_()
    ms = _bench(lambda: b.copy_(a))
    x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    y = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    mm = _bench(lambda: x @ y)
    _emit("env", {"copy_GBps": 2 * 4 * n / ms / 1e6, "bf16_TFLOPs": 2 * 8192**3 / mm / 1e9,
                  "method": "median do_bench of a 1 GiB float32 device copy (read + write) and an "
                            "8192^3 bf16 matmul on random data"})


def section_delta(torch, fla, args):
    from statetrack.kernels import delta_rule
    from statetrack.kernels.testing import forced_launch
    ours = lambda q, k, v, b: delta_rule(q, k, v, b, backend="chunk")  # noqa: E731
    for (B, T, H, K) in (DELTA_SHAPES[:1] if args.quick else DELTA_SHAPES):
        row = {"op": "delta_rule", "shape": [B, T, H, K, K]}
        if _done("delta", row):
            continue
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0)]
        _time_pair(torch, ours, xs, row, "ours_bf16")
        if fla is not None:
            _time_pair(torch, fla["chunk"], xs, row, "fla_bf16")
        xs32 = [x.detach().float().requires_grad_() for x in xs]
        for prec, over in FP32_VARIANTS.items():
            with forced_launch(**over):
                _time_pair(torch, ours, xs32, row, f"ours_fp32_{prec}")
        if fla is not None:
            _time_pair(torch, fla["chunk"], xs32, row, "fla_fp32")
        del xs, xs32
        torch.cuda.empty_cache()
        _emit("delta_rule", row)


def _fla_product(fla, n_h: int):
    """fla's gated_delta_product without gates on our DeltaProduct layout (sub-steps on axis 2)."""
    def call(q, k, v, b):
        return fla["product"](q, k.flatten(1, 2), v.flatten(1, 2), None, b.flatten(1, 2), num_householder=n_h)
    return call


def section_product(torch, fla, args):
    """DeltaProduct against fla's gated_delta_product; ours also with each of PRODUCT_ALTS forced over the
    shipped settings (candidates for a DeltaProduct SHAPE_CONFIG row), each with its worst error (o and
    every gradient) against our float32 result on the same inputs."""
    from statetrack.kernels import delta_product
    from statetrack.kernels.testing import forced_launch
    ours = lambda q, k, v, b: delta_product(q, k, v, b, backend="chunk")  # noqa: E731
    B, T, H, K = PRODUCT_SHAPE
    for n_h in PRODUCT_NH:
        row = {"op": "delta_product", "n_h": n_h, "shape": [B, T, H, K, K], "alt_configs": PRODUCT_ALTS}
        if _done("product", row):
            continue
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0, n_h=n_h)]
        do, ref = _float32_reference(torch, ours, xs)
        for name, over in {"": {}, **PRODUCT_ALTS}.items():
            tag = f"ours_{name}_bf16" if name else "ours_bf16"
            with forced_launch(**over):
                _time_pair(torch, ours, xs, row, tag)
                _error_vs(ref, ours, xs, do, row, f"{tag}_worst_err_vs_fp32", f"{tag}_error")
        if fla is not None:
            _time_pair(torch, _fla_product(fla, n_h), xs, row, "fla_bf16")
        _emit("delta_product", row)


def section_accuracy(torch, fla, args):
    """Error against the float64 loop on the same (already rounded) inputs, so that only the kernels'
    arithmetic counts; beta <= 1 and <= 2; ours chunk (float32 also with tf32 intra-chunk products)
    and fused_recurrent, fla chunk and fused_recurrent (o)."""
    from statetrack.kernels import delta_rule
    from statetrack.kernels.testing import forced_launch
    B, T, H, K = ACCURACY_SHAPE
    for bmax in (1.0, 2.0):
        for dtype in (torch.float32, torch.bfloat16):
            q, k, v, beta = _inputs(torch, B, T, H, K, K, dtype, bmax, seed=1)
            do = torch.randn(q.shape, device=q.device, generator=torch.Generator(q.device).manual_seed(2))
            ref_x = [x.double().requires_grad_() for x in (q, k, v, beta)]
            ref_o, _ = delta_rule(*ref_x, backend="naive")
            ref_o.backward(do.double())
            row = {"key": f"beta<={bmax:g} {str(dtype).removeprefix('torch.')}"}
            runs = [("chunk", "chunk", {}), ("fused_recurrent", "fused_recurrent", {})]
            if dtype == torch.float32:
                runs += [(f"chunk@{prec}", "chunk", over) for prec, over in list(FP32_VARIANTS.items())[1:]]
            for label, backend, over in runs:
                xs = [x.clone().requires_grad_() for x in (q, k, v, beta)]
                with forced_launch(**over):
                    o, _ = delta_rule(*xs, backend=backend)
                    o.backward(do.to(dtype))
                row[f"ours_{label}_o"] = _rel(ref_o, o)
                for name, r, x in zip(("dq", "dk", "dv", "dbeta"), ref_x, xs):
                    row[f"ours_{label}_{name}"] = _rel(r.grad, x.grad)
            if fla is not None:
                try:
                    xs = [x.clone().requires_grad_() for x in (q, k, v, beta)]
                    o, _ = fla["chunk"](*xs)
                    o.backward(do.to(dtype))
                    row["fla_chunk_o"] = _rel(ref_o, o)
                    for name, r, x in zip(("dq", "dk", "dv", "dbeta"), ref_x, xs):
                        row[f"fla_chunk_{name}"] = _rel(r.grad, x.grad)
                except Exception as exc:  # noqa: BLE001
                    row["fla_chunk_o"] = f"error: {exc}"[:120]
                row["fla_fused_recurrent_o"] = _rel(ref_o, fla["fused_recurrent"](q, k, v, beta)[0])
            _emit("accuracy_vs_fp64", row)


def section_varlen(torch, fla, args):
    from statetrack.kernels import delta_rule
    from statetrack.kernels.testing import TOLERANCE
    lengths = VARLEN_LENGTHS
    cu = torch.tensor([0] + torch.tensor(lengths).cumsum(0).tolist(), device=DEVICE, dtype=torch.int32)
    T, H, K = sum(lengths), VARLEN_HEADS, VARLEN_K
    for dtype in (getattr(torch, name) for name in VARLEN_DTYPES):
        q, k, v, beta = _inputs(torch, 1, T, H, K, K, dtype, 2.0, seed=3)
        h0 = torch.randn(len(lengths), H, K, K, device=DEVICE)
        do = torch.randn(q.shape, device=DEVICE, dtype=torch.float64)
        results = {}
        for backend in ("naive", "chunk", "fused_recurrent"):
            wide = torch.float64 if backend == "naive" else dtype
            xs = [x.detach().to(wide).requires_grad_() for x in (q, k, v, beta)]
            h = h0.detach().to(torch.float64 if backend == "naive" else torch.float32).requires_grad_()
            o, S = delta_rule(*xs, initial_state=h, output_final_state=True, backend=backend, cu_seqlens=cu)
            ((o.double() * do).sum() + S.double().square().sum()).backward()
            results[backend] = [o, S] + [x.grad for x in xs] + [h.grad]
        row = {"lengths": list(lengths), "dtype": str(dtype).removeprefix("torch."), "tolerance": TOLERANCE[dtype]}
        worst = 0.0
        for backend in ("chunk", "fused_recurrent"):
            names = ("o", "final_state", "dq", "dk", "dv", "dbeta", "dh0")
            for name, r, x in zip(names, results["naive"], results[backend]):
                e = _rel(r, x) if torch.isfinite(x).all() else float("inf")
                row[f"{backend}_{name}"] = e
                worst = max(worst, e / TOLERANCE[dtype])
        row["worst_over_tolerance"] = worst
        _emit("varlen", row)


def _outputs(call, xs, do):
    """o and the gradients of <o, do> for call(*xs) (fresh leaves)."""
    xs = [x.clone().requires_grad_() for x in xs]
    o = call(*xs)[0]
    o.backward(do.to(o.dtype))
    return [o.detach()] + [x.grad for x in xs]


def _float32_reference(torch, call, xs):
    """A fixed output gradient dO and call's o and gradients on the inputs xs taken to float32: what
    :func:`_error_vs` holds a 16-bit run to."""
    q = xs[0]
    do = torch.randn(q.shape, device=DEVICE, generator=torch.Generator(DEVICE).manual_seed(4))
    return do, _outputs(call, [x.detach().float() for x in xs], do)


def _error_vs(ref, call, xs, do, row, key, error_key):
    """row[key]: the worst relative error (o and every gradient) of call(*xs) against ref; an exception
    goes to row[error_key] instead."""
    try:
        out = _outputs(call, [x.detach() for x in xs], do)
        row[key] = max(_rel(r, o) for r, o in zip(ref, out))
    except Exception as exc:  # noqa: BLE001
        row[error_key] = f"{type(exc).__name__}: {exc}"[:200]


def _within_slack(err, shipped_err) -> bool:
    """The accuracy rule of the tune and product stages: an error counts if it is at most TUNE_ERR_SLACK
    times the shipped settings' error on the same inputs."""
    return isinstance(err, float) and isinstance(shipped_err, float) and err <= TUNE_ERR_SLACK * shipped_err


def _admissible(row, shipped) -> bool:
    """A tune row counts if it was timed and its error is within TUNE_ERR_SLACK of the shipped row's."""
    if not isinstance(row.get("ours_bf16_fwdbwd_ms"), float):
        return False
    return row is shipped or _within_slack(row.get("worst_err_vs_fp32"), shipped.get("worst_err_vs_fp32"))


def section_tune(torch, fla, args):
    """bf16 fwd and fwd+bwd for every candidate launch setting at K >= TUNE_MIN_K, with its worst
    relative error (o and every gradient) against our float32 result on the same inputs; float32
    (both product settings) for the fastest candidate when it is not the shipped one."""
    from statetrack.kernels import delta_rule
    from statetrack.kernels.testing import forced_launch
    ours = lambda q, k, v, b: delta_rule(q, k, v, b, backend="chunk")  # noqa: E731
    for (B, T, H, K) in [s for s in DELTA_SHAPES if s[3] >= TUNE_MIN_K]:
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0)]
        do, ref = _float32_reference(torch, ours, xs)
        rows = []
        for cand in TUNE_CANDIDATES:
            row = {"shape": [B, T, H, K, K], "config": cand}
            with forced_launch(shape_rows=False, **cand):
                _time_pair(torch, ours, xs, row, "ours_bf16")
                _error_vs(ref, ours, xs, do, row, "worst_err_vs_fp32", "ours_bf16_error")
            rows.append(row)
            _emit("tune", row)
        timed = [r for r in rows if _admissible(r, rows[0])]
        best = min(timed, key=lambda r: r["ours_bf16_fwdbwd_ms"], default=None)
        if best is not None and best is not rows[0]:
            xs32 = [x.detach().float().requires_grad_() for x in xs]
            row = {"shape": best["shape"], "config": best["config"], "fp32_of_best": True}
            for prec, over in FP32_VARIANTS.items():
                with forced_launch(shape_rows=False, **best["config"], **over):
                    _time_pair(torch, ours, xs32, row, f"ours_fp32_{prec}")
            _emit("tune", row)


def kernel_table(events, iters: int, attr: str = "self_device_time_total") -> list:
    """``[[name, us per call, launches per call], ...]``, longest first, from a profiler's
    ``key_averages()`` over ``iters`` calls; events with no time in ``attr`` are left out."""
    rows = [[e.key, getattr(e, attr) / iters, e.count / iters] for e in events if getattr(e, attr, 0) > 0]
    return sorted(rows, key=lambda r: -r[1])


def _profile(torch, fn, xs) -> list:
    """:func:`kernel_table` of PROFILE_ITERS calls of fn (after one unprofiled call), gradients of xs
    cleared before each. On CUDA the GPU's kernels; elsewhere (the CPU tests) the CPU's operators."""
    from torch.profiler import ProfilerActivity, profile

    cuda = DEVICE == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def call():
        for x in xs:
            x.grad = None
        fn()
    call()
    sync()
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        for _ in range(PROFILE_ITERS):
            call()
        sync()
    return kernel_table(prof.key_averages(), PROFILE_ITERS, "self_device_time_total" if cuda else "self_cpu_time_total")


def autotuned_choices(prefix: str = "fla.") -> dict:
    """What Triton's autotuner chose so far for every autotuned kernel of the loaded modules under
    ``prefix``: ``{kernel name: {tuning key: config}}`` (a kernel wrapped in heuristics is unwrapped)."""
    from triton.runtime.autotuner import Autotuner
    out = {}
    for mname, mod in list(sys.modules.items()):
        if not mname.startswith(prefix) or mod is None:
            continue
        for name, obj in list(vars(mod).items()):
            while obj is not None and not isinstance(obj, Autotuner) and hasattr(obj, "fn"):
                obj = obj.fn
            if isinstance(obj, Autotuner) and getattr(obj, "cache", None):
                out[name] = {str(key): str(cfg) for key, cfg in obj.cache.items()}
    return out


def section_profile(torch, fla, args):
    """Per kernel GPU time of ours and fla's, bf16, forward (no grad) and forward + backward: one row per
    (op, shape, implementation) with ``fwd`` and ``fwdbwd`` tables and their totals in us; fla's rows
    also hold the launch settings its autotuner picked (:func:`autotuned_choices`)."""
    from statetrack.kernels import delta_product, delta_rule
    cases = [("delta_rule", s, None) for s in (DELTA_SHAPES[:1] if args.quick else DELTA_SHAPES)]
    cases += [("delta_product", PRODUCT_SHAPE, n_h) for n_h in PRODUCT_NH]
    for op, (B, T, H, K), n_h in cases:
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, H, K, K, torch.bfloat16, 2.0, n_h=n_h)]
        if n_h is None:
            impls = [("ours", lambda q, k, v, b: delta_rule(q, k, v, b, backend="chunk"))]
            impls += [("fla", fla["chunk"])] if fla is not None else []
        else:
            impls = [("ours", lambda q, k, v, b: delta_product(q, k, v, b, backend="chunk"))]
            impls += [("fla", _fla_product(fla, n_h))] if fla is not None else []
        for who, call in impls:
            row = {"op": op, "n_h": n_h, "shape": [B, T, H, K, K], "who": who}
            if _done("profile", row):
                continue
            try:
                do = torch.randn_like(call(*[x.detach() for x in xs])[0])
                with torch.no_grad():
                    row["fwd"] = _profile(torch, lambda: call(*xs), [])
                row["fwdbwd"] = _profile(torch, lambda: call(*xs)[0].backward(do), xs)
                row["fwd_us"], row["fwdbwd_us"] = (sum(r[1] for r in row[p]) for p in ("fwd", "fwdbwd"))
            except Exception as exc:  # noqa: BLE001 - recorded; the other rows go on
                row["error"] = f"{type(exc).__name__}: {exc}"[:200]
            if who == "fla":
                row["autotuned"] = autotuned_choices()      # fla's launch settings on this GPU, so far
            _emit("profile", row)
        del xs
        if DEVICE == "cuda":
            torch.cuda.empty_cache()


# ------------------------------------------------------------------ driver

def _child_cmd(section, args) -> list:
    """The command of one stage's child process: this run's options that shape what the stage measures."""
    cmd = [sys.executable, "-m", "statetrack.kernels.bench", "--section", section]
    cmd += sum((["--config", c] for c in args.config), [])
    cmd += ["--no-fla"] if args.no_fla else []
    cmd += ["--quick"] if args.quick else []
    cmd += ["--shapes", args.shapes] if args.shapes else []
    cmd += ["--candidates", args.candidates] if args.candidates else []
    cmd += ["--resume", args.resume] if args.resume and section in ROW_ID else []
    return cmd


def _run_child(section, args, deadline, log, on_row) -> dict:
    """Run one stage in a child process until it ends or the deadline passes; rows go to on_row."""
    cmd = _child_cmd(section, args)
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    killed = []
    timer = threading.Timer(max(1.0, deadline - time.time()), lambda: (killed.append(1), proc.kill()))
    timer.start()
    tail = []
    for line in proc.stdout:
        if line.startswith("ROW "):
            on_row(json.loads(line[4:]))
        else:
            log(f"[{section}] {line.rstrip()}")
            tail = (tail + [line.rstrip()])[-3:]
    proc.wait()
    timer.cancel()
    status = "ok" if proc.returncode == 0 else ("cut at the time budget" if killed else f"exit {proc.returncode}")
    out = {"status": status, "elapsed_s": round(time.time() - t0, 1)}
    if status != "ok" and not killed:
        out["tail"] = " | ".join(tail)[-400:]
    return out


def narrow(shapes: str | None, candidates: str | None) -> tuple[list, list]:
    """The delta-rule shapes and tune candidates of a narrowed run: ``shapes`` "B,T,H,K;..." (each one of
    DELTA_SHAPES: the bars are set per shape), ``candidates`` indices into TUNE_CANDIDATES such as "0,7-10"
    (the first listed is the reference the others' errors are held to). ValueError names what is wrong."""
    chosen = list(DELTA_SHAPES)
    if shapes:
        chosen = []
        for part in filter(None, (x.strip() for x in shapes.split(";"))):
            try:
                shape = tuple(int(x) for x in part.split(","))
            except ValueError:
                raise ValueError(f"--shapes: {part!r} is not B,T,H,K") from None
            if shape not in DELTA_SHAPES:
                known = "; ".join(",".join(map(str, s)) for s in DELTA_SHAPES)
                raise ValueError(f"--shapes: {part} is not one of the bench's shapes ({known})")
            chosen.append(shape)
        if not chosen:
            raise ValueError(f"--shapes: {shapes!r} names no shape")
    cands = list(TUNE_CANDIDATES)
    if candidates:
        from statetrack.cli_args import int_ranges

        try:
            idx = int_ranges(candidates)
        except ValueError as e:
            raise ValueError(f"--candidates: {str(e)!r} is not an index or a range I-J") from None
        bad = [i for i in idx if i >= len(TUNE_CANDIDATES)]
        if bad:
            raise ValueError(f"--candidates: {bad} outside 0-{len(TUNE_CANDIDATES) - 1}")
        cands = [TUNE_CANDIDATES[i] for i in idx]
    return chosen, cands


_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _apply_config(items, p) -> None:
    """--config KEY=VALUE into the chunk kernels' FORCED settings; a value of the wrong kind, a string
    setting's value not among its CHOICES, a count under 1, or a block size or warp count that is not a
    power of two is refused by name."""
    from statetrack.kernels.delta_rule.chunk_config import CHOICES, CONFIG, FORCED, setting_type
    for item in items:
        key, _, value = item.partition("=")
        if key not in CONFIG:
            p.error(f"--config: unknown key {key!r} (known: {', '.join(CONFIG)})")
        if key in CHOICES and value not in CHOICES[key]:
            p.error(f"--config: {key} takes one of {', '.join(CHOICES[key])}, got {value!r}")
        kind = setting_type(key)
        try:
            FORCED[key] = _BOOL[value.lower()] if kind is bool else kind(value)
        except (KeyError, ValueError):
            p.error(f"--config: {key} takes a value of type {kind.__name__}, got {value!r}")
        n = FORCED[key]
        if kind is int and n < 1:
            p.error(f"--config: {key} must be at least 1, got {n}")
        if kind is int and key.endswith(("_bv", "_bk", "_warps", "min_block")) and n & (n - 1):
            p.error(f"--config: {key} must be a power of two, got {n}")


def main(argv: list[str] | None = None) -> int:
    from statetrack.cli_args import Parser

    p = Parser(prog="statetrack bench kernels", description=__doc__.split("\n")[0])
    p.add_argument("-o", "--out", default=None, help="JSON file to write (rewritten after every shape)")
    p.add_argument("--commit", default=None, help="git commit to record (default: $STATETRACK_COMMIT or git)")
    p.add_argument("--no-fla", action="store_true", help="skip fla even if it is installed")
    p.add_argument("--quick", action="store_true", help="first delta-rule shape only")
    p.add_argument("--shapes", default=None, metavar="B,T,H,K[;...]",
                   help="only these delta-rule shapes (each one of the bench's own); with --skip and "
                        "--candidates, a short call that times a few launch settings at one shape")
    p.add_argument("--candidates", default=None, metavar="I,J-K",
                   help="only these tune candidates, by index in kernels/bench_plan.py's TUNE_CANDIDATES "
                        "(the first listed is the reference the others' errors are held to)")
    p.add_argument("--skip", default="", help=f"comma list of stages to skip: {','.join(SECTIONS)}")
    p.add_argument("--budget", type=float, default=300.0, help="seconds for all stages (default 300); "
                   "a stage still running then is stopped and the rest skipped")
    p.add_argument("--resume", default=None, metavar="JSON",
                   help="keep the stages a previous run of the same commit on the same device finished (this "
                        "command's own output, e.g. the -o file of a call that ran out of time) and run the rest; "
                        "a cut delta, product or profile stage goes on past the rows it had")
    p.add_argument("--tests-log", default=None, help="pytest output of the GPU kernel tests, for their verdict")
    p.add_argument("--triton-cache", default=None, metavar="DIR",
                   help="Triton's compilation cache directory (kept between runs; default: Triton's own)")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="force a launch setting of the chunk kernels (see chunk.CONFIG)")
    p.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)
    p.add_argument("--sweep", action="store_true", help=argparse.SUPPRESS)   # old flag: the tune stage replaced it
    args = p.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(SECTIONS):
        p.error(f"--skip: unknown stage(s) {', '.join(sorted(skip - set(SECTIONS)))} (known: {', '.join(SECTIONS)})")
    if args.budget <= 0:
        p.error("--budget must be positive")
    global DELTA_SHAPES, TUNE_CANDIDATES
    try:
        DELTA_SHAPES, TUNE_CANDIDATES = narrow(args.shapes, args.candidates)
    except ValueError as e:
        p.error(str(e))
    prev = None
    if args.resume:
        try:
            with open(args.resume) as f:
                prev = json.load(f)
            prev["stages"], prev["commit"], prev["device"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            p.error(f"--resume: {args.resume!r} is not a results file of this command ({type(e).__name__})")
    if args.tests_log and not os.path.isfile(args.tests_log):
        p.error(f"--tests-log: no such file {args.tests_log!r}")
    _apply_config(args.config, p)
    if args.triton_cache:
        os.makedirs(args.triton_cache, exist_ok=True)
        os.environ["TRITON_CACHE_DIR"] = os.path.abspath(args.triton_cache)

    import torch
    if not torch.cuda.is_available():
        print("statetrack bench kernels: needs a CUDA device (none found)", file=sys.stderr)
        return 2
    import triton
    from statetrack.kernels.delta_rule import chunk as chunk_mod
    log = lambda msg: print(msg, flush=True)  # noqa: E731

    if args.section:  # child process: one stage, rows on stdout
        if prev is not None and args.section in ROW_ID:
            DONE.update(_row_id(args.section, r) for r in prev.get(STAGE_KEY[args.section], []))
        fla = None if args.no_fla else _load_fla()
        globals()[f"section_{args.section}"](torch, fla, args)
        return 0

    fla = None if args.no_fla else _load_fla()
    res = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__, "triton": triton.__version__,
        "fla": None if fla is None else fla["version"],
        "python": platform.python_version(),
        "commit": _git_commit(args.commit),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": 0,
        "timing_method": "triton.testing.do_bench median over 50 ms after 10 ms warm-up (L2 flushed); "
                         "fwd = forward under no_grad, fwdbwd = forward then o.backward(do); k unit rows, "
                         "beta uniform in [0, 2]; ratio = fla ms / ours ms; *_fwd_graph_ms, *_fwdbwd_graph_ms: "
                         "the same replayed as a CUDA graph (do_bench_cudagraph), the GPU's time without host "
                         "launches (gradients set to None before each captured call, as in the eager timing)",
        "backend": "chunk (ours and fla's); dtypes bfloat16 and float32, as named in each key",
        "roofline": "floor = max(min_bytes / copy bandwidth, chunk_flops / bf16 matmul rate), both measured in `env`; "
                    "fraction = floor / measured",
        "shipped_config": dict(chunk_mod.CONFIG), "shape_config": chunk_mod.SHAPE_CONFIG,
        "forced_config": dict(chunk_mod.FORCED),
        "narrowed": {"shapes": args.shapes, "candidates": args.candidates} if args.shapes or args.candidates else None,
        "fp32_variants": FP32_VARIANTS, "tf32_counts_if_worst_error_below": TF32_HOLDS,
        "stages": {},
    }
    if args.tests_log:
        with open(args.tests_log, errors="replace") as f:
            res["gpu_tests"] = parse_pytest_log(f.read())
    kept = set()
    if prev is not None:
        if (prev["commit"], prev["device"]) != (res["commit"], res["device"]):
            print(f"statetrack bench kernels: --resume {args.resume}: measured at {prev['commit']} on "
                  f"{prev['device']}, not {res['commit']} on {res['device']}", file=sys.stderr)
            return 2
        # every finished stage but compile (it only fills this machine's cache)
        kept = {st for st, info in prev["stages"].items()
                if st in STAGE_KEY and st != "compile" and info.get("status") == "ok"}
        for st in kept:
            if STAGE_KEY[st] in prev:
                res[STAGE_KEY[st]] = prev[STAGE_KEY[st]]
            res["stages"][st] = {**prev["stages"][st], "status": "ok", "from": prev.get("time")}
        if "gpu_tests" in prev and "gpu_tests" not in res:
            res["gpu_tests"] = prev["gpu_tests"]
        # the rows a stage of ROW_ID had finished before it was cut (its child skips them)
        for st in set(ROW_ID) - kept:
            if prev.get(STAGE_KEY[st]):
                res[STAGE_KEY[st]] = list(prev[STAGE_KEY[st]])

    def write():
        res["verdicts"] = verdicts(res)
        res["suggested_shape_config"] = (suggested_rows(res.get("tune", []))
                                         + suggested_product_rows(res.get("delta_product", [])))
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)) or ".", exist_ok=True)
            tmp = args.out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(res, f, indent=1)
            os.replace(tmp, args.out)

    def on_row(msg):
        sec, data = msg["section"], msg["data"]
        if sec == "env":
            res["ceilings"] = data
        else:
            add_roofline(data, res.get("ceilings"))
            res.setdefault(sec, []).append(data)
        log(f"{sec}: " + json.dumps(data))
        write()

    t0 = time.time()
    deadline = t0 + args.budget
    for section in SECTIONS:
        if section in kept:
            continue
        if section in skip:
            res["stages"][section] = {"status": "skipped (--skip)"}
        elif time.time() >= deadline:
            res["stages"][section] = {"status": "skipped (time budget spent)"}
        else:
            before = len(res.get(STAGE_KEY[section]) or [])
            res["stages"][section] = _run_child(section, args, deadline, log, on_row)
            if section in ROW_ID and before:
                now = len(res[STAGE_KEY[section]])
                res["stages"][section]["rows_from"] = {"resume": before, "this call": now - before}
        write()
    res["elapsed_s"] = round(time.time() - t0, 1)
    write()
    for row in res["suggested_shape_config"]:
        log(f"faster than the shipped settings: SHAPE_CONFIG row {tuple(row)} (chunk_config.py)")
    for row in res.get("profile", []):
        if "fwdbwd" in row:
            top = ", ".join(f"{name[:40]} {us:.0f}" for name, us, _ in row["fwdbwd"][:4])
            log(f"profile {row['op']}{'' if row['n_h'] is None else ' n_h=' + str(row['n_h'])} {tuple(row['shape'][:4])} "
                f"{row['who']}: fwd {row['fwd_us']:.0f} us, fwd+bwd {row['fwdbwd_us']:.0f} us; longest: {top}")
    log("\nbar                                                        value     bar        met")
    for key, val in res["verdicts"].items():
        x = val.get("ratio", val.get("value"))
        graphs = f"  (as CUDA graphs {val['ratio_as_cuda_graphs']:.3g})" if "ratio_as_cuda_graphs" in val else ""
        log(f"{key:58s} {x if not isinstance(x, float) else f'{x:.3g}'!s:9s} {val['bar']!s:10s} {val['met']}{graphs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
