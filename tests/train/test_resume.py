"""Exact resume: N steps straight == N/2 steps, a kill, a resume and the rest, bit for bit."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from statetrack.train import checkpoint as ckpt
from statetrack.train import train



def state_tensors(run: Path) -> dict[str, torch.Tensor]:
    """Model weights and optimizer state of a run's final checkpoint."""
    t = load_file(run / "checkpoint.safetensors")
    return {k: v for k, v in t.items() if k.startswith(("model/", "optim/"))}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_in_process_is_bitwise(tmp_path, tiny_config):
    tiny = tiny_config
    cfg = tiny(steps=12, checkpoint_every=3)
    train(cfg, tmp_path / "straight", progress=False)
    train(cfg, tmp_path / "split", progress=False, stop_after=7)        # "killed" after step 7
    meta = ckpt.read_checkpoint(tmp_path / "split" / "checkpoint.safetensors")[1]
    assert meta["step"] == 6                                           # the last checkpoint before the kill
    train(cfg, tmp_path / "split", progress=False)
    assert same(state_tensors(tmp_path / "straight"), state_tensors(tmp_path / "split"))
    r1 = json.loads((tmp_path / "straight" / "results.json").read_text())
    r2 = json.loads((tmp_path / "split" / "results.json").read_text())
    assert r1["eval"]["accuracy"] == r2["eval"]["accuracy"] and r1["loss_curve"] == r2["loss_curve"]


def test_resume_without_optimizer_state_is_caught(tmp_path, monkeypatch, tiny_config):
    tiny = tiny_config
    """The comparison above detects a resume that forgets the optimizer moments."""
    cfg = tiny(steps=12, checkpoint_every=3)
    train(cfg, tmp_path / "straight", progress=False)
    train(cfg, tmp_path / "split", progress=False, stop_after=6)
    real = ckpt.load_checkpoint

    def forgetful(path, *, model, optimizer, scheduler):
        meta = real(path, model=model, optimizer=optimizer, scheduler=scheduler)
        optimizer.state.clear()
        return meta

    monkeypatch.setattr(ckpt, "load_checkpoint", forgetful)
    train(cfg, tmp_path / "split", progress=False)
    assert not same(state_tensors(tmp_path / "straight"), state_tensors(tmp_path / "split"))


def _step_of(path: Path) -> int:
    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()[ckpt.META_KEY])["step"]
    except Exception:   # not written yet
        return -1


CLI = [sys.executable, "-m", "statetrack.train.cli", "train", "--task", "parity", "--model", "deltanet",
       "--layers", "1", "--d-model", "8", "--heads", "1", "--mlp-ratio", "1", "--batch-size", "4",
       "--train-len", "3", "8", "--test-len", "8", "10", "--eval-samples", "8", "--threads", "1",
       "--no-analysis", "--no-progress", "--device", "cpu", "--steps", "150", "--checkpoint-every", "5"]


def test_sigkill_and_resume_gives_the_same_weights(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    proc = subprocess.Popen(CLI + ["--out", str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _step_of(killed / "checkpoint.safetensors") < 50 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed mid-way"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = _step_of(killed / "checkpoint.safetensors")
    assert 50 <= step < 150 and not (killed / "results.json").exists()
    done = subprocess.run(CLI + ["--out", str(killed)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    train(cli_config(CLI[3:] + ["--out", str(straight)]), straight, progress=False)
    assert same(state_tensors(straight), state_tensors(killed))


def cli_config(argv):
    import argparse

    from statetrack.train.cli import config_from_args, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return config_from_args(parser.parse_args(argv))


def test_resume_with_another_config_is_refused(tmp_path, tiny_config):
    tiny = tiny_config
    from statetrack.errors import TrainingError

    train(tiny(steps=4, checkpoint_every=2), tmp_path, progress=False, stop_after=2)
    with pytest.raises(TrainingError, match="different config"):
        train(tiny(steps=4, checkpoint_every=2, lr=0.5), tmp_path, progress=False)


def test_config_matches_older_files_and_refuses_other_configs():
    """What resume compares: a stored config written before a field existed takes its default; a
    changed value, an unknown field or something that is no config do not match."""
    from statetrack.train.config import TrainConfig

    cfg = TrainConfig(task="parity", steps=10)
    old = json.loads(cfg.to_json())
    del old["model"]["mlp"], old["model"]["init"]
    assert cfg.matches(old)
    assert not cfg.matches({**old, "steps": 11})
    assert not cfg.matches({**old, "no_such_field": 1})
    assert not cfg.matches(None) and not cfg.matches([1, 2])
