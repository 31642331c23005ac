"""New claim rows of issue 14: each holds, and each fails on a deliberately broken input."""
import numpy as np

from statetrack.constructions.weights import Factor
from statetrack.proofs_check.deltaproduct import (check_norm_rank, check_one_layer_groups,
                                                  check_reachable_eigenvalues, two_factor_pair)
from statetrack.proofs_check.general_nonneg import check_general_nonneg, margin, round_fmt
from statetrack.proofs_check.per_step_mod3 import check_per_step_period3
from statetrack.proofs_check.per_step_scope import GHLayers


def test_norm_rank_holds_and_fails_on_an_expanding_factor():
    assert check_norm_rank(samples=200).verdict == "holds"
    r = check_norm_rank(samples=200, factor=lambda k, b: Factor.householder(k, b + 0.1))   # beta up to 2.1
    assert r.verdict == "fails" and r.witness["norm"] > 1


class ScaledFactor(Factor):
    """A broken 'factor' 0.999 (I - beta k k^T): A - I has full rank, not rank one."""

    def matrix(self, exact=False):
        return 0.999 * super().matrix(exact)


def test_norm_rank_fails_when_a_factor_is_not_rank_one():
    r = check_norm_rank(samples=200, factor=lambda k, b: ScaledFactor(k, k, b))
    assert r.verdict == "fails" and r.witness["rank_A_minus_I"] > r.witness["n_h"]


def test_reachable_eigenvalues_hold_and_fail_with_the_wrong_beta():
    assert check_reachable_eigenvalues(samples=200, grid=8).verdict == "holds"

    def wrong(lam):               # beta = 1 - |lam| gives det = |lam|^2 but the wrong trace
        fs = two_factor_pair(lam)
        return [Factor.householder(f.u, 1 - abs(lam)) for f in fs]

    r = check_reachable_eigenvalues(samples=200, grid=8, construct=wrong)
    assert r.verdict == "fails" and r.details["misses"] > 0


def test_one_layer_groups_hold_and_fail_with_a_factor_short():
    from statetrack.constructions.factorize import permutation_factors

    assert check_one_layer_groups(max_points=4, rotation_groups=("A4",)).verdict == "holds"
    r = check_one_layer_groups(max_points=4, rotation_groups=(), factorize=lambda p: permutation_factors(p)[1:])
    assert r.verdict == "fails" and r.witness["factors"] == r.witness["needs"] - 1


def test_general_nonneg_holds_and_fails_with_a_negative_eigenvalue():
    r = check_general_nonneg(("bfloat16", "float8_e4m3fn"), samples=6)
    assert r.verdict == "holds", r.evidence
    bad = check_general_nonneg(("bfloat16",), samples=3, diag=[-1.0] + [0.5] * 7)
    assert bad.verdict == "fails" and bad.witness["observed_period"] == 2


def test_margin_is_the_distance_to_the_next_rounding_boundary():
    v = np.array([18.2, 16.1, 15.9, 440.0, 500.0, 0.0])
    m = margin(v, "float8_e4m3fn")              # e4m3fn: spacing 2 on [16, 32), 1 on [8, 16), 32 near 448
    assert np.allclose(m, [0.8, 0.6, 0.4, 8.0, 36.0, 2.0 ** -10])   # 16.1: boundaries 15.5 and 17
    for x, d in zip(v[:4], m[:4]):            # within the margin the rounding does not change
        assert round_fmt(x + 0.99 * d, "float8_e4m3fn") == round_fmt(x, "float8_e4m3fn") \
            == round_fmt(x - 0.99 * d, "float8_e4m3fn")


def test_period_three_witness_is_certified():
    r = check_per_step_period3("bfloat16")
    assert r.verdict == "holds", r.evidence
    w = r.witness
    assert w["period"] == 3 and w["exact_spectrum_in_unit"] and w["rounded_map_spectrum_in_unit"]
    assert w["engine_replays_orbit"] and w["decodes_t_mod_period_for_t_ge_mu"]


def test_period_three_search_fails_on_diagonal_layers():
    rng = np.random.default_rng(0)
    layers = GHLayers(rng, "bfloat16", 256, 2, 2, (0.0, 1.0))
    eye = np.eye(2)
    layers.keys[:] = eye[None]                              # keys e_0, e_1: a diagonal transition
    coef = layers.betas[:, :, None] * layers.keys
    layers.t = round_to_fmt(coef)
    layers.w = round_to_fmt(layers.keys)
    r = check_per_step_period3("bfloat16", layers=layers)
    assert r.verdict == "fails" and r.details["periods"].get(3, 0) == 0


def round_to_fmt(x):
    from statetrack.constructions.engine import round_to

    return round_to(x, "bfloat16")
