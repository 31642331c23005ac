"""Group word problems: the running product of the group elements read so far.

(Merrill, Petty & Sabharwal 2024, as run in P1 Sec. 5.2 and P2.) Tokens are group elements in
one-line notation; the class after each prefix is the product ``x_1 ... x_t`` (x_1 applied first,
:mod:`statetrack.automata.groups`), numbered like the group's elements (0 = identity), so the
chance level is ``1 / |G|``. Groups: anything :func:`statetrack.automata.groups.group` names
(S3, S5, A5, Z60, A4xZ5, ...).

Variants (P1 Fig. 4):

* ``variant="full"`` (default): every element is a token, a label at every position.
* ``variant="swaps"``: the tokens are only the group's transpositions (and the identity with
  ``identity=True``); labels are still elements of the whole group. S5 with swaps only is what a
  1-layer DeltaNet [-1, 1] solves in P1: each token is one reflection.
* ``tokens_per_element=k > 1``: each element is drawn uniformly and written as k tokens, the
  transpositions of a shortest swap decomposition (P1 Prop 1b) padded at the end with the identity;
  the vocabulary is the identity and all transpositions of the group's points; the label (the
  running product of the *elements*) is given at every k-th token only. k must be at least the
  largest number of swaps an element needs (degree - 1 for S_n). This is our reading of P1's
  "k tokens per element": it lets one Householder factor per token spell any element.

    S3, full:   input   1,0,2   0,2,1   1,0,2
                target  1,0,2   2,0,1   2,1,0      (running products)

>>> import torch
>>> t = WordProblem("S3")
>>> x = torch.tensor([[t.tokens.index(s) for s in ["1,0,2", "0,2,1", "1,0,2"]]])
>>> [t.classes[i] for i in t.label(x).targets[0].tolist()]
['1,0,2', '2,0,1', '2,1,0']
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA
from statetrack.automata.groups import Group
from statetrack.tasks.base import Batch, Task, TaskError, check_size, run_table, uniform_tokens

VARIANTS = ("full", "swaps")


def swap_decomposition(perm) -> list[tuple[int, int]]:
    """Transpositions (i, j), in application order, whose running product is ``perm``."""
    from statetrack.constructions.common import permutation_swaps

    return permutation_swaps([int(p) for p in perm])


def _transposition(n: int, i: int, j: int) -> np.ndarray:
    p = np.arange(n)
    p[i], p[j] = j, i
    return p


class WordProblem(Task):
    name = "word_problem"

    def __init__(self, group: str = "S5", variant: str = "full", tokens_per_element: int = 1,
                 identity: bool = False):
        from statetrack.automata import groups as groups_mod

        if variant not in VARIANTS:
            raise TaskError(f"word_problem: unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        if not isinstance(tokens_per_element, int) or tokens_per_element < 1:
            raise TaskError(f"word_problem: tokens_per_element must be a positive integer, got {tokens_per_element!r}")
        if variant == "swaps" and tokens_per_element != 1:
            raise TaskError("word_problem: the swaps variant has one token per transposition; "
                            "tokens_per_element applies to variant 'full'")
        g: Group = groups_mod.group(group)
        self.group, self.g = g.name, g
        self.variant, self.k, self.identity = variant, tokens_per_element, bool(identity)
        n = g.degree
        self.classes = g.tokens
        self._cayley = torch.tensor(g.cayley_table())                      # (order, order)
        if variant == "full" and self.k == 1:
            self._token_perms = g.elements.copy()                          # (V, n)
        else:
            pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
            perms = [_transposition(n, i, j) for i, j in pairs]
            if variant == "swaps":
                idx = g.index_of(np.array(perms)) if perms else np.zeros(0, dtype=np.int64)
                perms = [p for p, e in zip(perms, idx) if e >= 0]
                if not perms:
                    raise TaskError(f"word_problem: {g.name} contains no transposition, so the swaps "
                                    "variant has no tokens")
            self._token_perms = np.array(([np.arange(n)] if (self.identity or variant == "full") else []) + perms)
        self.tokens = tuple(",".join(str(int(v)) for v in p) for p in self._token_perms)
        if variant == "full" and self.k > 1:
            self._decomp = self._decompositions()                           # (order, k)
        elif variant == "swaps":
            idx = g.index_of(self._token_perms)
            # table[g, token] = index of "g, then token"
            self._swap_table = self._cayley[:, torch.tensor(idx)]

    def options(self) -> dict:
        return {"group": self.group, "variant": self.variant, "tokens_per_element": self.k,
                "identity": self.identity}

    def _decompositions(self) -> torch.Tensor:
        """Token indices (order, k): element g as its swaps, then identity tokens."""
        n = self.g.degree
        index = {tuple(p.tolist()): i for i, p in enumerate(self._token_perms)}
        rows, need = [], 0
        for perm in self.g.elements:
            sw = swap_decomposition(perm)
            need = max(need, len(sw))
            rows.append([index[tuple(_transposition(n, i, j).tolist())] for i, j in sw])
        if need > self.k:
            raise TaskError(f"word_problem: some element of {self.group} needs {need} transpositions; "
                            f"use tokens_per_element >= {need}")
        return torch.tensor([r + [0] * (self.k - len(r)) for r in rows], dtype=torch.int64)

    # sampling ------------------------------------------------------------------------------
    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        check_size(batch, length)
        if self.variant == "full" and self.k == 1:
            x = uniform_tokens(batch, length, self.vocab_size, generator)         # (B, T)
            return Batch(x, run_table(self._cayley, 0, x), torch.ones_like(x, dtype=torch.bool))
        if self.variant == "swaps":
            x = uniform_tokens(batch, length, self.vocab_size, generator)
            return Batch(x, run_table(self._swap_table, 0, x), torch.ones_like(x, dtype=torch.bool))
        k = self.k
        n_el = -(-length // k)
        el = uniform_tokens(batch, n_el, self.g.order, generator)                 # (B, E)
        x = self._decomp[el].reshape(batch, n_el * k)[:, :length]                  # (B, T)
        prod = run_table(self._cayley, 0, el)                                      # (B, E)
        targets = torch.zeros(batch, n_el * k, dtype=torch.int64)
        targets[:, k - 1::k] = prod
        mask = torch.zeros(batch, n_el * k, dtype=torch.bool)
        mask[:, k - 1::k] = True
        return Batch(x, targets[:, :length], mask[:, :length])

    def position_tokens(self) -> list[list[int]] | None:
        """Uniform tokens, except with k > 1 tokens per element (whole elements are drawn)."""
        return None if self.k > 1 else [list(range(self.vocab_size))]

    # automaton and true states -----------------------------------------------------------
    def perm_states(self, inputs: torch.Tensor) -> torch.Tensor:
        """The running product of the tokens as a group element index, -1 where it is not one.

        Tracks the permutation itself (int64 ``[B, T, degree]``), independent of the Cayley table.
        """
        perms = torch.as_tensor(self._token_perms)                                # (V, n)
        B, T = inputs.shape
        state = torch.arange(self.g.degree).expand(B, -1)                          # (B, n)
        out = torch.empty(B, T, self.g.degree, dtype=torch.int64)
        for t in range(T):
            state = perms[inputs[:, t]].gather(1, state)                           # x_t after the prefix
            out[:, t] = state
        idx = self.g.index_of(out.reshape(-1, self.g.degree).numpy())
        return torch.as_tensor(idx).reshape(B, T)

    def states(self, inputs: torch.Tensor) -> torch.Tensor:
        """The group element reached after each prefix; for k > 1 only at element boundaries."""
        inputs = inputs.cpu()
        if self.variant == "full" and self.k == 1:
            return run_table(self._cayley, 0, inputs)
        if self.variant == "swaps":
            return run_table(self._swap_table, 0, inputs)
        q = self.perm_states(inputs)
        boundary = (torch.arange(inputs.shape[1]) % self.k == self.k - 1)[None, :]
        return torch.where(boundary, q, torch.full_like(q, -1))

    @property
    def n_states(self) -> int:
        return self.g.order

    def automaton(self) -> DFA:
        """The Cayley DFA over the tokens; for k > 1 states are (running product, phase)."""
        g = self.g
        if self.variant == "full" and self.k == 1:
            return g.to_dfa()
        if self.variant == "swaps":
            return DFA(alphabet=self.tokens, table=self._swap_table.numpy(), start=0, accepting={0},
                       labels=g.tokens)
        return self._phase_dfa()

    def _phase_dfa(self) -> DFA:
        n, k, perms = self.g.degree, self.k, self._token_perms
        # state 0 is the start; the others are (running product, tokens read mod k)
        index, order = {"start": 0}, ["start"]
        rows = []
        for key in order:
            p, phase = (tuple(range(n)), 0) if key == "start" else key
            row = []
            for tp in perms:
                nxt = (tuple(int(tp[i]) for i in p), (phase + 1) % k)
                if nxt not in index:
                    if len(order) >= DEFAULT_MAX_STATES:
                        raise TaskError(f"word_problem: the automaton of {self.group} with k={k} has more than "
                                        f"{DEFAULT_MAX_STATES} states")
                    index[nxt] = len(order)
                    order.append(nxt)
                row.append(index[nxt])
            rows.append(row)
        labels = ["start"] + [",".join(map(str, p)) + f"@{ph}" for p, ph in order[1:]]
        return DFA(alphabet=self.tokens, table=rows, start=0, accepting={0}, labels=labels)

    @property
    def label_of_state(self) -> np.ndarray:
        """Class of each automaton state (-1: no label: a mid-element phase)."""
        if self.variant == "full" and self.k == 1 or self.variant == "swaps":
            return np.arange(self.g.order)
        dfa = self.automaton()
        out = np.full(dfa.n_states, -1, dtype=np.int64)
        for q, lab in enumerate(dfa.labels[1:], start=1):
            perm, phase = lab.split("@")
            if phase == "0":   # -1 for products outside the group (words the sampler never draws)
                out[q] = int(self.g.index_of(np.array([[int(v) for v in perm.split(",")]]))[0])
        return out
