"""``statetrack extract``: compiled weights, training runs, bad input, budgets."""
import json

import pytest

import statetrack
from statetrack.automata.dfa import DFA
from statetrack.automata.minimize import equivalent
from statetrack.cli import main
from statetrack.extract.pipeline import RECORD_FILE, summary_line

FAST = ["--exhaustive-len", "6", "--random-words", "50", "--random-len", "12", "--abstraction-len", "6"]


@pytest.fixture(scope="module")
def abb(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "abb.safetensors"
    statetrack.compile(DFA.from_regex("(a|b)*abb", "ab"), "krohn-rhodes").save(path)
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from statetrack.train import train
    from tests.train.conftest import tiny

    out = tmp_path_factory.mktemp("run") / "parity"
    train(tiny(), out, resume=False, progress=False)
    return out


def test_compiled_weights_extract_to_their_source(abb, tmp_path, capsys):
    out = tmp_path / "learned.json"
    assert main(["extract", str(abb), "-o", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert "target 4 states: equivalent" in text and "clusters needed" in text
    learned = DFA.load(out)
    assert learned.n_states == 4 and equivalent(learned, DFA.from_regex("(a|b)*abb", "ab"))


def test_training_run_writes_a_record_reports_can_read(tiny_run, tmp_path, capsys):
    rc = main(["extract", str(tiny_run), "-o", str(tmp_path / "l.json"), "--max-states", "16", *FAST])
    assert rc in (0, 1)            # a 12-step model may or may not be a small automaton
    record = json.loads((tiny_run / RECORD_FILE).read_text())
    assert record["schema"] == "statetrack.extract/1" and record["converged"] == (rc == 0)
    assert record["git"] and record["versions"]["aalpy"] and record["network"]["kind"] == "trained"
    assert record["target"]["states"] == 2 and "network_check" in record
    line = summary_line(record)
    assert ("equivalent" in line) or ("did not converge" in line)
    assert (tmp_path / "l.json").exists()


def test_budget_exceeded_writes_the_partial_hypothesis_and_exits_1(abb, tmp_path, capsys):
    out = tmp_path / "partial.json"
    assert main(["extract", str(abb), "-o", str(out), "--max-states", "2", "--method", "lstar", *FAST]) == 1
    text = capsys.readouterr().out
    assert "did not converge" in text and '"max_states": 2' in text
    assert DFA.load(out).n_states >= 1


@pytest.mark.parametrize("make, message", [
    pytest.param(lambda p: p / "nowhere", "does not exist", id="missing-path"),
    pytest.param(lambda p: (p / "run").mkdir() or p / "run", "holds no weights", id="run-without-weights"),
    pytest.param(lambda p: ((p / "bad.safetensors").write_bytes(b"garbage!" * 4), p / "bad.safetensors")[1],
                 "not a readable safetensors file", id="corrupt-weights"),
])
def test_bad_paths_exit_2_with_one_line(make, message, tmp_path, capsys):
    assert main(["extract", str(make(tmp_path)), "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_task_without_an_automaton_is_named(tiny_run, tmp_path, capsys, monkeypatch):
    from statetrack.tasks.parity import Parity

    def no_labels(self):
        raise NotImplementedError

    monkeypatch.setattr(Parity, "label_of_state", property(no_labels))
    assert main(["extract", str(tiny_run), "-o", str(tmp_path / "x.json"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "task 'parity' defines no automaton" in err and "--no-target" in err
    assert main(["extract", str(tiny_run), "-o", str(tmp_path / "x.json"), "--no-target", "--max-states", "16",
                 *FAST]) in (0, 1)
    assert "no target" in capsys.readouterr().out


def test_bad_budget_exits_2(abb, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:          # refused by the parser, before any work
        main(["extract", str(abb), "-o", str(tmp_path / "x.json"), "--budget", "0"])
    assert exc.value.code == 2
    assert "--budget: 0 is not positive" in capsys.readouterr().err


def test_report_shows_the_extraction_beside_the_run(tiny_run, tmp_path):
    from statetrack.extract.lstar import Budget
    from statetrack.extract.oracles import load_network
    from statetrack.extract.pipeline import extract
    from statetrack.reports.render import render_report
    from statetrack.train.results import write_results

    record, _ = extract(load_network(tiny_run), Budget(max_states=16, exhaustive_len=6, random_words=50,
                                                       random_len=12), abstraction_len=6)
    write_results(tiny_run / RECORD_FILE, record)
    render_report([tiny_run], tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "extracted automaton" in md and summary_line(record).replace("|", "\\|") in md
    (tiny_run / RECORD_FILE).write_text("{not json")
    render_report([tiny_run], tmp_path / "rep2")
    assert f"unreadable {RECORD_FILE}" in (tmp_path / "rep2" / "report.md").read_text()


def test_a_bundled_run_carries_its_extraction_in_its_results(tmp_path):
    from statetrack.reports.load import Run
    from statetrack.reports.render import extraction_text

    record = {"lstar": {"converged": True, "comparison": {"learned_states": 3, "target_states": 2,
                                                          "equivalent": False, "counterexample": ["1", "1"],
                                                          "network_fails_at": 2}}}
    run = Run(path=tmp_path / "bundle.json", data={"extraction": record}, kind="learned", name="parity/x")
    assert extraction_text(run) == ("extracted 3 / target 2 states, equivalent no, shortest counterexample '1 1' "
                                    "(2 letters), network first fails at length 2")
    assert extraction_text(Run(path=tmp_path / "b.json", data={}, kind="learned", name="y")) == "—"


@pytest.mark.parametrize("task, options", [
    pytest.param("even_pairs", {}, id="even-pairs-unlabelled-start"),
    pytest.param("counting", {"m": 3}, id="counting-mod-3"),
    pytest.param("word_problem", {"group": "S3", "tokens_per_element": 2}, id="S3-2-tokens-unlabelled-phases"),
])
def test_multi_class_and_partly_unlabelled_tasks(task, options, tmp_path):
    """A barely trained run: whatever it learned, unlabelled positions read -1 and never count."""
    import numpy as np

    from statetrack.extract.lstar import Budget
    from statetrack.extract.oracles import load_network
    from statetrack.extract.pipeline import extract
    from statetrack.tasks import make_task
    from statetrack.train import train
    from tests.train.conftest import tiny

    train(tiny(task=task, task_options=options), tmp_path / "run", resume=False, progress=False)
    net = load_network(tmp_path / "run")
    t = make_task(task, options)
    labels = np.asarray(t.label_of_state)
    words = np.random.default_rng(0).integers(0, t.vocab_size, size=(64, 7))
    got = np.stack(net.outputs([tuple(w) for w in words.tolist()]))                        # (64, 8)
    want = net.target.run_outputs(words)
    assert np.array_equal(got < 0, want < 0) and (labels < 0).any() == (want < 0).any()
    record, machine = extract(net, Budget(max_states=40, exhaustive_len=4, random_words=30, random_len=8,
                                          max_seconds=60), abstraction_len=4)
    assert record["target"]["states"] == net.target.minimize().n_states and machine is not None
    assert record["network_check"]["words"] > 0
