"""Symmetric GH products cannot merge one-hot states; non-symmetric collapses can."""
import numpy as np

from statetrack.constructions.weights import Factor
from statetrack.proofs_check.one_hot_limit import check_one_hot_merge


def test_one_hot_merge_needs_non_symmetric_factors():
    r = check_one_hot_merge(samples=300)
    assert r.verdict == "holds", r.evidence
    d = r.details
    assert abs(d["needed_norm"] - np.sqrt(2)) < 1e-12
    assert d["max_symmetric_norm"] <= 1 + 1e-12
    assert d["min_residual"] >= d["residual_bound"] - 1e-9
    assert abs(d["best_symmetric_residual"] - d["residual_bound"]) < 1e-9
    assert d["merges_exactly"]
    assert any(row["non_symmetric_factors"] for row in d["direct_letters"])


def test_fails_when_the_merge_uses_symmetric_factors_only():
    r = check_one_hot_merge(samples=100, merge_factors=[Factor.swap(0, 2, 4), Factor.projection(1, 4)])
    assert r.verdict == "fails"
    assert not r.details["merges_exactly"]


def test_fails_when_the_sampled_factors_are_not_symmetric():
    r = check_one_hot_merge(samples=300, factor=lambda k, b: Factor(k, k + 0.5 * np.roll(k, 1), b))
    assert r.verdict == "fails"
    assert r.details["max_symmetric_norm"] > 1
