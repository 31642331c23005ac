"""`statetrack train` as the README runs it: a preset named in the first line, periodic checkpoints,
"resuming from step N" after an interruption, and a finished run reported instead of retrained."""
from __future__ import annotations

import json

import pytest

from statetrack.cli import main
from statetrack.train import train
from statetrack.train.config import PRESETS, TrainConfig

TINY = ["--layers", "1", "--d-model", "8", "--heads", "1", "--mlp-ratio", "1", "--batch-size", "4",
        "--train-len", "3", "6", "--test-len", "6", "8", "--eval-samples", "8", "--no-progress"]


def test_first_line_names_the_preset(tmp_path, capsys):
    assert main(["train", "--task", "parity", "--steps", "4", *TINY, "--device", "cpu", "-o", str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("preset cpu (device cpu): parity deltanet[-1,1] 1 layers d_model 8, 4 steps of 4")
    cfg = json.loads((tmp_path / "results.json").read_text())["config"]
    assert cfg["lr"] == PRESETS["cpu"]["lr"] and cfg["threads"] == 1          # preset values under the flags


def test_gpu_preset_is_the_dataclass_defaults():
    from statetrack.train.cli import config_from_args, register
    from statetrack.cli_args import Parser

    parser = Parser()
    register(parser.add_subparsers(dest="command"))
    cfg, name, why = config_from_args(parser.parse_args(["train", "--preset", "gpu", "-o", "x"]), with_preset=True)
    assert (name, why) == ("gpu", "asked for") and cfg.to_dict() == TrainConfig().to_dict()
    assert TrainConfig().checkpoint_every > 0                                 # periodic checkpoints by default


def test_resume_says_from_which_step_and_a_finished_run_is_not_retrained(tmp_path, capsys, tiny_config):
    cfg = tiny_config(steps=8, checkpoint_every=2)
    train(cfg, tmp_path, progress=True, stop_after=5)                       # "killed" after step 5
    capsys.readouterr()
    first = train(cfg, tmp_path, progress=True)
    assert "resuming from step 4 of 8" in capsys.readouterr().out
    stamp = (tmp_path / "results.json").stat().st_mtime_ns
    again = train(cfg, tmp_path, progress=True)
    assert "finished run" in capsys.readouterr().out
    assert again == json.loads(json.dumps(first)) and (tmp_path / "results.json").stat().st_mtime_ns == stamp
    changed = train(cfg.replace(seed=1), tmp_path / "other", progress=False)  # another config trains anew
    assert changed["config"]["seed"] == 1


@pytest.mark.slow
def test_readme_training_line_learns_parity_on_cpu(tmp_path, capsys):
    """`statetrack train --task parity --out DIR` with no other flags: the CPU preset, and a DeltaNet
    that extrapolates parity (lengths 3-40 -> 40-100). How long it takes on 2 cores is a benchmark's
    matter (benchmarks/train_cpu_parity.py), not a test's: times follow the machine's load."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("runs the cpu preset")
    assert main(["train", "--task", "parity", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("preset cpu (no CUDA device)")
    r = json.loads((tmp_path / "results.json").read_text())
    assert r["eval"]["test_range"]["scaled_accuracy"] >= 0.9, r["eval"]["test_range"]
