"""Verification against the source automaton: exhaustive words, long words, every float format."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import group
from statetrack.constructions import compile
from statetrack.constructions.engine import DTYPES, Simulator, round_to
from statetrack.constructions.weights import Factor
from statetrack.verify import _long_first_failures, check
from tests.strategies import all_words, random_dfas, random_regexes, re_accepts_all


def long_first_failures_sequential(sim, codes, truth):
    """The obviously-correct twin of verify._long_first_failures: one step at a time, no segments."""
    state, fail = sim.init(len(codes)), np.full(len(codes), -1)
    for t in range(codes.shape[1]):
        state = sim.step(state, codes[:, t])
        wrong = (sim.automaton_states(state) != truth[:, t + 1]) & (fail < 0)
        fail[wrong] = t + 1
    return fail


@given(random_dfas(max_states=12, max_symbols=4))
@settings(max_examples=25, deadline=None)
def test_direct_construction_is_exact_in_every_format(dfa):
    reports = check(compile(dfa, "direct"), max_len=6, long_words=2, long_len=300)
    assert [r.dtype for r in reports] == list(DTYPES)
    assert all(r.passed for r in reports), reports


@given(random_regexes())
@settings(max_examples=40, deadline=None)
def test_compiled_regex_agrees_with_python_re(case):
    ours, python, alphabet = case
    weights = compile(DFA.from_regex(ours, alphabet))
    words = ["".join(w) for w in all_words(alphabet, 6)]
    got = np.array(weights.accepts(words))
    assert np.array_equal(got, re_accepts_all(python, alphabet, 6)), ours


@pytest.mark.parametrize("name", ["S3", "A4", "D5", "Z7", "A4xZ5"])
def test_group_model_agrees_with_sympy_products(name):
    from sympy.combinatorics import Permutation

    g = group(name)
    weights = compile(g)
    rng = np.random.default_rng(7)
    for length in (0, 1, 5, 40):
        idx = rng.integers(0, g.order, size=length)
        tokens = [g.token(int(i)) for i in idx]
        expected = Permutation(list(range(g.degree)))
        for i in idx:
            expected = expected * Permutation(g.elements[int(i)].tolist())   # sympy: left factor first
        assert weights.run(tokens) == g.token(expected.array_form)
        assert weights.run(tokens, dtype="bfloat16") == g.token(expected.array_form)


@pytest.mark.parametrize("construction,name", [("direct", "mod5"), ("group", "mod5"), ("rotation", "Z7"),
                                               ("rotation", "Z60")])
def test_segmented_long_words_match_the_sequential_twin(construction, name):
    """The parallel-segment fast path reports exactly what one sequential run reports."""
    if name == "mod5":
        obj = DFA(alphabet=("a", "b"), table=[[(q + 1) % 5, q] for q in range(5)], start=0, accepting={0})
    else:
        obj = group(name)
    weights = compile(obj, construction)
    dfa = obj if isinstance(obj, DFA) else obj.to_dfa()
    codes = np.random.default_rng(3).integers(0, dfa.n_symbols, size=(6, 700))
    truth = dfa.trajectory(codes)
    for dtype in ("float64", "bfloat16", "float16"):
        sim = Simulator(weights, dtype)
        assert np.array_equal(_long_first_failures(sim, codes, truth),
                              long_first_failures_sequential(sim, codes, truth)), dtype


def test_rotation_drift_is_reported_in_bfloat16():
    reports = {r.dtype: r for r in check(compile(group("Z60"), "rotation"), max_len=2, long_len=2000, long_words=8)}
    assert reports["float64"].passed and reports["float32"].passed
    assert not reports["bfloat16"].passed and reports["bfloat16"].first_fail_len < 2000


def _with_factor(weights, letter, factors):
    layer = weights.layers[0]
    new = list(layer.factors)
    new[letter] = tuple(factors)
    return dataclasses.replace(weights, layers=(dataclasses.replace(layer, factors=tuple(new)),))


def test_check_finds_a_wrong_factor_on_short_words():
    dfa = DFA.from_regex("(a|b)*abb", "ab")
    weights = compile(dfa, "direct")
    broken = _with_factor(weights, 1, weights.layers[0].factors[1][:-1])     # drop one factor of 'b'
    reports = check(broken, max_len=4, long_words=2, long_len=100)
    assert all(r.mismatches > 0 and not r.passed for r in reports)
    assert reports[0].first_mismatch is not None and len(reports[0].first_mismatch) <= 4


def test_check_finds_slow_drift_only_on_long_words():
    """Counting mod 7 with a rotation 1e-3 rad too far: right on short words, wrong once the angle
    error passes pi/7 (about 450 letters). Only the long-word part can see it."""
    import math

    weights = compile(group("Z7"), "rotation")
    half = math.pi / 7 + 5e-4                                  # the second reflection's line angle, off by 5e-4
    f1, _ = weights.layers[0].factors[1]
    broken = _with_factor(weights, 1, [f1, Factor.householder(np.array([-math.sin(half), math.cos(half)]), 2.0)])
    (r,) = check(broken, max_len=4, dtypes=["float64"], long_words=4, long_len=5000)
    assert r.mismatches == 0 and r.long_failed == 4 and 300 < r.first_fail_len < 5000


def test_bfloat16_rounding_matches_torch():
    import torch

    x = (np.random.default_rng(0).standard_normal(10_000) * 10.0 ** np.random.default_rng(1).integers(-30, 30, 10_000))
    x = x.astype(np.float32)
    assert np.array_equal(round_to(x, "bfloat16"), torch.from_numpy(x).bfloat16().float().numpy())
    with np.errstate(over="ignore"):
        assert np.array_equal(round_to(x, "float16"), x.astype(np.float16).astype(np.float32))
