"""The fast single-orbit loop against the engine, orbit bookkeeping, and exact spectra."""
import numpy as np
import pytest

from statetrack.proofs_check.exact import spectrum_facts
from statetrack.proofs_check.mod3_non_triangular import z3_counters
from statetrack.proofs_check.orbits import Orbit, automaton_orbit, engine_agrees, first_disagreement, weights_orbit

FORMATS = [pytest.param(f, id=f) for f in ("float64", "float32", "float16", "bfloat16")]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("which", [pytest.param(0, id="rotation"), pytest.param(1, id="permutation")])
def test_fast_loop_matches_the_engine_bit_for_bit(fmt, which):
    weights, letter = z3_counters()[which], z3_counters()[2]
    assert engine_agrees(weights, letter, fmt, steps=200)


def test_orbit_of_the_permutation_is_exactly_periodic():
    _, perm, letter, dfa = z3_counters()
    ours = weights_orbit(perm, letter, "bfloat16", max_len=100)
    assert (ours.mu, ours.period) == (0, 3)
    truth = automaton_orbit(dfa.table, dfa.start, letter)
    assert first_disagreement(ours, truth, horizon=10**9) is None
    assert [ours.at(t) for t in (10**6, 10**6 + 1)] == [truth.at(10**6), truth.at(10**6 + 1)]


def test_first_disagreement_finds_the_first_wrong_step():
    a = Orbit(np.array([0, 1, 2]), 0, 3)
    b = Orbit(np.array([0, 1, 2, 0, 2]), None, None)
    assert first_disagreement(a, b, horizon=100) == 4


@pytest.mark.parametrize("matrix, facts", [
    pytest.param([[0, -1], [1, 0]], {"real": False, "complex_pairs": 1}, id="rotation"),
    pytest.param([[0.5, 7], [0, 1]], {"real": True, "in_unit": True}, id="triangular-in-unit"),
    pytest.param([[-0.25, 0], [3, 1]], {"real": True, "nonneg": False, "in_unit": False}, id="negative-eigenvalue"),
    pytest.param(np.eye(3), {"real": True, "in_unit": True, "distinct": 1}, id="identity"),
])
def test_spectrum_facts(matrix, facts):
    got = spectrum_facts(matrix)
    assert {k: got[k] for k in facts} == facts
