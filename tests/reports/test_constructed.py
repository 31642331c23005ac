"""statetrack analyze: what a construction does on a task, measured once into a results file."""
from __future__ import annotations

import cmath
import json
from dataclasses import replace

import numpy as np
import pytest

from statetrack.constructions.weights import Factor
from statetrack.measure.constructed import Binding, analyze, weights_for_task
from statetrack.reports.errors import ReportError
from statetrack.tasks import make_task

SMALL = dict(train_min_len=3, train_max_len=8, test_min_len=8, test_max_len=24, eval_samples=32,
             norm_length_factor=3, norm_sequences=4, verify_len=0)


def eig_of(results: dict, token: str, layer: int = 0) -> np.ndarray:
    e = results["analysis"]["eigenvalues"]["layers"][layer]["heads"][0]["per_token"][token]
    return np.array(e["real"]) + 1j * np.array(e["imag"])


def same_multiset(got: np.ndarray, want: list[complex]) -> bool:
    got = sorted(got.tolist(), key=lambda z: (round(z.real, 9), round(z.imag, 9)))
    want = sorted(want, key=lambda z: (round(z.real, 9), round(z.imag, 9)))
    return len(got) == len(want) and all(abs(a - b) < 1e-12 for a, b in zip(got, want))


W3 = cmath.exp(2j * cmath.pi / 3)


@pytest.mark.parametrize("task, construction, token, want, pretty", [
    pytest.param("parity", None, "1", [-1, 1], ["-1", "1"], id="parity-reflection-has--1"),
    pytest.param("parity", None, "0", [1, 1], ["1"], id="parity-0-is-identity"),
    pytest.param("counting_mod3", None, "1", [W3, W3.conjugate()], ["e^(+2pi i/3)", "e^(-2pi i/3)"],
                 id="mod3-rotation-e^(2pi i/3)"),
    pytest.param("counting_mod3", "group", "1", [1, W3, W3.conjugate()], ["1", "e^(+2pi i/3)", "e^(-2pi i/3)"],
                 id="mod3-permutation-3-cycle"),
])
def test_token_eigenvalues_are_the_theory_values(task, construction, token, want, pretty):
    t = make_task(task)
    res = analyze(weights_for_task(t, construction), t, **SMALL)
    assert same_multiset(eig_of(res, token), [complex(z) for z in want])
    assert res["analysis"]["eigenvalues"]["layers"][0]["heads"][0]["pretty"][token] == sorted(pretty)


def test_s5_eigenvalues_are_roots_of_unity_of_each_elements_cycles():
    t = make_task("S5")
    res = analyze(weights_for_task(t), t, **SMALL)
    five_cycle = "1,2,3,4,0"
    want = [cmath.exp(2j * cmath.pi * k / 5) for k in range(5)]
    assert same_multiset(eig_of(res, five_cycle), want)
    assert res["analysis"]["size"]["n_h"] == 4                  # P2: S5 needs n_h = n - 1 = 4 swaps


@pytest.mark.parametrize("task", ["parity", "counting_mod3", "S5", "cycle_navigation"])
def test_constructions_are_perfect_on_their_tasks(task):
    t = make_task(task)
    res = analyze(weights_for_task(t), t, **SMALL)
    assert all(a == 1.0 for a in res["eval"]["accuracy"])
    assert res["eval"]["test_range"]["scaled_accuracy"] == 1.0
    assert all(a == 1.0 for a in res["analysis"]["probes"]["layers"][0]["accuracy"])


def test_p1_format_tasks_are_scored_at_every_length():
    """P1's format trains on the last label only, but a word's prefixes are words too: the construction is
    scored at every length 1..test_max_len, not at the last one alone (the first H200 report drew a dot)."""
    t = make_task("parity_p1")
    res = analyze(weights_for_task(t), t, **SMALL)
    acc = res["eval"]["accuracy"]
    assert len(acc) == SMALL["test_max_len"] and all(a == 1.0 for a in acc)
    assert res["eval"]["test_range"]["lengths_scored"] == SMALL["test_max_len"] - SMALL["test_min_len"] + 1


def test_a_broken_construction_is_measured_as_broken():
    """The parity token's reflection replaced by the identity: accuracy falls to chance."""
    t = make_task("parity")
    w = weights_for_task(t)
    layer = w.layers[0]
    one = w.alphabet.index("1")
    identity = (Factor.householder(np.array([1.0, 0.0]), 0.0),)
    broken_layer = replace(layer, factors=tuple(identity if s == one else fs for s, fs in enumerate(layer.factors)))
    broken = replace(w, layers=(broken_layer,))
    res = analyze(broken, t, **SMALL)
    assert res["eval"]["test_range"]["scaled_accuracy"] < 0.5
    assert same_multiset(eig_of(res, "1"), [1, 1])


def test_drift_rotation_moves_in_low_precision_and_swaps_stay_exact():
    t = make_task("counting_mod3")
    rot = analyze(weights_for_task(t, "rotation"), t, **SMALL)["analysis"]["state_norms"]
    grp = analyze(weights_for_task(t, "group"), t, **SMALL)["analysis"]["state_norms"]
    assert len(rot["lengths"]) == 3 * 8
    assert max(rot["by_dtype"]["bfloat16"]["layers"][0]["dev_mean"]) > 1e-4     # irrational entries round
    assert max(rot["by_dtype"]["float64"]["layers"][0]["dev_mean"]) == 0
    for d in ("float32", "bfloat16", "float16"):                                  # 0/±1 entries do not
        assert max(grp["by_dtype"][d]["layers"][0]["dev_mean"]) == 0
        assert max(grp["by_dtype"][d]["decode_error"]) == 0
    assert rot["layers"][0]["mean"][0] == pytest.approx(1.0, abs=1e-6)          # rotations keep the norm


def test_results_follow_the_training_schema(tmp_path):
    t = make_task("parity")
    res = analyze(weights_for_task(t), t, **{**SMALL, "verify_len": 50, "verify_words": 2})
    assert res["schema"] == "statetrack.constructed.results/1" and res["kind"] == "constructed"
    assert res["task"] == t.describe()
    assert res["eval"]["lengths"] == list(range(1, 25))
    assert {"train_range", "test_range", "accuracy", "scaled_accuracy", "sequence_accuracy", "n", "chance"} <= set(res["eval"])
    assert {"size", "eigenvalues", "probes", "state_norms"} <= set(res["analysis"])
    assert res["verify"]["float32"]["passed"] and res["verify"]["float32"]["long_len"] == 50
    json.dumps(res, allow_nan=False)                                           # plain JSON


@pytest.mark.parametrize("task, weights_task, construction, message", [
    pytest.param("parity", "S5", None, "token '0' is not a letter", id="alphabet-mismatch"),
    pytest.param("parity", "counting_mod3", "rotation", "do not compute this task", id="labels-conflict"),
])
def test_weights_for_another_task_are_refused(task, weights_task, construction, message):
    w = weights_for_task(make_task(weights_task), construction)
    with pytest.raises(ReportError, match=message):
        Binding(w, make_task(task))


def test_swaps_variant_binds_to_the_full_group_construction():
    t = make_task("S5_swaps")
    b = Binding(weights_for_task(t), t)
    assert len(b.letters) == 10 and (b.label_of_source[b.label_of_source >= 0] >= 0).all()


@pytest.mark.parametrize("bad, message", [
    pytest.param({"dtype": "float8"}, "unknown float format", id="dtype"),
    pytest.param({"test_max_len": 0}, "test_max_len must be a positive", id="length"),
    pytest.param({"train_min_len": 9, "train_max_len": 8}, "minimum above its maximum", id="range"),
])
def test_bad_options_are_named(bad, message):
    t = make_task("parity")
    with pytest.raises(ReportError, match=message):
        analyze(weights_for_task(t), t, **{**SMALL, **bad})
