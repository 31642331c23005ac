"""statetrack.provenance: atomic JSON, one NaN convention, the recorded run description."""
import json
import math

import numpy as np
import pytest

from statetrack.errors import StatetrackError
from statetrack.provenance import atomic_write_bytes, jsonable, provenance, read_json, write_json


def test_nan_and_inf_are_null_everywhere(tmp_path):
    doc = {"a": float("nan"), "b": [np.float32("inf"), -math.inf, 1.5], "c": np.array([np.nan, 2.0]),
           "d": np.int64(3), "e": complex(1, float("nan"))}
    write_json(tmp_path / "x.json", doc)
    text = (tmp_path / "x.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": [None, 2.0], "d": 3,
                                "e": {"re": 1.0, "im": None}}


def test_jsonable_keeps_plain_values():
    assert jsonable({1: (True, None, "s", 2)}) == {"1": [True, None, "s", 2]}


def test_provenance_fields():
    p = provenance(seed=7, dtype="float16", backend="numpy")
    assert (p["seed"], p["dtype"], p["backend"], p["device"]) == (7, "float16", "numpy", "cpu")
    assert p["versions"]["statetrack"] and p["versions"]["numpy"] == np.__version__
    assert set(p["git"]) == {"commit", "dirty"}


def test_commit_recorded_in_a_checkout():
    git = provenance()["git"]
    assert git["commit"] is None or (len(git["commit"]) == 40 and isinstance(git["dirty"], bool))


@pytest.mark.parametrize("make_target", [
    pytest.param(lambda d: d, id="existing-directory"),
    pytest.param(lambda d: [(d / "f").write_text("x"), d / "f" / "out.json"][1], id="under-a-regular-file"),
])
def test_unwritable_paths_raise_one_line(tmp_path, make_target):
    target = make_target(tmp_path)
    with pytest.raises(StatetrackError, match=str(tmp_path)):
        atomic_write_bytes(target, b"{}")


def test_interrupted_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "r.json"
    write_json(path, {"v": 1})

    class Boom:   # not JSON-serialisable: the write fails before anything reaches the file
        pass

    with pytest.raises(TypeError):
        write_json(path, {"v": Boom()})
    assert read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize("content, match", [
    pytest.param(None, "not found", id="missing"),
    pytest.param("{", "not valid JSON", id="broken"),
])
def test_read_json_names_the_problem(tmp_path, content, match):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(StatetrackError, match=match):
        read_json(path)
    with pytest.raises(StatetrackError, match="directory"):
        read_json(tmp_path)
