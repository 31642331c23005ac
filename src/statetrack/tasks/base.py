"""The contract every task follows, and the automaton runner most tasks share.

A task draws batches of words of one length and labels every position that has a label:

    task.sample_batch(batch, length, generator) -> Batch(inputs, targets, mask)

* ``inputs``  int64 ``[B, T]``: token indices in ``0 .. task.vocab_size - 1``;
* ``targets`` int64 ``[B, T]``: the class after reading ``inputs[:, :t+1]`` (0 where unlabeled);
* ``mask``    bool  ``[B, T]``: True where the position has a label.

Tokens are drawn independently, so a prefix of a length-T batch is distributed like a batch of
the shorter length (``prefix_closed``); evaluation uses that to read the accuracy at every length
1..T off one batch of length T.

Every task is a regular language, so it also names the automaton behind its labels
(:meth:`Task.automaton`), whose state after each prefix is the *true state* a linear probe is
asked to recover (:meth:`Task.states`).

Chance level is ``1 / n_classes`` for every task (as in P1 and the Chomsky benchmark), so scaled
accuracy ``(acc - chance) / (1 - chance)`` is 0 for guessing uniformly and 1 for a perfect model.
"""
from __future__ import annotations

import abc
from typing import Callable, NamedTuple

import numpy as np
import torch

from statetrack.automata.dfa import DFA
from statetrack.errors import TaskError  # noqa: F401  (defined in statetrack.errors; re-exported)


class Batch(NamedTuple):
    """One sampled batch: inputs, targets (int64 ``[B, T]``) and mask (bool ``[B, T]``)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor


#: ``draw(purpose) -> int64 [R, B, T]``: hashes uniform in ``0 .. 2^32 - 1``, independent across
#: (word, position, purpose), a function of the stream's (seed, step, salt) alone
Draw = Callable[[int], torch.Tensor]

#: ``sampler(draw, lengths, max_len) -> Batch`` of ``[R, B, max_len]`` (see :meth:`Task.device_sampler`)
DeviceSampler = Callable[[Draw, torch.Tensor, int], Batch]


def check_size(batch: int, length: int) -> None:
    if not isinstance(batch, int) or batch < 1:
        raise TaskError(f"batch size must be a positive integer, got {batch!r}")
    if not isinstance(length, int) or length < 1:
        raise TaskError(f"sequence length must be a positive integer, got {length!r}")


def uniform_tokens(batch: int, length: int, vocab: int, generator: torch.Generator) -> torch.Tensor:
    """int64 ``[B, T]`` tokens drawn uniformly from ``0 .. vocab - 1``."""
    return torch.randint(0, vocab, (batch, length), generator=generator, dtype=torch.int64)


def run_table(table: torch.Tensor, start: int, inputs: torch.Tensor) -> torch.Tensor:
    """States after each prefix: table int64 ``(Q, S)``, inputs ``[B, T]`` -> int64 ``[B, T]``."""
    B, T = inputs.shape
    n_sym = table.shape[1]
    flat = table.reshape(-1)
    q = torch.full((B,), start, dtype=torch.int64)
    out = torch.empty(B, T, dtype=torch.int64)
    for t in range(T):
        q = flat[q * n_sym + inputs[:, t]]
        out[:, t] = q
    return out


class Task(abc.ABC):
    """A sequence-labelling task: tokens in, one class per labeled position out.

    Subclasses set ``name``, ``tokens`` (display name per input token) and ``classes`` (display
    name per output class) and implement :meth:`sample_batch` and :meth:`automaton`.
    """

    name: str = "task"
    tokens: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    #: a prefix of a sampled word is distributed like a sampled word of the prefix's length
    prefix_closed: bool = True

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def chance(self) -> float:
        """Accuracy of guessing uniformly: ``1 / n_classes``."""
        return 1.0 / self.n_classes

    def options(self) -> dict:
        """The constructor options that rebuild this task (JSON-ready)."""
        return {}

    def describe(self) -> dict:
        """JSON-ready facts about the task, stored in every results file."""
        return {"name": self.name, "options": self.options(), "vocab_size": self.vocab_size,
                "n_classes": self.n_classes, "chance": self.chance, "n_states": self.n_states,
                "tokens": list(self.tokens[:64]), "classes": list(self.classes[:64])}

    @abc.abstractmethod
    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        """Draw ``batch`` words of ``length`` tokens with their labels (see the module docstring)."""

    @property
    def every_label(self) -> Task:
        """This task with a label after every prefix, for scoring every length at once: the task
        itself; a format that trains on fewer labels (P1's final label) gives the task it wraps."""
        return self

    def eval_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        """Words for scoring every length at once: :attr:`every_label`'s :meth:`sample_batch`."""
        return self.every_label.sample_batch(batch, length, generator)

    @abc.abstractmethod
    def automaton(self) -> DFA:
        """The complete DFA whose state after each prefix determines the label (probe target)."""

    @property
    def n_states(self) -> int:
        return self.automaton().n_states

    def states(self, inputs: torch.Tensor) -> torch.Tensor:
        """The automaton's state after each prefix: ``[B, T]`` -> int64 ``[B, T]`` (-1: none)."""
        cached = getattr(self, "_table_cache", None)
        if cached is None:
            dfa = self.automaton()
            cached = (torch.tensor(np.array(dfa.table, dtype=np.int64)), dfa.start)
            self._table_cache = cached
        return run_table(cached[0], cached[1], inputs.cpu())

    @property
    def label_of_state(self) -> np.ndarray:
        """int64 ``(automaton().n_states,)``: the class of each automaton state, -1 where none."""
        raise NotImplementedError

    def position_tokens(self) -> list[list[int]] | None:
        """The sampler's law, for samplers on the device (:mod:`statetrack.tasks.stream`): position t
        draws uniformly from ``position_tokens()[t % len(...)]``, independently of the other positions.
        None where the sampler is not of that form (the device stream then refuses the task)."""
        return [list(range(self.vocab_size))]

    def device_sampler(self) -> DeviceSampler | None:
        """A sampler on the device for a task whose law is not of :meth:`position_tokens`'s form (the
        device stream uses it, :mod:`statetrack.tasks.stream`); None where the task has none.

        ``sampler(draw, lengths, max_len)``: ``lengths`` int64 ``[R, B]`` in ``1 .. max_len``, all
        randomness from ``draw`` (:data:`Draw`); returns a :class:`Batch` of ``[R, B, max_len]`` in the
        task's format, distributed as :meth:`sample_batch` at each word's length, with token 0 and no
        label past the word's end. Static shapes and no host synchronization (CUDA-graph capturable).
        """
        return None

    def label(self, inputs: torch.Tensor) -> Batch:
        """Labels for given inputs ``[B, T]``, by running :meth:`automaton` (the slow, obvious twin
        of the closed-form samplers; tests compare the two)."""
        dfa = self.automaton()
        q = run_table(torch.tensor(np.array(dfa.table, dtype=np.int64)), dfa.start, inputs.cpu())
        lab = torch.as_tensor(self.label_of_state)[q]
        mask = lab >= 0
        return Batch(inputs, torch.where(mask, lab, torch.zeros_like(lab)), mask)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"


class AutomatonTask(Task):
    """A task whose labels are read off its automaton's state: ``label_of_state[q]`` (-1: none).

    Subclasses provide :meth:`automaton`, :attr:`label_of_state` and may override
    :meth:`sample_inputs` (default: tokens uniform and independent).
    """

    def sample_inputs(self, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return uniform_tokens(batch, length, self.vocab_size, generator)

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        check_size(batch, length)
        x = self.sample_inputs(batch, length, generator)
        return self.label(x)

