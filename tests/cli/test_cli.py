"""The statetrack command as a user meets it: compile, run, check, and one-line errors (exit 2)."""
import json
import subprocess
import sys

import pytest

from statetrack.cli import main


def run_cli(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def abb(tmp_path, capsys):
    path = tmp_path / "abb.safetensors"
    code, out, _ = run_cli(capsys, "compile", "--regex", "(a|b)*abb", "--alphabet", "ab", "-o", path)
    assert code == 0 and "wrote" in out
    return path


def test_compile_run_check_regex(abb, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, "run", abb, stdin="abb\naabb\nab\n\nb a b b\n", monkeypatch=monkeypatch)
    assert code == 0
    assert out.splitlines() == ["accept", "accept", "reject", "reject", "accept"]
    code, out, _ = run_cli(capsys, "check", abb, "--max-len", 8, "--long-len", 500, "--long-words", 2)
    assert code == 0
    for dtype in ("float64", "float32", "bfloat16", "float16"):
        assert dtype in out
    assert "MISMATCH" not in out


def test_run_in_every_dtype(abb, capsys, monkeypatch):
    for dtype in ("float32", "bfloat16", "float16"):
        code, out, _ = run_cli(capsys, "run", abb, "--dtype", dtype, stdin="abb\nba\n", monkeypatch=monkeypatch)
        assert (code, out) == (0, "accept\nreject\n")


def test_group_run_prints_the_running_product(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s3.safetensors"
    assert run_cli(capsys, "compile", "--group", "S3", "-o", path)[0] == 0
    # x1 = swap(0,1) applied first, then x2 = swap(1,2): 0 -> 1 -> 2, 1 -> 0, 2 -> 1
    code, out, _ = run_cli(capsys, "run", path, stdin="1,0,2 0,2,1\n\n1,2,0 1,2,0 1,2,0\n", monkeypatch=monkeypatch)
    assert code == 0 and out.splitlines() == ["2,0,1", "0,1,2", "0,1,2"]


def test_compile_from_dfa_file_and_check_json(tmp_path, capsys):
    dfa = {"alphabet": ["x", "y"], "start": 0, "accepting": [1], "transitions": [[1, 0], [1, None]]}
    (tmp_path / "d.json").write_text(json.dumps(dfa))
    out_path, report = tmp_path / "d.safetensors", tmp_path / "check.json"
    assert run_cli(capsys, "compile", "--dfa", tmp_path / "d.json", "-o", out_path)[0] == 0
    code, _, _ = run_cli(capsys, "check", out_path, "--max-len", 6, "--long-len", 100, "--json", report)
    doc = json.loads(report.read_text())
    assert code == 0 and all(f["passed"] for f in doc["formats"]) and len(doc["formats"]) == 4


def test_check_exits_1_on_mismatch(tmp_path, capsys):
    path = tmp_path / "z60.safetensors"
    assert run_cli(capsys, "compile", "--group", "Z60", "--construction", "rotation", "-o", path)[0] == 0
    code, out, _ = run_cli(capsys, "check", path, "--max-len", 1, "--dtypes", "bfloat16", "--long-len", 2000)
    assert code == 1 and "MISMATCH" in out and "first at length" in out


def _dfa_file(tmp_path, name, text):
    p = tmp_path / f"{name}.json"
    p.write_text(text)
    return p


BAD_INPUTS = [
    pytest.param(["compile", "--regex", "(ab", "--alphabet", "ab"], "paren", id="unbalanced-regex"),
    pytest.param(["compile", "--regex", "a*c", "--alphabet", "ab"], "'c'", id="regex-symbol-outside-alphabet"),
    pytest.param(["compile", "--regex", "a"], "--alphabet", id="regex-without-alphabet"),
    pytest.param(["compile", "--group", "Q8"], "unknown group", id="unknown-group"),
    pytest.param(["compile", "--group", "S7"], "limit", id="group-over-state-limit"),
    pytest.param(["compile", "--regex", "(a|b)*a(a|b){6}", "--alphabet", "ab", "--max-states", "16"], "limit",
                 id="regex-over-state-limit"),
    pytest.param(["compile", "--dfa", "{missing}"], "cannot read", id="missing-dfa-file"),
    pytest.param(["compile", "--dfa", "{broken_json}"], "not valid JSON", id="broken-json"),
    pytest.param(["compile", "--dfa", "{bad_target}"], "not a state", id="dfa-target-out-of-range"),
    pytest.param(["compile", "--dfa", "{ragged}"], "row 1", id="dfa-ragged-row"),
    pytest.param(["compile", "--dfa", "{no_start}"], "start", id="dfa-missing-field"),
    pytest.param(["compile", "--group", "S3", "--construction", "rotation"], "cyclic", id="rotation-on-non-cyclic"),
    pytest.param(["compile", "--regex", "(a|b)*abb", "--alphabet", "ab", "--construction", "group"], "permute",
                 id="group-construction-on-non-group"),
]


@pytest.mark.parametrize("argv,needle", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, needle):
    files = {
        "missing": tmp_path / "nope.json",
        "broken_json": _dfa_file(tmp_path, "broken", '{"alphabet": ["a"], "start": 0,'),
        "bad_target": _dfa_file(tmp_path, "target", '{"alphabet": "ab", "start": 0, "accepting": [], "transitions": [[0, 5]]}'),
        "ragged": _dfa_file(tmp_path, "ragged", '{"alphabet": "ab", "start": 0, "accepting": [], "transitions": [[0, 1], [1]]}'),
        "no_start": _dfa_file(tmp_path, "nostart", '{"alphabet": "ab", "accepting": [], "transitions": [[0, 0]]}'),
    }
    argv = [a.format(**files) if "{" in a and a.strip("{}") in files else a for a in argv]
    code, out, err = run_cli(capsys, *argv, "-o", tmp_path / "out.safetensors")
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and needle.lower() in err.lower(), err
    assert not (tmp_path / "out.safetensors").exists()


@pytest.mark.parametrize("content,needle", [
    pytest.param(None, "cannot read", id="missing"),
    pytest.param(b"", "not a readable safetensors", id="empty"),
    pytest.param(b"\x00" * 64, "not a readable safetensors", id="garbage"),
    pytest.param("truncate", "not a readable safetensors", id="truncated"),
    pytest.param("no-meta", "no statetrack metadata", id="foreign-safetensors"),
    pytest.param("nan", "corrupt", id="nan-in-weights"),
])
def test_bad_weights_file_is_one_line_exit_2(tmp_path, abb, capsys, monkeypatch, content, needle):
    path = tmp_path / "w.safetensors"
    if content == "truncate":
        data = abb.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif content == "no-meta":
        import numpy as np
        from safetensors.numpy import save_file

        save_file({"x": np.zeros(3)}, str(path))
    elif content == "nan":
        import numpy as np
        from safetensors.numpy import load_file, save_file
        from safetensors import safe_open

        with safe_open(str(abb), "np") as fh:
            meta = fh.metadata()
        tensors = load_file(str(abb))
        tensors["layer0.h0"] = np.full_like(tensors["layer0.h0"], np.nan)
        save_file(tensors, str(path), metadata=meta)
    elif content is not None:
        path.write_bytes(content)
    for argv in (["run", path], ["check", path, "--max-len", 2]):
        code, out, err = run_cli(capsys, *argv, stdin="ab\n", monkeypatch=monkeypatch)
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err


@pytest.mark.parametrize("stdin,needle", [
    pytest.param("ab\nabc\n", "line 2: symbol 'c'", id="symbol-outside-alphabet"),
])
def test_run_rejects_unknown_symbols_with_line_number(abb, capsys, monkeypatch, stdin, needle):
    code, out, err = run_cli(capsys, "run", abb, stdin=stdin, monkeypatch=monkeypatch)
    assert code == 2 and out == "" and needle in err


@pytest.mark.parametrize("stdin,needle", [
    pytest.param("1,0,2 3,0,1\n", "not an element of S3", id="wrong-degree-or-not-in-group"),
    pytest.param("1,0,2 0,0,1\n", "not an element of S3", id="not-a-permutation"),
    pytest.param("1,0,x\n", "not an element of S3", id="not-a-number"),
])
def test_group_run_rejects_tokens_outside_the_group(tmp_path, capsys, monkeypatch, stdin, needle):
    path = tmp_path / "s3.safetensors"
    run_cli(capsys, "compile", "--group", "S3", "-o", path)
    code, out, err = run_cli(capsys, "run", path, stdin=stdin, monkeypatch=monkeypatch)
    assert code == 2 and out == "" and needle in err and "line 1" in err


def test_console_script_prints_no_traceback(tmp_path):
    """The installed entry point, as a user runs it: bad input -> one line on stderr, exit 2."""
    proc = subprocess.run([sys.executable, "-m", "statetrack.cli", "compile", "--regex", "a)", "--alphabet", "a",
                           "-o", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_compile_prints_the_size_report_and_honours_level_limits(tmp_path, capsys):
    path = tmp_path / "sr.safetensors"
    code, out, _ = run_cli(capsys, "compile", "--regex", "(a|b)*a(a|b){3}", "--alphabet", "ab", "-o", path)
    assert code == 0 and "krohn-rhodes  4" in out and "direct        1" in out
    code, _, err = run_cli(capsys, "compile", "--regex", "(a|b)*a(a|b){3}", "--alphabet", "ab",
                           "--construction", "krohn-rhodes", "--max-levels", 2, "-o", path)
    assert code == 2 and "over the limit of 2" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "compile", "--regex", "(a|b)*a(a|b){3}", "--alphabet", "ab", "--max-levels", 2,
                           "-o", path)
    assert code == 0 and "used direct" in out
    code, _, err = run_cli(capsys, "compile", "--group", "S3", "--max-levels", 2, "-o", path)
    assert code == 2 and "krohn-rhodes construction only" in err


def test_cli_start_up_does_not_import_torch_or_matplotlib():
    """Every command's parser is built at start-up; heavy packages load only inside the commands."""
    code = ("import sys, statetrack.cli; statetrack.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'triton', 'sympy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
