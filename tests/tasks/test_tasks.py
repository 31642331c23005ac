"""Tasks: samplers agree with their automata, worked examples, options and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from statetrack.automata.groups import group
from statetrack.tasks import PRESETS, TASKS, Task, TaskError, make_task, parse_task_spec
from statetrack.tasks.base import Batch

ALL = [
    pytest.param("parity", {}, id="parity"),
    pytest.param("even_pairs", {}, id="even_pairs"),
    pytest.param("cycle_navigation", {}, id="cycle_navigation"),
    pytest.param("modular_arithmetic", {}, id="modular_arithmetic"),
    pytest.param("counting", {"m": 3}, id="counting_mod3"),
    pytest.param("counting", {"m": 5, "n_symbols": 1}, id="counting_unary"),
    pytest.param("S3", {}, id="S3"),
    pytest.param("S5", {}, id="S5"),
    pytest.param("A5", {}, id="A5"),
    pytest.param("Z60", {}, id="Z60"),
    pytest.param("A4xZ5", {}, id="A4xZ5"),
    pytest.param("S5_swaps", {}, id="S5_swaps"),
    pytest.param("S5_swaps", {"identity": True}, id="S5_swaps_identity"),
    pytest.param("S5_tokens4", {}, id="S5_tokens4"),
    pytest.param("A5_tokens4", {}, id="A5_tokens4"),
    pytest.param("regex", {"regex": "(a|b)*abb", "alphabet": "ab"}, id="regex_accept"),
    pytest.param("regex", {"regex": "(ab|c)*", "alphabet": "abc", "output": "state"}, id="regex_state"),
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def agree_with_automaton(task: Task, batch: Batch) -> bool:
    """The sampler's labels equal the ones read off the task's automaton (the slow twin)."""
    ref = task.label(batch.inputs)
    return bool(torch.equal(ref.mask, batch.mask) and torch.equal(ref.targets[ref.mask], batch.targets[batch.mask]))


@pytest.mark.parametrize("name,opts", ALL)
def test_sampler_contract(name, opts):
    task = make_task(name, opts)
    x, y, m = task.sample_batch(32, 17, gen())
    assert x.shape == y.shape == m.shape == (32, 17)
    assert x.dtype == y.dtype == torch.int64 and m.dtype == torch.bool
    assert 0 <= int(x.min()) and int(x.max()) < task.vocab_size
    assert 0 <= int(y[m].min()) and int(y[m].max()) < task.n_classes
    assert m.any()
    assert task.chance == pytest.approx(1 / task.n_classes)
    again = task.sample_batch(32, 17, gen())
    assert torch.equal(again.inputs, x) and torch.equal(again.targets, y)


@pytest.mark.parametrize("name,opts", ALL)
def test_labels_match_automaton(name, opts):
    task = make_task(name, opts)
    for length in (1, 8, 33):
        assert agree_with_automaton(task, task.sample_batch(64, length, gen(length)))


@pytest.mark.parametrize("name,opts", ALL)
def test_states_determine_labels(name, opts):
    """The probe target (true state) is defined wherever there is a label and fixes the label."""
    task = make_task(name, opts)
    b = task.sample_batch(64, 24, gen(3))
    q = task.states(b.inputs)
    assert q.shape == b.inputs.shape
    assert bool((q[b.mask] >= 0).all()) and int(q.max()) < task.n_states
    if isinstance(task, make_task("S3").__class__):          # word problems: state = label
        assert torch.equal(q[b.mask], b.targets[b.mask])
    else:
        lab = torch.as_tensor(task.label_of_state)[q]
        assert torch.equal(lab[b.mask], b.targets[b.mask])


def agree_with_python_re(task: Task, batch: Batch, pattern: str) -> bool:
    """An oracle independent of the task's DFA: the label at position t says whether the prefix
    x[:t+1] matches ``pattern`` under Python's ``re.fullmatch`` (for output="state", whether the
    labelled state is accepting)."""
    import re

    accepting = task.automaton().accepting_mask
    for row, target, mask in zip(batch.inputs.tolist(), batch.targets.tolist(), batch.mask.tolist()):
        text = "".join(task.tokens[i] for i in row)
        for end in range(1, len(text) + 1):
            if not mask[end - 1]:
                return False
            label = target[end - 1]
            said = bool(accepting[label]) if task.output == "state" else bool(label)
            if said != (re.fullmatch(pattern, text[:end]) is not None):
                return False
    return True


def same_state_same_future(task: Task, batch: Batch, pattern: str, depth: int = 3) -> bool:
    """output="state": prefixes given the same state label agree (by ``re``) on every continuation
    up to ``depth`` letters (Myhill-Nerode), and prefixes given different labels differ on one."""
    import itertools
    import re

    futures = ["".join(w) for k in range(depth + 1) for w in itertools.product(task.tokens, repeat=k)]
    seen: dict[int, tuple] = {}
    for row, target in zip(batch.inputs.tolist(), batch.targets.tolist()):
        text = "".join(task.tokens[i] for i in row)
        for end in range(1, len(text) + 1):
            sig = tuple(re.fullmatch(pattern, text[:end] + f) is not None for f in futures)
            if seen.setdefault(target[end - 1], sig) != sig:
                return False
    return len(set(seen.values())) == len(seen)


@pytest.mark.parametrize("opts", [
    pytest.param({"regex": "(a|b)*abb", "alphabet": "ab"}, id="regex_accept"),
    pytest.param({"regex": "(ab|c)*", "alphabet": "abc", "output": "state"}, id="regex_state"),
])
def test_regex_task_labels_match_python_re(opts):
    task = make_task("regex", opts)
    batch = task.sample_batch(48, 14, gen(11))
    assert agree_with_python_re(task, batch, opts["regex"])
    if opts.get("output") == "state":
        assert same_state_same_future(task, batch, opts["regex"])
    rolled = Batch(batch.inputs, torch.roll(batch.targets, 1, dims=1), batch.mask)     # a broken sampler
    assert not agree_with_python_re(task, rolled, opts["regex"])


def test_nerode_oracle_catches_merged_states():
    task = make_task("regex", {"regex": "(ab|c)*", "alphabet": "abc", "output": "state"})
    batch = task.sample_batch(48, 14, gen(11))
    merged = Batch(batch.inputs, torch.where(batch.targets == 1, 0, batch.targets), batch.mask)
    assert not same_state_same_future(task, merged, "(ab|c)*")


def test_broken_labels_are_caught():
    class OffByOne(type(make_task("parity"))):
        def sample_batch(self, batch, length, generator):
            x, y, m = super().sample_batch(batch, length, generator)
            return Batch(x, torch.roll(y, 1, dims=1), m)

    t = OffByOne()
    assert not agree_with_automaton(t, t.sample_batch(16, 10, gen()))


@pytest.mark.parametrize("word,expected", [
    pytest.param("10110", [1, 1, 0, 1, 1], id="parity"),
    pytest.param("0000", [0, 0, 0, 0], id="parity_zeros"),
])
def test_parity_examples(word, expected):
    x = torch.tensor([[int(c) for c in word]])
    assert make_task("parity").label(x).targets[0].tolist() == expected


def test_even_pairs_example():
    t = make_task("even_pairs")
    assert t.label_word("abbab") == [1, 0, 0, 1, 0]
    x = torch.tensor([[0, 1, 1, 0, 1]])
    assert t.label(x).targets[0].tolist() == [1, 0, 0, 1, 0]


def test_cycle_navigation_example():
    x = torch.tensor([[2, 2, 0, 1, 0, 0]])        # +1 +1 -1 0 -1 -1
    assert make_task("cycle_navigation").label(x).targets[0].tolist() == [1, 2, 1, 1, 0, 4]


def test_counting_example():
    x = torch.tensor([[1, 0, 1, 1, 1, 0]])
    assert make_task("counting", {"m": 3}).label(x).targets[0].tolist() == [1, 1, 2, 0, 1, 1]


def test_modular_arithmetic_matches_python_eval():
    t = make_task("modular_arithmetic")
    b = t.sample_batch(200, 15, gen(5))
    assert b.mask[:, ::2].all() and not b.mask[:, 1::2].any()
    for row, target in zip(b.inputs.tolist(), b.targets.tolist()):
        text = "".join(t.tokens[i] for i in row)
        for end in range(1, 16, 2):
            assert eval(text[:end]) % 5 == target[end - 1], text[:end]


def test_word_problem_running_product():
    t = make_task("S5")
    g = group("S5")
    b = t.sample_batch(20, 12, gen(7))
    for row, target in zip(b.inputs.tolist(), b.targets.tolist()):
        toks = [t.tokens[i] for i in row]
        for end in range(1, 13):
            assert g.token(g.product(toks[:end])) == t.classes[target[end - 1]]


def test_swaps_variant_tokens_are_transpositions():
    t = make_task("S5_swaps")
    assert t.vocab_size == 10 and t.n_classes == 120
    for tok in t.tokens:
        perm = np.array([int(v) for v in tok.split(",")])
        assert (perm != np.arange(5)).sum() == 2
    assert make_task("S5_swaps", {"identity": True}).vocab_size == 11


def test_tokens_per_element_spells_each_element():
    t = make_task("S5_tokens4")
    g = group("S5")
    b = t.sample_batch(16, 20, gen(2))
    assert b.mask.tolist()[0] == [(i + 1) % 4 == 0 for i in range(20)]
    for row, target, mask in zip(b.inputs.tolist(), b.targets.tolist(), b.mask.tolist()):
        toks = [t.tokens[i] for i in row]
        for end in range(20):
            if mask[end]:
                assert g.token(g.product(toks[:end + 1])) == t.classes[target[end]]


@pytest.mark.parametrize("name,opts,message", [
    pytest.param("nope", {}, "unknown task 'nope'", id="unknown_task"),
    pytest.param("parity", {"m": 3}, "has no option 'm'", id="unknown_option"),
    pytest.param("word_problem", {"group": "A5", "variant": "swaps"}, "contains no transposition", id="A5_swaps"),
    pytest.param("word_problem", {"group": "S5", "tokens_per_element": 3}, "tokens_per_element >= 4", id="k_too_small"),
    pytest.param("word_problem", {"group": "Q8"}, "unknown group", id="bad_group"),
    pytest.param("counting", {"m": 1}, "modulus m", id="bad_modulus"),
    pytest.param("regex", {"regex": "a(", "alphabet": "ab"}, "unbalanced parenthesis", id="bad_regex"),
])
def test_bad_options_raise_named_errors(name, opts, message):
    from statetrack.errors import StatetrackError

    with pytest.raises(StatetrackError, match=message):
        make_task(name, opts)


def test_bad_sizes():
    with pytest.raises(TaskError, match="sequence length"):
        make_task("parity").sample_batch(4, 0, gen())


def test_parse_task_spec():
    assert parse_task_spec("counting:m=5,n_symbols=1") == ("counting", {"m": 5, "n_symbols": 1})
    assert parse_task_spec("S5_swaps:identity=true") == ("S5_swaps", {"identity": True})
    with pytest.raises(TaskError, match="key=value"):
        parse_task_spec("counting:m")


def test_registry_covers_presets():
    for name, (base, _) in PRESETS.items():
        assert base in TASKS, name
    d = make_task("A4xZ5").describe()
    assert d["n_classes"] == 60 and d["options"]["group"] == "A4xZ5"


def test_dfa_task_from_json(tmp_path):
    t = make_task("regex", {"regex": "(ab)*", "alphabet": "ab"})
    path = tmp_path / "d.json"
    t.dfa.save(path)
    t2 = make_task("dfa", {"dfa": str(path)})
    x = t.sample_batch(8, 9, gen()).inputs
    assert torch.equal(t.label(x).targets, t2.label(x).targets)
    assert t2.options()["dfa"]["transitions"]            # self-contained: the DFA itself, not the path
