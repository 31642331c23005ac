"""``group``: a group word problem, or a DFA whose letters all permute its states, in one layer
of reflections (P1 Thm 3; DeltaProduct with n_h = max swaps per letter).

Each letter's permutation matrix is a product of at most (moved points - 1) reflections
``I - 2 v v^T``, v = (e_i - e_j)/sqrt 2 (stored as u = w = e_i - e_j, beta = 2, which is the same
matrix with integer entries). B = 0.

- Group word problem on n points: the state is an n x n matrix, H_0 = I, so H_t = P(x_t)...P(x_1)
  holds the running product; the codebook is the group's permutation matrices.
- Permutation DFA: the state is one-hot over the DFA's states (parity is one reflection).
"""
from __future__ import annotations

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import Group
from statetrack.constructions.common import dfa_source, one_hot_layer, swap_factors  # noqa: F401 (re-export)
from statetrack.constructions.weights import Layer, LRNNWeights
from statetrack.errors import ConstructionError


def build(obj: Group | DFA, *, source: dict | None = None) -> LRNNWeights:
    if isinstance(obj, Group):
        return _build_group(obj)
    return _build_permutation_dfa(obj, source)


def _build_group(g: Group) -> LRNNWeights:
    n, order = g.degree, g.order
    codebook = np.zeros((order, n, n))
    rows = g.elements                                   # P_g e_j = e_{g(j)}: entry [g(j), j] = 1
    codebook[np.arange(order)[:, None], rows, np.arange(n)[None, :]] = 1.0
    layer = Layer(
        factors=tuple(tuple(swap_factors(p, n)) for p in g.elements),
        write=np.zeros((order, n, n)),
        h0=np.eye(n),
        codebook=codebook,
        route=np.arange(order, dtype=np.int64),
    )
    accepting = np.zeros(order, dtype=bool)
    accepting[0] = True
    return LRNNWeights(alphabet=g.tokens, layers=(layer,), state_map=np.arange(order, dtype=np.int64),
                       accepting=accepting, construction="group",
                       source={"kind": "group", "name": g.name}, state_labels=g.tokens)


def _build_permutation_dfa(dfa: DFA, source: dict | None) -> LRNNWeights:
    dfa = dfa.complete()
    for c, s in enumerate(dfa.alphabet):
        col = dfa.table[:, c]
        if len(set(col.tolist())) != dfa.n_states:
            q1, q2 = _collision(col)
            raise ConstructionError(
                f"the group construction needs every letter to permute the states, but {s!r} sends "
                f"states {q1} and {q2} to the same state", api_hint="use construction='direct' or 'krohn-rhodes'",
                cli_hint="use --construction direct or krohn-rhodes")
    n = dfa.n_states
    per_letter = [swap_factors(dfa.table[:, c], n) for c in range(dfa.n_symbols)]
    return LRNNWeights(alphabet=dfa.alphabet, layers=(one_hot_layer(per_letter, n, dfa.start),),
                       state_map=np.arange(n, dtype=np.int64), accepting=dfa.accepting_mask,
                       construction="group", source=source or dfa_source(dfa), state_labels=dfa.labels)


def _collision(col) -> tuple[int, int]:
    seen = {}
    for q, r in enumerate(col.tolist()):
        if r in seen:
            return seen[r], q
        seen[r] = q
    raise AssertionError("no collision")  # pragma: no cover
