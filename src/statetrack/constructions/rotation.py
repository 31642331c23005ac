"""``rotation``: counting mod m with a 2 x 2 rotation, the product of two reflections (P1 App. C.1).

Reflection across the line at angle phi is ``I - 2 n n^T`` with normal n = (-sin phi, cos phi); two
of them, across angles 0 and theta/2, make the rotation by theta. A letter that adds k (mod m)
rotates by theta = 2 pi k / m. The state is (2, 1), H_0 = (1, 0), and the codebook holds the m
points (cos 2 pi j/m, sin 2 pi j/m). The entries are irrational, so finite precision drifts:
``statetrack check`` measures the length at which each format first decodes wrongly.

Applies to the group Z<m> and to DFAs in which every letter acts as a power of one m-cycle through
all m states (counting mod m).
"""
from __future__ import annotations

import math

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import Group
from statetrack.constructions.common import dfa_source
from statetrack.constructions.weights import Factor, Layer, LRNNWeights
from statetrack.errors import ConstructionError


def rotation_factors(k: int, m: int) -> list[Factor]:
    """Two reflections whose product is the rotation by 2 pi k / m (none for k = 0 mod m)."""
    if k % m == 0:
        return []
    half = math.pi * (k % m) / m
    return [Factor.householder(np.array([0.0, 1.0]), 2.0),
            Factor.householder(np.array([-math.sin(half), math.cos(half)]), 2.0)]


def build(obj: Group | DFA, *, source: dict | None = None) -> LRNNWeights:
    if isinstance(obj, Group):
        return _build(obj.name, obj.order, shifts=_group_shifts(obj), start_code=0,
                      state_of_code=np.argsort(_group_shifts(obj)), accepting_codes={0},
                      alphabet=obj.tokens, source={"kind": "group", "name": obj.name}, labels=obj.tokens)
    dfa = obj.complete()
    shifts, state_at = _counting_shifts(dfa)
    return _build("DFA", dfa.n_states, shifts=shifts, start_code=0, state_of_code=state_at,
                  accepting_codes=None, alphabet=dfa.alphabet, source=source or dfa_source(dfa),
                  labels=dfa.labels, accepting_mask=dfa.accepting_mask)


def _group_shifts(g: Group) -> np.ndarray:
    """For Z<m>: element index -> the k it adds (the image of point 0)."""
    if not g.name.startswith("Z") or "x" in g.name:
        raise ConstructionError(f"the rotation construction applies to cyclic groups Z<m>, not {g.name}")
    return g.elements[:, 0].copy()


def _counting_shifts(dfa: DFA) -> tuple[np.ndarray, np.ndarray]:
    """Find an m-cycle c through all states with every letter = c^k; return (k per letter, state per code)."""
    m = dfa.n_states
    for c in range(dfa.n_symbols):
        state_at = [dfa.start]
        for _ in range(m - 1):
            state_at.append(int(dfa.table[state_at[-1], c]))
        if len(set(state_at)) < m or dfa.table[state_at[-1], c] != dfa.start:
            continue
        code_of = np.empty(m, dtype=np.int64)
        code_of[state_at] = np.arange(m)
        shifts = (code_of[dfa.table[state_at[0]]] - 0) % m      # k per letter, read at the start state
        expected = (np.arange(m)[:, None] + shifts[None, :]) % m   # code after letter, per code
        if np.array_equal(code_of[dfa.table[state_at]], expected):
            return shifts, np.array(state_at)
    raise ConstructionError("the rotation construction needs a counting automaton: every letter must add a "
                            "fixed amount mod m along one cycle through all states")


def _build(name, m, *, shifts, start_code, state_of_code, accepting_codes, alphabet, source, labels,
           accepting_mask=None) -> LRNNWeights:
    angles = 2 * math.pi * np.arange(m) / m
    codebook = np.stack([np.cos(angles), np.sin(angles)], axis=1)[:, :, None]   # (m, 2, 1)
    layer = Layer(
        factors=tuple(tuple(rotation_factors(int(k), m)) for k in shifts),
        write=np.zeros((len(shifts), 2, 1)),
        h0=codebook[start_code].copy(),
        codebook=codebook,
        route=np.arange(len(shifts), dtype=np.int64),
    )
    if accepting_mask is None:
        accepting_mask = np.zeros(m, dtype=bool)
        accepting_mask[[int(state_of_code[c]) for c in accepting_codes]] = True
    return LRNNWeights(alphabet=tuple(alphabet), layers=(layer,), state_map=np.asarray(state_of_code, dtype=np.int64),
                       accepting=accepting_mask, construction="rotation", source=source, state_labels=labels,
                       info={"m": int(m)})
