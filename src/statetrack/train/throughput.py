"""``statetrack bench train``: run-steps per second of the single-run loop and of the batched trainer.

Both are measured in one process on one device at P1's scale (2 layers, d_model 128, 4 heads,
train lengths 3-40, bf16 on CUDA), on parity:

* ``single``: :func:`statetrack.train.loop.train` itself (host-sampled batches, two host syncs per
  step); its ``train_time_s`` over the timed steps, after a warm-up run of the same config;
* ``batched N``: :class:`statetrack.train.batched.GroupTrainer` with N runs (seeds), its stages
  through ``torch.compile`` and the step as one CUDA graph on CUDA; timed over ``steps`` steps after
  warm-up, compilation and capture.

Each kernel backend in ``--backends`` is measured for both trainers; the batched trainer in its
default layout (packed words where the backend takes them, see :mod:`statetrack.train.batched`),
and with ``--padded`` also padded at the largest N. A run-step is one optimizer step
of one run; ratio = batched run-steps/s / run-steps/s of the *fastest* single-run loop at the same
batch (whichever backend that was). The JSON holds the device, versions, commit and a ``verdicts``
block (bar: >= 10x at the largest N, per batch and backend).

    statetrack bench train                                  # CUDA: benchmarks/results/train_throughput_gpu.json
    statetrack bench train --quick                          # smoke run, tiny sizes: ./train_throughput_quick.json

Without CUDA, or with ``--quick``, the default output is ``train_throughput_quick.json`` in the current
directory, so a CPU run never replaces the committed GPU results; ``--quick`` also shrinks the defaults of
``--batches``, ``--runs`` and ``--steps`` (about 15 s on two cores; at P1's sizes a CPU run took over 13 minutes).

A device call that ran out of time after one batch size is finished by another call for the other
(``--batches 1024``); ``--merge A.json B.json`` then writes one file, each batch size's rows and
verdict taken whole from the call that timed it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

BAR, AIM = 10.0, 30.0
GPU_OUT, QUICK_OUT = "benchmarks/results/train_throughput_gpu.json", "train_throughput_quick.json"
FULL = {"batches": [256, 1024], "runs": [1, 6, 24], "steps": 50}        # P1's batch sizes; the issue's N
QUICK = {"batches": [16], "runs": [1, 4], "steps": 3}


def p1_config(batch: int, backend: str, device: str, quick: bool):
    from statetrack.train.config import TrainConfig

    cfg = TrainConfig(task="parity", batch_size=batch, lr=1e-3, warmup_steps=10, steps=100, analysis=False,
                      device=device, dtype="bfloat16" if device.startswith("cuda") else "float32",
                      eval_samples=16, test_min_len=40, test_max_len=40, log_every=10_000)
    cfg.model.backend = backend
    if quick:
        cfg.model.d_model, cfg.model.n_heads, cfg.model.head_dim, cfg.train_max_len = 16, 2, 8, 12
        cfg.test_min_len = cfg.test_max_len = 12
    return cfg


def time_single(cfg, steps: int, warm: int, tmp: Path) -> float:
    """Seconds per step of the single-run loop: a discarded warm-up run (kernel compilation), then
    the difference of a ``warm``-step and a ``warm + steps``-step run, so start-up cancels."""
    from statetrack.train.loop import train

    times = []
    for i, n in enumerate((warm, warm, warm + steps)):
        res = train(cfg.replace(steps=n), tmp / f"single_{cfg.batch_size}_{i}", resume=False, progress=False)
        times.append(res["train_time_s"])
    return max(1e-9, times[2] - times[1]) / steps


def time_batched(cfg, n_runs: int, steps: int, graph: bool, compile: bool | None = None,
                 packed: bool | None = None) -> tuple[float, bool]:
    """Seconds per group step of the batched trainer with ``n_runs`` runs, seeds 0..n_runs - 1 (after
    warm-up/capture), and whether its batches were packed."""
    from statetrack.train.batched import GroupTrainer

    device = torch.device(cfg.device)
    trainer = GroupTrainer([cfg.replace(seed=s) for s in range(n_runs)], device, compile=compile, packed=packed)
    trainer.run_steps(8, graph=graph)                       # warm-up, Triton compile, graph capture
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    trainer.run_steps(steps, graph=graph)
    sync()
    dt = (time.perf_counter() - t0) / steps
    trainer.check()
    return dt, trainer.packed


def merge(paths: list[str], out: str) -> int:
    """Join result files of separate calls: every batch size's rows and verdicts come from one file
    (the one that timed its batched trainer), so each ratio still pairs loops timed in one process."""
    from statetrack.provenance import check_output_path
    from statetrack.train.results import write_results

    from statetrack.errors import StatetrackError

    out = check_output_path(out)
    files = []
    for p in paths:
        try:
            data = json.loads(Path(p).read_text())
            data["rows"], data["verdicts"], data["device"], data["git"]["commit"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StatetrackError(f"--merge: {p} is not a result of statetrack bench train ({type(e).__name__})") from None
        files.append((p, data))
    first = files[0][1]
    for p, data in files[1:]:
        if (data["device"], data["git"]["commit"]) != (first["device"], first["git"]["commit"]):
            raise StatetrackError(f"--merge: {p} was measured at {data['git']['commit']} on {data['device']}, "
                                  f"{files[0][0]} at {first['git']['commit']} on {first['device']}")
    result = {k: v for k, v in first.items() if k not in ("rows", "verdicts")}
    result.update(rows=[], verdicts={}, merged_from=[])
    for p, data in files:
        timed = sorted({r["batch"] for r in data["rows"] if r["trainer"] == "batched"} -
                       {r["batch"] for r in result["rows"]})
        result["rows"] += [r for r in data["rows"] if r["batch"] in timed]
        result["verdicts"].update({k: v for k, v in data["verdicts"].items()
                                   if any(f"_batch{b}_" in k for b in timed)})
        result["merged_from"].append({"file": Path(p).name, "batches": timed})
    write_results(out, result)
    print(f"{out}: batches {sorted({r['batch'] for r in result['rows']})} from {len(files)} files")
    return 0


def main(argv: list[str] | None = None) -> int:
    from statetrack.train.results import device_name, git_info, versions, write_results

    from statetrack.cli_args import Parser, pos_int

    ap = Parser(prog="statetrack bench train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help=f"JSON to write (default: {GPU_OUT} on CUDA and with --merge; {QUICK_OUT} in this "
                    "directory without CUDA or with --quick)")
    ap.add_argument("--batches", type=pos_int, nargs="+",
                    help=f"batch sizes per run (default: {FULL['batches']}; --quick {QUICK['batches']})")
    ap.add_argument("--runs", type=pos_int, nargs="+",
                    help=f"group sizes N (default: {FULL['runs']}; --quick {QUICK['runs']})")
    ap.add_argument("--steps", type=pos_int,
                    help=f"timed steps per measurement (default: {FULL['steps']}; --quick {QUICK['steps']})")
    ap.add_argument("--backends", nargs="+", default=["fused_recurrent", "chunk"],
                    choices=("fused_recurrent", "chunk", "naive"),
                    help="kernel backends on CUDA, each measured (default: %(default)s; naive on CPU)")
    ap.add_argument("--no-graph", action="store_true", help="do not capture CUDA graphs (default: captured)")
    ap.add_argument("--no-compile", action="store_true",
                    help="run the batched trainer's stages eagerly (default: torch.compile on CUDA)")
    ap.add_argument("--padded", action="store_true",
                    help="also time the padded layout at the largest N where the default packs (default: off)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (CPU smoke run; default: off)")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="measure nothing: write --out from results of "
                    "this command for the same commit and device, each batch size from the file that timed its "
                    "batched trainer (a call cut off after one batch size, finished by another)")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available() and not args.quick
    args.out = args.out or (GPU_OUT if cuda or args.merge else QUICK_OUT)
    if args.merge:
        return merge(args.merge, args.out)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    device = "cuda" if cuda else "cpu"
    backends = args.backends if cuda else ["naive"]
    compile = cuda and not args.no_compile
    from statetrack.provenance import check_output_path

    out = check_output_path(args.out)               # before minutes of measuring, not after
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="statetrack_bench_train_"))
    rows, verdicts = [], {}
    result = {"benchmark": "train_throughput", "device": device_name(torch.device(device)), "backends": backends,
              "versions": versions(), "git": git_info(), "graph": cuda and not args.no_graph, "compiled": compile,
              "task": "parity", "rows": rows, "verdicts": verdicts}

    def flush():
        out.parent.mkdir(parents=True, exist_ok=True)
        write_results(out, result)

    for batch in args.batches:
        single = {}
        for backend in backends:
            cfg = p1_config(batch, backend, device, args.quick)
            result["model"] = {k: getattr(cfg.model, k) for k in ("kind", "n_layers", "d_model", "n_heads", "head_dim")}
            single[backend] = time_single(cfg, args.steps, 5, tmp)
            rows.append({"trainer": "single", "backend": backend, "batch": batch, "runs": 1, "seeds": [cfg.seed],
                         "ms_per_step": 1e3 * single[backend], "run_steps_per_s": 1.0 / single[backend]})
            print(f"batch {batch}, {backend}: single-run loop {1e3 * single[backend]:.2f} ms/step", flush=True)
            flush()
        best = min(single.values())
        for backend in backends:
            cfg = p1_config(batch, backend, device, args.quick)
            # every N in the trainer's default layout (packed on the GPU backends); with --padded also
            # the padded layout at the largest N, side by side, where the default packs
            jobs = [(n, None) for n in args.runs]
            if args.padded and backend != "naive":
                jobs.append((max(args.runs), False))
            for n, packed in jobs:
                t0 = time.perf_counter()
                dt, was_packed = time_batched(cfg, n, args.steps, graph=not args.no_graph, compile=compile,
                                              packed=packed)
                ratio = (n / dt) / (1.0 / best)
                rows.append({"trainer": "batched", "backend": backend, "batch": batch, "runs": n,
                             "seeds": list(range(n)),         # time_batched's runs
                             "packed": was_packed, "ms_per_step": 1e3 * dt, "ms_per_run_step": 1e3 * dt / n,
                             "run_steps_per_s": n / dt, "ratio_vs_single": ratio,
                             "setup_s": time.perf_counter() - t0 - args.steps * dt})
                layout = "packed" if was_packed else "padded"
                print(f"batch {batch}, {backend}: batched N={n} ({layout}) {1e3 * dt:.2f} ms/step, "
                      f"{n / dt:.0f} run-steps/s, {ratio:.1f}x the fastest single-run loop", flush=True)
                if n == max(args.runs) and packed is None:
                    verdicts[f"batched_N{n}_batch{batch}_{backend}_vs_single"] = {
                        "ratio": ratio, "bar": BAR, "aim": AIM, "met": ratio >= BAR, "packed": was_packed}
                flush()
    print(json.dumps(verdicts, indent=1))
    return 0
