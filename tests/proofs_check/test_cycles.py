"""Exact cycle detection: the batched Brent search agrees with the dict-of-every-state twin."""
import numpy as np
import pytest

from statetrack.proofs_check.cycles import canonical, find_cycle_slow, find_cycles, keys, orbit
from statetrack.proofs_check.per_step_scope import GHLayers


@pytest.mark.parametrize("fmt", [pytest.param("bfloat16", id="bf16"), pytest.param("float16", id="fp16")])
@pytest.mark.parametrize("recent", [pytest.param(1, id="brent-only"), pytest.param(8, id="recent-8")])
def test_batched_search_matches_slow_twin(fmt, recent):
    layers = GHLayers(np.random.default_rng(3), fmt, 120, n=2, k=2, beta_range=(0.0, 1.0))
    cyc = find_cycles(layers.step, layers.h0(), max_steps=1 << 15, recent=recent)
    assert cyc.decided.all()
    for row in range(120):
        assert find_cycle_slow(layers.step, layers.h0()[row], row, max_steps=1 << 15) == (cyc.mu[row], cyc.period[row])
    assert (cyc.period > 1).any()          # the sample exercises periods beyond fixed points


def test_reported_cycle_is_a_cycle():
    layers = GHLayers(np.random.default_rng(5), "bfloat16", 200, n=2, k=2, beta_range=(0.0, 1.0))
    cyc = find_cycles(layers.step, layers.h0(), max_steps=1 << 15)
    for row in np.flatnonzero(cyc.period > 1)[:5]:
        mu, lam = int(cyc.mu[row]), int(cyc.period[row])
        states = keys(orbit(layers.step, layers.h0()[row], int(row), mu + lam + 1))
        assert np.array_equal(states[mu], states[mu + lam])
        assert all(not np.array_equal(states[mu], states[mu + j]) for j in range(1, lam))
        assert mu == 0 or not np.array_equal(states[mu - 1], states[mu - 1 + lam])


def test_too_few_steps_leaves_orbits_undecided():
    count = np.arange(4, dtype=np.float32)[:, None]
    cyc = find_cycles(lambda h, rows: h + 1, count, max_steps=10)     # h <- h + 1 never repeats this soon
    assert not cyc.decided.any() and (cyc.mu == -1).all()


def test_canonical_merges_signed_zeros_and_nans():
    x = np.array([[-0.0, np.nan], [0.0, -np.nan]], dtype=np.float32)
    k = keys(x)
    assert np.array_equal(k[0], k[1])
    assert np.signbit(canonical(np.array([-0.0]))).sum() == 0
