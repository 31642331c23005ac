"""P1 Prop 1: GH products (norm, factorization, spectrum, k = 3 tightness) and their broken twins."""
import types

import numpy as np
import pytest

from statetrack.constructions import factorize
from statetrack.constructions.weights import Factor
from statetrack.proofs_check.gh_products import (check_complex_witness, check_factorization, check_norm_bound,
                                                 check_real_spectrum)


def test_norm_bound_holds():
    r = check_norm_bound(samples=400)
    assert r.verdict == "holds", r.evidence
    assert r.details["max_norm_minus_1"] < 1e-12


def test_norm_bound_fails_for_non_symmetric_factors():
    def skewed(key, beta):                   # u != w: I - beta u w^T / (w^T u) is not a contraction
        return Factor(key, key + np.roll(key, 1), beta)

    r = check_norm_bound(samples=200, factor=skewed)
    assert r.verdict == "fails"
    assert r.witness["norm"] > 1


def test_norm_bound_fails_for_beta_above_two():
    r = check_norm_bound(samples=200, beta_range=(0.0, 2.5))
    assert r.verdict == "fails"


def test_factorization_holds():
    r = check_factorization(samples=60)
    assert r.verdict == "holds", r.evidence


def _broken(**overrides):
    parts = {name: getattr(factorize, name) for name in ("contraction_factors", "orthogonal_factors",
                                                         "permutation_factors")}
    parts.update(overrides)
    return types.SimpleNamespace(**parts)


@pytest.mark.parametrize("broken, kind", [
    pytest.param(_broken(contraction_factors=lambda m: factorize.contraction_factors(m)[:-1]), "contraction",
                 id="contraction-drops-a-factor"),
    pytest.param(_broken(orthogonal_factors=lambda q: factorize.orthogonal_factors(q)
                         + [Factor.householder(np.eye(len(q))[0], 2.0)] * 2), "orthogonal",
                 id="orthogonal-over-n-reflections"),
    pytest.param(_broken(permutation_factors=lambda p: factorize.permutation_factors(p)[::-1]), "permutation",
                 id="permutation-swaps-reversed"),
])
def test_factorization_fails_on_a_broken_routine(broken, kind):
    r = check_factorization(samples=60, factorize=broken)
    assert r.verdict == "fails"
    assert r.witness["kind"] == kind


def test_real_spectrum_holds():
    r = check_real_spectrum(samples=400)
    assert r.verdict == "holds", r.evidence


@pytest.mark.parametrize("kwargs", [pytest.param({"k_max": 3}, id="three-factors"),
                                    pytest.param({"beta_range": (0.0, 2.0)}, id="beta-up-to-two")])
def test_real_spectrum_fails_outside_its_hypothesis(kwargs):
    r = check_real_spectrum(samples=300, **kwargs)
    assert r.verdict == "fails"
    assert r.witness is not None and not r.witness["exact"]["in_unit"]


def test_three_factors_give_a_certified_complex_eigenvalue():
    r = check_complex_witness()
    assert r.verdict == "holds", r.evidence
    assert r.witness["exact_complex_pairs"] >= 1
    assert max(abs(complex(e).imag) for e in r.witness["eigenvalues"]) >= 0.05


def test_complex_witness_search_fails_with_two_factors():
    r = check_complex_witness(k=2, tries=300)
    assert r.verdict == "fails"
