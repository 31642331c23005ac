"""``dihedral-cascade``: a group word problem in two layers, trading n_h for depth (P2 Sec. 4:
two DeltaNet layers, one GH factor per token each, solve the dihedral word problems; P1 Thm 6 does
the same for Z_m).

Our construction (a "parity gauge"), for a faithful orthogonal representation rho of width d
(``reps.best``) and a fixed reflection F (F = F^-1):

- layer 1 (width 1) keeps a parity a_t = a_{t-1} XOR tau(x_t): the scalar state is (-1)^{a_t},
  each letter with tau = 1 is the one factor ``1 - 2 * 1 * 1`` = -1, the others no factor.
- layer 2 (width d) keeps S_t = F^{a_t} rho(x_t ... x_1) instead of the running product itself:
  S_t = M(x_t, a_{t-1}) S_{t-1} with M(x, a) = F^{a XOR tau(x)} rho(x) F^a, read through the
  layer's route from the letter and layer 1's code before the letter.
- the decoded element is that of F^{a_t} S_t (``state_map`` over the pair of codes).

In width 2 every rotation R gives a reflection F R, and every reflection stays one when conjugated
by F, so with tau(x) = [rho(x) is a rotation other than I] every M is a single reflection or the
identity: n_h = 1 in both layers for every cyclic and dihedral group. In width >= 3 the gauge
rarely helps (F times a rotation is in general a rotary reflection, three factors); the tau per
letter and F are chosen to minimize the largest M's reflection count, which the summary reports.
"""
from __future__ import annotations

import itertools

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import Group
from statetrack.constructions.factorize import fewest_reflections, reflection_length
from statetrack.constructions.reps import Representation, best, is_dyadic
from statetrack.constructions.weights import Factor, Layer, LRNNWeights
from statetrack.errors import ConstructionError


def gauge_reflections(rep: Representation) -> list[np.ndarray]:
    """Candidate F (d, d): coordinate reflections, swaps of two coordinates, the representation's own reflections."""
    d = rep.width
    out = []
    for i in range(d):
        f = np.eye(d)
        f[i, i] = -1.0
        out.append(f)
    for i, j in itertools.combinations(range(d), 2):
        out.append(Factor.swap(i, j, d).matrix())
    out += [m for m, k in zip(rep.mats, rep.lengths) if k == 1]
    return out


def letter_matrices(rep: Representation, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per letter x the toggle tau(x) in {0, 1} and M(x, a) for a = 0, 1: (order,) and (order, 2, d, d).

    tau(x) is the choice with the smaller max over a of rank(I - M(x, a)) (0 on ties).
    """
    taus, mats = [], []
    for r in rep.mats:
        options = []
        for tau in (0, 1):
            ms = [np.linalg.matrix_power(f, a ^ tau) @ r @ np.linalg.matrix_power(f, a) for a in (0, 1)]
            options.append((max(reflection_length(m) for m in ms), tau, ms))
        _, tau, ms = min(options, key=lambda o: (o[0], o[1]))
        taus.append(tau)
        mats.append(ms)
    return np.array(taus, dtype=np.int64), np.array(mats)


def plan(rep: Representation) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The cheapest gauge: (F, tau, M, n_h of layer 2), exact gauges first on ties."""
    best_plan = None
    for f in gauge_reflections(rep):
        tau, mats = letter_matrices(rep, f)
        n_h = max((reflection_length(m) for m in mats.reshape(-1, rep.width, rep.width)), default=0)
        key = (n_h, 0 if is_dyadic(f) else 1)
        if best_plan is None or key < best_plan[0]:
            best_plan = (key, f, tau, mats, n_h)
    _, f, tau, mats, n_h = best_plan
    return f, tau, mats, n_h


def build(obj: Group | DFA, *, source: dict | None = None, rep: Representation | None = None) -> LRNNWeights:
    if not isinstance(obj, Group):
        raise ConstructionError("the dihedral-cascade construction applies to group word problems (--group NAME)")
    g = obj
    rep = rep or best(g)
    d, order = rep.width, g.order
    f, tau, mats, n_h = plan(rep)
    parity = Layer(
        factors=tuple((Factor.householder(np.array([1.0]), 2.0),) if t else () for t in tau),
        write=np.zeros((order, 1, 1)),
        h0=np.ones((1, 1)),
        codebook=np.array([[[1.0]], [[-1.0]]]),                    # code a: (-1)^a
        route=np.arange(order, dtype=np.int64),
    )
    codebook = _unique(np.concatenate([rep.mats, f @ rep.mats]))   # every S_t = F^a rho(g)
    gauged = Layer(
        factors=tuple(tuple(fewest_reflections(mats[x, a])) for x in range(order) for a in (0, 1)),
        write=np.zeros((2 * order, d, d)),
        h0=np.eye(d),
        codebook=codebook,
        route=(2 * np.arange(order)[:, None] + np.arange(2)[None, :]).astype(np.int64),   # (letter, a) -> symbol
    )
    state_map = np.stack([_element_of(rep, codebook), _element_of(rep, f @ codebook)]).reshape(-1)  # (2 * C,) row-major
    accepting = np.zeros(order, dtype=bool)
    accepting[0] = True
    info = {"representation": rep.name, "exact_entries": bool(rep.exact and is_dyadic(f)),
            "gauge_reflection": f.tolist(), "one_layer_n_h": rep.n_h, "layer_n_h": [int(tau.max(initial=0)), n_h]}
    return LRNNWeights(alphabet=g.tokens, layers=(parity, gauged), state_map=state_map, accepting=accepting,
                       construction="dihedral-cascade", source={"kind": "group", "name": g.name},
                       state_labels=g.tokens, info=info)


def _unique(mats: np.ndarray) -> np.ndarray:
    keep: list[np.ndarray] = []
    for m in mats:
        if not any(np.abs(m - k).max() < 1e-9 for k in keep):
            keep.append(m)
    return np.array(keep)


def _element_of(rep: Representation, mats: np.ndarray) -> np.ndarray:
    """Element index of each matrix (C, d, d) under rep, 0 where none (a pair of codes never reached)."""
    flat = rep.mats.reshape(len(rep.mats), -1)
    dist = np.abs(mats.reshape(len(mats), -1)[:, None, :] - flat[None]).max(-1)
    return np.where(dist.min(1) < 1e-9, dist.argmin(1), 0).astype(np.int64)
