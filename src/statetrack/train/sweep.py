"""Sweeps: a grid of training runs through Optuna (shared storage, one worker process per GPU).

A sweep file (TOML or JSON) has three tables:

```toml
[sweep]
name = "parity_table3"          # Optuna study name
out = "runs/parity_table3"      # run directories go below this (relative to the current directory)
storage = "journal"             # "journal" (out/optuna.log), "sqlite" (out/optuna.db) or an Optuna URL
metric = "test_range.scaled_accuracy"   # results["eval"][...] value each trial reports (maximized)
workers = 0                     # 0: one per visible GPU (1 without CUDA)

[base]                          # TrainConfig fields shared by every run
steps = 2000
[base.model]
d_model = 64

[grid]                          # every combination is one trial; dotted keys reach nested fields
task = ["parity"]
"model.kind" = ["deltanet", "diagonal"]
"model.eig_range" = ["0,1", "-1,1"]
seed = [0, 1, 2]
```

Optuna's ``GridSampler`` hands out the grid points: each worker process opens the same study in
the shared storage and asks it for the next unvisited point, so workers never coordinate
otherwise. Each point trains into its own directory (``out/<key=value,...>``) with resume on, so
re-running a sweep after a crash resumes unfinished runs and skips finished ones. A run that
diverges (TrainingError) is recorded as a failed trial. ``out/sweep_summary.json`` lists every
point with its metric and results path.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from statetrack.errors import TrainingError

SUMMARY = "sweep_summary.json"


def read_sweep(path: str | Path) -> dict:
    from statetrack.train.config import TrainConfig, load_config_file

    spec = load_config_file(path)
    unknown = set(spec) - {"sweep", "base", "grid"}
    if unknown:
        raise TrainingError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; use [sweep], [base], [grid]")
    sweep = dict(spec.get("sweep", {}))
    bad = set(sweep) - {"name", "out", "storage", "metric", "workers"}
    if bad:
        raise TrainingError(f"{path}: unknown [sweep] key(s) {', '.join(sorted(bad))}")
    grid = spec.get("grid", {})
    if not grid or not all(isinstance(v, list) and v for v in grid.values()):
        raise TrainingError(f"{path}: [grid] must map config fields to non-empty lists of values")
    for key, values in grid.items():
        for v in values:
            if not isinstance(v, (str, int, float, bool)):
                raise TrainingError(f"{path}: grid values must be strings, numbers or booleans ({key} = {v!r})")
    base = TrainConfig.from_dict(spec.get("base", {}))
    for key in grid:                                   # fail early on a misspelt grid key
        base.replace(**{key.replace(".", "__"): grid[key][0]})
    sweep.setdefault("name", Path(path).stem)
    sweep.setdefault("out", str(Path("runs") / sweep["name"]))
    sweep.setdefault("storage", "journal")
    sweep.setdefault("metric", "test_range.scaled_accuracy")
    sweep.setdefault("workers", 0)
    return {"sweep": sweep, "base": base, "grid": grid, "path": str(path)}


def storage_for(sweep: dict):
    import optuna

    out = Path(sweep["out"])
    out.mkdir(parents=True, exist_ok=True)
    kind = sweep["storage"]
    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(out / "optuna.log")))
    if kind == "sqlite":
        return f"sqlite:///{(out / 'optuna.db').resolve()}"
    return kind


def run_dirname(params: dict) -> str:
    text = ",".join(f"{k}={params[k]}" for k in sorted(params))
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text)


def metric_of(results: dict, metric: str) -> float:
    node = results["eval"]
    for part in metric.split("."):
        node = node[part]
    return float("nan") if node is None else float(node)


def _study(spec: dict):
    try:
        import optuna
    except ImportError:
        raise TrainingError("statetrack sweep needs optuna: pip install 'statetrack[sweep]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.GridSampler(spec["grid"], seed=0)
    return optuna.create_study(study_name=spec["sweep"]["name"], storage=storage_for(spec["sweep"]),
                               sampler=sampler, direction="maximize", load_if_exists=True)


def _all_done(study, grid: dict) -> bool:
    import optuna

    want = {tuple(sorted(p.items())) for p in _points(grid)}
    done = {tuple(sorted(t.params.items())) for t in study.get_trials(deepcopy=False)
            if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)}
    return want <= done


def _points(grid: dict) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def worker(config_path: str, progress: bool = False) -> None:
    """One worker: take grid points from the shared study until none is left."""
    from statetrack.train.loop import train

    spec = read_sweep(config_path)
    study = _study(spec)
    if _all_done(study, spec["grid"]):
        return
    out = Path(spec["sweep"]["out"])
    points = _points(spec["grid"])

    def objective(trial) -> float:
        params = {k: trial.suggest_categorical(k, v) for k, v in spec["grid"].items()}
        cfg = spec["base"].replace(**{k.replace(".", "__"): v for k, v in params.items()})
        run_dir = out / run_dirname(params)
        trial.set_user_attr("run_dir", str(run_dir))
        k = points.index(params) + 1 if params in points else trial.number + 1
        print(f"[sweep {spec['sweep']['name']}] run {k}/{len(points)}: {run_dirname(params)}", flush=True)
        results = train(cfg, run_dir, resume=True, progress=progress)
        return metric_of(results, spec["sweep"]["metric"])

    study.optimize(objective, catch=(TrainingError,))


def run_sweep(config_path: str, workers: int | None = None, progress: bool = True) -> dict:
    """Run every grid point (spawning one worker per GPU), then write and return the summary."""
    spec = read_sweep(config_path)
    _study(spec)                                            # create it once, before the workers race
    n = workers if workers is not None else int(spec["sweep"]["workers"])
    if n <= 0:
        import torch

        n = max(1, torch.cuda.device_count())
    if n == 1:
        worker(config_path, progress=progress)
    else:
        procs = []
        for i in range(n):
            env = dict(os.environ)
            if "CUDA_VISIBLE_DEVICES" not in os.environ:
                env["CUDA_VISIBLE_DEVICES"] = str(i)
            procs.append(subprocess.Popen([sys.executable, "-m", "statetrack.train.sweep", config_path], env=env))
        codes = [p.wait() for p in procs]
        if any(codes):
            raise TrainingError(f"sweep workers exited with status {codes}")
    return write_summary(spec)


def write_summary(spec: dict) -> dict:
    import optuna

    from statetrack.provenance import provenance, write_json

    study = _study(spec)
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        rows.append({"trial": t.number, "state": t.state.name, "params": t.params,
                     "value": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
                     "run_dir": t.user_attrs.get("run_dir")})
    summary = {"name": spec["sweep"]["name"], "metric": spec["sweep"]["metric"], "grid": spec["grid"],
               "trials": rows, **provenance()}
    out = Path(spec["sweep"]["out"])
    write_json(out / SUMMARY, summary)
    return summary


def format_summary(summary: dict) -> str:
    keys = list(summary["grid"])
    lines = ["  ".join(keys + ["state", summary["metric"]])]
    for r in summary["trials"]:
        v = "-" if r["value"] is None else f"{r['value']:.3f}"
        lines.append("  ".join([str(r["params"].get(k)) for k in keys] + [r["state"], v]))
    return "\n".join(lines)


if __name__ == "__main__":     # a worker process spawned by run_sweep
    worker(sys.argv[1])
