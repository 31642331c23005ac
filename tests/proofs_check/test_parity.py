"""P1 Thm 1: each parity check holds on the real input and fails on a deliberately broken one."""
import dataclasses

import pytest

from statetrack.constructions.weights import Factor
from statetrack.proofs_check.parity_needs_negative import (check_float8_exhaustive, check_per_step_triangular,
                                                           check_reflection_parity, parity_weights)
from statetrack.proofs_check.per_step_scope import check_per_step_gh_cycles
from statetrack.proofs_check.systems import Family


# ---------------------------------------------------------------------- float8, exhaustive
@pytest.mark.parametrize("fmt", [pytest.param("float8_e4m3fn", id="e4m3fn"), pytest.param("float8_e5m2", id="e5m2")])
def test_float8_every_nonnegative_coefficient_ends_constant(fmt):
    r = check_float8_exhaustive(fmt)
    assert r.verdict == "holds", r.evidence
    assert r.details["not_constant"] == 0 and r.details["negative_period_over_2"] == 0
    assert r.details["triples"] > 7_000_000
    assert 0 < r.details["longest_transient"] < 256


def test_float8_fails_with_a_sign_flipping_rounding():
    import torch

    def flips_sign(x):                      # round, then negate: h <- -(a h + b) is antitone for a >= 0
        return (-x).to(torch.float8_e4m3fn)

    r = check_float8_exhaustive("float8_e4m3fn", rounding=flips_sign, coefficients=[0.5, 1.0],
                                negative_coefficients=[-1.0])
    assert r.verdict == "fails"
    assert r.witness["period"] == 2


def test_float8_fails_when_a_negative_coefficient_is_called_nonnegative():
    r = check_float8_exhaustive("float8_e4m3fn", coefficients=[0.5, -1.0], negative_coefficients=[-1.0])
    assert r.verdict == "fails"
    assert r.witness["a"] == -1.0 and r.witness["period"] == 2


def test_float8_fails_when_minus_one_does_not_alternate():
    import torch

    def absolute(x):                        # a rounding that forgets the sign: -h comes back as |h|
        return x.abs().to(torch.float8_e4m3fn)

    r = check_float8_exhaustive("float8_e4m3fn", rounding=absolute, coefficients=[0.5],
                                negative_coefficients=[-1.0])
    assert r.verdict == "fails"
    assert "do NOT all alternate" in r.evidence


# ---------------------------------------------------------------------- sampled, per-step
def test_triangular_stacks_end_constant():
    r = check_per_step_triangular(("bfloat16",), samples=24)
    assert r.verdict == "holds", r.evidence
    assert all(s["periods"] == {1: s["samples"]} for s in r.details["by_format_family"].values())


def test_triangular_check_fails_when_eigenvalues_may_be_negative():
    broken = (Family("triangular, eigenvalues in [-1, 1]", "triangular", layers=1, lo=-1.0, hi=1.0),)
    r = check_per_step_triangular(("bfloat16",), samples=48, families=broken)
    assert r.verdict == "fails"
    assert r.witness["period"] == 2


def test_per_step_scope_certifies_a_period_two_gh_layer():
    r = check_per_step_gh_cycles("bfloat16", samples=256)
    assert r.verdict == "holds", r.evidence
    w = r.witness
    assert w["period"] == 2 and w["certified"]
    assert w["exact_spectrum_in_unit"] and w["rounded_map_spectrum_in_unit"] and w["engine_replays_orbit"]
    assert all(0.0 <= b <= 1.0 for b in w["betas"])


def test_per_step_scope_finds_nothing_for_scalar_factors():
    r = check_per_step_gh_cycles("bfloat16", samples=256, k=1, n=1)   # monotone scalar maps cannot cycle
    assert r.verdict == "fails"
    assert r.witness is None


# ---------------------------------------------------------------------- constructive: the reflection
def test_reflection_solves_parity():
    r = check_reflection_parity(literal_steps=2_000)
    assert r.verdict == "holds", r.evidence
    assert r.details["orbit_period"] == 2 and r.details["engine_twin_agrees"]
    assert r.details["scalar"]["alternate_forever"] == r.details["scalar"]["values"]


def _with_beta(weights, beta):
    layer = weights.layers[0]
    factors = tuple(tuple(Factor(f.u, f.w, beta) for f in fs) for fs in layer.factors)
    return dataclasses.replace(weights, layers=(dataclasses.replace(layer, factors=factors),))


def test_reflection_check_fails_when_the_reflection_is_a_projection():
    weights, dfa = parity_weights()
    r = check_reflection_parity(_with_beta(weights, 1.0), dfa=dfa, literal_steps=100)
    assert r.verdict == "fails"
    assert r.witness["first_wrong"] is not None


def test_reflection_check_fails_when_the_scalar_beta_is_not_two():
    r = check_reflection_parity(beta=1.5, literal_steps=100)           # h <- -0.5 h decays to 0
    assert r.verdict == "fails"
    assert r.witness["scalar"]["alternate_forever"] == 0
