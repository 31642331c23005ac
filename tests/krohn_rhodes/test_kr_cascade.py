"""The holonomy cascade simulates its DFA on every word; levels are permutation–reset automata."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from tests.krohn_rhodes.kr_cases import NAMED, all_codes, mod5_reset, shift_register
from statetrack.automata.dfa import DFA
from statetrack.automata.groups import group
from statetrack.automata.krohn_rhodes import Action, CascadeLimits, decompose, holonomy
from statetrack.errors import AlphabetError, ConstructionError, LimitError
from tests.strategies import random_dfas


def assert_permutation_reset(cascade) -> None:
    for i, acts in enumerate(cascade.actions):
        assert acts[0].is_identity
        for a in acts:
            assert a.width == cascade.widths[i]
            assert len(set(a.image)) in (1, a.width), a      # a bijection or a constant map


@given(random_dfas(max_states=8, max_symbols=3))
@settings(max_examples=150, deadline=None)
def test_random_dfa_cascade_agrees_on_every_word(dfa):
    h = holonomy(dfa)
    try:
        cascade = h.cascade()
    except LimitError as e:                    # too big to tabulate: check the on-demand cascade
        assert "over the limit" in str(e)
        dfa = dfa.complete()
        codes = np.random.default_rng(0).integers(0, dfa.n_symbols, size=(300, 12))
        truth = dfa.trajectory(codes)[:, -1]
        assert [h.dfa_state(h.run(w)) for w in codes] == truth.tolist()
        return
    assert cascade.counterexample(dfa) is None        # all words, every length
    assert_permutation_reset(cascade)
    # the on-demand dependency functions (one level per depth) and the packed tables agree
    codes = np.random.default_rng(1).integers(0, cascade.n_letters, size=(50, 12))
    assert cascade.run_batch(codes).tolist() == [h.dfa_state(h.run(w)) for w in codes]
    assert cascade.n_levels <= max(h.n_levels, 1)


@pytest.mark.parametrize("name", list(NAMED))
def test_named_automata_decompose_exactly(name):
    dfa = NAMED[name]()
    cascade = decompose(dfa)
    assert cascade.counterexample(dfa) is None
    assert_permutation_reset(cascade)
    codes = all_codes(dfa.n_symbols, 7)
    assert np.array_equal(cascade.run_batch(codes), dfa.trajectory(codes)[:, -1])


@pytest.mark.parametrize("name, widths, kinds", [
    pytest.param("mod5-reset", (5,), [["constant", "permutation"]], id="mod5-reset"),
    pytest.param("flip-flop", (2,), [["constant"]], id="flip-flop"),
    pytest.param("parity-reset", (2,), [["constant", "permutation"]], id="parity-reset"),
    # 16 states, 4 levels of 2: slots share states (SgpDec's disjoint union would be 2, 4, 8, 16)
    pytest.param("shift-register", (2, 2, 2, 2), [["constant"]] * 4, id="shift-register"),
    pytest.param("flip-flop+parity", (2, 2), [["constant"], ["permutation"]], id="flip-flop+parity"),
])
def test_levels_reuse_structure(name, widths, kinds):
    cascade = decompose(NAMED[name]())
    assert cascade.widths == widths
    assert cascade.summary()["action_kinds"] == kinds


def test_shift_register_levels_are_narrower_than_disjoint_slots():
    s = holonomy(shift_register()).summary()
    assert s["widths"] == [2, 2, 2, 2] and s["sgpdec_widths"] == [2, 4, 8, 16]


@pytest.mark.parametrize("name", ["S3", "Z6", "A4"])
def test_group_is_one_level(name):
    g = group(name)
    dfa = g.to_dfa()
    cascade = decompose(dfa)
    assert cascade.widths == (g.order,)
    assert {a.kind for a in cascade.actions[0]} <= {"identity", "permutation"}
    assert cascade.counterexample(dfa) is None


def test_one_state_dfa_is_one_trivial_level():
    dfa = DFA(alphabet="ab", table=[[0, 0]], start=0, accepting={0})
    cascade = decompose(dfa)
    assert cascade.widths == (1,) and cascade.decode(cascade.run("abba")) == 0
    assert cascade.counterexample(dfa) is None


def test_state_map_uses_the_dfa_numbering():
    """Unreachable states are left out of the decomposition but states keep their numbers."""
    dfa = DFA(alphabet="ab", table=[[3, 0], [1, 1], [0, -1], [2, 3], [4, -1]], start=3, accepting={0})
    cascade = decompose(dfa)
    reached = {cascade.decode(s) for s in cascade.reachable()}
    assert reached == {0, 2, 3, 5}                  # 5: the sink added by complete()
    assert cascade.counterexample(dfa) is None


@pytest.mark.parametrize("corrupt", [
    pytest.param("state_map", id="state-map"),
    pytest.param("table", id="dependency-table"),
    pytest.param("initial", id="initial-state"),
])
def test_counterexample_finds_a_broken_cascade(corrupt):
    dfa = mod5_reset()
    good = decompose(dfa)
    if corrupt == "state_map":
        sm = good.state_map.copy()
        sm[3] = 4
        bad = dataclasses.replace(good, state_map=sm)
    elif corrupt == "table":
        tab = good.tables[0].copy()
        tab[0] = tab[1]                             # letter a now resets, like r
        bad = dataclasses.replace(good, tables=(tab,))
    else:
        bad = dataclasses.replace(good, initial=(2,))
    word = bad.counterexample(dfa)
    assert word is not None
    assert bad.decode(bad.run(word)) != dfa.run(word)      # a real disagreement
    assert good.counterexample(dfa) is None


def test_actions_must_be_permutations_or_constants():
    assert Action((1, 2, 0)).kind == "permutation" and Action((2, 2, 2)).kind == "constant"
    with pytest.raises(ConstructionError, match="permutation or a constant"):
        Action((0, 0, 1))
    with pytest.raises(ConstructionError, match="into itself"):
        Action((0, 3))


@pytest.mark.parametrize("limits, match", [
    pytest.param(CascadeLimits(max_levels=3), r"needs 4 levels \(widths \[2, 2, 2, 2\]\), over the limit of 3 "
                 r"\(max_levels\) by 1; raise max_levels \(--max-levels\) to at least 4", id="levels"),
    pytest.param(CascadeLimits(max_width=1), r"needs 2 states on one level, over the limit of 1 \(max_width\) by 1; "
                 r"raise max_width \(--max-width\) to at least 2", id="width"),
    pytest.param(CascadeLimits(max_table_entries=40), r"needs 46 dependency-table entries .*over the limit of 40 "
                 r"\(max_table_entries\) by 6; raise max_table_entries to at least 46", id="table"),
    pytest.param(CascadeLimits(max_configurations=10), r"needs 11 reachable cascade states .*over the limit of 10 "
                 r"\(max_configurations\) by 1; raise max_configurations to at least 11", id="configurations"),
])
def test_limits_raise_a_clear_error(limits, match):
    with pytest.raises(LimitError, match=match):
        decompose(shift_register(), limits)


def test_run_reads_symbols_and_rejects_unknown_ones():
    cascade = decompose(mod5_reset())
    assert cascade.run("aaara") == cascade.run([0, 0, 0, 1, 0])
    assert cascade.decode(cascade.run("aaaaa")) == 0
    with pytest.raises(AlphabetError, match="'z' is not in"):
        cascade.run("az")


def test_too_many_images_is_refused_quickly():
    rng = np.random.default_rng(3)
    dfa = DFA(alphabet="abc", table=rng.integers(0, 40, size=(40, 3)), start=0, accepting={0})
    with pytest.raises(LimitError, match="more than 500 images"):
        decompose(dfa, CascadeLimits(max_images=500))


def test_large_dfa_cascade_over_reachable_states_is_exact():
    """A 12-state, 3-letter DFA whose dense tables under SgpDec's grading (10^7 entries even packed)
    were refused: over reachable states with depths packed it fits the default limits and agrees on
    every word; the on-demand dependency functions agree on random words."""
    rng = np.random.default_rng(12)
    dfa = DFA(alphabet="abc", table=rng.integers(0, 12, size=(12, 3)), start=0, accepting={0})
    h = holonomy(dfa, grading="subduction")
    cascade = h.cascade()
    s = cascade.summary()
    assert s["levels"] < h.n_levels and s["dense_table_entries"] > 10**7 > 10**5 > s["table_entries"]
    assert cascade.counterexample(dfa) is None
    assert_permutation_reset(cascade)
    codes = rng.integers(0, 3, size=(100, 40))
    assert [h.dfa_state(h.run(w)) for w in codes] == dfa.trajectory(codes)[:, -1].tolist()
    assert cascade.run_batch(codes).tolist() == dfa.trajectory(codes)[:, -1].tolist()


@given(random_dfas(max_states=12, max_symbols=3))
@settings(max_examples=20, deadline=None)
def test_random_dfas_up_to_12_states_cascade_exact(dfa):
    """Up to 12 states: the packed cascade over reachable states is exact on every word (or refused
    with a limit error that names its limit, and then the on-demand cascade agrees on random words).
    The closed grading has at most n - 1 levels for n reachable states."""
    h = holonomy(dfa)
    assert h.n_levels <= max(h.skeleton.n - 1, 1)
    try:
        cascade = h.cascade(CascadeLimits(max_configurations=4096))
    except LimitError as e:
        assert "raise max_" in str(e)
        dfa = dfa.complete()
        codes = np.random.default_rng(0).integers(0, dfa.n_symbols, size=(100, 12))
        assert [h.dfa_state(h.run(w)) for w in codes] == dfa.trajectory(codes)[:, -1].tolist()
        return
    assert cascade.counterexample(dfa) is None
    assert_permutation_reset(cascade)
    assert cascade.n_levels <= max(h.n_levels, 1)


def _fewest_blocks_by_brute_force(configs, succ, max_width: int) -> int:
    """Try every split of the depths into consecutive blocks (2^(L-1) of them)."""
    import itertools

    from statetrack.automata.krohn_rhodes.holonomy import _packable, _row_ids

    L = configs.shape[1]
    best = L
    for cuts in itertools.product((False, True), repeat=L - 1):
        bounds = [0] + [k + 1 for k, c in enumerate(cuts) if c] + [L]
        ok = True
        for a, b in zip(bounds, bounds[1:]):
            x = _row_ids(configs[:, a:b])
            if b > a + 1 and (int(x.max()) + 1 > max_width or not _packable(_row_ids(configs[:, :a]), x, succ)):
                ok = False
                break
        if ok:
            best = min(best, len(bounds) - 1)
    return best


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"8-states-{s}") for s in (21, 100, 218, 0, 1)])
def test_depths_are_packed_into_the_fewest_levels(seed):
    """group_levels finds the fewest permutation-reset product levels, checked against every split
    of the depths. Seeds 21, 100, 218: a greedy top-down packing needs one level more (5/4, 9/8, 7/6)."""
    from statetrack.automata.krohn_rhodes.holonomy import group_levels

    rng = np.random.default_rng([8, seed])
    dfa = DFA(alphabet="ab", table=rng.integers(0, 8, size=(8, 2)), start=0, accepting={0})
    configs, succ, _ = holonomy(dfa).configurations(1 << 13)
    assert 3 <= configs.shape[1] <= 11
    for width in (8, 64):
        blocks = group_levels(configs, succ, width)
        assert [a for a, _ in blocks] == [0] + [b for _, b in blocks[:-1]] and blocks[-1][1] == configs.shape[1]
        assert len(blocks) == _fewest_blocks_by_brute_force(configs, succ, width)
