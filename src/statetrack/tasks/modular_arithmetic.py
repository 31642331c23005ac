"""Modular arithmetic without brackets: the value mod m of the expression read so far.

(Chomsky benchmark ``modular_arithmetic``, m = 5, the column of P1 Table 3 where DeltaNet [-1, 1]
reaches 0.97.) Words alternate numbers and operators, ``n_1 op_1 n_2 op_2 ... n_k``, with numbers
in ``0..m-1`` and operators ``+ - *``; ``*`` binds tighter than ``+`` and ``-``, as usual. Tokens:
``0..m-1`` (indices 0..m-1), then ``+``, ``-``, ``*`` (indices m, m+1, m+2). Classes ``0..m-1``.
Positions holding a number carry a label (the value of the prefix ending there); operator
positions carry none (mask False).

    input    1  +  2  *  3  -  4
    target   1  .  3  .  2  .  3        (1, 1+2, 1+2*3 = 7, 7-4 = 3; mod 5)

The automaton remembers (sum of finished terms, current term) after a number, (sum, sign) after
``+``/``-`` and (sum, term) after ``*``: 1 + m^2 + 2m + m^2 + 1 states (with a start and a sink).

>>> import torch
>>> t = ModularArithmetic(m=5)
>>> x = torch.tensor([[1, 5, 2, 7, 3, 6, 4]])   # 1 + 2 * 3 - 4
>>> b = t.label(x)
>>> b.targets[b.mask].tolist()
[1, 3, 2, 3]
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.automata.dfa import DFA
from statetrack.tasks.base import AutomatonTask, TaskError

OPERATORS = ("+", "-", "*")


class ModularArithmetic(AutomatonTask):
    name = "modular_arithmetic"

    def __init__(self, m: int = 5):
        if not isinstance(m, int) or m < 2:
            raise TaskError(f"modular_arithmetic: the modulus m must be an integer >= 2, got {m!r}")
        self.m = m
        self.tokens = tuple(str(i) for i in range(m)) + OPERATORS
        self.classes = tuple(str(i) for i in range(m))
        self._dfa, self._labels = self._build()

    def options(self) -> dict:
        return {"m": self.m}

    # state numbering -------------------------------------------------------------------------
    def _build(self) -> tuple[DFA, np.ndarray]:
        m = self.m
        num = lambda s, p: 1 + s * m + p                       # noqa: E731  after a number
        add = lambda s, neg: 1 + m * m + 2 * s + neg           # noqa: E731  after + (neg=0) or - (neg=1)
        mul = lambda s, p: 1 + m * m + 2 * m + s * m + p       # noqa: E731  after *
        n_states = 2 + 2 * m * m + 2 * m
        sink = n_states - 1
        table = np.full((n_states, m + 3), sink, dtype=np.int64)
        labels = np.full(n_states, -1, dtype=np.int64)
        names = ["start"] + [""] * (n_states - 2) + ["sink"]
        for n in range(m):
            table[0, n] = num(0, n)
        for s in range(m):
            for p in range(m):
                q = num(s, p)
                labels[q], names[q] = (s + p) % m, f"sum={s},term={p}"
                table[q, m + 0] = add((s + p) % m, 0)
                table[q, m + 1] = add((s + p) % m, 1)
                table[q, m + 2] = mul(s, p)
                names[mul(s, p)] = f"sum={s},term={p},*"
                for n in range(m):
                    table[mul(s, p), n] = num(s, (p * n) % m)
            for neg in (0, 1):
                names[add(s, neg)] = f"sum={s},{'-' if neg else '+'}"
                for n in range(m):
                    table[add(s, neg), n] = num(s, (-n if neg else n) % m)
        accepting = {q for q in range(n_states) if labels[q] == 0}
        return DFA(alphabet=self.tokens, table=table, start=0, accepting=accepting, labels=names), labels

    def automaton(self) -> DFA:
        return self._dfa

    @property
    def label_of_state(self) -> np.ndarray:
        return self._labels

    def position_tokens(self) -> list[list[int]]:
        """Numbers at even positions, operators at odd ones (what :meth:`sample_inputs` draws)."""
        return [list(range(self.m)), [self.m, self.m + 1, self.m + 2]]

    def sample_inputs(self, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        nums = torch.randint(0, self.m, (batch, length), generator=generator)          # (B, T)
        ops = self.m + torch.randint(0, 3, (batch, length), generator=generator)       # (B, T)
        is_num = (torch.arange(length) % 2 == 0)[None, :]
        return torch.where(is_num, nums, ops)
