"""Each construction's stored factors multiply back to the letter's transition matrix."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from sympy.combinatorics import Permutation

from statetrack.automata.groups import group
from statetrack.constructions import compile
from statetrack.constructions.common import permutation_swaps, transformation_factors
from statetrack.constructions.weights import Factor, product_matrix
from tests.strategies import random_dfas


def transition_matrix(column: np.ndarray) -> np.ndarray:
    """A e_q = e_{column[q]}: the one-hot transition matrix of one letter."""
    n = len(column)
    m = np.zeros((n, n), dtype=int)
    m[column, np.arange(n)] = 1
    return m


@given(random_dfas(max_states=12, max_symbols=4))
@settings(max_examples=60, deadline=None)
def test_direct_factors_are_exact_transition_matrices(dfa):
    weights = compile(dfa, "direct")
    dfa = dfa.complete()
    layer = weights.layers[0]
    for c in range(dfa.n_symbols):
        assert np.array_equal(layer.transition(c, exact=True), transition_matrix(dfa.table[:, c]))
        for f in layer.factors[c]:   # entries in {0, ±1}, one non-unit eigenvalue 1 - beta in {0, -1}
            assert set(np.unique(np.concatenate([f.u, f.w]))) <= {-1.0, 0.0, 1.0}
            assert f.beta in (1.0, 2.0)
    # (n - |image|) collapses + at most n - 1 swaps
    for c in range(dfa.n_symbols):
        image = len(set(dfa.table[:, c].tolist()))
        assert len(layer.factors[c]) <= (dfa.n_states - image) + dfa.n_states - 1


@pytest.mark.parametrize("name", ["S3", "S5", "A5", "D4", "Z6", "A4xZ5", pytest.param("S3xZ2xZ2", id="triple")])
def test_group_factors_are_the_permutation_matrices(name):
    g = group(name)
    layer = compile(g).layers[0]
    for e in range(g.order):
        perm = g.elements[e]
        assert np.array_equal(layer.transition(e, exact=True), transition_matrix(perm))
        moved = int((perm != np.arange(g.degree)).sum())
        assert len(layer.factors[e]) <= max(moved - 1, 0)          # P1 Thm 3: <= moved points - 1
        assert all(f.symmetric and f.beta == 2.0 for f in layer.factors[e])


@pytest.mark.parametrize("m", [2, 3, 5, 60])
def test_rotation_factors_are_rotations(m):
    for k in range(m):
        got = product_matrix(compile(group(f"Z{m}"), "rotation").layers[0].factors[k], 2)
        theta = 2 * math.pi * k / m
        want = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        assert np.abs(got - want).max() < 1e-15 * 8


def test_permutation_swaps_uses_the_fewest_swaps():
    rng = np.random.default_rng(1)
    for _ in range(200):
        perm = rng.permutation(rng.integers(1, 9))
        swaps = permutation_swaps(perm)
        cycles = Permutation([int(x) for x in perm]).cycles                # fixed points count
        assert len(swaps) == len(perm) - cycles
        assert np.array_equal(product_matrix([Factor.swap(i, j, len(perm)) for i, j in swaps], len(perm)),
                              transition_matrix(perm))


def test_a_wrong_factor_list_is_caught():
    """The exactness comparison above fails when one factor is dropped (the test can fail)."""
    f = [1, 1, 0]
    factors = transformation_factors(f)
    assert np.array_equal(product_matrix(factors, 3, exact=True), transition_matrix(np.array(f)))
    assert not np.array_equal(product_matrix(factors[1:], 3, exact=True), transition_matrix(np.array(f)))
