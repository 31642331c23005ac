"""``direct``: any complete DFA in ONE layer with non-symmetric factors (not in P1; see PAPER_NOTES).

The state is one-hot over the DFA's states, H_0 = e_start, B = 0. Each letter's transition
matrix (``A e_q = e_{delta(q, x)}``) is written as elementary collapses ``I - (e_i - e_j) e_i^T``
and swaps ``I - (e_i - e_j)(e_i - e_j)^T``, all entries in {0, ±1}, so every float format runs it
exactly at any length. Symmetric GH factors cannot do this in one one-hot layer (claim 3a: merging
two states needs norm sqrt 2 > 1); see the krohn-rhodes construction for that route.
"""
from __future__ import annotations

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.constructions.common import dfa_source, one_hot_layer, transformation_factors
from statetrack.constructions.weights import LRNNWeights


def build(dfa: DFA, *, source: dict | None = None) -> LRNNWeights:
    """Compile a DFA (completed first if partial) into one layer of 0/±1 factors."""
    dfa = dfa.complete()
    n = dfa.n_states
    per_letter = [transformation_factors(dfa.table[:, c]) for c in range(dfa.n_symbols)]
    return LRNNWeights(
        alphabet=dfa.alphabet,
        layers=(one_hot_layer(per_letter, n, dfa.start),),
        state_map=np.arange(n, dtype=np.int64),
        accepting=dfa.accepting_mask,
        construction="direct",
        source=source or dfa_source(dfa),
        state_labels=dfa.labels,
    )
