"""Finding, checking and grouping results files."""
from __future__ import annotations

import json

import pytest

from statetrack.reports.errors import ReportError
from statetrack.reports.load import find_results, group_runs, load_runs, read_run, task_title


def test_a_run_dir_a_file_and_a_tree_are_all_found(tmp_path, make_learned, write_results):
    a = write_results(tmp_path / "sweep" / "a", make_learned(seed=0))
    b = write_results(tmp_path / "sweep" / "nested" / "b", make_learned(seed=1))
    (tmp_path / "sweep" / "notes.json").write_text("{}")          # other JSON below a directory: ignored
    assert find_results([a]) == [(a / "results.json").resolve()]
    assert find_results([b / "results.json"]) == [(b / "results.json").resolve()]
    assert set(find_results([tmp_path / "sweep"])) == {(a / "results.json").resolve(), (b / "results.json").resolve()}
    assert len(find_results([a, tmp_path / "sweep"])) == 2            # each file once


def test_real_training_results_load_as_learned(cpu_runs):
    runs = load_runs([cpu_runs])
    assert len(runs) == 3 and all(r.kind == "learned" for r in runs)
    [g] = group_runs(runs)
    assert g.title == "Parity"
    assert [v.label for v in g.variants] == ["DeltaNet [0,1]", "DeltaNet [-1,1]"]
    assert [len(v.runs) for v in g.variants] == [1, 2]


def test_constructed_results_load_and_sort_last(cpu_runs, constructed_parity):
    [g] = group_runs(load_runs([constructed_parity, cpu_runs]))
    assert [v.label for v in g.variants][-1] == "construction: group"
    assert g.constructed[0].runs[0].kind == "constructed"


def test_runs_group_by_task_options_and_model(tmp_path, make_learned, write_results):
    specs = [("parity", {}, "0,1", 0), ("parity", {}, "-1,1", 0), ("parity", {}, "-1,1", 1),
             ("counting", {"m": 3, "n_symbols": 2}, "-1,1", 0), ("counting", {"m": 5, "n_symbols": 2}, "-1,1", 0)]
    for i, (task, opts, rng, seed) in enumerate(specs):
        write_results(tmp_path / f"r{i}", make_learned(task=task, options=opts, eig_range=rng, seed=seed))
    groups = group_runs(load_runs([tmp_path]))
    assert [g.title for g in groups] == ["Parity", "Counting mod 3", "Counting mod 5"]
    assert [(v.eig_range, len(v.runs)) for v in groups[0].variants] == [("0,1", 1), ("-1,1", 2)]


def test_bundles_of_runs_count_as_their_successful_runs(tmp_path, make_learned):
    bundle = {"schema": "statetrack.train.protocol/1", "device": "gpu",
              "runs": {"parity/deltanet/-1,1/s0": {"ok": True, "results": make_learned(seed=0)},
                       "parity/deltanet/-1,1/s1": {"ok": True, "results": make_learned(seed=1)},
                       "parity/deltanet/0,1/s0": {"ok": False, "error": "TrainingError: diverged"}}}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "train_protocol.json").write_text(json.dumps(bundle))
    runs = load_runs([tmp_path / "results"])
    assert [r.name for r in runs] == ["parity/deltanet/-1,1/s0", "parity/deltanet/-1,1/s1"]
    assert runs[0].where.endswith("train_protocol.json#parity/deltanet/-1,1/s0")
    with pytest.raises(ReportError, match="bundle of 2 runs"):
        read_run(tmp_path / "results" / "train_protocol.json")


def _mutations(make_learned):
    good = make_learned()
    no_eval = {k: v for k, v in good.items() if k != "eval"}
    short = json.loads(json.dumps(good))
    short["eval"]["accuracy"] = short["eval"]["accuracy"][:-1]
    return {"other-schema": {**good, "schema": "something/else"}, "no-eval": no_eval, "short-curve": short,
            "empty-bundle": {"schema": "statetrack.train.protocol/1", "runs": {"x": {"ok": False}}}}


@pytest.mark.parametrize("case, message", [
    pytest.param("other-schema", "is not a statetrack results file", id="wrong-schema"),
    pytest.param("no-eval", "lacks the key 'eval.lengths'", id="missing-key"),
    pytest.param("short-curve", "has 39 values for 40 lengths", id="ragged"),
    pytest.param("empty-bundle", "bundle holds no successful run", id="empty-bundle"),
])
def test_bad_results_name_file_and_problem(tmp_path, make_learned, case, message):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_mutations(make_learned)[case]))
    with pytest.raises(ReportError, match=message) as e:
        load_runs([tmp_path])
    assert str(path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("setup, message", [
    pytest.param(lambda p: None, "no such file or directory", id="missing"),
    pytest.param(lambda p: p.mkdir(), "no results.json", id="empty-dir"),
    pytest.param(lambda p: (p.mkdir(), (p / "results.json").write_text("{nope")), "is not valid JSON", id="bad-json"),
    pytest.param(lambda p: (p.mkdir(), (p / "results.json").write_text("[1, 2]")), "does not hold a JSON object",
                 id="not-object"),
])
def test_bad_paths_are_named(tmp_path, setup, message):
    p = tmp_path / "run"
    setup(p)
    with pytest.raises(ReportError, match=message):
        load_runs([p])


@pytest.mark.parametrize("task, title", [
    pytest.param({"name": "parity", "options": {}}, "Parity", id="parity"),
    pytest.param({"name": "counting", "options": {"m": 3, "n_symbols": 2}}, "Counting mod 3", id="mod3"),
    pytest.param({"name": "word_problem", "options": {"group": "S5", "variant": "full", "tokens_per_element": 1}},
                 "S5 word problem", id="S5"),
    pytest.param({"name": "word_problem", "options": {"group": "S5", "variant": "swaps", "tokens_per_element": 1}},
                 "S5 word problem, swaps only", id="S5-swaps"),
    pytest.param({"name": "modular_arithmetic", "options": {"m": 5}}, "Modular arithmetic mod 5 (no brackets)",
                 id="mod-arith"),
])
def test_task_titles(task, title):
    assert task_title(task) == title


def test_one_model_in_two_setups_is_two_variants_never_seeds_of_one(tmp_path, make_learned, write_results):
    write_results(tmp_path / "gpu0", make_learned(seed=0))
    write_results(tmp_path / "gpu1", make_learned(seed=1))
    write_results(tmp_path / "cpu0", make_learned(seed=0, device="cpu"))
    [g] = group_runs(load_runs([tmp_path]))
    assert sorted((v.label, len(v.runs)) for v in g.variants) == [
        ("DeltaNet [-1,1] (2 layers, d_model 16)", 2), ("DeltaNet [-1,1] (2 layers, d_model 16, CPU)", 1)]
