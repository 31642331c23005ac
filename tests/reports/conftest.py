"""Fixtures of the report tests: synthetic results files, real tiny ones, constructed ones.

``tests/reports/data/cpu_runs`` holds three real ``results.json`` files of tiny CPU training runs
(parity, DeltaNet [0,1] seed 0 and [-1,1] seeds 0 and 1: 1 layer, d_model 16, 120 steps of batch
32, lengths 3-10 / 10-40), written by ``statetrack train`` and copied as they were.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def learned_results(*, task: str = "parity", options: dict | None = None, eig_range: str = "-1,1", seed: int = 0,
                    kind: str = "deltanet", accuracy=None, device: str = "NVIDIA H100 80GB HBM3", n_states: int = 2,
                    tokens=("0", "1"), train=(3, 10), test=(10, 40), eig=(-0.9, 0.8), layers: int = 2) -> dict:
    """A minimal, valid training results dict (schema statetrack.train.results/1).

    ``accuracy``: a function of the length (default: 1 on training lengths, 0.5 beyond).
    """
    L = test[1]
    acc_fn = accuracy or (lambda n: 1.0 if n <= train[1] else 0.5)
    chance = 1.0 / n_states
    acc = [float(acc_fn(n)) for n in range(1, L + 1)]
    scaled = [(a - chance) / (1 - chance) for a in acc]

    def summ(lo, hi):
        a = sum(acc[lo - 1:hi]) / (hi - lo + 1)
        return {"min_len": lo, "max_len": hi, "accuracy": a, "scaled_accuracy": (a - chance) / (1 - chance),
                "sequence_accuracy": a, "lengths_scored": hi - lo + 1}

    heads = [{"head": h, "min_real": eig[0], "max_real": eig[1], "max_abs_imag": 0.0,
              "frac_negative_real": 0.5 if eig[0] < 0 else 0.0,
              "per_token": {t: {"real": [eig[0] + (eig[1] - eig[0]) * i / 7 for i in range(8)], "imag": [0.0] * 8}
                            for t in tokens}} for h in range(2)]
    norm_lengths = [1, 2, 5, 10, 20, 50, 100]
    return {
        "schema": "statetrack.train.results/1", "status": "completed", "config": {"steps": 100},
        "task": {"name": task, "options": options or {}, "vocab_size": len(tokens), "n_classes": n_states,
                 "chance": chance, "n_states": n_states, "tokens": list(tokens), "classes": [str(i) for i in range(n_states)]},
        "model": {"kind": kind, "eig_range": eig_range, "n_layers": layers, "d_model": 16, "n_heads": 2,
                  "head_dim": 8, "n_h": 1, "backend": "naive"},
        "seed": seed, "dtype": "float32", "backend": "naive", "device": device, "world_size": 1,
        "versions": {}, "git": {"commit": "0123456789abcdef", "dirty": False}, "steps": 100, "final_loss": 0.1,
        "loss_curve": [[100, 0.1]],
        "eval": {"lengths": list(range(1, L + 1)), "accuracy": acc, "scaled_accuracy": scaled,
                 "sequence_accuracy": acc, "n": [64] * L, "chance": chance,
                 "train_range": summ(*train), "test_range": summ(*test)},
        "analysis": {
            "size": {"layers": layers, "heads": 2, "head_dim": 8, "d_model": 16, "n_h": 1, "params": 3000},
            "eigenvalues": {"kind": "householder_product", "layers": [{"layer": i, "heads": heads} for i in range(layers)]},
            "probes": {"target": "automaton state", "n_states": n_states, "chance": chance,
                       "lengths": list(range(1, L + 1)),
                       "layers": [{"layer": i, "train_accuracy": 1.0, "accuracy": acc, "test_range_accuracy": 0.5}
                                  for i in range(layers)]},
            "state_norms": {"lengths": norm_lengths, "train_max_len": train[1], "sequences": 8,
                            "layers": [{"layer": i, "mean": [math.sqrt(n) for n in norm_lengths],
                                        "std": [0.1] * 7, "max": [math.sqrt(n) + 1 for n in norm_lengths]}
                                       for i in range(layers)]},
        },
        "train_time_s": 1.0, "wall_time_s": 1.0,
    }


def write_run(directory: Path, results: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results))
    return directory


@pytest.fixture
def make_learned():
    return learned_results


@pytest.fixture
def write_results():
    return write_run


@pytest.fixture(scope="session")
def constructed_parity(tmp_path_factory) -> Path:
    """A real constructed results file (parity, group construction), small settings."""
    from statetrack.measure.constructed import analyze, weights_for_task
    from statetrack.tasks import make_task
    from statetrack.train.results import write_results as write

    task = make_task("parity")
    res = analyze(weights_for_task(task), task, train_min_len=3, train_max_len=10, test_min_len=10, test_max_len=40,
                  eval_samples=32, norm_length_factor=3, norm_sequences=4, verify_len=200, verify_words=2)
    out = tmp_path_factory.mktemp("constructed") / "parity_group"
    write(out / "results.json", res)
    return out


@pytest.fixture(scope="session")
def cpu_runs() -> Path:
    return DATA / "cpu_runs"


@pytest.fixture(scope="session")
def report(tmp_path_factory, cpu_runs, constructed_parity):
    """One rendered report (real tiny CPU runs + a real constructed result), shared by the tests:
    (REPORT_DIR, render_report's summary)."""
    from statetrack.reports.render import render_report

    out = tmp_path_factory.mktemp("report")
    info = render_report([cpu_runs, constructed_parity], out)
    return out, info
