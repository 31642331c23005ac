"""Group word problems: orders, element numbering, products against sympy, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.combinatorics import Permutation

from statetrack.automata.groups import group
from statetrack.errors import GroupError, LimitError


@pytest.mark.parametrize("name, order, degree", [
    pytest.param("S3", 6, 3, id="S3"),
    pytest.param("S5", 120, 5, id="S5"),
    pytest.param("A5", 60, 5, id="A5"),
    pytest.param("A4", 12, 4, id="A4"),
    pytest.param("D4", 8, 4, id="D4"),
    pytest.param("Z60", 60, 60, id="Z60"),
    pytest.param("Z1", 1, 1, id="Z1"),
    pytest.param("A4xZ5", 60, 9, id="A4xZ5"),
    pytest.param("Z2xZ2xZ2", 8, 6, id="Z2xZ2xZ2"),
])
def test_order_and_degree(name, order, degree):
    g = group(name)
    assert (g.order, g.degree) == (order, degree)
    assert g.elements.shape == (order, degree)
    assert len({tuple(r) for r in g.elements}) == order  # distinct
    assert all(sorted(r) == list(range(degree)) for r in g.elements.tolist())  # permutations
    assert g.token(0) == ",".join(map(str, range(degree)))  # element 0 is the identity


def test_elements_in_lexicographic_order():
    g = group("S4")
    rows = [tuple(r) for r in g.elements.tolist()]
    assert rows == sorted(rows)


def test_canonical_name_strips_blanks():
    assert group(" A4 x Z5 ").name == "A4xZ5"


@pytest.mark.parametrize("name, fragment", [
    pytest.param("Q8", "unknown group 'Q8'", id="unknown-letter"),
    pytest.param("S", "unknown group", id="no-index"),
    pytest.param("S3x", "unknown group", id="dangling-x"),
    pytest.param("s3", "unknown group", id="lower-case"),
    pytest.param("S0", "at least 1", id="index-zero"),
])
def test_unknown_group(name, fragment):
    with pytest.raises(GroupError, match=fragment):
        group(name)


def test_group_over_limit():
    with pytest.raises(LimitError, match="S6 has 720 elements, over the limit of 100"):
        group("S6", max_order=100)


@pytest.mark.parametrize("token, fragment", [
    pytest.param("1,0", "has 2 entries; S3 acts on 3 points", id="wrong-length"),
    pytest.param("1,x,2", "not a permutation in one-line notation", id="not-numbers"),
    pytest.param("0,0,1", "not an element of S3", id="not-a-permutation"),
    pytest.param("1,2,9", "not an element of S3", id="out-of-range"),
])
def test_bad_token(token, fragment):
    with pytest.raises(GroupError, match=fragment):
        group("S3").parse_token(token)


def test_bad_token_not_in_subgroup():
    with pytest.raises(GroupError, match="not an element of A4"):
        group("A4").parse_token("1,0,2,3")  # a transposition is odd


def test_parse_token_round_trip():
    g = group("D4")
    assert [g.parse_token(t) for t in g.tokens] == list(range(g.order))


def sympy_product(tokens):
    """x_1 * x_2 * ... in sympy's order (sympy's p*q applies p first)."""
    perms = [Permutation([int(x) for x in t.split(",")]) for t in tokens]
    out = perms[0]
    for p in perms[1:]:
        out = out * p
    return out.array_form


@pytest.mark.parametrize("name", ["S3", "S5", "A5", "D4", "Z60", "A4xZ5"])
@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_product_agrees_with_sympy(name, data):
    g = group(name)
    idx = data.draw(st.lists(st.integers(0, g.order - 1), min_size=1, max_size=12))
    tokens = [g.token(i) for i in idx]
    assert g.product(tokens).tolist() == sympy_product(tokens)


def test_product_of_nothing_is_identity():
    assert group("S3").product([]).tolist() == [0, 1, 2]


def test_product_order_is_first_token_first():
    g = group("S3")
    # swap 0,1 then swap 1,2: point 0 -> 1 -> 2
    assert g.product(["1,0,2", "0,2,1"]).tolist()[0] == 2
    assert g.product(["0,2,1", "1,0,2"]).tolist()[0] == 1


@pytest.mark.parametrize("name", ["S3", "D4", "A4xZ5"])
def test_cayley_table_matches_compose_and_sympy(name):
    g = group(name)
    table = g.cayley_table()
    assert table.shape == (g.order, g.order)
    for row in table:  # a Latin square
        assert sorted(row.tolist()) == list(range(g.order))
    gi, hi = np.meshgrid(np.arange(g.order), np.arange(g.order), indexing="ij")
    assert np.array_equal(g.compose(gi, hi), table)
    for a in range(0, g.order, 7):
        for b in range(0, g.order, 5):
            assert g.token(table[a, b]) == ",".join(map(str, sympy_product([g.token(a), g.token(b)])))


def test_compose_is_associative():
    g = group("S4")
    a, b, c = np.meshgrid(*(np.arange(g.order),) * 3, indexing="ij")
    assert np.array_equal(g.compose(g.compose(a, b), c), g.compose(a, g.compose(b, c)))


def test_index_of_marks_non_members():
    g = group("A4")
    assert g.index_of(np.array([[1, 0, 2, 3], [0, 1, 2, 3]])).tolist() == [-1, 0]


@pytest.mark.parametrize("name", ["S3", "Z5", "A4xZ5"])
def test_to_dfa_tracks_the_running_product(name):
    g = group(name)
    d = g.to_dfa()
    assert d.n_states == g.order and d.alphabet == g.tokens and d.accepting == {0}
    rng = np.random.default_rng(1)
    for _ in range(20):
        idx = rng.integers(0, g.order, size=rng.integers(1, 10))
        tokens = [g.token(int(i)) for i in idx]
        state = d.run(tokens)
        assert d.labels[state] == g.token(g.product(tokens))
