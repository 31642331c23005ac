"""Training: config, loop (AdamW, warm-up + cosine, clipping, NaN guard), exact-resume checkpoints,
DDP under torchrun, length-generalization evaluation, analysis, results JSON, Optuna sweeps.

    from statetrack.train import TrainConfig, train
    results = train(TrainConfig(task="parity"), out="runs/parity")

The CLI (``statetrack train`` / ``statetrack sweep``) lives in :mod:`statetrack.train.cli`.
"""
from statetrack.train.config import TrainConfig
from statetrack.train.loop import train

__all__ = ["TrainConfig", "train"]
