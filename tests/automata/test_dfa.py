"""The frozen DFA: validation at construction, words, completion, reachability, JSON."""
import json

import numpy as np
import pytest
from hypothesis import given, settings

from statetrack.automata.dfa import DFA
from statetrack.errors import AlphabetError, DFAError, LimitError, StatetrackError
from tests.strategies import accepts_all, codes_of_length, random_dfas

PARITY = dict(alphabet=("a", "b"), table=[[1, 0], [0, 1]], start=0, accepting={0})  # even number of a's


def parity(**changes) -> DFA:
    return DFA(**{**PARITY, **changes})


@pytest.mark.parametrize("changes, error, fragment", [
    pytest.param(dict(alphabet=()), AlphabetError, "alphabet is empty", id="empty-alphabet"),
    pytest.param(dict(alphabet=("a", "")), AlphabetError, "non-empty strings", id="empty-symbol"),
    pytest.param(dict(alphabet=("a", 3)), AlphabetError, "non-empty strings", id="non-string-symbol"),
    pytest.param(dict(alphabet=("a", "a")), AlphabetError, "'a' appears twice", id="duplicate-symbol"),
    pytest.param(dict(table=[[1.5, 0], [0, 1]]), DFAError, "must hold integers", id="fractional-entry"),
    pytest.param(dict(table=[["x", 0], [0, 1]]), DFAError, "must hold integers", id="string-entry"),
    pytest.param(dict(table=[1, 0]), DFAError, "2-D", id="one-dimensional-table"),
    pytest.param(dict(table=np.zeros((0, 2), dtype=int)), DFAError, "non-empty", id="no-states"),
    pytest.param(dict(table=[[1], [0]]), DFAError, "1 columns but the alphabet has 2", id="column-count"),
    pytest.param(dict(table=[[1, 0], [0, 2]]), DFAError, "from state 1 on 'b' goes to 2", id="target-too-big"),
    pytest.param(dict(table=[[1, -2], [0, 1]]), DFAError, "from state 0 on 'b' goes to -2", id="target-negative"),
    pytest.param(dict(start=2), DFAError, "start state 2", id="start-out-of-range"),
    pytest.param(dict(start="0"), DFAError, "start state '0'", id="start-not-int"),
    pytest.param(dict(accepting={5}), DFAError, "accepting state 5", id="accepting-out-of-range"),
    pytest.param(dict(labels=("x",)), DFAError, "1 labels for 2 states", id="label-count"),
])
def test_validation_names_the_problem(changes, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        parity(**changes)
    assert "\n" not in str(info.value)


def test_valid_dfa_is_frozen_and_read_only():
    d = parity()
    assert d.n_states == 2 and d.n_symbols == 2 and d.is_complete
    with pytest.raises(ValueError):
        d.table[0, 0] = 1
    with pytest.raises(AttributeError):
        d.start = 1


@pytest.mark.parametrize("word, accepted", [
    pytest.param("", True, id="empty"),
    pytest.param("a", False, id="a"),
    pytest.param("abab", True, id="abab"),
    pytest.param(["a", "b", "b"], False, id="list-word"),
])
def test_accepts(word, accepted):
    assert parity().accepts(word) is accepted


def test_trace_and_run_partial():
    d = DFA(alphabet="ab", table=[[1, -1], [1, 1]], start=0, accepting={1})
    assert list(d.trace("ab")) == [0, 1, 1]
    assert list(d.trace("ba")) == [0, -1, -1]
    assert d.run("ba") == -1 and not d.accepts("ba")


def test_encode_names_unknown_symbol():
    with pytest.raises(AlphabetError, match="symbol 'c' is not in the alphabet"):
        parity().encode("abc")


@given(random_dfas(max_states=8, max_symbols=3, partial=True))
@settings(max_examples=60, deadline=None)
def test_run_batch_matches_run(dfa):
    for length in (0, 1, 4):
        codes = codes_of_length(dfa.n_symbols, length)
        words = [[dfa.alphabet[c] for c in row] for row in codes]
        assert dfa.run_batch(codes).tolist() == [dfa.run(w) for w in words]
    # an explicit start per word
    codes = np.zeros((dfa.n_states, 1), dtype=np.int64)
    starts = np.arange(dfa.n_states)
    expect = [int(dfa.table[q, 0]) for q in starts]
    assert dfa.run_batch(codes, start=starts).tolist() == expect


@given(random_dfas(max_states=8, max_symbols=3, partial=True))
@settings(max_examples=60, deadline=None)
def test_complete_adds_one_sink_and_keeps_language(dfa):
    c = dfa.complete()
    assert c.is_complete
    if dfa.is_complete:
        assert c is dfa
    else:
        sink = dfa.n_states
        assert c.n_states == sink + 1 and sink not in c.accepting
        assert np.all(c.table[sink] == sink)
    assert np.array_equal(accepts_all(c, 5), accepts_all(dfa, 5))


@given(random_dfas(max_states=8, max_symbols=3, partial=True))
@settings(max_examples=60, deadline=None)
def test_reachable_keeps_language_and_numbers_bfs(dfa):
    r = dfa.reachable()
    assert r.start == 0
    assert np.array_equal(accepts_all(r, 5), accepts_all(dfa, 5))
    # BFS order: each state first appears, scanning rows in order, right after the ones before it
    seen = [0]
    for row in r.table:
        for x in row:
            if x >= 0 and x not in seen:
                assert x == len(seen)
                seen.append(int(x))
    assert len(seen) == r.n_states


@given(random_dfas(max_states=8, max_symbols=3, partial=True))
@settings(max_examples=40, deadline=None)
def test_json_round_trip(dfa):
    back = DFA.from_json(json.dumps(dfa.to_json()))
    assert back.alphabet == dfa.alphabet and back.start == dfa.start and back.accepting == dfa.accepting
    assert np.array_equal(back.table, dfa.table)


def test_json_round_trip_keeps_labels_and_multichar_symbols(tmp_path):
    d = DFA(alphabet=("up", "down"), table=[[1, 0], [1, -1]], start=0, accepting={1}, labels=("low", "high"))
    path = tmp_path / "d.json"
    d.save(path)
    back = DFA.load(path)
    assert back.labels == ("low", "high") and back.alphabet == ("up", "down")
    assert back.to_json() == d.to_json()
    assert json.loads(path.read_text())["transitions"] == [[1, 0], [1, None]]


GOOD = {"alphabet": ["a", "b"], "start": 0, "accepting": [1], "transitions": [[1, 0], [1, None]]}


@pytest.mark.parametrize("doc, fragment", [
    pytest.param("{not json", "not valid JSON", id="syntax"),
    pytest.param("[1, 2]", "must be an object", id="not-object"),
    pytest.param({k: v for k, v in GOOD.items() if k != "start"}, "lacks the field", id="missing-start"),
    pytest.param({**GOOD, "alphabet": 5}, "'alphabet' must be a list", id="alphabet-type"),
    pytest.param({**GOOD, "transitions": [1, 2]}, "'transitions' must be a list of rows", id="rows-type"),
    pytest.param({**GOOD, "transitions": [[1], [1, 0]]}, "row 0 has 1 entries", id="row-length"),
    pytest.param({**GOOD, "transitions": [[1, "x"], [1, 0]]}, "holds 'x'", id="entry-type"),
    pytest.param({**GOOD, "transitions": [[1, True], [1, 0]]}, "holds True", id="entry-bool"),
    pytest.param({**GOOD, "states": 3}, "'states' says 3", id="states-count"),
    pytest.param({**GOOD, "start": "0"}, "'start' must be a state number", id="start-type"),
    pytest.param({**GOOD, "accepting": 1}, "'accepting' must be a list", id="accepting-type"),
    pytest.param({**GOOD, "accepting": ["x"]}, "'accepting' holds 'x'", id="accepting-entry-string"),
    pytest.param({**GOOD, "accepting": [None]}, "'accepting' holds None", id="accepting-entry-null"),
    pytest.param({**GOOD, "accepting": [1.5]}, "'accepting' holds 1.5", id="accepting-entry-float"),
    pytest.param({**GOOD, "labels": 5}, "'labels' must be a list", id="labels-type"),
    pytest.param({**GOOD, "transitions": [[1, 0], [2, 0]]}, "goes to 2", id="target-range"),
])
def test_from_json_errors(doc, fragment):
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(DFAError, match=fragment):
        DFA.from_json(text)


def test_from_json_accepts_string_alphabet():
    d = DFA.from_json({**GOOD, "alphabet": "ab"})
    assert d.alphabet == ("a", "b")


def test_load_names_the_file(tmp_path):
    with pytest.raises(DFAError, match="cannot read DFA file"):
        DFA.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"alphabet": ["a"]')
    with pytest.raises(DFAError, match="bad.json: the DFA is not valid JSON"):
        DFA.load(bad)


def test_state_limit():
    big = DFA(alphabet="a", table=[[(q + 1) % 10] for q in range(10)], start=0, accepting={0})
    assert big.check_size(10) is big
    with pytest.raises(LimitError, match="10 states, over the limit of 9"):
        big.check_size(9)


def test_load_enforces_state_limit(tmp_path):
    path = tmp_path / "big.json"
    DFA(alphabet="a", table=[[(q + 1) % 10] for q in range(10)], start=0, accepting={0}).save(path)
    with pytest.raises(LimitError, match="big.json has 10 states"):
        DFA.load(path, max_states=5)


def test_every_error_is_a_statetrack_error():
    for cls in (AlphabetError, DFAError, LimitError):
        assert issubclass(cls, StatetrackError)
