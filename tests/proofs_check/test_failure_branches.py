"""Failure branches of proofs_check that a passing run never takes: each check is fed a broken
input and must say "fails" (issue 11, section 6)."""
import dataclasses

import numpy as np

from statetrack.constructions.engine import Simulator
from statetrack.proofs_check import mod3_non_triangular as mod3
from statetrack.proofs_check import per_step_scope as scope
from statetrack.proofs_check.cycles import find_cycles
from statetrack.proofs_check.one_hot_limit import check_one_hot_merge, merging_dfa


def _period_two_candidate():
    layers = scope.GHLayers(np.random.default_rng(0), "bfloat16", 512, 2, 2, (0.0, 1.0))
    cyc = find_cycles(layers.step, layers.h0(), max_steps=1 << 15)
    rows = np.flatnonzero(cyc.period == 2)
    for row in rows[:8]:
        if scope.certify(layers, int(row), int(cyc.mu[row]), 2)["certified"]:
            return layers, int(row), int(cyc.mu[row])
    raise AssertionError("no certified period-2 candidate in the sample")


def test_per_step_certificate_rejects_a_candidate_with_the_wrong_period():
    layers, row, mu = _period_two_candidate()
    assert scope.certify(layers, row, mu, 2)["certified"]
    wrong = scope.certify(layers, row, mu, 3)              # the orbit has period 2, not 3
    assert not wrong["certified"] and not wrong["decodes_parity_for_t_ge_mu"]


def test_per_step_claim_fails_when_the_engine_never_replays_a_candidate(monkeypatch):
    monkeypatch.setattr(scope, "engine_agrees", lambda *a, **k: False)
    r = scope.check_per_step_gh_cycles("bfloat16", samples=256)
    assert r.verdict == "fails" and r.witness is None and r.details["candidates_tried"] > 0
    assert "no certified period-2 orbit" in r.evidence


def test_one_hot_check_fails_on_broken_compiled_weights():
    from statetrack.constructions import compile

    weights = compile(merging_dfa(), "direct")
    layer = weights.layers[0]
    s = int(layer.route[0])
    factors = tuple(fs[:-1] if i == s else fs for i, fs in enumerate(layer.factors))   # drop one factor
    broken = dataclasses.replace(weights, layers=(dataclasses.replace(layer, factors=factors),))
    r = check_one_hot_merge(samples=50, weights=broken)
    assert r.verdict == "fails" and "a letter is WRONG" in r.evidence
    assert not r.details["direct_letters"][0]["exact"]


def test_mod3_counters_fail_when_the_fast_loop_and_the_engine_disagree(monkeypatch):
    original = Simulator.step

    def off_by_one_ulp(self, state, letters):       # the engine drifts by one ulp per step
        return [np.nextafter(h, np.inf).astype(h.dtype) for h in original(self, state, letters)]

    monkeypatch.setattr(Simulator, "step", off_by_one_ulp)
    r = mod3.check_counters(("float64", "bfloat16"), max_len=200)
    assert r.verdict == "fails" and "engine twin DISAGREES" in r.evidence
    rows = [row for counter in r.details["counters"].values() for row in counter.values()]
    assert not any(row["engine_twin_agrees"] for row in rows)
    assert all(row["forever"] for row in r.details["counters"]["permutation"].values())   # only the twin failed
