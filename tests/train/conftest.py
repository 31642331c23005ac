import pytest

from statetrack.models import ModelConfig
from statetrack.train import TrainConfig


def tiny(**kw) -> TrainConfig:
    """A config that trains in well under a second per few steps on one CPU thread."""
    base = dict(task="parity", model=ModelConfig(kind="deltanet", n_layers=1, d_model=8, n_heads=1, mlp_ratio=1),
                steps=12, batch_size=4, lr=1e-2, warmup_steps=2, train_min_len=3, train_max_len=8,
                test_min_len=8, test_max_len=10, eval_samples=8, threads=1, analysis=False, log_every=2,
                device="cpu")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture
def tiny_config():
    return tiny
