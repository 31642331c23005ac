"""Sweeps through Optuna: every grid point runs once, into its own directory; re-runs add nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from statetrack.errors import TrainingError
from statetrack.train.sweep import read_sweep, run_sweep

TINY_BASE = """
[base]
steps = 3
batch_size = 4
warmup_steps = 1
train_min_len = 3
train_max_len = 6
test_min_len = 6
test_max_len = 8
eval_samples = 8
threads = 1
analysis = false
device = "cpu"
[base.model]
n_layers = 1
d_model = 8
n_heads = 1
mlp_ratio = 1
"""


def write(tmp_path: Path, storage: str, grid: str) -> Path:
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(f'[sweep]\nname = "t"\nout = "{tmp_path / "runs"}"\nstorage = "{storage}"\n' + TINY_BASE + grid)
    return cfg


def test_grid_runs_every_point_once(tmp_path, capsys):
    cfg = write(tmp_path, "journal", '[grid]\n"model.eig_range" = ["0,1", "-1,1"]\nseed = [0, 1]\n')
    summary = run_sweep(str(cfg), workers=1, progress=False)
    shown = sorted(line.split(": ")[0].split()[-1] for line in capsys.readouterr().out.splitlines() if " run " in line)
    assert shown == ["1/4", "2/4", "3/4", "4/4"]                         # each grid point named once, as k/N
    trials = summary["trials"]
    assert len(trials) == 4 and all(t["state"] == "COMPLETE" and t["value"] is not None for t in trials)
    assert {(t["params"]["model.eig_range"], t["params"]["seed"]) for t in trials} == \
        {("0,1", 0), ("0,1", 1), ("-1,1", 0), ("-1,1", 1)}
    for t in trials:
        r = json.loads((Path(t["run_dir"]) / "results.json").read_text())
        assert r["config"]["model"]["eig_range"] == t["params"]["model.eig_range"]
        assert r["config"]["seed"] == t["params"]["seed"]
    again = run_sweep(str(cfg), workers=1, progress=False)
    assert len(again["trials"]) == 4                                       # nothing re-run
    assert (tmp_path / "runs" / "sweep_summary.json").exists()


def test_sqlite_storage(tmp_path):
    cfg = write(tmp_path, "sqlite", '[grid]\nseed = [3]\n')
    summary = run_sweep(str(cfg), workers=1, progress=False)
    assert [t["state"] for t in summary["trials"]] == ["COMPLETE"]
    assert (tmp_path / "runs" / "optuna.db").exists()


@pytest.mark.parametrize("grid,message", [
    pytest.param('[grid]\n"model.knd" = ["deltanet"]\n', "unknown config field 'model.knd'", id="typo"),
    pytest.param('[grid]\nseed = []\n', "non-empty lists", id="empty"),
    pytest.param('[grid]\nseed = [[1]]\n', "strings, numbers or booleans", id="nested"),
])
def test_bad_sweep_files_are_named(tmp_path, grid, message):
    with pytest.raises(TrainingError, match=message):
        read_sweep(write(tmp_path, "journal", grid))


def test_example_configs_parse():
    root = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(root.glob("*.toml"))
    assert files
    for f in files:
        spec = read_sweep(f)
        assert spec["grid"]
