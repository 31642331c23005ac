"""Length generalization: accuracy at every length 1..L, and its summaries over length ranges.

The accuracy at length L is the fraction of words of length L whose label after the last token is
predicted correctly (P1's protocol scores one label per test word). The models are causal and the
tasks' samplers are prefix-closed (:attr:`statetrack.tasks.base.Task.prefix_closed`), so the
prediction at position L-1 of a length-``max_len`` word *is* the prediction for its length-L prefix,
a word drawn like any length-L word: one batch of length ``max_len`` scores every length at once,
with ``n_samples`` words per length. Lengths whose last position has no label (operator positions
of modular arithmetic, mid-element tokens of word problems with k tokens per element) get None.

Sequence accuracy at L: the fraction of words whose labels at *every* labeled position up to L are
right (the metric of the word-problem plots in P1/P2).

Scaled accuracy: ``(acc - chance) / (1 - chance)`` with ``chance = 1 / n_classes``. Where labels are
skewed (an accept bit of a sparse language) guessing the most frequent class does better than
chance: ``majority_accuracy`` records that baseline per length, measured on the same words.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from statetrack.seeds import EVAL_SEED_OFFSET  # noqa: E402  (one home for the offsets: statetrack.seeds)


def scaled(acc: float | None, chance: float) -> float | None:
    return None if acc is None else (acc - chance) / (1.0 - chance)


@torch.no_grad()
def per_length_accuracy(model: torch.nn.Module, task, *, max_len: int, n_samples: int, seed: int,
                        device: torch.device, batch: int = 256, autocast=None) -> dict:
    """Accuracy, scaled accuracy and sequence accuracy at each length 1..max_len (lists, index L-1)."""
    gen = torch.Generator().manual_seed(seed + EVAL_SEED_OFFSET)
    correct = torch.zeros(max_len, dtype=torch.float64)
    labeled = torch.zeros(max_len, dtype=torch.float64)
    seq_ok = torch.zeros(max_len, dtype=torch.float64)
    class_counts = torch.zeros(max_len, task.n_classes, dtype=torch.float64)
    was_training = model.training
    model.eval()
    ctx = autocast if autocast is not None else contextlib.nullcontext()
    try:
        done = 0
        while done < n_samples:
            b = min(batch, n_samples - done)
            if task.prefix_closed:
                x, y, m = task.eval_batch(b, max_len, gen)
                with ctx:
                    pred = model(x.to(device)).argmax(-1).cpu()                      # (b, T)
                hit = (pred == y) & m
                correct += hit.sum(0).double()
                labeled += m.sum(0).double()
                seq_ok += ((pred == y) | ~m).long().cumprod(1).sum(0).double()
                class_counts += (torch.nn.functional.one_hot(y, task.n_classes) * m[..., None]).sum(0).double()
            else:  # pragma: no cover - every built-in task is prefix-closed
                for L in range(1, max_len + 1):
                    x, y, m = task.sample_batch(b, L, gen)
                    with ctx:
                        pred = model(x.to(device)).argmax(-1).cpu()
                    correct[L - 1] += ((pred[:, -1] == y[:, -1]) & m[:, -1]).sum().double()
                    labeled[L - 1] += m[:, -1].sum().double()
                    seq_ok[L - 1] += ((pred == y) | ~m).all(1).sum().double()
            done += b
    finally:
        model.train(was_training)
    return curve_from_counts(correct, labeled, seq_ok, class_counts, task.chance,
                             seq_words=torch.full_like(labeled, float(n_samples)))


def curve_from_counts(correct, labeled, seq_ok, class_counts, chance: float, seq_words=None) -> dict:
    """The ``eval`` block from per-length counts (float64 tensors ``(L,)``; class_counts ``(L, C)``):
    accuracy, scaled, sequence and majority accuracy per length, None where nothing is labeled.
    Sequence accuracy divides by ``seq_words`` (default: the labeled words at that length)."""
    L = len(correct)
    seq_words = labeled if seq_words is None else seq_words
    acc = [None if labeled[i] == 0 else float(correct[i] / labeled[i]) for i in range(L)]
    seq = [None if labeled[i] == 0 else float(seq_ok[i] / seq_words[i]) for i in range(L)]
    best = class_counts.max(1).values
    majority = [None if labeled[i] == 0 else float(best[i] / labeled[i]) for i in range(L)]
    return {"lengths": list(range(1, L + 1)), "accuracy": acc, "majority_accuracy": majority,
            "scaled_accuracy": [scaled(a, chance) for a in acc], "sequence_accuracy": seq,
            "n": [int(v) for v in labeled.tolist()], "chance": chance}


def range_summary(curve: dict, lo: int, hi: int) -> dict:
    """Mean accuracy (scaled too) and sequence accuracy over the labeled lengths lo..hi."""
    idx = [L - 1 for L in range(lo, hi + 1) if L - 1 < len(curve["accuracy"]) and curve["accuracy"][L - 1] is not None]
    if not idx:
        return {"min_len": lo, "max_len": hi, "accuracy": None, "scaled_accuracy": None,
                "sequence_accuracy": None, "lengths_scored": 0}
    n = np.array([curve["n"][i] for i in idx], dtype=np.float64)
    acc = float(np.average([curve["accuracy"][i] for i in idx], weights=n))
    seq = float(np.mean([curve["sequence_accuracy"][i] for i in idx]))
    return {"min_len": lo, "max_len": hi, "accuracy": acc, "scaled_accuracy": scaled(acc, curve["chance"]),
            "sequence_accuracy": seq, "lengths_scored": len(idx)}
