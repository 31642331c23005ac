"""The issue's learning bar, CI-sized: a 2-layer DeltaNet learns parity with eigenvalues in [-1, 1]
and extrapolates to twice its training length; with [0, 1] it cannot (P1 Thm 1).

The full measurement (3 minutes on 2 cores, accuracy at length 100) is
benchmarks/train_cpu_parity.py -> benchmarks/results/train_cpu_parity.json.
"""
from __future__ import annotations

import pytest

from statetrack.models import ModelConfig
from statetrack.train import TrainConfig, train


def parity_config(eig_range: str) -> TrainConfig:
    return TrainConfig(task="parity", model=ModelConfig(kind="deltanet", eig_range=eig_range, n_layers=2, d_model=16,
                                                        n_heads=2, mlp_ratio=2),
                       steps=250, batch_size=32, lr=1e-2, weight_decay=0.0, warmup_steps=10, train_min_len=3,
                       train_max_len=20, test_min_len=20, test_max_len=40, eval_samples=64, threads=1,
                       analysis=False, seed=0, device="cpu", log_every=50)


@pytest.mark.slow
@pytest.mark.parametrize("eig_range,check", [
    pytest.param("-1,1", lambda s: s >= 0.7, id="[-1,1]-learns"),
    pytest.param("0,1", lambda s: s <= 0.3, id="[0,1]-cannot"),
])
def test_deltanet_parity_length_generalization(tmp_path, eig_range, check):
    r = train(parity_config(eig_range), tmp_path, progress=False)
    scaled = r["eval"]["test_range"]["scaled_accuracy"]
    assert check(scaled), f"test-range scaled accuracy {scaled:.3f} with eigenvalues in [{eig_range}]"
