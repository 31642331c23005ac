"""Compiled weights -> network -> extracted automaton gives back the source, minimal and equivalent,
for every construction in the registry (the end-to-end property of issue 15)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import statetrack
from statetrack.automata.dfa import DFA
from statetrack.automata.minimize import minimize
from statetrack.constructions import CONSTRUCTIONS
from statetrack.errors import ConstructionError, LimitError
from statetrack.extract.abstraction import abstract
from statetrack.extract.equivalence import compare
from statetrack.extract.lstar import Budget, learn
from statetrack.extract.oracles import CompiledNetwork
from tests.strategies import random_dfas

#: small equivalence tests: the target-guided stage is exact, the rest is a safety net
QUICK = Budget(exhaustive_len=6, random_words=50, random_len=20)


def round_trip(weights, runner: str = "simulator"):
    net = CompiledNetwork(weights, runner=runner)
    learned = learn(net, QUICK).machine
    return net, learned, compare(learned, net.target, net)


@st.composite
def permutation_dfas(draw, max_points: int = 5, max_symbols: int = 3) -> DFA:
    """A DFA whose every letter permutes the states (the ``group`` construction's input)."""
    n = draw(st.integers(2, max_points))
    m = draw(st.integers(1, max_symbols))
    cols = [draw(st.permutations(range(n))) for _ in range(m)]
    accepting = draw(st.sets(st.integers(0, n - 1), max_size=n))
    return DFA(alphabet=tuple("abc"[:m]), table=np.array(cols, dtype=np.int64).T, start=0, accepting=accepting)


#: constructions that take a group, not a DFA: their round trips run on groups below
GROUP_ONLY = {"rotation", "orthogonal", "dihedral-cascade"}


@pytest.mark.parametrize("construction", sorted(set(CONSTRUCTIONS) - GROUP_ONLY))
@given(dfa=st.one_of(random_dfas(max_states=6, max_symbols=3).map(DFA.complete), permutation_dfas()))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_round_trip_every_construction(construction, dfa):
    """Any registered construction (a new one is picked up here), on random DFAs and on DFAs whose
    letters permute the states; inputs a construction does not take are skipped."""
    try:
        weights = statetrack.compile(dfa, construction)
    except (ConstructionError, LimitError):
        assume(False)
    net, learned, cmp = round_trip(weights)
    assert cmp.equivalent, cmp.line()
    assert learned.n_states == minimize(dfa).n_states == cmp.target_states


@given(m=st.integers(2, 9))
@settings(max_examples=6, deadline=None)
def test_round_trip_rotation(m):
    net, learned, cmp = round_trip(statetrack.compile(statetrack.group(f"Z{m}"), "rotation"))
    assert cmp.equivalent, cmp.line()
    assert learned.n_states == m and len(learned.classes) == m


@pytest.mark.parametrize("group, construction", [
    pytest.param("S3", "orthogonal", id="S3-orthogonal"), pytest.param("A4", "orthogonal", id="A4-orthogonal"),
    pytest.param("D5", "orthogonal", id="D5-orthogonal"), pytest.param("D4", "dihedral-cascade", id="D4-cascade"),
    pytest.param("Z5", "dihedral-cascade", id="Z5-cascade"),
])
def test_round_trip_group_constructions(group, construction):
    net, learned, cmp = round_trip(statetrack.compile(statetrack.group(group), construction))
    assert cmp.equivalent, cmp.line()
    assert learned.n_states == statetrack.group(group).order


@pytest.mark.parametrize("obj, construction, runner", [
    pytest.param(("(ab|ba)*c?", "abc"), "krohn-rhodes", "model", id="regex-kr-model"),
    pytest.param(("a{2,4}b*", "ab"), "direct", "model", id="regex-direct-model"),
    pytest.param("D4", "group", "simulator", id="D4"),
    pytest.param("A4", "krohn-rhodes", "simulator", id="A4-kr"),
])
def test_held_out_compiled_weights(obj, construction, runner):
    """Sources used nowhere else in the tests; the regexes run by the torch model (CompiledLRNN)."""
    src = statetrack.DFA.from_regex(*obj) if isinstance(obj, tuple) else statetrack.group(obj)
    net, learned, cmp = round_trip(statetrack.compile(src, construction), runner=runner)
    assert cmp.equivalent, cmp.line()
    assert learned.n_states == net.target.minimize().n_states


def test_a_broken_network_is_caught_with_its_counterexample():
    """Flip the verdict of one automaton state in the weights (not in the source): extraction finds
    the changed language, and the network is the one that fails, at the counterexample's length."""
    from dataclasses import replace

    dfa = statetrack.DFA.from_regex("(a|b)*abb", "ab")
    good = statetrack.compile(dfa, "direct")
    acc = np.array(good.accepting, copy=True)
    q = dfa.run("ab")
    acc[q] = not acc[q]
    net, learned, cmp = round_trip(replace(good, accepting=acc))
    assert not cmp.equivalent
    assert cmp.counterexample == ("a", "b")
    assert cmp.network_fails_at == 2


@pytest.mark.parametrize("construction", ["direct", "krohn-rhodes"])
def test_state_abstraction_recovers_the_source(construction):
    dfa = statetrack.DFA.from_regex("a(b|c)*a", "abc")
    net = CompiledNetwork(statetrack.compile(dfa, construction))
    a = abstract(net, length=7)
    cmp = compare(a.machine, net.target, net)
    assert cmp.equivalent, cmp.line()
    # the empty word is a state of its own beside the clusters (here the start is never re-entered)
    assert a.clusters is not None and a.clusters + 1 >= minimize(dfa).n_states and a.consistency == 1.0


def test_state_abstraction_of_a_lower_layer_alone_is_inconsistent():
    """The lowest cascade level does not know the whole state: no quotient of it is consistent."""
    dfa = statetrack.DFA.from_regex("(a|b)*abb", "ab")
    net = CompiledNetwork(statetrack.compile(dfa, "krohn-rhodes"))
    a = abstract(net, length=8, layer=0)
    assert a.clusters is None and a.consistency < 1.0


def test_network_check_finds_the_broken_state_and_passes_the_good_one():
    from dataclasses import replace

    from statetrack.extract.equivalence import network_check
    from statetrack.extract.lstar import exhaustive_words

    dfa = statetrack.DFA.from_regex("(a|b)*abb", "ab")
    good = statetrack.compile(dfa, "krohn-rhodes")
    words = [exhaustive_words(2, QUICK)]
    assert network_check(CompiledNetwork(good), words)["agrees"]
    acc = np.array(good.accepting, copy=True)
    acc[dfa.run("abb")] = False
    check = network_check(CompiledNetwork(replace(good, accepting=acc)), words)
    assert not check["agrees"] and check["shortest_failure"] == ["a", "b", "b"] and check["fails_at"] == 3


def test_kearns_vazirani_learns_the_same_machine():
    dfa = statetrack.DFA.from_regex("(a|b)*a(a|b)", "ab")
    net = CompiledNetwork(statetrack.compile(dfa, "direct"))
    learned = learn(net, QUICK, algorithm="kv").machine
    assert compare(learned, net.target).equivalent and learned.n_states == minimize(dfa).n_states
