"""The training loop: schedule, batches, NaN guard, results schema, CLI, DDP under torchrun."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from statetrack.provenance import jsonable

from statetrack.errors import TrainingError
from statetrack.train import TrainConfig, train
from statetrack.train import checkpoint as ckpt
from statetrack.train.loop import batch_generator, lr_factor, step_length


def test_lr_schedule_warms_up_then_decays(tiny_config):
    cfg = tiny_config(steps=110, warmup_steps=10, min_lr_ratio=0.1)
    f = [lr_factor(cfg, s) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0) and f[60] == pytest.approx(0.55) and f[109] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))


def test_batches_depend_on_seed_step_rank_only(tiny_config):
    draw = lambda *k: torch.randint(0, 100, (4,), generator=batch_generator(*k))   # noqa: E731
    assert torch.equal(draw(0, 5, 0), draw(0, 5, 0))
    assert not torch.equal(draw(0, 5, 0), draw(0, 5, 1)) and not torch.equal(draw(0, 5, 0), draw(0, 6, 0))
    cfg = tiny_config(train_min_len=3, train_max_len=8)
    lengths = {step_length(cfg, s) for s in range(200)}
    assert lengths == set(range(3, 9))


def test_results_follow_the_schema(tmp_path, tiny_config):
    cfg = tiny_config(steps=6, analysis=True, norm_length_factor=3, model=dict(
        kind="deltaproduct", n_h=2, n_layers=2, d_model=8, n_heads=2, mlp_ratio=1))
    r = train(cfg, tmp_path, progress=False)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(jsonable(r)))          # what was returned is what was written
    assert on_disk["schema"] == "statetrack.train.results/1" and on_disk["status"] == "completed"
    for key in ("config", "task", "model", "seed", "dtype", "backend", "device", "versions", "git", "wall_time_s",
                "steps", "final_loss", "loss_curve", "eval", "analysis", "world_size"):
        assert key in on_disk, key
    assert on_disk["backend"] == "naive" and on_disk["versions"]["torch"] == torch.__version__
    ev = on_disk["eval"]
    assert ev["lengths"] == list(range(1, 11)) and len(ev["accuracy"]) == 10
    assert all(0.5 <= m <= 1 for m in ev["majority_accuracy"])        # two classes
    assert ev["test_range"]["min_len"] == 8 and ev["train_range"]["max_len"] == 8
    an = on_disk["analysis"]
    assert an["size"]["params"] > 0 and an["size"]["layers"] == 2
    eig = an["eigenvalues"]
    assert eig["kind"] == "householder_product" and len(eig["layers"]) == 2 and len(eig["layers"][0]["heads"]) == 2
    head = eig["layers"][0]["heads"][0]
    assert set(head["per_token"]) == {"0", "1"} and len(head["per_token"]["0"]["real"]) == 8 * 2   # positions x n_h
    assert -1 - 1e-6 <= head["min_real"] <= head["max_real"] <= 1 + 1e-6
    pr = an["probes"]
    assert len(pr["layers"]) == 2 and len(pr["layers"][0]["accuracy"]) == 10 and pr["n_states"] == 2
    sn = an["state_norms"]
    assert sn["lengths"][-1] == 3 * 8 and len(sn["layers"][1]["mean"]) == len(sn["lengths"])
    assert (tmp_path / "config.json").exists() and (tmp_path / "checkpoint.safetensors").exists()


def test_diagonal_analysis_reports_decays(tmp_path, tiny_config):
    cfg = tiny_config(steps=4, analysis=True, norm_length_factor=2,
                      model=dict(kind="diagonal", eig_range="-1,1", n_layers=1, d_model=8, n_heads=1, mlp_ratio=1))
    eig = train(cfg, tmp_path, progress=False)["analysis"]["eigenvalues"]
    assert eig["kind"] == "diagonal"
    vals = eig["layers"][0]["heads"][0]["per_token"]["1"]
    assert len(vals["real"]) == 8 * 8 and "imag" not in vals           # decays are real: no imaginary parts kept


def _nan_after(n_calls: int, monkeypatch):
    from statetrack.models.lrnn import LRNN

    real, calls = LRNN.forward, {"n": 0}

    def forward(self, inputs, return_hidden=False):
        calls["n"] += 1
        out = real(self, inputs, return_hidden)
        return out * float("nan") if calls["n"] > n_calls and self.training else out

    monkeypatch.setattr(LRNN, "forward", forward)


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_config, monkeypatch):
    _nan_after(7, monkeypatch)
    with pytest.raises(TrainingError, match=r"diverged at step 8: loss nan.*last good checkpoint: .*step 6\)"):
        train(tiny_config(steps=12, checkpoint_every=3), tmp_path, progress=False)
    tensors, meta = ckpt.read_checkpoint(tmp_path / "checkpoint.safetensors")
    assert meta["step"] == 6 and all(torch.isfinite(v).all() for k, v in tensors.items() if v.is_floating_point())
    assert not (tmp_path / "results.json").exists()


def test_cli_nan_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from statetrack.train.cli import main

    _nan_after(2, monkeypatch)
    code = main(["train", "--task", "parity", "--layers", "1", "--d-model", "8", "--heads", "1", "--steps", "5",
                 "--batch-size", "4", "--train-len", "3", "5", "--test-len", "5", "6", "--threads", "1",
                 "--no-progress", "--device", "cpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "diverged at step 3" in err


@pytest.mark.parametrize("argv,message", [
    pytest.param(["--task", "nope"], "unknown task 'nope'", id="unknown_task"),
    pytest.param(["--eig-range", "0,2"], "eigenvalue range", id="bad_range"),
    pytest.param(["--task", "parity", "--task-opt", "m=3"], "has no option 'm'", id="bad_task_option"),
    pytest.param(["--regex", "(ab"], "--regex needs --alphabet", id="regex_without_alphabet"),
    pytest.param(["--train-len", "9", "3"], "train_min_len 9 > train_max_len 3", id="bad_lengths"),
    pytest.param(["--model", "deltanet", "--n-h", "2"], "deltanet has n_h = 1", id="deltanet_nh"),
    pytest.param(["--config", "/nonexistent.json"], "cannot read config file", id="missing_config"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, message, tmp_path, capsys):
    from statetrack.train.cli import main

    code = main(["train", *argv, "--steps", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("form", [pytest.param(["--eig-range", "-1,1"], id="space"),
                                  pytest.param(["--eig-range=-1,1"], id="equals"),
                                  pytest.param(["--eig-range", "[-1,1]"], id="brackets")])
def test_cli_reads_negative_range(form):
    import argparse

    from statetrack.train.cli import config_from_args, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    cfg = config_from_args(parser.parse_args(["train", *form, "--task", "S5_swaps", "--task-opt", "identity=true",
                                              "--out", "x"]))
    assert cfg.model.eig_range == "-1,1" and cfg.task == "S5_swaps" and cfg.task_options == {"identity": True}


@pytest.mark.parametrize("flags,head_dim", [pytest.param(["--d-model", "16", "--heads", "2"], 8, id="derived"),
                                             pytest.param(["--heads", "2", "--preset", "gpu"], 64, id="heads-only"),
                                             pytest.param(["--d-model", "16", "--head-dim", "4"], 4, id="explicit")])
def test_cli_head_dim_follows_d_model_and_heads(flags, head_dim):
    import argparse

    from statetrack.train.cli import config_from_args, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    cfg = config_from_args(parser.parse_args(["train", "--task", "parity", *flags, "--out", "x"]))
    assert cfg.model.head_dim == head_dim


def test_config_round_trips_and_rejects_typos(tmp_path):
    cfg = TrainConfig(task="counting", task_options={"m": 5}, steps=3)
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(TrainingError, match="unknown training config field.*stpes"):
        TrainConfig.from_dict({"stpes": 3})
    assert cfg.replace(model__kind="diagonal", seed=4).model.kind == "diagonal"


def _torchrun(nproc: int, out: Path) -> subprocess.CompletedProcess:
    torchrun = Path(sys.executable).with_name("torchrun")
    return subprocess.run(
        [str(torchrun), f"--nproc_per_node={nproc}", "--master_port", str(29500 + os.getpid() % 1000 + nproc),
         "-m", "statetrack.train.cli", "train", "--task", "parity", "--layers", "1", "--d-model", "8", "--heads", "1",
         "--mlp-ratio", "1", "--steps", "6", "--batch-size", "4", "--lr", "0.01", "--warmup", "2",
         "--train-len", "3", "8", "--test-len", "8", "10", "--eval-samples", "8", "--threads", "1",
         "--log-every", "2", "--no-analysis", "--no-progress", "--device", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_torchrun_one_process_gloo_equals_plain_run(tmp_path, tiny_config):
    """DDP (gloo, one CPU process) trains the same weights as a run without torchrun."""
    done = _torchrun(1, tmp_path / "ddp")
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert r["world_size"] == 1
    cfg = TrainConfig.from_dict(r["config"])
    train(cfg, tmp_path / "plain", progress=False)
    from safetensors.torch import load_file

    a, b = load_file(tmp_path / "ddp" / "checkpoint.safetensors"), load_file(tmp_path / "plain" / "checkpoint.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("model/", "optim/")))


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path):
    done = _torchrun(2, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads((tmp_path / "results.json").read_text())
    assert r["world_size"] == 2 and math.isfinite(r["final_loss"])


def test_a_single_run_in_p1s_format_is_scored_at_every_length(tmp_path, tiny_config):
    """parity_p1 trains on each word's last label; its evaluation still scores every length 1..L (the
    label after L tokens), as the batched trainer does, not the last length alone."""
    cfg = tiny_config(task="parity_p1", steps=3, analysis=False)
    ev = train(cfg, tmp_path, progress=False)["eval"]
    assert len(ev["accuracy"]) == cfg.eval_length and all(a is not None for a in ev["accuracy"])
    assert ev["test_range"]["lengths_scored"] == cfg.test_max_len - cfg.test_min_len + 1
