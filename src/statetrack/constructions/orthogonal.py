"""``orthogonal``: a group word problem in one layer through the cheapest faithful orthogonal
representation found (P2: DeltaProduct, n_h reflections per token; Cartan-Dieudonne).

The representation rho comes from ``reps.best``: fewest reflections per element first, then the
smallest width, then exact entries (e.g. S4 and A4 as rotations of the cube: width 3, n_h = 2,
signed permutation matrices; A5 as rotations of the icosahedron: width 3, n_h = 2, irrational
entries; D_n as symmetries of the n-gon: width 2, n_h = 2). When nothing beats it, this is P1's
permutation representation, i.e. the ``group`` construction's matrices: never worse than it.

Each element's matrix is stored as exactly rank(I - rho(g)) reflections (``fewest_reflections``).
The state is (d, d), H_0 = I, so H_t = rho(x_t) ... rho(x_1) = rho(running product); the codebook
holds rho of every element (decoded by the nearest one), B = 0. Irrational entries drift in low
precision; ``statetrack check`` measures where.
"""
from __future__ import annotations

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import Group
from statetrack.constructions.factorize import fewest_reflections
from statetrack.constructions.reps import Representation, best, permutation_rep
from statetrack.constructions.weights import Layer, LRNNWeights
from statetrack.errors import ConstructionError


def build(obj: Group | DFA, *, source: dict | None = None, rep: Representation | None = None) -> LRNNWeights:
    """One layer for the group ``obj``; ``rep`` overrides the searched representation."""
    if not isinstance(obj, Group):
        raise ConstructionError("the orthogonal construction applies to group word problems (--group NAME); "
                                "for a DFA use group, direct or krohn-rhodes")
    g = obj
    rep = rep or best(g)
    order, d = g.order, rep.width
    layer = Layer(
        factors=tuple(tuple(fewest_reflections(m)) for m in rep.mats),
        write=np.zeros((order, d, d)),
        h0=np.eye(d),
        codebook=rep.mats.astype(np.float64),
        route=np.arange(order, dtype=np.int64),
    )
    p1 = permutation_rep(g)
    accepting = np.zeros(order, dtype=bool)
    accepting[0] = True
    info = {"representation": rep.name, "exact_entries": rep.exact,
            "p1_width": p1.width, "p1_n_h": p1.n_h}
    return LRNNWeights(alphabet=g.tokens, layers=(layer,), state_map=np.arange(order, dtype=np.int64),
                       accepting=accepting, construction="orthogonal",
                       source={"kind": "group", "name": g.name}, state_labels=g.tokens, info=info)
