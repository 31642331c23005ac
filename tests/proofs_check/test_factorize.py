"""constructions.factorize: matrices as products of symmetric GH factors (P1 Prop 1b)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from statetrack.constructions.factorize import (contraction_factors, gh_factors, orthogonal_factors,
                                                permutation_factors)
from statetrack.constructions.weights import product_matrix
from statetrack.errors import ConstructionError


def _symmetric_gh(factors):
    return all(f.symmetric and 0.0 <= f.beta <= 2.0 for f in factors)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)).map(lambda s: (s[0], s[0])),
              elements=st.floats(-4, 4)), st.floats(0, 1))
def test_any_contraction_is_at_most_3n_factors(m, scale):
    norm = np.linalg.norm(m, 2)
    m = m / norm * scale if norm > 0 else m
    fs = contraction_factors(m)
    n = len(m)
    assert len(fs) <= 3 * n and _symmetric_gh(fs)
    rebuilt = product_matrix(fs, n) if fs else np.eye(n)
    assert np.abs(rebuilt - m).max() < 1e-12


@pytest.mark.parametrize("n", [pytest.param(n, id=f"n{n}") for n in (1, 2, 5, 8)])
@pytest.mark.parametrize("flip", [pytest.param(False, id="det+1"), pytest.param(True, id="det-1")])
def test_orthogonal_is_at_most_n_reflections(n, flip):
    q, _ = np.linalg.qr(np.random.default_rng(n).standard_normal((n, n)))
    if flip:
        q[:, 0] *= -1
    fs = orthogonal_factors(q)
    assert len(fs) <= n and all(f.beta == 2.0 for f in fs)
    rebuilt = product_matrix(fs, n) if fs else np.eye(n)
    assert np.abs(rebuilt - q).max() < 1e-12


@pytest.mark.parametrize("perm", [pytest.param([0], id="trivial"), pytest.param([1, 0], id="swap"),
                                  pytest.param([1, 2, 0], id="3-cycle"), pytest.param([3, 0, 4, 1, 2], id="5-cycle"),
                                  pytest.param([1, 0, 3, 2, 4], id="two-swaps")])
def test_permutation_is_at_most_n_minus_1_swaps_exactly(perm):
    n = len(perm)
    fs = permutation_factors(perm)
    assert len(fs) <= n - 1
    want = np.zeros((n, n))
    want[perm, np.arange(n)] = 1.0
    got = product_matrix(fs, n, exact=True).astype(np.float64) if fs else np.eye(n)
    assert np.array_equal(got, want)
    assert np.array_equal(product_matrix(gh_factors(want), n, exact=True).astype(np.float64) if fs else np.eye(n), want)


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: contraction_factors(2 * np.eye(2)), "spectral norm", id="norm-above-one"),
    pytest.param(lambda: orthogonal_factors([[1.0, 1.0], [0.0, 1.0]]), "not orthogonal", id="not-orthogonal"),
    pytest.param(lambda: permutation_factors([0, 0, 1]), "not a permutation", id="not-a-permutation"),
    pytest.param(lambda: gh_factors(np.ones((2, 3))), "square", id="not-square"),
    pytest.param(lambda: gh_factors([[np.nan]]), "NaN", id="nan"),
])
def test_bad_input_names_the_problem(call, match):
    with pytest.raises(ConstructionError, match=match):
        call()


def test_a_nearly_aligned_column_keeps_its_reflection():
    """Found by hypothesis: an SVD rotation by 1e-11 rad was dropped as 'already aligned', which put
    the product 1e-11 off; a reflection is skipped only when its normal is below 1e-14."""
    m = np.array([[1.0, 9.997723909277825e-12], [0.0, 0.0]])
    fs = contraction_factors(m)
    assert np.abs(product_matrix(fs, 2) - m).max() < 1e-12
