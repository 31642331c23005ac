"""P1 Thm 2: triangular stacks cannot count mod 3; rotations and 3-cycles can."""
import dataclasses

import numpy as np

from statetrack.constructions.weights import Factor
from statetrack.proofs_check.mod3_non_triangular import check_counters, check_triangular_period, z3_counters
from statetrack.proofs_check.systems import fixed_system


def test_triangular_stack_periods_divide_two_to_the_layers():
    r = check_triangular_period(("bfloat16",), samples=32)
    assert r.verdict == "holds", r.evidence
    for name, stats in r.details["by_format_family"].items():
        layers = int(name.split("x")[-1])
        assert all((2 ** layers) % p == 0 for p in stats["periods"])


class ThreeCycleLayer:
    """A non-triangular 'layer': the 3-cycle permutation matrix (eigenvalues: cube roots of 1)."""

    name, layers = "3-cycle permutation (not triangular)", 1

    def build(self, rng, fmt, count):
        a = np.broadcast_to(np.eye(3)[[2, 0, 1]], (count, 3, 3)).copy()
        return fixed_system(fmt, a, np.zeros((count, 3)), rng.standard_normal((count, 3)))


def test_triangular_check_fails_on_a_three_cycle_transition():
    r = check_triangular_period(("bfloat16",), samples=16, families=(ThreeCycleLayer(),))
    assert r.verdict == "fails"
    assert r.witness["period"] == 3


def test_counters_count_mod_three():
    r = check_counters(max_len=1_000)
    assert r.verdict == "holds", r.evidence
    for fmt, row in r.details["counters"]["permutation"].items():
        assert row["forever"] and row["period"] == 3, fmt
    assert r.details["counters"]["rotation"]["float64"]["first_wrong"] is None


def _replace_factors(weights, letter, factors):
    layer = weights.layers[0]
    s = int(layer.route[letter])
    new = tuple(tuple(factors) if i == s else fs for i, fs in enumerate(layer.factors))
    return dataclasses.replace(weights, layers=(dataclasses.replace(layer, factors=new),))


def test_counters_fail_when_the_rotation_is_a_triangular_reflection():
    rotation, _, letter, _ = z3_counters()
    diag = _replace_factors(rotation, letter, [Factor.householder(np.array([0.0, 1.0]), 2.0)])  # diag(1, -1)
    r = check_counters(("float64",), max_len=100, rotation=diag)
    assert r.verdict == "fails"
    assert r.details["counters"]["rotation"]["float64"]["first_wrong"] is not None


def test_counters_fail_when_the_three_cycle_is_one_swap():
    _, permutation, letter, _ = z3_counters()
    swap = _replace_factors(permutation, letter, [Factor.swap(0, 1, 3)])
    r = check_counters(("float64", "bfloat16"), max_len=100, permutation=swap)
    assert r.verdict == "fails"
    assert not r.details["counters"]["permutation"]["float64"]["forever"]
