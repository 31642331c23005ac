"""`statetrack claims`: table, JSON record, exit codes."""
import json
import os
import subprocess
import sys

import pytest

from statetrack.cli import main
from statetrack.proofs_check import runner
from statetrack.proofs_check.result import ClaimResult

CLAIMS = ("parity.float8_exhaustive", "parity.per_step_triangular", "parity.general_nonneg_exact_state",
          "parity.per_step_scope", "parity.reflection_solves", "mod3.non_triangular_needed",
          "mod3.per_factor_real_spectrum_counts", "mod3.counters", "gh.norm_bound",
          "gh.factorization", "gh.real_spectrum", "gh.k3_complex_witness", "one_hot.merge_needs_nonsymmetric",
          "p2.norm_rank", "p2.reachable_eigenvalues", "p2.one_layer_groups")


def test_quick_run_holds_and_writes_json(tmp_path):
    out = tmp_path / "claims.json"
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "statetrack.cli", "claims", "--quick", "--json", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["all_hold"] and record["quick"]
    assert [c["claim"] for c in record["claims"]] == list(CLAIMS)
    assert all(c["verdict"] == "holds" for c in record["claims"])
    assert record["environment"]["versions"]["numpy"] and record["environment"]["git"]["commit"]
    assert "seconds" in record["claims"][0]["details"]
    assert all(c["details"]["rounding"] != "-" for c in record["claims"])         # every row states its model
    renamed = next(c for c in record["claims"] if c["claim"] == "mod3.non_triangular_needed")
    assert renamed["details"]["renamed_from"] == "mod3.triangular_period"
    for c in record["claims"]:
        assert set(c) == {"claim", "reference", "fmt", "verdict", "evidence", "witness", "details"}
    assert "statetrack claims" in proc.stdout and f"{len(CLAIMS)} of {len(CLAIMS)} checks hold" in proc.stdout


def _failing():
    return ClaimResult("test.broken", "none", "float64", "fails", "deliberately broken", {"x": 1}, {})


def _crashing():
    raise RuntimeError("boom")


def test_a_failing_claim_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "claim_plan", lambda quick: [("test.broken", _failing), ("test.crash", _crashing)])
    out = tmp_path / "sub" / "claims.json"
    assert main(["claims", "--quick", "--json", str(out)]) == 1
    record = json.loads(out.read_text())
    assert not record["all_hold"]
    crash = record["claims"][1]
    assert crash["verdict"] == "fails" and "RuntimeError: boom" in crash["evidence"]
    assert "0 of 2 checks hold" in capsys.readouterr().out


def test_only_selects_claims_by_prefix(tmp_path):
    out = tmp_path / "gh.json"
    assert main(["claims", "--quick", "--only", "gh.", "--json", str(out)]) == 0
    assert {c["claim"] for c in json.loads(out.read_text())["claims"]} == {
        "gh.norm_bound", "gh.factorization", "gh.real_spectrum", "gh.k3_complex_witness"}


@pytest.mark.parametrize("argv, message", [
    pytest.param(["claims", "--only", "nonsense"], "matches no claim", id="unknown-claim"),
    pytest.param(["claims", "--quick", "--only", "gh.norm", "--json", "/proc/no/such/dir/x.json"], "cannot write",
                 id="unwritable-json"),
])
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and message in err[-1] and "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("columns", [pytest.param(80, id="80"), pytest.param(120, id="120")])
def test_claims_table_fits_the_terminal_width(columns, monkeypatch, capsys):
    from statetrack.proofs_check.result import ClaimResult
    from statetrack.proofs_check.runner import render

    monkeypatch.setenv("COLUMNS", str(columns))
    long = "a sentence of evidence with numbers 0.123456 and more words " * 4
    render([ClaimResult("parity.float8_exhaustive", "P1 Thm 1 / Lemma 1", "float8_e4m3, float8_e5m2", "holds",
                        long, {"w": list(range(30))})])
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(map(len, lines)) <= columns
