"""Pieces the one-layer constructions share: transformations as swaps and collapses, one-hot layers."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from statetrack.constructions.weights import Factor, Layer


def permutation_swaps(perm: Sequence[int]) -> list[tuple[int, int]]:
    """Transpositions (i, j), in application order, whose product maps point p to perm[p].

    Uses n - (number of cycles) swaps, the fewest possible (P1 Prop 1b: a permutation is a
    product of at most n - 1 swaps).
    """
    want = list(perm)  # want[p]: where the item now at position p must end up
    swaps = []
    for p in range(len(want)):
        while want[p] != p:
            q = want[p]
            swaps.append((p, q))
            want[p], want[q] = want[q], want[p]
    return swaps


def swap_factors(perm: Sequence[int], n: int | None = None) -> list[Factor]:
    """Swap factors (beta = 2) whose product sends e_p to e_{perm[p]}: the one copy of
    permutation -> swaps (:func:`permutation_swaps`) as factors on R^n (n defaults to len(perm))."""
    n = len(perm) if n is None else n
    return [Factor.swap(i, j, n) for i, j in permutation_swaps(perm)]


def transformation_factors(f: Sequence[int]) -> list[Factor]:
    """Factors with 0/±1 entries whose product sends e_q to e_{f[q]} for every q.

    First each preimage class of an image point is merged onto one representative with elementary
    collapses ``I - (e_c - e_r) e_c^T`` (beta = 1), then the representatives are moved onto their
    images by swaps (beta = 2). Uses (n - |image|) collapses and at most n - 1 swaps.
    """
    n = len(f)
    classes: dict[int, list[int]] = {}
    for q, y in enumerate(f):
        classes.setdefault(int(y), []).append(q)
    factors, target = [], {}
    for y, members in classes.items():
        rep = y if y in members else members[0]
        target[rep] = y
        factors += [Factor.collapse(c, rep, n) for c in members if c != rep]
    # complete rep -> image to a permutation, keeping free points fixed where possible
    free_src = [p for p in range(n) if p not in target]
    free_dst = sorted(set(range(n)) - set(target.values()))
    for p in [p for p in free_src if p in free_dst]:
        target[p] = p
    rest_dst = [d for d in free_dst if d not in target.values()]
    for p, d in zip([p for p in free_src if p not in target], rest_dst):
        target[p] = d
    factors += [Factor.swap(i, j, n) for i, j in permutation_swaps([target[p] for p in range(n)])]
    return factors


def one_hot_layer(per_letter: Sequence[Sequence[Factor]], n: int, start: int) -> Layer:
    """A single layer with one-hot state (n, 1), H_0 = e_start, B = 0 and the identity codebook."""
    h0 = np.zeros((n, 1))
    h0[start] = 1.0
    return Layer(
        factors=tuple(tuple(fs) for fs in per_letter),
        write=np.zeros((len(per_letter), n, 1)),
        h0=h0,
        codebook=np.eye(n)[:, :, None],
        route=np.arange(len(per_letter), dtype=np.int64),
    )


def dfa_source(dfa, **extra) -> dict:
    """The JSON description of a DFA source stored in weights metadata."""
    return {"kind": "dfa", "dfa": dfa.to_json(), **extra}
