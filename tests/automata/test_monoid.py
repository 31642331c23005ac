"""Transition monoids: enumeration, composition order, classification."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import group
from statetrack.automata.monoid import TransitionMonoid, transition_monoid
from statetrack.automata.regex import regex_to_dfa
from statetrack.errors import AlphabetError, DFAError, LimitError
from tests.strategies import random_dfas


def brute_force_elements(dfa: DFA) -> dict[bytes, tuple[str, ...]]:
    """Slow twin: transformation -> its shortlex-least word, by trying words length by length."""
    found = {}
    length = 0
    while True:
        new = False
        for w in itertools.product(dfa.alphabet, repeat=length):
            f = np.array([_run_from(dfa, q, w) for q in range(dfa.n_states)], dtype=np.int64)
            if f.tobytes() not in found:
                found[f.tobytes()] = w
                new = True
        if not new:  # no new transformation of length L => none longer (every longer word extends one)
            return found
        length += 1


def _run_from(dfa, q, word):
    for s in word:
        q = int(dfa.table[q, dfa.alphabet.index(s)])
    return q


@given(random_dfas(max_states=4, max_symbols=2) | random_dfas(max_states=3, max_symbols=3))
@settings(max_examples=60, deadline=None)
def test_enumeration_matches_brute_force(dfa):
    m = transition_monoid(dfa)
    slow = brute_force_elements(dfa)
    fast = {m.elements[e].astype(np.int64).tobytes(): m.words[e] for e in range(m.size)}
    assert fast == slow  # same elements, same shortlex-least words
    assert m.words[0] == () and np.array_equal(m.elements[0], np.arange(dfa.n_states))
    assert [len(w) for w in m.words] == sorted(len(w) for w in m.words)  # shortlex numbering


@given(random_dfas(max_states=6, max_symbols=3))
@settings(max_examples=60, deadline=None)
def test_composition_order_is_left_to_right(dfa):
    m = transition_monoid(dfa)
    for e in range(0, m.size, max(1, m.size // 7)):
        for f in range(0, m.size, max(1, m.size // 5)):
            ef = m.multiply(e, f)
            assert ef >= 0
            # "e then f": reading word(e) then word(f) from q lands on elements[ef][q]
            w = m.words[e] + m.words[f]
            assert [_run_from(dfa, q, w) for q in range(dfa.n_states)] == m.elements[ef].tolist()
            assert m.element_of_word(w) == ef
    for c in range(dfa.n_symbols):  # the right Cayley table
        for e in range(0, m.size, max(1, m.size // 20)):
            assert m.right[e, c] == m.multiply(e, m.letters[c])


@given(random_dfas(max_states=6, max_symbols=3))
@settings(max_examples=60, deadline=None)
def test_aperiodicity_and_idempotents_match_slow_twins(dfa):
    m = transition_monoid(dfa)
    periods = [m.index_and_period(e)[1] for e in range(m.size)]
    assert m.is_aperiodic == all(p == 1 for p in periods)
    if not m.is_aperiodic:
        assert periods[m.periodic_element] > 1
    slow_idem = [e for e in range(m.size) if m.multiply(e, e) == e]
    assert m.idempotents() == slow_idem and 0 in slow_idem
    for e in range(m.size):
        i, p = m.index_and_period(e)
        assert m.power(e, i + p) == m.power(e, i)


@pytest.mark.parametrize("pattern, alphabet, size, is_group, aperiodic, perm_reset", [
    pytest.param("(b*ab*a)*b*", "ab", 2, True, False, True, id="parity"),
    pytest.param("(a|b)*abb", "ab", 7, False, True, False, id="ends-abb"),
    pytest.param("(ab)*", "ab", 6, False, True, False, id="(ab)*-is-B2"),
    pytest.param("a*b*", "ab", 5, False, True, False, id="a*b*"),
    pytest.param("(a|b)*b", "ab", 3, False, True, True, id="last-letter-is-reset"),
    pytest.param("((a|b){3})*", "ab", 3, True, False, True, id="length-mod-3"),
    pytest.param("(aa)*", "a", 2, True, False, True, id="even-a-is-Z2"),
    pytest.param("(aa)*", "ab", 3, False, False, True, id="even-a-b-kills"),
])
def test_classification_table(pattern, alphabet, size, is_group, aperiodic, perm_reset):
    m = transition_monoid(regex_to_dfa(pattern, alphabet))
    assert (m.size, m.is_group, m.is_aperiodic, m.is_permutation_reset) == (size, is_group, aperiodic, perm_reset)


def test_permutation_reset_letters():
    # a swaps the two states, b resets to state 0
    d = DFA(alphabet="abc", table=[[1, 0, 0], [0, 0, 1]], start=0, accepting={0})
    m = transition_monoid(d)
    assert m.letter_kinds == ("permutation", "constant", "identity")
    assert m.is_permutation_reset and not m.is_group and not m.is_aperiodic
    assert m.size == 4  # identity, swap, reset to 0, reset to 1


def test_letter_that_merges_but_is_not_constant_breaks_permutation_reset():
    d = DFA(alphabet="a", table=[[0], [0], [2]], start=0, accepting={0})
    m = transition_monoid(d)
    assert m.letter_kinds == ("other",) and not m.is_permutation_reset


@pytest.mark.parametrize("name", ["S3", "Z5", "D4", "A4"])
def test_group_word_problem_monoid_is_the_group(name):
    g = group(name)
    m = transition_monoid(g.to_dfa())
    assert m.size == g.order and m.is_group and m.is_permutation_reset
    assert m.is_aperiodic == (g.order == 1)
    assert m.is_commutative == (name == "Z5")
    assert m.units() == list(range(m.size)) and m.idempotents() == [0]


def test_structure_helpers():
    m = transition_monoid(regex_to_dfa("(a|b)*abb", "ab"))  # states 0..3
    full = frozenset(range(4))
    assert m.image(0) == full and m.rank(0) == 4
    a = m.element_of_word("a")
    assert m.image(a) == {1} and m.apply({0, 2}, a) == {1}
    assert m.image_sets()[0] == full and all(len(s) >= 1 for s in m.image_sets())
    orbit = m.subset_orbit([full])
    assert orbit[0] == full and set(orbit) == set(m.image_sets())  # images of Q = orbit of Q
    assert m.index_of(m.elements[a]) == a and m.index_of([0, 0, 0, 5]) == -1 and m.index_of([0]) == -1
    assert m.power(a, 0) == 0 and m.power(a, 3) == a
    s = m.summary()
    assert s["size"] == 7 and s["letter_kinds"] == {"a": "constant", "b": "other"}
    assert len(m) == 7 and "aperiodic=True" in repr(m)


def test_errors():
    partial = DFA(alphabet="ab", table=[[1, -1], [1, 1]], start=0, accepting={1})
    with pytest.raises(DFAError, match="state 0 has no move on 'b'"):
        transition_monoid(partial)
    with pytest.raises(LimitError, match="more than 10 elements"):
        transition_monoid(group("S4").to_dfa(), max_elements=10)
    with pytest.raises(AlphabetError, match="symbol 'c'"):
        transition_monoid(partial.complete()).element_of_word("ac")


def test_aperiodicity_check_catches_a_hidden_cycle():
    # letter a: a 3-cycle on states 1,2,3, a fixed point at 0; b sends everything to 0
    d = DFA(alphabet="ab", table=[[0, 0], [2, 0], [3, 0], [1, 0]], start=0, accepting={0})
    m = transition_monoid(d)
    assert not m.is_aperiodic and m.index_and_period(m.periodic_element)[1] == 3
    fixed = DFA(alphabet="ab", table=[[0, 0], [2, 0], [3, 0], [3, 0]], start=0, accepting={0})
    assert transition_monoid(fixed).is_aperiodic


def test_returned_arrays_are_read_only():
    m = transition_monoid(regex_to_dfa("a*b", "ab"))
    assert isinstance(m, TransitionMonoid)
    for arr in (m.elements, m.right, m.letters):
        with pytest.raises(ValueError):
            arr[0] = 0
