"""Modular arithmetic with brackets (P1 Table 3, last column): a context-free task, not regular.

Words are fully bracketed expressions over numbers ``0..m-1`` and ``+ - *``, drawn as P1's
official generator draws them: an expression of length n >= 5 is ``( E1 op E2 )`` with the left
length uniform in 1..n-4 and the right one filling the rest; shorter ones are ``d``, ``- d``,
``( d )`` and ``( - d )``. One label per word: its value mod m, read after the last token.
Tokens: ``0..m-1``, then ``+ - * ( )``.

    input   ( 3 + ( - 2 ) )        target at the end: 1  (3 - 2, mod 5)

The language is not regular, so it has no automaton: probes and automaton extraction do not apply
(:meth:`automaton` says so). Words are built on the CPU (recursive); the device stream samples
from a pool of them (:mod:`statetrack.tasks.stream`).
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.tasks.base import Batch, Task, TaskError, check_size

OPERATORS = ("+", "-", "*")


class ModularArithmeticBrackets(Task):
    name = "modular_arithmetic_brackets"
    prefix_closed = False

    def __init__(self, m: int = 5):
        if not isinstance(m, int) or m < 2:
            raise TaskError(f"modular_arithmetic_brackets: the modulus m must be an integer >= 2, got {m!r}")
        self.m = m
        self.tokens = tuple(str(i) for i in range(m)) + OPERATORS + ("(", ")")
        self.classes = tuple(str(i) for i in range(m))
        self._id = {t: i for i, t in enumerate(self.tokens)}

    def options(self) -> dict:
        return {"m": self.m}

    def expression(self, length: int, rng: np.random.Generator) -> tuple[list[int], int]:
        """One expression of exactly ``length`` tokens (token ids) and its value mod m."""
        m, tok = self.m, self._id
        if length < 5:
            d = int(rng.integers(m))
            forms = {1: ([str(d)], d), 2: (["-", str(d)], -d % m), 3: (["(", str(d), ")"], d),
                     4: (["(", "-", str(d), ")"], -d % m)}
            words, value = forms[length]
            return [tok[w] for w in words], value
        left = int(rng.integers(1, length - 3))
        a, va = self.expression(left, rng)
        b, vb = self.expression(length - left - 3, rng)
        op = int(rng.integers(3))
        value = ((va + vb) if op == 0 else (va - vb) if op == 1 else (va * vb)) % m
        return [tok["("]] + a + [tok[OPERATORS[op]]] + b + [tok[")"]], value

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        """``batch`` expressions of ``length`` tokens, labeled at the last position only."""
        check_size(batch, length)
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        x = torch.empty(batch, length, dtype=torch.int64)
        y = torch.zeros(batch, length, dtype=torch.int64)
        for i in range(batch):
            words, value = self.expression(length, rng)
            x[i] = torch.tensor(words)
            y[i, -1] = value
        mask = torch.zeros(batch, length, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(x, y, mask)

    def position_tokens(self) -> None:
        return None

    def automaton(self):
        raise TaskError("modular_arithmetic_brackets is context-free, not regular: it has no automaton "
                        "(no probes, no extraction)")

    @property
    def n_states(self) -> int | None:
        return None

    def states(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.full(inputs.shape, -1, dtype=torch.int64)

