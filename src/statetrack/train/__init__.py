"""Training: config, loop (AdamW, warm-up + cosine, clipping, NaN guard), exact-resume checkpoints,
DDP under torchrun, length-generalization evaluation, analysis, results JSON, Optuna sweeps.

    from statetrack.train import TrainConfig, train
    results = train(TrainConfig(task="parity"), out="runs/parity")

The CLI (``statetrack train`` / ``statetrack sweep``) lives in :mod:`statetrack.train.cli`.
"""
__all__ = ["TrainConfig", "train"]


def __getattr__(name):
    # lazy: `statetrack train --help` and every other command import this package's CLI module,
    # and must not pay for importing torch (about 1.5 s) before they need it
    if name == "TrainConfig":
        from statetrack.train.config import TrainConfig

        return TrainConfig
    if name == "train":
        from statetrack.train.loop import train

        return train
    raise AttributeError(f"module 'statetrack.train' has no attribute {name!r}")
