"""``results.json``: one file per training run, written atomically by rank 0. Reports render it as is.

Schema ``statetrack.train.results/1`` (keys are stable; new keys may be added, none renamed).
Lists indexed by length hold the value at length ``lengths[i]``; ``null`` means "no label there".

```
{
  "schema": "statetrack.train.results/1",
  "status": "completed",                    # a finished run (diverged runs write no results, exit 2)
  "config": {...},                          # TrainConfig.to_dict(): task, task_options, model{...}, ...
  "task": {"name", "options", "vocab_size", "n_classes", "chance", "n_states", "tokens", "classes"},
  "model": {"kind", "eig_range", "n_layers", "d_model", "n_heads", "head_dim", "n_h", "backend"},
  "seed": int, "dtype": "float32" | "bfloat16", "backend": "naive" | "fused_recurrent" | "chunk",
  "device": "cpu" | GPU name, "world_size": int,
  "versions": {"statetrack", "torch", "triton" (or null), "numpy", "python"},
  "git": {"commit": str | null, "dirty": bool | null},
  "wall_time_s": float,                     # training + evaluation + analysis, summed over resumes
  "train_time_s": float,                    # the optimizer steps alone
  "steps": int, "final_loss": float,        # mean loss over the last log_every steps
  "loss_curve": [[step, loss], ...],        # every log_every steps
  "eval_curve": [[step, test-range scaled accuracy, scaled accuracy at test_max_len, train seconds so far],
                 ...],                      # every eval_every steps (only when eval_every > 0; 256 words)
  "eval": {
    "lengths": [1, ..., L],                 # every length up to eval_max_len
    "accuracy": [...], "scaled_accuracy": [...], "sequence_accuracy": [...], "n": [...],
    "majority_accuracy": [...],             # accuracy of always guessing the most frequent label there
    "chance": float,                        # 1 / n_classes
    "train_range": {"min_len", "max_len", "accuracy", "scaled_accuracy", "sequence_accuracy", "lengths_scored"},
    "test_range":  {same keys}              # the headline number: test_range.scaled_accuracy
  },
  "analysis": {                             # absent when config.analysis is false
    "size": {"layers", "heads", "head_dim", "d_model", "n_h", "params"},
    "eigenvalues": {
      "kind": "householder_product" | "diagonal",
      "sequences", "length", "positions_per_token", "tokens_sampled",
      "layers": [{"layer": i, "heads": [{
          "head": h,
          "min_real", "max_real", "max_abs_imag", "frac_negative_real",   # over every position
          "per_token": {"<token>": {"real": [...], "imag": [...]}}       # a sample: positions_per_token
      }]}]                                                                #   positions x n_h (or K) values,
                                                                          #   4 decimals; "imag" only if nonzero
    },
    "probes": {
      "target": str, "n_states", "fit_length", "n_fit", "n_test", "chance", "lengths": [...],
      "layers": [{"layer": i, "train_accuracy", "accuracy": [... per length], "test_range_accuracy"}]
    },
    "state_norms": {
      "lengths": [...], "train_max_len", "sequences",
      "layers": [{"layer": i, "mean": [...], "std": [...], "max": [...]}]   # ||S||_F per head
    }
  },
  "checkpoint": "checkpoint.safetensors"    # relative to the run directory
}
```
"""
from __future__ import annotations

from pathlib import Path

# One home for provenance and JSON writing: statetrack.provenance. These names stay importable here.
from statetrack.provenance import atomic_write_bytes, device_name, git_info, read_json, versions, write_json  # noqa: F401

SCHEMA = "statetrack.train.results/1"
FILENAME = "results.json"


def write_results(path: Path, results: dict) -> None:
    """Write results JSON atomically (NaN/inf are written as null): :func:`statetrack.provenance.write_json`."""
    write_json(path, results)


def read_results(path: Path) -> dict:
    return read_json(path, "results file")
