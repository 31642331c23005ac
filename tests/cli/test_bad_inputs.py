"""A table of bad inputs for every command: each ends with exit 2 and one line on stderr, no traceback.

Paths (existing directories, paths under a regular file, missing and empty files, non-UTF-8 bytes),
numbers (negative counts, seeds and lengths, zero sizes), alphabets (blank and repeated symbols,
empty), stdin bytes and empty inputs. Each case runs the real ``main`` in this process, so a
traceback would surface here as an uncaught exception.
"""
import io
import sys

import pytest

from statetrack.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    assert main(["compile", "--regex", "(a|b)*abb", "--alphabet", "ab", "-o", str(d / "abb.safetensors")]) == 0
    assert main(["compile", "--group", "S3", "-o", str(d / "s3.safetensors")]) == 0
    (d / "plain").write_text("not a directory\n")
    (d / "empty").write_bytes(b"")
    (d / "garbage").write_bytes(b"\xff\xfe\x00garbage")
    (d / "list.json").write_text("[1, 2]\n")
    (d / "broken.json").write_text('{"alphabet": ')
    (d / "blank_symbol.json").write_text('{"alphabet": ["x y", "z"], "start": 0, "accepting": [0], '
                                         '"transitions": [[0, 0]]}')
    (d / "folder").mkdir()
    (d / "folder" / "x.txt").write_text("no results here\n")
    return d


W, G = "abb.safetensors", "s3.safetensors"
REGEX = ["compile", "--regex", "ab*", "--alphabet", "ab"]
TRAIN = ["train", "--task", "parity", "--steps", "2", "--no-progress"]
CASES = [
    # ---- compile: output paths, alphabets, counts, sources
    pytest.param(REGEX + ["-o", "{d}/folder"], None, id="compile-o-existing-directory"),
    pytest.param(REGEX + ["-o", "{d}/plain/x.safetensors"], None, id="compile-o-under-a-file"),
    pytest.param(REGEX + ["-o", ""], None, id="compile-o-empty"),
    pytest.param(["compile", "--regex", "ab", "--alphabet", "a\nb", "-o", "{d}/o1"], None, id="compile-newline-symbol"),
    pytest.param(["compile", "--dfa", "{d}/blank_symbol.json", "-o", "{d}/o2"], None, id="compile-symbol-with-a-blank"),
    pytest.param(["compile", "--regex", "ab", "--alphabet", "aab", "-o", "{d}/o3"], None, id="compile-repeated-symbol"),
    pytest.param(["compile", "--regex", "ab", "--alphabet", "", "-o", "{d}/o4"], None, id="compile-empty-alphabet"),
    pytest.param(["compile", "--regex", "(ab", "--alphabet", "ab", "-o", "{d}/o5"], None, id="compile-bad-regex"),
    pytest.param(["compile", "--regex", "ac", "--alphabet", "ab", "-o", "{d}/o6"], None, id="compile-symbol-outside"),
    pytest.param(REGEX + ["--max-states", "-1", "-o", "{d}/o7"], None, id="compile-max-states-negative"),
    pytest.param(REGEX + ["--max-states", "0", "-o", "{d}/o8"], None, id="compile-max-states-zero"),
    pytest.param(REGEX + ["--construction", "krohn-rhodes", "--max-levels", "-1", "-o", "{d}/o9"], None,
                 id="compile-max-levels-negative"),
    pytest.param(REGEX + ["--construction", "krohn-rhodes", "--max-width", "0", "-o", "{d}/o10"], None,
                 id="compile-max-width-zero"),
    pytest.param(REGEX + ["--max-states", "x", "-o", "{d}/o11"], None, id="compile-max-states-not-a-number"),
    pytest.param(["compile", "--dfa", "{d}/missing.json", "-o", "{d}/o12"], None, id="compile-dfa-missing"),
    pytest.param(["compile", "--dfa", "{d}/folder", "-o", "{d}/o13"], None, id="compile-dfa-directory"),
    pytest.param(["compile", "--dfa", "{d}/empty", "-o", "{d}/o14"], None, id="compile-dfa-empty"),
    pytest.param(["compile", "--dfa", "{d}/garbage", "-o", "{d}/o15"], None, id="compile-dfa-binary"),
    pytest.param(["compile", "--dfa", "{d}/list.json", "-o", "{d}/o16"], None, id="compile-dfa-list"),
    pytest.param(["compile", "--dfa", "{d}/broken.json", "-o", "{d}/o17"], None, id="compile-dfa-truncated"),
    pytest.param(["compile", "--group", "", "-o", "{d}/o18"], None, id="compile-group-empty"),
    pytest.param(["compile", "--group", "S0", "-o", "{d}/o19"], None, id="compile-group-S0"),
    pytest.param(["compile", "--group", "Z-3", "-o", "{d}/o20"], None, id="compile-group-negative"),
    pytest.param(["compile", "--group", "S9", "-o", "{d}/o21"], None, id="compile-group-too-large"),
    pytest.param(["compile", "--group", "Q8", "-o", "{d}/o22"], None, id="compile-group-unknown"),
    # ---- run: weights files and stdin
    pytest.param(["run", "{d}/missing.safetensors"], "ab\n", id="run-missing-file"),
    pytest.param(["run", "{d}/folder"], "ab\n", id="run-directory"),
    pytest.param(["run", "{d}/empty"], "ab\n", id="run-empty-file"),
    pytest.param(["run", "{d}/garbage"], "ab\n", id="run-garbage-file"),
    pytest.param(["run", "{d}/" + W], "abc\n", id="run-symbol-outside"),
    pytest.param(["run", "{d}/" + W], "a\x00b\n", id="run-nul-byte"),
    pytest.param(["run", "{d}/" + W], b"a\xffb\n", id="run-invalid-utf8"),
    pytest.param(["run", "{d}/" + G], "0,0,1\n", id="run-group-bad-token"),
    pytest.param(["run", "{d}/" + G], "0,1,2,\n", id="run-group-trailing-comma"),
    # ---- check: numbers and paths
    pytest.param(["check", "{d}/" + W, "--max-len", "-1"], None, id="check-max-len-negative"),
    pytest.param(["check", "{d}/" + W, "--max-len", "2", "--long-len", "-5"], None, id="check-long-len-negative"),
    pytest.param(["check", "{d}/" + W, "--max-len", "2", "--long-words", "-1"], None, id="check-long-words-negative"),
    pytest.param(["check", "{d}/" + W, "--max-len", "2", "--seed", "-1"], None, id="check-seed-negative"),
    pytest.param(["check", "{d}/" + W, "--max-len", "2", "--json", "{d}/folder"], None, id="check-json-directory"),
    pytest.param(["check", "{d}/" + W, "--max-len", "2", "--json", "{d}/plain/c.json"], None, id="check-json-under-a-file"),
    pytest.param(["check", "{d}/" + W, "--max-len", "60"], None, id="check-max-len-over-limit"),
    pytest.param(["check", "{d}/" + W, "--max-len", "2", "--dtypes"], None, id="check-dtypes-none"),
    pytest.param(["check", "{d}/folder", "--max-len", "2"], None, id="check-weights-directory"),
    # ---- claims
    pytest.param(["claims", "--quick", "--json", "{d}/folder"], None, id="claims-json-directory"),
    pytest.param(["claims", "--quick", "--json", "{d}/plain/c.json"], None, id="claims-json-under-a-file"),
    pytest.param(["claims", "--quick", "--only", "nonsense"], None, id="claims-only-unknown"),
    # ---- train: output, numbers, sources, config files
    pytest.param(TRAIN + ["--out", "{d}/plain"], None, id="train-out-regular-file"),
    pytest.param(TRAIN + ["--out", "{d}/plain/run"], None, id="train-out-under-a-file"),
    pytest.param(TRAIN[:4] + ["-1", "--out", "{d}/t1"], None, id="train-steps-negative"),
    pytest.param(TRAIN + ["--batch-size", "0", "--out", "{d}/t2"], None, id="train-batch-zero"),
    pytest.param(TRAIN + ["--lr", "-1", "--out", "{d}/t3"], None, id="train-lr-negative"),
    pytest.param(TRAIN + ["--lr", "nan", "--out", "{d}/t3b"], None, id="train-lr-nan"),
    pytest.param(TRAIN + ["--train-len", "5", "3", "--out", "{d}/t4"], None, id="train-len-reversed"),
    pytest.param(TRAIN + ["--test-len", "-1", "10", "--out", "{d}/t5"], None, id="train-test-len-negative"),
    pytest.param(TRAIN + ["--seed", "-1", "--out", "{d}/t6"], None, id="train-seed-negative"),
    pytest.param(TRAIN + ["--layers", "0", "--out", "{d}/t7"], None, id="train-layers-zero"),
    pytest.param(TRAIN + ["--heads", "0", "--out", "{d}/t8"], None, id="train-heads-zero"),
    pytest.param(TRAIN + ["--d-model", "-4", "--out", "{d}/t9"], None, id="train-d-model-negative"),
    pytest.param(TRAIN + ["--threads", "-2", "--out", "{d}/t10"], None, id="train-threads-negative"),
    pytest.param(TRAIN + ["--device", "cuda:7", "--out", "{d}/t11"], None, id="train-device-missing"),
    pytest.param(TRAIN + ["--device", "tpu", "--out", "{d}/t11b"], None, id="train-device-unknown"),
    pytest.param(["train", "--task", "nosuch", "--out", "{d}/t12"], None, id="train-task-unknown"),
    pytest.param(TRAIN + ["--task-opt", "nonsense", "--out", "{d}/t13"], None, id="train-task-opt-malformed"),
    pytest.param(["train", "--regex", "ab", "--alphabet", "aab", "--out", "{d}/t14"], None, id="train-repeated-symbol"),
    pytest.param(["train", "--regex", "(", "--alphabet", "ab", "--out", "{d}/t15"], None, id="train-bad-regex"),
    pytest.param(["train", "--dfa", "{d}/missing.json", "--out", "{d}/t16"], None, id="train-dfa-missing"),
    pytest.param(TRAIN + ["--config", "{d}/missing.json", "--out", "{d}/t17"], None, id="train-config-missing"),
    pytest.param(TRAIN + ["--config", "{d}/folder", "--out", "{d}/t18"], None, id="train-config-directory"),
    pytest.param(TRAIN + ["--config", "{d}/garbage", "--out", "{d}/t19"], None, id="train-config-binary"),
    pytest.param(TRAIN + ["--config", "{d}/list.json", "--out", "{d}/t20"], None, id="train-config-list"),
    pytest.param(TRAIN + ["--out", ""], None, id="train-out-empty"),
    # ---- sweep
    pytest.param(["sweep", "{d}/missing.toml"], None, id="sweep-config-missing"),
    pytest.param(["sweep", "{d}/folder"], None, id="sweep-config-directory"),
    pytest.param(["sweep", "{d}/list.json", "--workers", "0"], None, id="sweep-workers-zero"),
    # ---- analyze and report
    pytest.param(["analyze", "--task", "parity", "--out", "{d}/plain"], None, id="analyze-out-regular-file"),
    pytest.param(["analyze", "--task", "parity", "--eval-samples", "0", "--out", "{d}/a1"], None,
                 id="analyze-eval-samples-zero"),
    pytest.param(["analyze", "--task", "parity", "--verify-len", "-1", "--out", "{d}/a2"], None,
                 id="analyze-verify-len-negative"),
    pytest.param(["analyze", "--task", "parity", "--norm-dtypes", "float8", "--out", "{d}/a3"], None,
                 id="analyze-norm-dtype-unknown"),
    pytest.param(["analyze", "{d}/garbage", "--task", "parity", "--out", "{d}/a4"], None, id="analyze-weights-garbage"),
    pytest.param(["report", "{d}/missing", "-o", "{d}/r1"], None, id="report-run-missing"),
    pytest.param(["report", "{d}/folder", "-o", "{d}/r2"], None, id="report-no-results"),
    pytest.param(["report", "{d}/garbage", "-o", "{d}/r3"], None, id="report-run-binary"),
    pytest.param(["report", "{d}/folder", "-o", "{d}/plain"], None, id="report-out-regular-file"),
    # ---- bench and demo
    pytest.param(["bench", "nosuch"], None, id="bench-unknown-suite"),
    pytest.param(["bench", "kernels", "--nonsense"], None, id="bench-unknown-flag"),
    pytest.param(["bench", "train", "--steps", "0"], None, id="bench-train-zero-steps"),
    pytest.param(["bench", "train", "--quick", "--out", "{d}/folder"], None, id="bench-train-out-directory"),
    pytest.param(["bench", "train", "--quick", "--out", "{d}/plain/t.json"], None, id="bench-train-out-under-a-file"),
    pytest.param(TRAIN + ["--seeds", "0", "1", "-o", "{d}/plain"], None, id="train-group-o-a-file"),
    pytest.param(TRAIN + ["--seeds", "0", "--eig-ranges", "0,2", "-o", "{d}/g"], None, id="train-group-bad-range"),
    pytest.param(TRAIN + ["--lrs", "0", "-o", "{d}/g"], None, id="train-group-zero-lr"),
    pytest.param(["demo", "--nonsense"], None, id="demo-unknown-flag"),
    pytest.param(["nosuch"], None, id="unknown-command"),
]


@pytest.mark.parametrize("argv, stdin", CASES)
def test_bad_input_exits_2_with_one_line(files, argv, stdin, capsys, monkeypatch):
    argv = [a.replace("{d}", str(files)) for a in argv]
    if stdin is not None:
        raw = stdin if isinstance(stdin, bytes) else stdin.encode()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    try:
        code = main(argv)
    except SystemExit as e:           # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("statetrack"), err


@pytest.mark.parametrize("alphabet, regex, stdin, expected", [
    pytest.param("ab ", "a b", "a b\nab\n a\n", ["accept", "reject", "reject"], id="space"),
    pytest.param("ab\t", "a\tb", "a\tb\nab\n", ["accept", "reject"], id="tab"),
])
def test_a_blank_symbol_works_end_to_end(tmp_path, alphabet, regex, stdin, expected, capsys, monkeypatch):
    """A blank in the alphabet is read as a symbol by `run` (each character of the line is one)."""
    path = tmp_path / "w.safetensors"
    assert main(["compile", "--regex", regex, "--alphabet", alphabet, "-o", str(path)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["run", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == expected


def test_python_api_refuses_one_string_as_a_list_of_words():
    from statetrack import DFA, compile
    from statetrack.errors import ArgumentError

    model = compile(DFA.from_regex("(a|b)*abb", "ab"))
    with pytest.raises(ArgumentError, match=r"\['abb'\]"):
        model.accepts("abb")
    assert model.accepts(["abb", "ab"]) == [True, False]


@pytest.mark.parametrize("call", [
    pytest.param(lambda: __import__("statetrack").DFA.from_regex("(a|b)*a(a|b){12}", "ab", max_states=64),
                 id="regex-state-limit"),
    pytest.param(lambda: __import__("statetrack").group("S6", max_order=100), id="group-order-limit"),
    pytest.param(lambda: __import__("statetrack.verify").verify.check(
        __import__("statetrack").compile(__import__("statetrack").group("S3")), max_len=12), id="check-word-limit"),
])
def test_python_api_errors_name_no_cli_flag(call):
    from statetrack.errors import StatetrackError

    with pytest.raises(StatetrackError) as info:
        call()
    assert "--" not in str(info.value) and "max_" in str(info.value)      # the API's own keyword
    assert "--max-" in info.value.cli_message()                          # what `statetrack` prints
