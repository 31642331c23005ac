"""Counting mod m: how many 1s so far, mod m? (P1 Thm 2: needs non-triangular transitions unless m = 2^k.)

Tokens ``0`` .. ``{n_symbols-1}``; token ``1`` counts, the others do not (with ``n_symbols=1``
the only token, ``1``, always counts: the input ``1^t`` of P1 Thm 2). Classes ``0..m-1``; a label
at every position.

    m = 3, input   1 0 1 1 1 0
           target  1 1 2 0 1 1

>>> import torch
>>> Counting(m=3).labels(torch.tensor([[1, 0, 1, 1, 1, 0]])).tolist()
[[1, 1, 2, 0, 1, 1]]
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.automata.dfa import DFA
from statetrack.tasks.base import Batch, Task, TaskError, check_size, uniform_tokens


class Counting(Task):
    name = "counting"

    def __init__(self, m: int = 3, n_symbols: int = 2):
        if not isinstance(m, int) or m < 2:
            raise TaskError(f"counting: the modulus m must be an integer >= 2, got {m!r}")
        if n_symbols not in (1, 2):
            raise TaskError(f"counting: n_symbols must be 1 (input 1^t) or 2 (tokens 0 and 1), got {n_symbols!r}")
        self.m, self.n_symbols = m, n_symbols
        self.tokens = ("1",) if n_symbols == 1 else ("0", "1")
        self.classes = tuple(str(i) for i in range(m))

    def options(self) -> dict:
        return {"m": self.m, "n_symbols": self.n_symbols}

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        counts = x if self.n_symbols == 2 else torch.ones_like(x)
        return counts.cumsum(1) % self.m                      # (B, T)

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        check_size(batch, length)
        x = uniform_tokens(batch, length, self.n_symbols, generator)
        return Batch(x, self.labels(x), torch.ones_like(x, dtype=torch.bool))

    def automaton(self) -> DFA:
        m = self.m
        table = [[(q + 1) % m] if self.n_symbols == 1 else [q, (q + 1) % m] for q in range(m)]
        return DFA(alphabet=self.tokens, table=table, start=0, accepting={0}, labels=self.classes)

    @property
    def label_of_state(self) -> np.ndarray:
        return np.arange(self.m)
