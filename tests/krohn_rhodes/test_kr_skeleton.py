"""The skeleton against brute force over the whole transition monoid (automata/monoid.py)."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings

from statetrack.automata.krohn_rhodes.skeleton import MAX_STATES, bits, build_skeleton
from statetrack.automata.monoid import transition_monoid
from statetrack.errors import LimitError
from tests.strategies import random_dfas


def brute(dfa):
    """(skeleton, monoid elements (E, n), image set as frozensets) of a complete reachable DFA."""
    sk = build_skeleton(dfa.table)
    elements = transition_monoid(dfa).elements.astype(np.int64)
    n = dfa.n_states
    images = {frozenset(e.tolist()) for e in elements} | {frozenset([q]) for q in range(n)}
    return sk, elements, images


def as_set(mask: int) -> frozenset:
    return frozenset(bits(mask))


def apply(elements, A: frozenset) -> set:
    """{A·e : e in the monoid}"""
    idx = np.array(sorted(A))
    return {frozenset(e[idx].tolist()) for e in elements}


def check_skeleton(dfa, sk, elements, images) -> None:
    """Assert every defining property of the skeleton by brute force over the monoid."""
    sets = [as_set(s) for s in sk.sets]
    # the extended image set: every X·w plus the singletons, nothing else
    assert set(sets) == images and len(sets) == len(images)
    reach = {A: apply(elements, A) for A in sets}
    for a, A in enumerate(sets):
        for b, B in enumerate(sets):
            if len(A) > 1 and len(B) > 1:
                assert (B in reach[A] and A in reach[B]) == (sk.cls[a] == sk.cls[b])
            # strict subduction (B inside some A·s, not equivalent) strictly deepens
            below = any(B <= C for C in reach[A])
            if len(A) > 1 and below and not (A in reach[B] and len(A) == len(B)):
                assert sk.depth[b] > sk.depth[a], (A, B)
        if len(A) > 1:
            # tiles: the maximal image-set elements properly inside A, reached through IN(A)
            proper = [T for T in sets if T < A]
            maximal = {T for T in proper if not any(T < U for U in proper)}
            assert {sets[t] for t in sk.real_tiles(a)} == maximal
            # IN(A) is a monoid element carrying rep(A) one-to-one onto A
            f = sk.in_map(a)
            rep = sets[sk.rep_of(a)]
            assert any(np.array_equal(f, e) for e in elements)
            assert {int(f[q]) for q in rep} == A and len(rep) == len(A)
    # depths: the whole set on top, singletons at the bottom, every level in between used
    assert sk.depth[0] == 1 or dfa.n_states == 1
    assert all(sk.depth[a] == sk.n_depth for a, A in enumerate(sets) if len(A) == 1)
    assert sorted({int(sk.depth[r]) for r in sk.reps if len(sets[r]) > 1}) == list(range(1, sk.n_depth))


@given(random_dfas(max_states=6, max_symbols=3))
@settings(max_examples=120, deadline=None)
def test_skeleton_agrees_with_brute_force(dfa):
    dfa = dfa.complete().reachable()
    check_skeleton(dfa, *brute(dfa))


def _three_state():
    from statetrack.automata.dfa import DFA

    # the full transformation monoid T3: the top set has three 2-element tiles
    return DFA(alphabet="abc", table=[[1, 1, 0], [2, 0, 0], [0, 2, 2]], start=0, accepting=set())


def test_brute_force_check_passes_on_the_real_skeleton():
    dfa = _three_state()
    check_skeleton(dfa, *brute(dfa))


@pytest.mark.parametrize("corrupt", [
    pytest.param(lambda sk: sk.tiles.__setitem__(0, sk.tiles[0][:-1]), id="missing-tile"),
    pytest.param(lambda sk: sk.depth.__setitem__(slice(None), np.where(sk.depth == 2, 1, sk.depth)), id="flat-depth"),
    pytest.param(lambda sk: sk.cls.__setitem__(1, sk.cls[0]), id="merged-classes"),
])
def test_brute_force_check_fails_on_a_corrupted_skeleton(corrupt):
    dfa = _three_state()
    sk, elements, images = brute(dfa)
    assert len(sk.tiles[0]) == 3 and sk.n_depth == 3
    sk.depth.setflags(write=True)
    corrupt(sk)
    sk._real.clear()
    with pytest.raises(AssertionError):
        check_skeleton(dfa, sk, elements, images)


@pytest.mark.parametrize("gens, levels, widths, orders", [
    pytest.param([[2, 3, 1], [2, 1, 3], [1, 1, 3]], 2, [3, 2], [[6], [2]], id="T3"),
    pytest.param([[2, 3, 4, 1], [2, 1, 3, 4], [1, 1, 3, 4]], 3, [4, 3, 2], [[24], [6], [2]], id="T4"),
    # SgpDec's tst/holonomy.tst: "5 levels with (2, 4, 5, 5, 2) pts", 1: 2 / 2: (4,C3) /
    # 3: (3,S3) (2,C2) / 4: (3,C3) (2,C2) / 5: 2
    pytest.param([[1, 2, 3, 1, 1, 1], [4, 4, 4, 5, 4, 6], [4, 4, 4, 5, 6, 4], [4, 4, 4, 4, 5, 5],
                  [4, 4, 4, 1, 2, 3], [2, 3, 1, 4, 4, 4]], 5, [2, 4, 5, 5, 2], [[1], [3], [6, 2], [3, 2], [1]],
                 id="sgpdec-holonomy-tst"),
])
def test_matches_sgpdec_reference_decompositions(gens, levels, widths, orders):
    """Levels, SgpDec's (disjoint-union) level sizes and holonomy group orders of known examples."""
    from statetrack.automata.dfa import DFA
    from statetrack.automata.krohn_rhodes import holonomy

    table = np.array([[g[q] - 1 for g in gens] for q in range(len(gens[0]))])    # GAP images are 1-based
    h = holonomy(DFA(alphabet=tuple("abcdef"[:len(gens)]), table=table, start=0, accepting=set()))
    s = h.summary()
    assert s["levels"] == levels and s["sgpdec_widths"] == widths
    assert [[g["group_order"] for g in row] for row in h.holonomy_groups()] == orders
    assert all(w <= sw for w, sw in zip(s["widths"], s["sgpdec_widths"]))


def test_too_many_states_is_a_limit_error():
    table = np.tile(np.arange(MAX_STATES + 1)[:, None], (1, 1))
    with pytest.raises(LimitError, match="at most 64 reachable states"):
        build_skeleton(table)


def test_strong_components_are_numbered_sinks_first():
    from statetrack.automata.krohn_rhodes.skeleton import _strong_components

    # 0 <-> 1 -> 2 -> 3 <-> 4 ; 5 alone -> 0
    succ = [[1], [0, 2], [3], [4], [3], [0]]
    comp, n = _strong_components(succ)
    assert n == 4 and comp[0] == comp[1] and comp[3] == comp[4]
    for v, ws in enumerate(succ):
        for w in ws:
            assert comp[w] <= comp[v]
    assert len(set(itertools.chain(comp.tolist()))) == 4
