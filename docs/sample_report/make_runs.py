"""Training runs for the sample report (docs/sample_report): DeltaNet [0,1] vs [-1,1], 3 seeds each,
on parity, counting mod 3 and the S5 word problem (the three-way comparison the report is checked on).

    PYTHONPATH=src python3 docs/sample_report/make_runs.py --preset cpu --out runs/sample --workers 2
    PYTHONPATH=src python3 docs/sample_report/make_runs.py --preset gpu --out /tmp/runs --workers 9

``cpu``: the small configuration of benchmarks/train_cpu_parity.py (2 layers, d_model 16, batch 32,
1,500 steps, lr 1e-2; d_model 32 for S5's 120 tokens), train 3-40 and test 40-100 (S5: 3-32 /
32-100); about 1-2 minutes per run on one core. ``gpu``: 2 layers, d_model 64 (S5: 128), batch 256,
1,500-2,500 steps, test to 256 (S5: 128). Both are far shorter than P1's 100k steps of batch 1024:
they illustrate the report, they do not reproduce the paper (benchmarks/protocol_gpu.py is the
protocol). Each run directory keeps its results.json; checkpoints are deleted unless
--keep-checkpoints.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib
import multiprocessing as mp
import sys
import time
import traceback
from pathlib import Path

try:
    import statetrack  # noqa: F401
except ImportError:   # run from a checkout without PYTHONPATH=src
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

SEEDS = (0, 1, 2)


def backend_for(device: str) -> str:
    """``chunk`` where statetrack.kernels has it on a GPU, else ``fused_recurrent``, else ``naive``."""
    if device == "cpu":
        return "naive"
    for backend in ("chunk", "fused_recurrent"):
        try:
            importlib.import_module(f"statetrack.kernels.delta_rule.{backend}")
            return backend
        except ImportError:
            continue
    return "naive"


def jobs(device: str, scale: float, preset: str) -> list[tuple[str, dict]]:
    cpu = preset == "cpu"

    def cfg(task, rng, seed, *, steps, lr, train=(3, 40), test=(40, 256), d=64, layers=2):
        if cpu:
            test = (test[0], 100)
        return {"task": task, "seed": seed, "steps": max(20, int(steps * scale)), "batch_size": 32 if cpu else 256,
                "lr": 1e-2 if cpu else lr, "weight_decay": 0.0 if cpu else 0.1, "warmup_steps": 10 if cpu else 100,
                "train_min_len": train[0], "train_max_len": train[1], "test_min_len": test[0], "test_max_len": test[1],
                "eval_samples": 512, "log_every": 50, "device": device, "threads": 1 if cpu else 0,
                "model": {"kind": "deltanet", "eig_range": rng, "n_layers": layers, "d_model": d, "n_heads": 4 if d >= 64 else 2,
                          "head_dim": d // 4 if d >= 64 else d // 2, "mlp_ratio": 2, "backend": backend_for(device)}}

    out = []
    for rng in ("-1,1", "0,1"):
        for s in SEEDS:
            out.append((f"parity_{rng}_s{s}", cfg("parity", rng, s, steps=1500, lr=3e-3, d=16 if cpu else 64)))
            out.append((f"counting_mod3_{rng}_s{s}", cfg("counting_mod3", rng, s, steps=1500 if cpu else 2000, lr=3e-3,
                                                           d=16 if cpu else 64)))
            out.append((f"S5_{rng}_s{s}", cfg("S5", rng, s, steps=1500 if cpu else 2500, lr=1e-3, train=(3, 32),
                                               test=(32, 128), d=32 if cpu else 128)))
    return out


def run_job(name: str, cfg: dict, out: str, keep: bool) -> tuple[str, str, float]:
    from statetrack.train import TrainConfig, train

    t = time.time()
    try:
        try:
            res = train(TrainConfig.from_dict(cfg), Path(out) / name, resume=False, progress=False)
        except Exception as e:   # a kernel backend that fails on this machine: fall back to the loop
            if cfg["model"]["backend"] == "naive":
                raise
            print(f"{name}: backend {cfg['model']['backend']} failed ({type(e).__name__}: {str(e)[:200]}); "
                  "retrying with naive", flush=True)
            cfg = {**cfg, "model": {**cfg["model"], "backend": "naive"}}
            res = train(TrainConfig.from_dict(cfg), Path(out) / name, resume=False, progress=False)
        if not keep:
            (Path(out) / name / "checkpoint.safetensors").unlink(missing_ok=True)
        return name, f"test scaled {res['eval']['test_range']['scaled_accuracy']:.3f} ({res['backend']})", time.time() - t
    except Exception as e:      # recorded, the others go on
        return name, f"FAILED {type(e).__name__}: {e} {traceback.format_exc()[-600:]}", time.time() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=9)
    ap.add_argument("--steps-scale", type=float, default=1.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--preset", choices=("cpu", "gpu"), default="gpu")
    ap.add_argument("--keep-checkpoints", action="store_true")
    args = ap.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.preset == "cpu":
        device = "cpu"
    todo = [j for j in jobs(device, args.steps_scale, args.preset) if not args.only or j[0].startswith(tuple(args.only.split(",")))]
    t0 = time.time()
    with cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=mp.get_context("spawn")) as pool:
        futs = [pool.submit(run_job, n, c, args.out, args.keep_checkpoints) for n, c in todo]
        for f in cf.as_completed(futs):
            name, status, sec = f.result()
            print(f"[{time.time() - t0:6.1f}s] {name}: {status} ({sec:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
