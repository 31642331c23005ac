"""The training configuration: one dataclass, saved in every checkpoint and results file.

``TrainConfig.from_dict`` reads what ``to_dict`` wrote (and what a JSON/TOML config file holds);
unknown keys are an error naming the key, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from statetrack.errors import TrainingError
from statetrack.models.lrnn import ModelConfig

DTYPES = ("float32", "bfloat16")


@dataclass
class TrainConfig:
    # ---- task
    task: str = "parity"                  # task name or preset (statetrack.tasks.TASKS / PRESETS)
    task_options: dict = field(default_factory=dict)   # keyword options of the task (e.g. {"m": 5})
    # ---- model (vocab_size / n_classes are filled in from the task)
    model: ModelConfig = field(default_factory=ModelConfig)
    # ---- optimization
    seed: int = 0                         # seeds model init and every batch (batch = f(seed, step, rank))
    steps: int = 1000                     # optimizer steps
    batch_size: int = 256                 # sequences per step, summed over all DDP ranks
    lr: float = 1e-3                      # peak learning rate (AdamW)
    weight_decay: float = 0.1             # AdamW weight decay on matrices (not on norms, biases)
    adam_beta1: float = 0.9               # AdamW beta1
    adam_beta2: float = 0.999             # AdamW beta2
    warmup_steps: int = 100               # linear warm-up from 0 to lr
    min_lr_ratio: float = 0.1             # cosine decay ends at lr * min_lr_ratio
    grad_clip: float = 1.0                # max global gradient norm (0: no clipping)
    train_min_len: int = 3                # each step draws one length uniformly in [min, max]
    train_max_len: int = 40
    # ---- evaluation
    test_min_len: int = 40                # test range for the headline (scaled) accuracy
    test_max_len: int = 256
    eval_max_len: int = 0                 # accuracy is measured at every length 1..eval_max_len (0: test_max_len)
    eval_samples: int = 1024              # sequences per length
    eval_every: int = 0                   # steps between intermediate evaluations (0: only at the end)
    # ---- analysis (results.json "analysis"; see statetrack.train.results)
    analysis: bool = True                 # eigenvalues, probes, state norms, model size
    norm_length_factor: int = 10          # state norms up to norm_length_factor * train_max_len
    # ---- runtime
    device: str = "auto"                  # auto | cpu | cuda | cuda:N
    dtype: str = "float32"                # float32 | bfloat16 (autocast on CUDA: bf16 kernel inputs, float32 state)
    threads: int = 0                      # CPU threads for torch (0: torch's default)
    checkpoint_every: int = 200           # steps between checkpoints (0: only at the end)
    log_every: int = 50                   # steps between loss records in results / progress updates

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        self.validate()

    def validate(self) -> None:
        def positive(name: str, allow_zero: bool = False) -> None:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if allow_zero else 1):
                raise TrainingError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                                    f"integer, got {v!r}")

        for name in ("steps", "batch_size", "train_min_len", "train_max_len", "test_min_len", "test_max_len",
                     "eval_samples", "norm_length_factor", "log_every"):
            positive(name)
        for name in ("warmup_steps", "eval_max_len", "eval_every", "threads", "checkpoint_every", "seed"):
            positive(name, allow_zero=True)
        if self.train_min_len > self.train_max_len:
            raise TrainingError(f"train_min_len {self.train_min_len} > train_max_len {self.train_max_len}")
        if self.test_min_len > self.test_max_len:
            raise TrainingError(f"test_min_len {self.test_min_len} > test_max_len {self.test_max_len}")
        if self.eval_max_len and self.eval_max_len < self.test_max_len:
            raise TrainingError(f"eval_max_len {self.eval_max_len} is below test_max_len {self.test_max_len}")
        for name in ("lr", "weight_decay", "grad_clip", "min_lr_ratio"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or v != v:
                raise TrainingError(f"{name} must be a non-negative number, got {v!r}")
        if self.lr == 0:
            raise TrainingError("lr must be positive")
        if self.dtype not in DTYPES:
            raise TrainingError(f"dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if not isinstance(self.task_options, dict):
            raise TrainingError("task_options must be a mapping of option names to values")

    @property
    def eval_length(self) -> int:
        return self.eval_max_len or self.test_max_len

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise TrainingError(f"unknown training config field(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        if "model" in d and isinstance(d["model"], dict):
            d["model"] = ModelConfig.from_dict(d["model"])
        return cls(**d)

    def matches(self, stored) -> bool:
        """True when ``stored`` (a config dict from a checkpoint or results file) is this config, once
        fields added since it was written take their defaults (so older runs still resume)."""
        from statetrack.provenance import jsonable

        try:
            return jsonable(TrainConfig.from_dict(stored).to_dict()) == jsonable(self.to_dict())
        except (TrainingError, TypeError, ValueError, AttributeError):     # not a config of this version
            return False

    def replace(self, **changes) -> TrainConfig:
        """A copy with fields changed; ``"model.kind"``-style keys (as ``model__kind``) reach the model."""
        d = self.to_dict()
        for key, value in changes.items():
            set_dotted(d, key.replace("__", "."), value)
        return TrainConfig.from_dict(d)


#: Named starting points for `statetrack train` (below a --config file and flags). ``gpu`` is the
#: dataclass defaults (P1-like sizes); ``cpu`` is sized so that `statetrack train --task parity`
#: finishes in about a minute on 2 CPU cores with a DeltaNet that extrapolates parity (lengths 3-40
#: -> 40-100): 700 steps took 66 s on a loaded 2-core box, test-range scaled accuracy 0.992.
PRESETS: dict[str, dict] = {
    "gpu": {},
    "cpu": {"model": {"n_layers": 2, "d_model": 16, "n_heads": 2, "mlp_ratio": 2},
            "steps": 700, "batch_size": 32, "lr": 1e-2, "weight_decay": 0.0, "warmup_steps": 10,
            "train_min_len": 3, "train_max_len": 40, "test_min_len": 40, "test_max_len": 100,
            "eval_samples": 512, "analysis": False, "threads": 1, "checkpoint_every": 100},
}


def preset_for(name: str, device: str = "auto") -> tuple[str, str]:
    """(preset name, reason) for ``--preset NAME``; ``auto`` picks ``gpu`` when the run's device is
    CUDA (``device`` auto with a CUDA device present, or cuda/cuda:N), else ``cpu``."""
    if name != "auto":
        if name not in PRESETS:
            raise TrainingError(f"unknown preset {name!r}; choose from auto, {', '.join(PRESETS)}")
        return name, "asked for"
    if device.startswith("cuda"):
        return "gpu", f"device {device}"
    if device == "auto":
        import torch

        if torch.cuda.is_available():
            return "gpu", "a CUDA device is present"
        return "cpu", "no CUDA device"
    return "cpu", f"device {device}"


def apply_preset(d: dict, name: str) -> dict:
    """A TrainConfig dict with the preset's values laid over it (nested ``model`` merged)."""
    d = {**d, "model": dict(d.get("model", {}))}
    for key, value in PRESETS[name].items():
        if key == "model":
            d["model"].update(value)
        else:
            d[key] = value
    return d


def set_dotted(d: dict, key: str, value) -> None:
    """Set ``d["a"]["b"] = value`` for ``key = "a.b"``; TrainingError for unknown paths."""
    parts = key.split(".")
    target = d
    for p in parts[:-1]:
        if not isinstance(target.get(p), dict):
            raise TrainingError(f"unknown config field {key!r}")
        target = target[p]
    if parts[-1] not in target and parts[0] != "task_options":
        raise TrainingError(f"unknown config field {key!r}")
    target[parts[-1]] = value


def load_config_file(path: str | Path) -> dict:
    """A JSON or TOML file as a dict; TrainingError names an unreadable or malformed file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise TrainingError(f"cannot read config file {str(p)!r}: {e.strerror}") from None
    if p.suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise TrainingError(f"{p} is not valid TOML: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TrainingError(f"{p} is not valid JSON: {e.msg} (line {e.lineno})") from None
    if not isinstance(data, dict):
        raise TrainingError(f"{p} must hold a JSON object")
    return data
