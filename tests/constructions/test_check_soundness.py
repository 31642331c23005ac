"""`check` never passes weights that a plain sequential run gets wrong (issue 11, section 1).

Every shortcut in statetrack.verify (the exhaustive tree walk with batched steps, long words cut
into segments that start on codewords, batching of words) is compared here with the plainest
possible replay: each word alone, one letter at a time from the stored H_0, decoded after every
letter (what ``statetrack run`` does). Weights are perturbed in H_0, u, w, beta and the write term,
for every construction, by sizes from harmless to fatal.
"""
import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import group
from statetrack.constructions import compile
from statetrack.constructions.engine import DTYPES, Simulator
from statetrack.constructions.weights import Factor
from statetrack import verify
from tests.strategies import all_words

CASES = {
    "group-S3": lambda: compile(group("S3"), "group"),
    "rotation-Z7": lambda: compile(group("Z7"), "rotation"),
    "direct-abb": lambda: compile(DFA.from_regex("(a|b)*abb", "ab"), "direct"),
    "krohn-rhodes-abb": lambda: compile(DFA.from_regex("(a|b)*abb", "ab"), "krohn-rhodes"),
    "krohn-rhodes-mod3": lambda: compile(DFA(alphabet=("a", "b"), table=[[1, 0], [2, 1], [0, 2]], start=0,
                                             accepting={0}), "krohn-rhodes"),
}
_BUILT: dict = {}
PARTS = ("h0", "h0-to-boundary", "u", "w", "beta", "write")


def built(name):
    if name not in _BUILT:
        _BUILT[name] = CASES[name]()
    return _BUILT[name]


def perturb(weights, part: str, eps: float, seed: int):
    """``weights`` with one part of every layer moved by eps * (standard normal noise).

    ``h0-to-boundary`` moves H_0 instead toward a random other codeword, by a fraction 0.5 - eps/2 of
    the way: just inside the decision boundary, where any slow drift shows.
    """
    rng = np.random.default_rng(seed)
    noise = lambda shape: eps * rng.standard_normal(shape)  # noqa: E731
    layers = []
    for layer in weights.layers:
        if part == "h0-to-boundary":
            other = layer.codebook[rng.integers(layer.n_codes)]
            layer = dataclasses.replace(layer, h0=layer.h0 + (0.5 - eps / 2) * (other - layer.h0))
        elif part == "h0":
            layer = dataclasses.replace(layer, h0=layer.h0 + noise(layer.h0.shape))
        elif part == "write":
            layer = dataclasses.replace(layer, write=layer.write + noise(layer.write.shape))
        else:
            def move(f):
                if part == "beta":
                    return Factor(f.u, f.w, f.beta + float(noise(())))
                u = f.u + noise(f.u.shape) if part == "u" else f.u
                w = f.w + noise(f.w.shape) if part == "w" else f.w
                return Factor(u, w, f.beta) if abs(float(w @ u)) > 1e-9 else f
            layer = dataclasses.replace(layer, factors=tuple(tuple(move(f) for f in fs) for fs in layer.factors))
        layers.append(layer)
    return dataclasses.replace(weights, layers=tuple(layers))


def replay(weights, dtype, max_len, codes):
    """(exhaustive mismatches, shortest mismatch length, first failure length per long word): each
    word alone, one letter at a time, decoded after every letter."""
    dfa = verify.source_automaton(weights)
    sim = Simulator(weights, dtype, lenient=True)      # as check: an unstored configuration is a wrong state
    bad, shortest = 0, None
    for word in all_words(range(dfa.n_symbols), max_len):
        state = sim.init(1)
        for c in word:
            state = sim.step(state, np.array([c]))
        if sim.automaton_states(state)[0] != dfa.trajectory(np.array([word], dtype=np.int64).reshape(1, -1))[0, -1]:
            bad += 1
            shortest = len(word) if shortest is None else shortest
    long_fail = verify.sequential_first_failures(sim, codes, dfa.trajectory(codes))
    return bad, shortest, long_fail


@given(case=st.sampled_from(sorted(CASES)), part=st.sampled_from(PARTS), dtype=st.sampled_from(DTYPES),
       eps=st.sampled_from([0.0, 1e-5, 1e-3, 1e-2, 0.05, 0.2]), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_check_agrees_with_a_plain_sequential_replay(case, part, dtype, eps, seed):
    weights = perturb(built(case), part, eps, seed)
    n_long, long_len, max_len = 3, 200, 3
    with pytest.MonkeyPatch.context() as mp:       # short segments: 200 letters cross many boundaries
        mp.setattr(verify, "_SEGMENT", 32)
        (r,) = verify.check(weights, max_len, [dtype], long_words=n_long, long_len=long_len, seed=seed)
    codes = np.random.default_rng(seed).integers(0, len(weights.alphabet), size=(n_long, long_len))
    bad, shortest, long_fail = replay(weights, dtype, max_len, codes)
    assert r.mismatches == bad
    assert word_length(weights, r.first_mismatch) == shortest
    failed = long_fail[long_fail >= 0]
    assert r.long_failed == len(failed)
    assert r.first_fail_len == (int(failed.min()) if len(failed) else None)
    assert r.passed == (bad == 0 and len(failed) == 0)


def word_length(weights, rendered):
    """Length of a word rendered by verify.render_word (None stays None)."""
    if rendered is None:
        return None
    if rendered == "(empty word)":
        return 0
    return len(rendered.split()) if any(len(s) > 1 for s in weights.alphabet) else len(rendered)


def test_a_turned_initial_state_is_caught_on_long_words():
    """Issue 11's case: Z7 by rotations, H_0 turned by 0.44 rad (the decode margin is pi/7 = 0.449).
    Short words still decode right; a sequential float16 run drifts over the margin on long ones."""
    weights = compile(group("Z7"), "rotation")
    layer = weights.layers[0]
    a = 0.44
    turn = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    turned = dataclasses.replace(weights, layers=(dataclasses.replace(layer, h0=turn @ layer.h0),))
    (r,) = verify.check(turned, 4, ["float16"], long_words=16, long_len=3000)
    dfa = verify.source_automaton(turned)
    codes = np.random.default_rng(0).integers(0, dfa.n_symbols, size=(16, 3000))
    ran = turned.run_encoded(list(codes), "float16")            # what `statetrack run` prints
    assert (ran != dfa.trajectory(codes)[:, -1]).any()
    assert r.mismatches == 0 and not r.passed and r.long_failed > 0 and r.first_fail_len <= 3000
