"""The analyze and report subcommands: files written, one-line errors with exit status 2."""
from __future__ import annotations

import json

import pytest

from statetrack.cli import main


def test_analyze_writes_results_and_weights(tmp_path, capsys):
    out = tmp_path / "mod3"
    code = main(["analyze", "--task", "counting:m=3", "--train-len", "3", "8", "--test-len", "8", "16",
                 "--eval-samples", "16", "--verify-len", "0", "--norm-length-factor", "2", "--save-weights",
                 "--out", str(out)])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "constructed" and res["construction"]["construction"] == "rotation"
    assert res["analysis"]["state_norms"]["lengths"][-1] == 16
    assert (out / "weights.safetensors").is_file()
    assert "counting rotation: test 8-16 scaled accuracy 1.000" in capsys.readouterr().out


def test_analyze_reads_a_weights_file_and_copies_lengths_like_a_run(tmp_path, cpu_runs):
    from statetrack.automata.dfa import DFA
    from statetrack.constructions import compile as compile_weights

    wfile = tmp_path / "parity.safetensors"
    compile_weights(DFA.from_regex("0*(10*10*)*10*", "01"), "direct").save(wfile)      # odd number of 1s
    out = tmp_path / "parity_direct"
    assert main(["analyze", str(wfile), "--task", "parity", "--like", str(cpu_runs / "parity_0,1_s0"),
                 "--eval-samples", "16", "--verify-len", "0", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["model"]["construction"] == "direct" and res["config"]["weights_file"] == str(wfile)
    assert (res["config"]["train_max_len"], res["config"]["test_max_len"]) == (10, 40)
    assert res["eval"]["test_range"]["scaled_accuracy"] == 1.0
    assert not (out / "weights.safetensors").exists()                     # only with --save-weights


def test_report_command(tmp_path, cpu_runs, capsys):
    assert main(["report", str(cpu_runs), "-o", str(tmp_path / "rep"), "--title", "t"]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()
    assert "1 task(s), 3 results file(s), 6 figures (Parity)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    pytest.param(["report", "{tmp}/nowhere", "-o", "{tmp}/r"], "no such file or directory", id="missing-dir"),
    pytest.param(["report", "{tmp}/empty", "-o", "{tmp}/r"], "no results.json", id="no-results"),
    pytest.param(["report", "{tmp}/wrong", "-o", "{tmp}/r"], "is not a statetrack results file", id="wrong-schema"),
    pytest.param(["analyze", "--task", "nosuchtask", "--out", "{tmp}/a"], "unknown task 'nosuchtask'", id="task"),
    pytest.param(["analyze", "{tmp}/none.safetensors", "--task", "parity", "--out", "{tmp}/a"],
                 "cannot read weights file", id="weights-file"),
    pytest.param(["analyze", "--task", "S5", "--construction", "rotation", "--out", "{tmp}/a"],
                 "applies to cyclic groups", id="construction"),
    pytest.param(["analyze", "--task", "parity", "--like", "{tmp}/empty", "--out", "{tmp}/a"], "no results.json",
                 id="like"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / "results.json").write_text('{"schema": "other/1"}')
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
