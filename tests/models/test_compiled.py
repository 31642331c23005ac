"""Compiled weights loaded into the model classes reproduce their automaton exactly.

For each construction: compile -> CompiledLRNN (DeltaProduct mixers with the documented superset
switches) -> the automaton state after every prefix of every word of length L (so every word up to
L), in float64 and float32, equals the source DFA's; plus random long words.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import group
from statetrack.constructions import compile
from statetrack.errors import UnreachableConfigurationError
from statetrack.models import from_weights
from statetrack.tasks.base import run_table

DTYPES = [pytest.param(torch.float64, id="f64"), pytest.param(torch.float32, id="f32")]


def source_dfa(weights) -> DFA:
    if weights.source["kind"] == "group":
        return group(weights.source["name"]).to_dfa()
    return DFA.from_json(weights.source["dfa"])


def all_words(n_symbols: int, length: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(n_symbols), repeat=length)), dtype=torch.int64)


def reference_states(dfa: DFA, words: torch.Tensor) -> torch.Tensor:
    return run_table(torch.tensor(np.array(dfa.table, dtype=np.int64)), dfa.start, words)


def random_dfa(seed: int, n: int = 5, alphabet: str = "ab") -> DFA:
    rng = np.random.default_rng(seed)
    return DFA(alphabet=alphabet, table=rng.integers(0, n, size=(n, len(alphabet))), start=0, accepting={1, 2})


CASES = [
    pytest.param(lambda: compile(DFA(alphabet="01", table=[[0, 1], [1, 0]], start=0, accepting={1}), "group"), 10,
                 id="group-parity"),
    pytest.param(lambda: compile(group("S3")), 5, id="group-S3"),
    pytest.param(lambda: compile(group("S5")), 2, id="group-S5"),
    pytest.param(lambda: compile(group("A4xZ5")), 2, id="group-A4xZ5"),
    pytest.param(lambda: compile(group("Z5"), "rotation"), 6, id="rotation-Z5"),
    pytest.param(lambda: compile(random_dfa(0, 6, "abc"), "direct"), 6, id="direct-random6"),
    pytest.param(lambda: compile(DFA.from_regex("(a|b)*abb", "ab"), "direct"), 9, id="direct-abb"),
    pytest.param(lambda: compile(DFA.from_regex("(a|b)*abb", "ab"), "krohn-rhodes"), 9, id="kr-abb"),
    pytest.param(lambda: compile(DFA.from_regex("a*b*", "ab"), "krohn-rhodes"), 9, id="kr-astar-bstar"),
    pytest.param(lambda: compile(DFA.from_regex("(ab|c)*", "abc"), "krohn-rhodes"), 6, id="kr-ab-or-c"),
    pytest.param(lambda: compile(random_dfa(2), "krohn-rhodes"), 9, id="kr-random-5levels"),
    pytest.param(lambda: compile(random_dfa(0), "krohn-rhodes"), 9, id="kr-random-2levels"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make,length", CASES)
def test_compiled_model_equals_automaton_on_all_words(make, length, dtype):
    weights = make()
    model = from_weights(weights, dtype=dtype)
    dfa = source_dfa(weights)
    words = all_words(len(weights.alphabet), length)
    assert torch.equal(model(words), reference_states(dfa, words))


@pytest.mark.parametrize("make,length", CASES)
def test_compiled_model_long_random_words(make, length):
    weights = make()
    model = from_weights(weights, dtype=torch.float32)
    words = torch.randint(0, len(weights.alphabet), (8, 120), generator=torch.Generator().manual_seed(1))
    assert torch.equal(model(words), reference_states(source_dfa(weights), words))


def test_accepts_matches_dfa():
    d = DFA.from_regex("(a|b)*abb", "ab")
    model = from_weights(compile(d), dtype=torch.float32)
    words = all_words(2, 8)
    ref = torch.as_tensor(d.accepting_mask)[reference_states(DFA.from_json(model.weights.source["dfa"]), words)]
    assert torch.equal(model.accepts(words), ref)


@pytest.mark.parametrize("make,expect", [
    pytest.param(lambda: compile(group("S3")), {"read_keys": False, "direct_write": False, "kernel": True},
                 id="group-uses-kernel"),
    pytest.param(lambda: compile(random_dfa(0, 6, "abc"), "direct"), {"read_keys": True, "kernel": False},
                 id="direct-needs-read-keys"),
    pytest.param(lambda: compile(DFA.from_regex("(a|b)*abb", "ab"), "krohn-rhodes"),
                 {"read_keys": False, "direct_write": False, "kernel": True}, id="kr-resets-fold-into-values"),
])
def test_superset_switches_are_reported(make, expect):
    layers = from_weights(make()).superset()
    for layer in layers:
        for key, value in expect.items():
            assert layer[key] == value, (key, layer)


def test_krohn_rhodes_needs_the_lag():
    """Routing on the lower layers' codes *after* the letter (no short-conv lag) breaks KR models
    whose upper level depends on a lower level's pre-reset state: the check above would catch it."""
    weights = compile(random_dfa(2), "krohn-rhodes")
    model = from_weights(weights, dtype=torch.float64)
    words = all_words(2, 7)
    ref = reference_states(source_dfa(weights), words)

    def no_lag(letters):
        codes, prefix = [], torch.zeros_like(letters)
        for i, layer in enumerate(model.layers):
            _, c = layer(model.route(i, letters, prefix))
            codes.append(c)                   # post-letter codes: the naive stack
            prefix = model.require(model.child(i, prefix, c), codes, "no-lag route")
        return model.decode_states(codes)

    assert torch.equal(model(words), ref)
    try:                                      # it may even leave the reachable code tuples: an error
        wrong = not torch.equal(no_lag(words), ref)
    except UnreachableConfigurationError:
        wrong = True
    assert wrong


def test_broken_weights_are_caught():
    """A compiled S3 model with one reflection's beta changed no longer matches the automaton."""
    weights = compile(group("S3"))
    model = from_weights(weights, dtype=torch.float64)
    with torch.no_grad():
        model.layers[0].mixer.b_proj.weight[:, 1] *= 0.5
    words = all_words(6, 3)
    assert not torch.equal(model(words), reference_states(source_dfa(weights), words))


def test_compiled_layers_are_model_classes():
    from statetrack.models.mixers import DeltaProduct

    model = from_weights(compile(group("S3")))
    assert all(isinstance(layer.mixer, DeltaProduct) for layer in model.layers)
