"""The GPU evidence protocol of issue 7: does the eigenvalue range decide what LRNNs learn?

Runs, each with 3 seeds (P1 Table 3 and the word-problem findings of P1/P2, shortened):

    parity              DeltaNet and diagonal, [0,1] vs [-1,1]   train 3-40, test 40-256
    modular_arithmetic  DeltaNet (3 layers), [0,1] vs [-1,1]     m = 5, no brackets
    S5_swaps            1-layer DeltaNet, [0,1] vs [-1,1]        tokens = transpositions only
    S3, S5              1-layer DeltaProduct n_h in {1,2,4}, [-1,1]

Time: the parity jobs take 12,000 steps (about 10 minutes each at the 50 ms/step measured with 14
workers on an H100 for the shorter recipe), so the whole protocol needs more than one 10-minute device
call: run it in parts with ``--only`` (``benchmarks/gpu_session.sh`` runs the non-parity part).

Jobs run in parallel worker processes sharing one GPU (the models are small: one process alone
leaves the GPU mostly idle). Each finished job is appended to ``OUT/train_protocol.json``
(atomically), which also evaluates the bars:

* parity, DeltaNet and diagonal: [-1,1] test scaled accuracy >= 0.95 in >= 2 of 3 seeds,
  [0,1] <= 0.1 in all seeds.

    PYTHONPATH=src python3 benchmarks/train_protocol.py --out $OUT            # GPU (see Time above)
    PYTHONPATH=src python3 benchmarks/train_protocol.py --quick --out /tmp/p  # CPU smoke test, tiny sizes

Kernel backend per model: ``chunk`` where statetrack.kernels has it, else ``fused_recurrent``, else
``naive``; each run's results record the backend it used.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib
import json
import multiprocessing as mp
import os
import sys
import time
import traceback
from pathlib import Path

try:
    import statetrack  # noqa: F401
except ImportError:   # run from a checkout without PYTHONPATH=src
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SEEDS = (0, 1, 2)


def best_backend(op: str, device: str) -> str:
    if device == "cpu":
        return "naive"
    for backend in ("chunk", "fused_recurrent"):
        try:
            importlib.import_module(f"statetrack.kernels.{op}.{backend}")
            return backend
        except ImportError:
            continue
    return "naive"


def jobs(quick: bool, device: str, steps_mult: float = 1.0, parity_lrs=(1e-2,), small: bool = False,
         lr: float | None = None) -> list[tuple[str, dict]]:
    """(name, TrainConfig dict) for every run, most important first."""
    ops = {"deltanet": "delta_rule", "deltaproduct": "delta_product", "diagonal": "diagonal"}

    lr_override = lr

    def cfg(task, kind, rng, seed, *, layers=2, n_h=1, steps, lr, train=(3, 40), test=(40, 256), d=64, heads=4,
            batch=256, task_options=None):
        steps = max(10, int(steps * steps_mult))
        if lr_override is not None and task != "parity":
            lr = lr_override
        if quick:    # CPU smoke test: same structure, tiny sizes
            steps, d, heads, batch = 20, 8, 2, 8
            test = (train[1], train[1] + 8)
        elif small:  # a CPU-sized version: narrower, smaller batches, tested to 128
            d, heads, batch = min(d, 32), 2, 64
            test = (test[0], min(test[1], 128))
        return {
            "task": task, "task_options": task_options or {}, "seed": seed, "steps": steps, "batch_size": batch,
            "lr": lr, "weight_decay": 0.0, "warmup_steps": min(100, steps // 10), "train_min_len": train[0],
            "train_max_len": train[1], "test_min_len": test[0], "test_max_len": test[1],
            "eval_samples": 64 if quick else 128 if small else 512, "log_every": 10 if quick else 50, "device": device,
            "threads": 1,       # many workers share the CPU cores; the models are small
            "model": {"kind": kind, "eig_range": rng, "n_layers": layers, "n_h": n_h, "d_model": d,
                      "n_heads": heads, "mlp_ratio": 2, "backend": best_backend(ops[kind], device)},
        }

    out = []
    for lr in parity_lrs:
        tag = "" if len(parity_lrs) == 1 else f"/lr{lr:g}"
        for kind in ("deltanet", "diagonal"):
            for rng in ("-1,1", "0,1"):
                for s in SEEDS:
                    # 12,000 steps of 64: with 3,000 of 256 DeltaNet [-1,1] stopped at eigenvalue ~-0.998 and
                    # lost accuracy with length (benchmarks/results/parity_generalization_cpu.json)
                    out.append((f"parity/{kind}/{rng}/s{s}{tag}",
                                cfg("parity", kind, rng, s, steps=12000, batch=64, lr=lr, d=32, heads=2)))
    for rng in ("-1,1", "0,1"):
        for s in SEEDS:
            out.append((f"S5_swaps/deltanet/{rng}/s{s}",
                        cfg("S5_swaps", "deltanet", rng, s, layers=1, steps=4000, lr=1e-3, train=(3, 32),
                            test=(32, 128), d=128)))
    for rng in ("-1,1", "0,1"):
        for s in SEEDS:
            out.append((f"modular_arithmetic/deltanet/{rng}/s{s}",
                        cfg("modular_arithmetic", "deltanet", rng, s, layers=3, steps=4000, lr=1e-3, d=128)))
    for g in ("S3", "S5"):
        for n_h in (1, 2, 4):
            for s in SEEDS:
                out.append((f"{g}/deltaproduct_nh{n_h}/-1,1/s{s}",
                            cfg(g, "deltaproduct", "-1,1", s, layers=1, n_h=n_h, steps=4000, lr=1e-3,
                                train=(3, 32), test=(32, 128), d=128)))
    return out


def run_job(name: str, cfg_dict: dict, scratch: str) -> dict:
    """One training run in a worker process; returns its results (or the error)."""
    import torch

    from statetrack.train import TrainConfig, train

    if cfg_dict["device"] == "cpu":
        torch.set_num_threads(1)
    t = time.time()
    try:
        cfg = TrainConfig.from_dict(cfg_dict)
        results = train(cfg, Path(scratch) / name.replace("/", "_"), resume=False, progress=False)
        return {"name": name, "ok": True, "results": results, "seconds": time.time() - t}
    except Exception as e:   # a diverged or broken run is recorded, the protocol goes on
        return {"name": name, "ok": False, "error": f"{type(e).__name__}: {e}",
                "trace": traceback.format_exc()[-2000:], "seconds": time.time() - t}


def compiled_checks(device: str, quick: bool) -> list[dict]:
    """Compiled weights in the model classes, run through each kernel backend on this device:
    the automaton state after every prefix of every word of length L, and of random long words,
    must equal the source automaton's (float32)."""
    import itertools

    import numpy as np
    import torch

    from statetrack.automata.dfa import DFA
    from statetrack.automata.groups import group
    from statetrack.constructions import compile
    from statetrack.models import from_weights
    from statetrack.tasks.base import run_table

    rng = np.random.default_rng(2)
    cases = [
        ("group S3", lambda: compile(group("S3")), 5),
        ("group S5", lambda: compile(group("S5")), 2),
        ("group A4xZ5", lambda: compile(group("A4xZ5")), 2),
        ("rotation Z5", lambda: compile(group("Z5"), "rotation"), 6),
        ("krohn-rhodes (a|b)*abb", lambda: compile(DFA.from_regex("(a|b)*abb", "ab"), "krohn-rhodes"), 10),
        ("krohn-rhodes random 5-state", lambda: compile(
            DFA(alphabet="ab", table=rng.integers(0, 5, size=(5, 2)), start=0, accepting={1, 2}), "krohn-rhodes"), 10),
        ("direct (a|b)*abb", lambda: compile(DFA.from_regex("(a|b)*abb", "ab"), "direct"), 10),
    ]
    backends = ("naive",) if device == "cpu" else ("naive", "fused_recurrent", "chunk")
    out = []
    for name, make, length in cases[:3] if quick else cases:
        w = make()
        src = group(w.source["name"]).to_dfa() if w.source["kind"] == "group" else DFA.from_json(w.source["dfa"])
        table = torch.tensor(np.array(src.table, dtype=np.int64))
        words = torch.tensor(list(itertools.product(range(len(w.alphabet)), repeat=length)))
        long = torch.randint(0, len(w.alphabet), (16, 64 if quick else 512), generator=torch.Generator().manual_seed(0))
        for backend in backends:
            t = time.time()
            try:
                m = from_weights(w, dtype=torch.float32, backend=backend).to(device)
                ok = all(torch.equal(m(x.to(device)).cpu(), run_table(table, src.start, x)) for x in (words, long))
                entry = {"case": name, "backend": backend, "equal": bool(ok), "words": int(words.shape[0]),
                         "all_words_length": length, "long_words": list(long.shape), "superset": m.superset()}
            except Exception as e:   # e.g. the direct construction's read keys have no kernel
                entry = {"case": name, "backend": backend, "equal": None, "error": f"{type(e).__name__}: {e}"}
            entry["seconds"] = time.time() - t
            out.append(entry)
            print(f"compiled {name} [{backend}]: {entry.get('equal')} {entry.get('error', '')}", flush=True)
    return out


def headline(entry: dict) -> dict:
    r = entry["results"]
    return {"test_scaled_accuracy": r["eval"]["test_range"]["scaled_accuracy"],
            "test_accuracy": r["eval"]["test_range"]["accuracy"],
            "test_sequence_accuracy": r["eval"]["test_range"]["sequence_accuracy"],
            "train_scaled_accuracy": r["eval"]["train_range"]["scaled_accuracy"],
            "final_loss": r["final_loss"], "backend": r["backend"], "train_time_s": r["train_time_s"]}


def bars(done: dict) -> dict:
    """The issue's parity bars, evaluated on what has finished (per learning rate when several)."""
    import re

    tags = sorted({re.search(r"/s\d+(?:/(.*))?$", n).group(1) or "" for n in done if n.startswith("parity/")} or {""})
    out = {}
    for tag in tags:
        suffix = f"/{tag}" if tag else ""
        for kind in ("deltanet", "diagonal"):
            def acc(rng):
                es = [done.get(f"parity/{kind}/{rng}/s{s}{suffix}") for s in SEEDS]
                return [None if e is None or not e["ok"] else headline(e)["test_scaled_accuracy"] for e in es]
            neg, pos = acc("-1,1"), acc("0,1")
            complete = all(a is not None for a in neg + pos)
            out[f"parity_{kind}{suffix.replace('/', '_')}"] = {
                "neg_range_scaled_acc": neg, "pos_range_scaled_acc": pos,
                "bar": "[-1,1] >= 0.95 in >= 2 of 3 seeds; [0,1] <= 0.1 in all",
                "passed": complete and sum(a >= 0.95 for a in neg) >= 2 and all(a <= 0.1 for a in pos),
                "complete": complete}
    return out


def write(out_file: Path, meta: dict, done: dict) -> None:
    from statetrack.train.results import write_results

    summary = {name: headline(e) if e["ok"] else {"error": e["error"]} for name, e in sorted(done.items())}
    write_results(out_file, {**meta, "bars": bars(done), "summary": summary,
                             "runs": {name: e for name, e in sorted(done.items())}})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "out"), help="folder for train_protocol.json")
    ap.add_argument("--scratch", default="/tmp/statetrack_protocol", help="run directories (checkpoints)")
    ap.add_argument("--workers", type=int, default=0, help="parallel processes (default: 8 on a GPU, 2 on CPU)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a CPU smoke test of the whole script")
    ap.add_argument("--only", nargs="*", default=[], help="run only jobs whose names start with these prefixes")
    ap.add_argument("--name", default="train_protocol.json")
    ap.add_argument("--no-compiled", action="store_true", help="skip the compiled-weights checks")
    ap.add_argument("--steps-mult", type=float, default=1.0, help="scale every job's steps (timing runs)")
    ap.add_argument("--parity-lr", type=float, nargs="+", default=[1e-2], help="learning rates for parity")
    ap.add_argument("--lr", type=float, default=None, help="learning rate of the non-parity jobs")
    ap.add_argument("--small", action="store_true", help="CPU-sized models (d_model <= 32, batch 64, test to 128)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = ap.parse_args(argv)
    import torch

    from statetrack.train.results import device_name, git_info, versions

    device = args.device if args.device != "auto" else \
        "cuda" if torch.cuda.is_available() and not args.quick else "cpu"
    todo = jobs(args.quick, device, args.steps_mult, tuple(args.parity_lr), small=args.small, lr=args.lr)
    if args.only:
        todo = [j for j in todo if any(j[0].startswith(p) for p in args.only)]
    workers = args.workers or (8 if device == "cuda" else 2)
    out_file = Path(args.out) / args.name
    meta = {"schema": "statetrack.train.protocol/1", "device": device_name(torch.device(device)),
            "versions": versions(), "git": git_info(Path(__file__).resolve().parent), "workers": workers,
            "quick": args.quick, "small": args.small, "steps_mult": args.steps_mult,
            "command": " ".join(sys.argv), "jobs": [name for name, _ in todo]}
    t0 = time.time()
    done: dict[str, dict] = {}
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(run_job, name, c, args.scratch): name for name, c in todo}
        for fut in cf.as_completed(futures):
            entry = fut.result()
            done[entry["name"]] = entry
            status = f"{headline(entry)['test_scaled_accuracy']:.3f}" if entry["ok"] else entry["error"][:200]
            print(f"[{time.time() - t0:6.1f}s] {len(done)}/{len(todo)} {entry['name']}: {status} "
                  f"({entry['seconds']:.1f}s)", flush=True)
            meta["wall_time_s"] = time.time() - t0
            write(out_file, meta, done)
    if not args.no_compiled:          # after training: these compile many kernel shapes
        meta["compiled"] = compiled_checks(device, args.quick)
        write(out_file, meta, done)
    print(json.dumps(bars(done), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
