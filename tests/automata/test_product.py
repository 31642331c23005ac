"""Product construction, complement, emptiness."""
import numpy as np
import pytest
from hypothesis import given, settings

from statetrack.automata.dfa import DFA
from statetrack.automata.product import (complement, difference, intersection, is_empty, product,
                                         shortest_accepted, symmetric_difference, union)
from statetrack.automata.regex import regex_to_dfa
from statetrack.errors import AlphabetError, LimitError, StatetrackError
from tests.strategies import accepts_all, random_dfas

POINTWISE = {
    "and": np.logical_and,
    "or": np.logical_or,
    "xor": np.logical_xor,
    "difference": lambda a, b: a & ~b,
}


@pytest.mark.parametrize("op", list(POINTWISE))
@given(d1=random_dfas(max_states=8, max_symbols=3, partial=True), d2=random_dfas(max_states=8, max_symbols=3))
@settings(max_examples=40, deadline=None)
def test_product_is_pointwise(op, d1, d2):
    d2 = DFA(alphabet=d1.alphabet, table=d2.table[:, [c % d2.n_symbols for c in range(d1.n_symbols)]],
             start=d2.start, accepting=d2.accepting)  # same alphabet
    p = product(d1, d2, op)
    assert p.is_complete and p.start == 0 and p.reachable().n_states == p.n_states
    assert p.n_states <= (d1.n_states + 1) * d2.n_states
    assert np.array_equal(accepts_all(p, 6), POINTWISE[op](accepts_all(d1, 6), accepts_all(d2, 6)))
    m = product(d1, d2, op, minimal=True)
    assert np.array_equal(accepts_all(m, 6), accepts_all(p, 6)) and m.n_states <= p.n_states


def test_named_wrappers_and_callable_combiner():
    a, b = regex_to_dfa(".*a", "ab"), regex_to_dfa("b.*", "ab")
    words = ["", "a", "ba", "b", "ab"]
    # ends in a:  F T T F F;  starts with b:  F F T T F
    for fn, expect in [(intersection, [False, False, True, False, False]),
                       (union, [False, True, True, True, False]),
                       (difference, [False, True, False, False, False]),
                       (symmetric_difference, [False, True, False, True, False])]:
        assert [fn(a, b).accepts(w) for w in words] == expect, fn.__name__
    nor = product(a, b, lambda x, y: not (x or y))
    assert [nor.accepts(w) for w in words] == [True, False, False, False, True]


def test_product_labels_pairs():
    a = DFA(alphabet="a", table=[[1], [0]], start=0, accepting={0}, labels=("even", "odd"))
    b = DFA(alphabet="a", table=[[1], [2], [0]], start=0, accepting={0})
    p = product(a, b)
    assert p.n_states == 6 and p.labels[:3] == ("(even,0)", "(odd,1)", "(even,2)")


def test_product_reorders_the_second_alphabet():
    a = regex_to_dfa("a*", "ab")
    b = regex_to_dfa("a*", "ba")
    p = product(a, b, "xor")
    assert p.alphabet == ("a", "b") and is_empty(p)


def test_product_errors():
    a = regex_to_dfa("a", "ab")
    with pytest.raises(AlphabetError, match="only the second has 'c'"):
        product(a, regex_to_dfa("a", "abc"))
    with pytest.raises(StatetrackError, match="unknown combiner 'nand'"):
        product(a, a, "nand")
    big = regex_to_dfa("a{30}", "a")
    with pytest.raises(LimitError, match="more than 10 states"):
        product(big, big, max_states=10)


@given(random_dfas(max_states=8, max_symbols=3, partial=True))
@settings(max_examples=40, deadline=None)
def test_complement(dfa):
    c = complement(dfa)
    assert np.array_equal(accepts_all(c, 6), ~accepts_all(dfa, 6))


@given(random_dfas(max_states=8, max_symbols=3, partial=True))
@settings(max_examples=60, deadline=None)
def test_shortest_accepted(dfa):
    w = shortest_accepted(dfa)
    acc = accepts_all(dfa, dfa.n_states)  # a shortest accepted word is shorter than n
    if w is None:
        assert is_empty(dfa) and not acc.any()
    else:
        assert dfa.accepts(w)
        import itertools
        shorter = [v for k in range(len(w)) for v in itertools.product(dfa.alphabet, repeat=k)]
        assert not any(dfa.accepts(v) for v in shorter)


def test_emptiness_check_catches_a_nonempty_language():
    assert is_empty(regex_to_dfa("[^ab]", "ab"))
    assert not is_empty(regex_to_dfa("b{3}", "ab")) and shortest_accepted(regex_to_dfa("b{3}", "ab")) == ("b",) * 3
