"""Parity: is the number of 1s read so far odd? (Chomsky benchmark ``parity_check``; P1 Thm 1.)

Tokens ``0``, ``1``; classes ``even`` (0), ``odd`` (1); a label at every position.

    input   1 0 1 1 0
    target  1 1 0 1 1        (odd, odd, even, odd, odd)

The automaton has two states, q = number of 1s mod 2; token 1 swaps them (a permutation, so one
reflection in one layer suffices: P1 Thm 3), and P1 Thm 1 says no LRNN whose transitions have only
non-negative eigenvalues can do this in finite precision.

>>> import torch
>>> x, y, m = Parity().sample_batch(2, 6, torch.Generator().manual_seed(0))
>>> bool((y == x.cumsum(1) % 2).all()), bool(m.all())
(True, True)
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.automata.dfa import DFA
from statetrack.tasks.base import Batch, Task, check_size, uniform_tokens


class Parity(Task):
    name = "parity"
    tokens = ("0", "1")
    classes = ("even", "odd")

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        check_size(batch, length)
        x = uniform_tokens(batch, length, 2, generator)      # (B, T)
        y = x.cumsum(1) % 2                                  # (B, T)
        return Batch(x, y, torch.ones_like(x, dtype=torch.bool))

    def automaton(self) -> DFA:
        return DFA(alphabet=self.tokens, table=[[0, 1], [1, 0]], start=0, accepting={1},
                   labels=("even", "odd"))

    @property
    def label_of_state(self) -> np.ndarray:
        return np.array([0, 1])
