"""Minimization (fast Moore vs slow table filling) and language equivalence."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata.dfa import DFA
from statetrack.automata.minimize import (equivalent, find_difference, is_minimal, minimize,
                                          minimize_reference, nerode_classes, same_alphabet)
from statetrack.errors import AlphabetError
from tests.strategies import accepts_all, random_dfas


@given(random_dfas(max_states=12, max_symbols=4, partial=True))
@settings(max_examples=150, deadline=None)
def test_minimize_keeps_language_is_idempotent_and_matches_the_slow_twin(dfa):
    m = minimize(dfa)
    assert m.is_complete and m.start == 0
    assert np.array_equal(accepts_all(m, 8 if dfa.n_symbols <= 3 else 7), accepts_all(dfa, 8 if dfa.n_symbols <= 3 else 7))
    again = minimize(m)
    assert np.array_equal(again.table, m.table) and again.accepting == m.accepting
    ref = minimize_reference(dfa)
    assert np.array_equal(ref.table, m.table) and ref.accepting == m.accepting
    assert is_minimal(m)


def _same_language_copy(d: DFA, data) -> DFA:
    """A bigger DFA with d's language: states permuted, then one state split into two copies
    that share its row, with a random subset of the moves into it redirected to the copy."""
    n = d.n_states
    perm = np.array(data.draw(st.permutations(range(n))))  # old state q becomes perm[q]
    table = np.empty((n + 1, d.n_symbols), dtype=np.int64)
    table[perm] = perm[d.table]
    s = data.draw(st.integers(0, n - 1))
    table[n] = table[perm[s]]
    redirect = np.array(data.draw(st.lists(st.booleans(), min_size=table.size, max_size=table.size)))
    redirect = redirect.reshape(table.shape) & (table == perm[s])
    table[redirect] = n
    acc = {int(perm[q]) for q in d.accepting} | ({n} if s in d.accepting else set())
    return DFA(alphabet=d.alphabet, table=table, start=int(perm[d.start]), accepting=acc)


@given(random_dfas(max_states=10, max_symbols=3), st.data())
@settings(max_examples=100, deadline=None)
def test_equal_languages_have_identical_minimal_dfas(d1, data):
    d2 = _same_language_copy(d1, data)
    assert equivalent(d1, d2) and find_difference(d1, d2) is None
    m1, m2 = minimize(d1), minimize(d2)
    assert np.array_equal(m1.table, m2.table) and m1.accepting == m2.accepting


@given(random_dfas(max_states=10, max_symbols=3), st.data())
@settings(max_examples=100, deadline=None)
def test_find_difference_after_flipping_a_state(d1, data):
    q = data.draw(st.integers(0, d1.n_states - 1))
    d2 = DFA(alphabet=d1.alphabet, table=d1.table, start=d1.start, accepting=d1.accepting ^ {q})
    m1, m2 = minimize(d1), minimize(d2)
    same = m1.n_states == m2.n_states and np.array_equal(m1.table, m2.table) and m1.accepting == m2.accepting
    w = find_difference(d1, d2)
    assert (w is None) == same == equivalent(d1, d2)
    if w is None:  # q is unreachable
        assert q not in set(d1.trace(()))  and np.array_equal(accepts_all(d1, 6), accepts_all(d2, 6))
    else:
        assert d1.accepts(w) != d2.accepts(w) and d1.run(w) == q
        assert all(d1.accepts(v) == d2.accepts(v) for v in _shorter_words(d1.alphabet, len(w)))


def _shorter_words(alphabet, length):
    import itertools

    for k in range(length):
        yield from itertools.product(alphabet, repeat=k)


def test_find_difference_is_shortest_and_first():
    ends_a = DFA(alphabet="ab", table=[[1, 0], [1, 0]], start=0, accepting={1})
    ends_aa = DFA(alphabet="ab", table=[[1, 0], [2, 0], [2, 0]], start=0, accepting={2})
    assert find_difference(ends_a, ends_aa) == ("a",)
    assert find_difference(ends_a, ends_a) is None
    assert not equivalent(ends_a, ends_aa)


def test_minimize_merges_and_joins_labels():
    # states 1 and 2 are equivalent (both accept, both loop to 1/2)
    d = DFA(alphabet="a", table=[[1], [2], [1]], start=0, accepting={1, 2}, labels=("s", "x", "y"))
    m = minimize(d)
    assert m.n_states == 2 and m.labels == ("s", "x|y")


def test_minimize_completes_and_drops_unreachable():
    d = DFA(alphabet="ab", table=[[1, -1], [1, -1], [0, 0]], start=0, accepting={1})
    m = minimize(d)
    assert m.n_states == 3 and m.is_complete  # start, "a+ seen", sink; state 2 unreachable
    assert m.accepts("aa") and not m.accepts("ab")


def test_minimality_check_catches_a_redundant_state():
    d = DFA(alphabet="a", table=[[1], [0]], start=0, accepting={0, 1})  # both states accept everything
    assert not is_minimal(d) and minimize(d).n_states == 1
    assert not is_minimal(DFA(alphabet="a", table=[[0], [0]], start=0, accepting={0}))  # unreachable state
    assert not is_minimal(DFA(alphabet="a", table=[[-1]], start=0, accepting={0}))  # partial


def _same_partition(a, b) -> bool:
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("moore_rounds", [pytest.param(0, id="hopcroft-only"), pytest.param(1, id="moore-then-hopcroft"),
                                          pytest.param(10**6, id="moore-only")])
@given(random_dfas(max_states=12, max_symbols=4))
@settings(max_examples=60, deadline=None)
def test_every_refinement_path_finds_the_nerode_classes(moore_rounds, dfa):
    d = dfa.reachable()
    ref = minimize_reference(d)
    cls = nerode_classes(d.table, d.accepting_mask, moore_rounds=moore_rounds)
    assert len(set(cls.tolist())) == ref.n_states
    assert _same_partition(cls, nerode_classes(d.table, d.accepting_mask, moore_rounds=0))


@pytest.mark.parametrize("n, moore_rounds", [pytest.param(300, 10**6, id="moore-300-rounds"),
                                             pytest.param(20000, 32, id="hopcroft-takes-over")])
def test_chain_needs_many_rounds(n, moore_rounds):
    table = np.minimum(np.arange(n) + 1, n - 1).reshape(n, 1)  # a^k, k < n-1, are all different
    acc = np.zeros(n, dtype=bool)
    acc[n - 2] = True
    assert len(set(nerode_classes(table, acc, moore_rounds=moore_rounds).tolist())) == n


def test_large_sparse_alphabet_path():
    # over 8192 states Moore folds one symbol at a time; a product of two cycles is already minimal
    n1, n2 = 97, 89
    q = np.arange(n1 * n2)
    table = np.stack([((q // n2 + 1) % n1) * n2 + q % n2, (q // n2) * n2 + (q % n2 + 1) % n2], axis=1)
    acc = q == 0
    assert len(set(nerode_classes(table, acc).tolist())) == n1 * n2
    merged = np.stack([table[:, 0], table[:, 0]], axis=1)  # both letters turn the first cycle only:
    # the states (i, 0) stay apart, all (i, j != 0) never accept again and merge into one class
    assert len(set(nerode_classes(merged, acc).tolist())) == n1 + 1


def test_alphabet_order_is_reconciled():
    d1 = DFA(alphabet="ab", table=[[1, 0], [1, 0]], start=0, accepting={1})
    d2 = DFA(alphabet="ba", table=[[0, 1], [0, 1]], start=0, accepting={1})  # same language
    assert same_alphabet(d1, d2).alphabet == ("a", "b")
    assert equivalent(d1, d2)


def test_different_alphabets_are_named():
    d1 = DFA(alphabet="ab", table=[[0, 0]], start=0, accepting={0})
    d2 = DFA(alphabet="ac", table=[[0, 0]], start=0, accepting={0})
    with pytest.raises(AlphabetError, match="only the first has 'b'; only the second has 'c'"):
        equivalent(d1, d2)


def test_dfa_minimize_method_delegates():
    d = DFA(alphabet="a", table=[[1], [0]], start=0, accepting={0, 1})
    assert d.minimize().n_states == 1
