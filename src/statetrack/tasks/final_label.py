"""P1's label format: one label per word, at its end (the official code's parity and modular
arithmetic tasks), beside our default of a label at every position.

``make_task("parity", {"labels": "final"})`` wraps any task: a sampled word keeps only its last
labeled position (mask True there alone). The word, its automaton and its classes are the inner
task's, so the two formats differ only in what the loss sees during training:

    every:  input  1 0 1 1        final:  input  1 0 1 1
            target 1 1 0 1                target . . . 1

P1's files encode the same thing as next-token prediction (parity: the answer token follows the
word; modular arithmetic: the value follows ``=``). A causal model's output at the last token of
the word carries exactly that prediction, so no answer or ``=`` token is fed in here. Evaluation at
length L scores the label after L tokens, which is the same question in both formats.
"""
from __future__ import annotations

import torch

from statetrack.tasks.base import Batch, Task

FORMATS = ("every", "final")


def last_labeled(mask: torch.Tensor) -> torch.Tensor:
    """bool ``[B, T]``: True only at the last True position of each row of ``mask [B, T]``."""
    T = mask.shape[-1]
    pos = torch.arange(T, device=mask.device)
    last = torch.where(mask, pos, torch.full_like(pos, -1)).amax(-1, keepdim=True)      # (B, 1)
    return mask & (pos == last)


class FinalLabel(Task):
    """``inner`` with one label per word, at the last labeled position (see the module docstring)."""

    def __init__(self, inner: Task):
        self.inner = inner
        self.name, self.tokens, self.classes = inner.name, inner.tokens, inner.classes
        self.prefix_closed = inner.prefix_closed

    def options(self) -> dict:
        return {**self.inner.options(), "labels": "final"}

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        x, y, m = self.inner.sample_batch(batch, length, generator)
        return Batch(x, y, last_labeled(m))

    @property
    def every_label(self) -> Task:
        """The inner task: the label after a prefix is a final-format word's answer."""
        return self.inner

    def automaton(self):
        return self.inner.automaton()

    @property
    def n_states(self) -> int:
        return self.inner.n_states

    def states(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.inner.states(inputs)

    @property
    def label_of_state(self):
        return self.inner.label_of_state

    def position_tokens(self):
        return self.inner.position_tokens()

    def device_sampler(self):
        """The inner task's device sampler, keeping each word's last label only."""
        inner = self.inner.device_sampler()
        if inner is None:
            return None

        def sampler(draw, lengths, max_len):
            x, y, m = inner(draw, lengths, max_len)
            last = last_labeled(m)
            return Batch(x, torch.where(last, y, torch.zeros_like(y)), last)
        return sampler

    def label(self, inputs: torch.Tensor) -> Batch:
        x, y, m = self.inner.label(inputs)
        return Batch(x, y, last_labeled(m))
