"""Checkpoints: one safetensors file holding everything an exact resume needs (never pickle).

Tensors:
    ``model/<name>``            the model's state dict (the unwrapped module, not DDP's)
    ``optim/<i>/<key>``         optimizer state of parameter i (AdamW: step, exp_avg, exp_avg_sq)
    ``rng/torch``               torch's CPU generator state (uint8)
    ``rng/cuda/<d>``            each CUDA device's generator state, when CUDA is up
JSON metadata (key ``statetrack_checkpoint``): format, step, the training config, the optimizer's
param groups, the scheduler's state dict, and ``extra`` (loss history so far, wall time).

Batches need no stored generator: each step's batch is a function of (seed, step, rank)
(:func:`statetrack.train.loop.batch_generator`). The file is written to a temporary name and
renamed over the old one, so a kill at any moment leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from statetrack.constructions.weights import atomic_write_bytes
from statetrack.errors import TrainingError

FORMAT = 1
META_KEY = "statetrack_checkpoint"
FILENAME = "checkpoint.safetensors"


def save_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                    step: int, config: dict, extra: dict | None = None) -> None:
    """Write a checkpoint atomically (see the module docstring for the layout)."""
    from safetensors.torch import save

    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for i, state in opt["state"].items():
        for key, value in state.items():
            if not torch.is_tensor(value):
                value = torch.tensor(value)
            tensors[f"optim/{i}/{key}"] = value.detach().cpu().contiguous()
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for d, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{d}"] = s
    meta = {"format": FORMAT, "step": int(step), "config": config,
            "param_groups": opt["param_groups"], "scheduler": scheduler.state_dict(), "extra": extra or {}}
    data = save(tensors, metadata={META_KEY: json.dumps(meta)})
    atomic_write_bytes(Path(path), data)


def save_weights(path: Path, *, model: torch.nn.Module, step: int, config: dict, extra: dict | None = None) -> None:
    """A checkpoint holding the model alone (no optimizer state): what a run of the batched trainer
    leaves in its directory. :func:`read_checkpoint` reads it; resuming such a run goes through its
    group's checkpoint (:mod:`statetrack.train.batched`)."""
    from safetensors.torch import save

    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "step": int(step), "config": config, "param_groups": [], "scheduler": {},
            "extra": extra or {}, "weights_only": True}
    atomic_write_bytes(Path(path), save(tensors, metadata={META_KEY: json.dumps(meta)}))


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata) of a checkpoint; TrainingError names an unreadable or foreign file."""
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta_json = (f.metadata() or {}).get(META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, FileNotFoundError) as e:
        raise TrainingError(f"cannot read checkpoint {str(p)!r}: {e.strerror}") from None
    except (SafetensorError, ValueError) as e:
        raise TrainingError(f"checkpoint {p} is corrupt ({str(e).splitlines()[0][:100]})") from None
    if meta_json is None:
        raise TrainingError(f"{p} is not a statetrack training checkpoint (no metadata)")
    meta = json.loads(meta_json)
    if meta.get("format") != FORMAT:
        raise TrainingError(f"checkpoint {p} has format {meta.get('format')!r}; this statetrack reads {FORMAT}")
    return tensors, meta


def load_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler) -> dict:
    """Restore model, optimizer, scheduler and RNG states in place; returns the metadata."""
    tensors, meta = read_checkpoint(path)
    device = next(model.parameters()).device
    state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise TrainingError(f"checkpoint {path} does not fit this model: {str(e).splitlines()[0]}") from None
    opt_state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim/"):
            _, i, key = k.split("/", 2)
            # AdamW keeps 'step' on the CPU unless capturable/fused; moments live with the params
            opt_state.setdefault(int(i), {})[key] = v if key == "step" else v.to(device)
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    scheduler.load_state_dict(meta["scheduler"])
    torch.set_rng_state(tensors["rng/torch"])
    cuda = sorted((int(k.rsplit("/", 1)[1]), v) for k, v in tensors.items() if k.startswith("rng/cuda/"))
    if cuda and torch.cuda.is_available():
        states = [v for _, v in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
    return meta
