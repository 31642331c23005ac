"""Cycle navigation: where on a 5-cycle is a walker after the moves so far? (Chomsky benchmark.)

Tokens ``-1`` (0), ``0`` (1, stay), ``+1`` (2); classes the positions ``0..4``; start at 0; a
label at every position. The automaton is the group Z_5 (counting mod 5, so P1 Thm 2 applies:
it needs a non-triangular transition, e.g. a rotation = two reflections).

    input   +1 +1 -1  0 -1 -1
    target   1  2  1  1  0  4

>>> import torch
>>> x = torch.tensor([[2, 2, 0, 1, 0, 0]])
>>> CycleNavigation().labels(x).tolist()
[[1, 2, 1, 1, 0, 4]]
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.automata.dfa import DFA
from statetrack.tasks.base import Batch, Task, check_size, uniform_tokens


class CycleNavigation(Task):
    name = "cycle_navigation"
    tokens = ("-1", "0", "+1")

    def __init__(self, n: int = 5):
        from statetrack.tasks.base import TaskError

        if not isinstance(n, int) or n < 2:
            raise TaskError(f"cycle_navigation: the cycle length n must be an integer >= 2, got {n!r}")
        self.n = n
        self.classes = tuple(str(i) for i in range(n))

    def options(self) -> dict:
        return {"n": self.n}

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 1).cumsum(1) % self.n                    # (B, T)

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        check_size(batch, length)
        x = uniform_tokens(batch, length, 3, generator)      # (B, T)
        return Batch(x, self.labels(x), torch.ones_like(x, dtype=torch.bool))

    def automaton(self) -> DFA:
        n = self.n
        table = [[(q - 1) % n, q, (q + 1) % n] for q in range(n)]
        return DFA(alphabet=self.tokens, table=table, start=0, accepting={0}, labels=self.classes)

    @property
    def label_of_state(self) -> np.ndarray:
        return np.arange(self.n)
