"""Moore machines and exact equivalence, against the DFA operations they generalize."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata.dfa import DFA
from statetrack.automata.minimize import find_difference, minimize
from statetrack.errors import DFAError
from statetrack.extract.equivalence import compare, first_failure, shortest_difference
from statetrack.extract.moore import Moore
from tests.strategies import random_dfas


@given(random_dfas(max_states=10, max_symbols=3))
@settings(max_examples=60, deadline=None)
def test_moore_minimize_of_a_dfa_is_the_canonical_minimal_dfa(dfa):
    m = Moore.from_dfa(dfa).minimize()
    ref = minimize(dfa)
    assert np.array_equal(m.dfa.table, ref.table) and m.dfa.accepting == ref.accepting


@given(st.data())
@settings(max_examples=80, deadline=None)
def test_shortest_difference_matches_find_difference_on_dfas(data):
    m = data.draw(st.integers(1, 3))
    d1 = data.draw(random_dfas(max_states=6, min_symbols=m, max_symbols=m))
    d2 = data.draw(random_dfas(max_states=6, min_symbols=m, max_symbols=m))
    ours = shortest_difference(Moore.from_dfa(d1), Moore.from_dfa(d2))
    ref = find_difference(d1, d2)
    assert (ours is None) == (ref is None)
    if ref is not None:
        assert tuple(d1.alphabet[c] for c in ours) == ref


def test_multi_class_difference_and_dont_care():
    # counting mod 3 against a machine that confuses 1 and 2 after "aa"
    target = Moore.from_table("a", [[1], [2], [0]], 0, [0, 1, 2], ("0", "1", "2"))
    wrong = Moore.from_table("a", [[1], [2], [0]], 0, [0, 1, 1], ("0", "1", "2"))
    assert shortest_difference(wrong, target) == (0, 0)
    blind = Moore.from_table("a", [[1], [2], [0]], 0, [0, 1, -1], ("0", "1", "2"))   # state 2 unlabelled
    assert shortest_difference(wrong, blind) is None
    cmp = compare(wrong, target)
    assert not cmp.equivalent and cmp.counterexample == ("a", "a") and cmp.network_fails_at is None


def test_classes_are_matched_by_name_not_number():
    a = Moore.from_table("x", [[1], [0]], 0, [0, 1], ("even", "odd"))
    b = Moore.from_table("x", [[1], [0]], 0, [1, 0], ("odd", "even"))
    assert shortest_difference(a, b) is None


def test_first_failure_is_the_first_wrong_prefix():
    target = Moore.from_table("ab", [[1, 0], [0, 1]], 0, [0, 1], ("even", "odd"))   # parity of a's
    word = (0, 1, 0, 0)
    good = target.run_outputs(np.array([word]))[0, 1:]
    assert first_failure(good, target, word) is None
    bad = good.copy()
    bad[2:] = 1 - bad[2:]
    assert first_failure(bad, target, word) == 3


def test_moore_json_round_trip_and_bad_input():
    m = Moore.from_table("ab", [[1, 0], [0, 1]], 0, [0, 1], ("even", "odd"), accept_classes={1})
    back = Moore.from_json(m.to_json())
    assert np.array_equal(back.outputs, m.outputs) and back.classes == m.classes
    assert DFA.from_json(m.to_json()).accepting == {1}          # still the project's DFA JSON
    with pytest.raises(DFAError, match="classes"):
        Moore.from_json({**m.to_json(), "classes": None})
    with pytest.raises(DFAError, match="class ids"):
        Moore.from_table("ab", [[1, 0], [0, 1]], 0, [0, 5], ("even", "odd"))
