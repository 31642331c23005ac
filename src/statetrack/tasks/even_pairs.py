"""Even pairs: is the number of ``ab`` plus ``ba`` pairs so far even? (Chomsky benchmark.)

Tokens ``a`` (0), ``b`` (1); classes ``odd`` (0), ``even`` (1); a label at every position.
Every change of letter adds one pair, so the count is even exactly when the current letter
equals the first one: a star-free language, solvable with eigenvalues in [0, 1].

    input   a b b a b
    pairs   0 1 1 2 3
    target  1 0 0 1 0        (even, odd, odd, even, odd)

>>> import torch
>>> EvenPairs().label_word("abbab")
[1, 0, 0, 1, 0]
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.automata.dfa import DFA
from statetrack.tasks.base import Batch, Task, check_size, uniform_tokens


class EvenPairs(Task):
    name = "even_pairs"
    tokens = ("a", "b")
    classes = ("odd", "even")

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        check_size(batch, length)
        x = uniform_tokens(batch, length, 2, generator)      # (B, T)
        y = (x == x[:, :1]).long()                           # even <=> same letter as the first
        return Batch(x, y, torch.ones_like(x, dtype=torch.bool))

    def label_word(self, word: str) -> list[int]:
        x = torch.tensor([[self.tokens.index(c) for c in word]])
        return (x == x[:, :1]).long()[0].tolist()

    def automaton(self) -> DFA:
        # states: 0 start, 1 = (first a, now a), 2 = (first a, now b), 3 = (first b, now b), 4 = (first b, now a)
        table = [[1, 3], [1, 2], [1, 2], [4, 3], [4, 3]]
        return DFA(alphabet=self.tokens, table=table, start=0, accepting={1, 3},
                   labels=("start", "a..a", "a..b", "b..b", "b..a"))

    @property
    def label_of_state(self) -> np.ndarray:
        return np.array([-1, 1, 0, 1, 0])
