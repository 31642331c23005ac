"""The krohn-rhodes construction: symmetric GH factors only, exact in every float format."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from tests.krohn_rhodes.kr_cases import NAMED, mod5_reset, shift_register
from statetrack.automata.dfa import DFA
from statetrack.automata.krohn_rhodes import CascadeLimits, decompose
from statetrack.constructions import DEFAULT_FOR_DFA, compile, krohn_rhodes
from statetrack.constructions.weights import load, product_matrix
from statetrack.errors import LimitError
from statetrack.verify import check
from tests.strategies import random_dfas

EXACT_DTYPES = ("float64", "float32", "bfloat16")


def symmetric_gh_only(weights) -> bool:
    """Every factor is I - beta k k^T with u == w (a unit key up to scale) and beta in {1, 2}."""
    return all(np.array_equal(f.u, f.w) and np.linalg.norm(f.u) > 0 and f.beta in (1.0, 2.0)
               for layer in weights.layers for fs in layer.factors for f in fs)


@given(random_dfas(max_states=8, max_symbols=3))
@settings(max_examples=25, deadline=None)
def test_random_dfas_exact_on_all_words_up_to_10(dfa):
    try:
        weights = compile(dfa, "krohn-rhodes")
    except LimitError as e:
        assert "Krohn-Rhodes cascade" in str(e)
        fallback = compile(dfa)                         # the default falls back, and says why
        assert fallback.construction == "direct" and "over the limit" in fallback.info["default_fallback"]
        return
    reports = check(weights, max_len=10, dtypes=EXACT_DTYPES, long_words=0, long_len=0)
    assert all(r.passed for r in reports), [r for r in reports if not r.passed]
    assert symmetric_gh_only(weights)


@pytest.mark.parametrize("seed, m", [pytest.param(1, 2, id="8x2-a"), pytest.param(4, 2, id="8x2-b"),
                                     pytest.param(2, 3, id="8x3-a"), pytest.param(7, 3, id="8x3-b")])
def test_full_size_random_dfas_exact_on_all_words_up_to_10(seed, m):
    """Eight states, all reachable, many levels: the heavy end of the hypothesis range, always run."""
    rng = np.random.default_rng(seed)
    while True:
        dfa = DFA(alphabet="abc"[:m], table=rng.integers(0, 8, size=(8, m)), start=0, accepting={0, 1, 2})
        if dfa.reachable().n_states == 8:
            try:
                weights = compile(dfa, "krohn-rhodes")
                break
            except LimitError:
                continue
    assert weights.n_layers >= 3
    reports = check(weights, max_len=10, dtypes=EXACT_DTYPES, long_words=0, long_len=0)
    assert all(r.passed for r in reports), [r for r in reports if not r.passed]


@pytest.mark.parametrize("name", list(NAMED))
def test_named_automata_exact_in_every_format(name):
    weights = compile(NAMED[name](), "krohn-rhodes")
    reports = check(weights, max_len=10, long_words=4, long_len=2000)
    assert all(r.passed for r in reports), [r for r in reports if not r.passed]


def test_check_catches_a_broken_route():
    """The exhaustive check above is not vacuous: mis-route one (letter, lower state) and it fails."""
    weights = compile(shift_register(), "krohn-rhodes")
    top = weights.layers[-1]
    lower = weights.index.prefixes(weights.n_layers - 1)          # (P, L-1) lower codes per route column
    flip = lower.copy()
    flip[:, -1] ^= 1                                                # ... with the layer below flipped
    sibling = weights.index.locate(list(flip.T))
    assert np.all(sibling >= 0)                                     # shift register: every tuple is stored
    route = np.where(lower[:, -1] == 1, top.route[:, sibling], top.route)   # the top layer ignores the layer below
    broken = dataclasses.replace(weights, layers=weights.layers[:-1] + (dataclasses.replace(top, route=route),))
    reports = check(broken, max_len=6, dtypes=("float64",), long_words=0, long_len=0)
    assert reports[0].mismatches > 0


@pytest.mark.parametrize("name", list(NAMED))
def test_factors_are_swaps_or_projections_with_one_hot_writes(name):
    """Permutations: swaps (beta 2), B = 0. Resets: all n projections (beta 1), B = e_q. Exactly the action."""
    cascade = decompose(NAMED[name]())
    weights = krohn_rhodes.from_cascade(cascade, NAMED[name]().complete())
    assert symmetric_gh_only(weights) and weights.summary()["symmetric_only"]
    for layer, actions in zip(weights.layers, cascade.actions):
        n = layer.width
        for s, action in enumerate(actions):
            fs, b = layer.factors[s], layer.write[s, :, 0]
            if action.is_constant:
                assert [f.beta for f in fs] == [1.0] * n
                assert np.array_equal(b, np.eye(n)[action.image[0]])
            else:
                assert all(f.beta == 2.0 and sorted(f.u) == [-1.0] + [0.0] * (n - 2) + [1.0] for f in fs)
                assert len(fs) <= n - 1 and not b.any()
            # A(s) e_x + B(s) = e_{action(x)} for every state x, in exact arithmetic
            A = product_matrix(fs, n, exact=True)
            for x in range(n):
                assert list(A[:, x] + b.astype(int)) == list(np.eye(n, dtype=int)[action(x)])


def test_symmetric_check_rejects_the_direct_construction():
    """The factor predicate is not vacuous: direct's collapses I - (e_i - e_j) e_i^T are not symmetric."""
    assert not symmetric_gh_only(compile(mod5_reset(), "direct"))


def test_metadata_records_levels_widths_and_factors_per_letter():
    w = compile(shift_register(), "krohn-rhodes")
    assert w.construction == "krohn-rhodes"
    assert w.info["levels"] == 4 and w.info["widths"] == [2, 2, 2, 2]
    assert w.info["factors_per_letter"] == {"a": 8, "b": 8}        # four resets of width 2
    assert w.info["decomposition"].startswith("holonomy")
    assert w.summary()["widths"] == [2, 2, 2, 2]


def test_save_and_load_keep_routes_and_behaviour(tmp_path):
    w = compile(NAMED["flip-flop+parity"](), "krohn-rhodes")
    path = tmp_path / "ffp.safetensors"
    w.save(path)
    back = load(path)
    for a, b in zip(w.layers, back.layers):
        assert np.array_equal(a.route, b.route) and np.array_equal(a.codebook, b.codebook)
    words = ["", "s", "sr", "srsr", "ssrt", "srtsrr"]
    assert back.run_states(words) == w.run_states(words) == [NAMED["flip-flop+parity"]().run(x) for x in words]
    assert back.info["levels"] == 2


def test_default_is_krohn_rhodes_with_a_documented_fallback():
    assert DEFAULT_FOR_DFA == "krohn-rhodes"
    assert compile(mod5_reset()).construction == "krohn-rhodes"
    tight = CascadeLimits(max_levels=2)
    fallback = compile(shift_register(), limits=tight)
    assert fallback.construction == "direct"
    assert "needs 4 levels (widths [2, 2, 2, 2]), over the limit of 2 (max_levels) by 2" in fallback.info["default_fallback"]
    with pytest.raises(LimitError, match="needs 4 levels"):       # named explicitly: no fallback
        compile(shift_register(), "krohn-rhodes", limits=tight)


def test_size_report_compares_with_direct():
    r = krohn_rhodes.size_report(shift_register())
    assert r["states"] == 16
    assert r["krohn-rhodes"] == {"layers": 4, "widths": [2, 2, 2, 2], "total_factors": 16, "max_factors_per_step": 8,
                                 "symmetric_only": True, "table_entries": 46}
    assert r["direct"]["layers"] == 1 and r["direct"]["widths"] == [16] and not r["direct"]["symmetric_only"]
    over = krohn_rhodes.size_report(shift_register(), CascadeLimits(max_width=1))
    assert "over the limit" in over["krohn-rhodes"]["error"] and over["direct"]["layers"] == 1


def test_one_state_dfa_compiles():
    dfa = DFA(alphabet="ab", table=[[0, 0]], start=0, accepting={0})
    w = compile(dfa, "krohn-rhodes")
    assert w.summary()["widths"] == [1] and w.accepts(["", "abab"]) == [True, True]
