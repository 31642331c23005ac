"""The skeleton against brute force over the whole transition monoid (automata/monoid.py), in both
gradings: SgpDec's subduction depth and the default closed family (skeleton module docstring)."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings

from statetrack.automata.krohn_rhodes.skeleton import MAX_STATES, bits, build_skeleton
from statetrack.automata.monoid import transition_monoid
from statetrack.errors import LimitError
from tests.strategies import random_dfas


def brute(dfa, grading="subduction"):
    """(skeleton, monoid elements (E, n), image set as frozensets) of a complete reachable DFA."""
    sk = build_skeleton(dfa.table, grading=grading)
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


def closed_family(dfa, images: set) -> set:
    """The image set closed under the letters and under preimages along one-to-one letters, by
    brute force: repeat until nothing is added."""
    fam = set(images)
    while True:
        new = set()
        for A in fam:
            for s in range(dfa.n_symbols):
                f = dfa.table[:, s]
                new.add(frozenset(int(f[q]) for q in A))
                if len(A) >= 3 and len({int(f[q]) for q in A}) == len(A):
                    B = {int(f[q]) for q in A}
                    for U in fam:
                        if 2 <= len(U) < len(A) and U <= B:
                            new.add(frozenset(q for q in A if int(f[q]) in U))
        if new <= fam:
            return fam
        fam |= new


def check_closed_skeleton(dfa, sk, elements, images) -> None:
    """Assert every defining property of the closed grading by brute force (module docstring)."""
    sets = [as_set(s) for s in sk.sets]
    assert set(sets) == closed_family(dfa, images) and len(sets) == len(set(sets))
    index = {A: a for a, A in enumerate(sets)}
    reach = {A: apply(elements, A) for A in sets}
    tiles = {}
    for a, A in enumerate(sets):
        for b, B in enumerate(sets):
            if len(A) > 1 and len(B) > 1:
                assert (B in reach[A] and A in reach[B]) == (sk.cls[a] == sk.cls[b])
        if len(A) > 1:
            proper = [T for T in sets if T < A]
            tiles[A] = {T for T in proper if not any(T < U for U in proper)}
            assert {sets[t] for t in sk.real_tiles(a)} == tiles[A]
    D = sk.n_depth
    for a, A in enumerate(sets):
        if len(A) == 1:
            assert sk.depth[a] == D
            continue
        # edges down: a tile or a shrinking letter one level deeper at least, a same-size letter
        # not shallower (and then its tiles go onto the image's tiles); the depth is the largest
        # these allow (every set as high up as its edges down let it)
        allowed = []
        for T in tiles[A]:
            allowed.append(sk.depth[index[T]] - 1)
        for s in range(dfa.n_symbols):
            B = frozenset(int(dfa.table[q, s]) for q in A)
            if len(B) < len(A):
                allowed.append(sk.depth[index[B]] - 1)
            else:
                allowed.append(sk.depth[index[B]])
                assert {frozenset(int(dfa.table[q, s]) for q in T) for T in tiles[A]} == tiles[B]
        assert sk.depth[a] == min(allowed), (A, allowed)
    assert sk.depth[0] == 1 or dfa.n_states == 1
    assert sorted({int(sk.depth[r]) for r in sk.reps if len(sets[r]) > 1}) == list(range(1, D))
    assert sk.n_levels <= max(dfa.n_states - 1, 0)


@given(random_dfas(max_states=6, max_symbols=3))
@settings(max_examples=120, deadline=None)
def test_closed_skeleton_agrees_with_brute_force(dfa):
    dfa = dfa.complete().reachable()
    check_closed_skeleton(dfa, *brute(dfa, "closed"))


def _five_state():
    """SgpDec's grading needs 8 levels here, the closed one n - 1 = 4 (with 3 preimage sets added)."""
    from statetrack.automata.dfa import DFA

    return DFA(alphabet="ab", table=[[1, 0], [1, 2], [3, 2], [4, 3], [0, 1]], start=0, accepting={0})


def test_closed_grading_stays_within_n_minus_1_levels():
    dfa = _five_state()
    sub, closed = build_skeleton(dfa.table, grading="subduction"), build_skeleton(dfa.table, grading="closed")
    assert (sub.n_levels, closed.n_levels) == (8, 4)
    assert len(closed.sets) == len(sub.sets) + 3 and set(sub.sets) < set(closed.sets)
    check_closed_skeleton(dfa, *brute(dfa, "closed"))


@pytest.mark.parametrize("corrupt", [
    pytest.param(lambda sk: sk.tiles.__setitem__(0, sk.tiles[0][:-1]), id="missing-tile"),
    pytest.param(lambda sk: sk.depth.__setitem__(slice(None), np.where(sk.depth == 2, 1, sk.depth)), id="flat-depth"),
    pytest.param(lambda sk: sk.depth.__setitem__(slice(None), np.where(sk.depth == 4, 5, sk.depth)), id="too-deep"),
    pytest.param(lambda sk: sk.cls.__setitem__(1, sk.cls[0]), id="merged-classes"),
    # {0,3,4} is one of the three preimage sets (not an image)
    pytest.param(lambda sk: object.__setattr__(sk, "sets", tuple(x for x in sk.sets if x != 0b11001)),
                 id="missing-preimage-set"),
])
def test_closed_brute_force_check_fails_on_a_corrupted_skeleton(corrupt):
    dfa = _five_state()
    sk, elements, images = brute(dfa, "closed")
    sk.depth.setflags(write=True)
    corrupt(sk)
    sk._real.clear()
    with pytest.raises(AssertionError):
        check_closed_skeleton(dfa, sk, elements, images)


def test_without_the_preimage_closure_the_cascade_breaks(monkeypatch):
    """Levelling same-size letter moves over the bare image set is wrong: a letter carries a set onto
    another without carrying its tiles onto theirs, and the dependency functions refuse it."""
    import statetrack.automata.krohn_rhodes.skeleton as skeleton
    from statetrack.automata.krohn_rhodes import holonomy

    monkeypatch.setattr(skeleton, "_close_under_injective_preimages", lambda *args: None)
    with pytest.raises(RuntimeError, match="but not its tiles onto theirs"):
        holonomy(_five_state()).cascade()


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
    h = holonomy(DFA(alphabet=tuple("abcdef"[:len(gens)]), table=table, start=0, accepting=set()),
                 grading="subduction")
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
