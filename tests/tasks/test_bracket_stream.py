"""Bracket words made on the device (Stream mode "device"): every word is a well-formed expression of
its length whose label is its value, the law is P1's generator's (ModularArithmeticBrackets.expression),
words are fresh at every step, a batch is a function of (seed, step), and the trainer's stream uses them."""
from functools import lru_cache

import numpy as np
import pytest
import torch

from statetrack.tasks import TaskError, make_task
from statetrack.tasks.brackets import ModularArithmeticBrackets, levels
from statetrack.tasks.final_label import FinalLabel
from statetrack.tasks.stream import Stream, hash_ints

#: chi-square quantiles at p = 0.999 by degrees of freedom (no scipy here)
CHI2_999 = {4: 18.467, 7: 24.322}


def parse(tokens: list[str], m: int) -> tuple[int, int | None]:
    """Reference parser of the task's grammar over token strings: a whole word -> (value mod m, length
    of the outer expression's left operand, None for the short forms). ValueError unless the word is
    exactly one expression ``d | - d | ( d ) | ( - d ) | ( E op E )`` with digits 0..m-1."""
    def tok(i: int) -> str:
        if i >= len(tokens):
            raise ValueError(f"word ends early: {tokens}")
        return tokens[i]

    def digit(i: int) -> int:
        if not (tok(i).isdigit() and int(tok(i)) < m):
            raise ValueError(f"digit expected at {i}: {tokens}")
        return int(tok(i))

    def expr(i: int) -> tuple[int, int, int | None]:           # (value, end, left operand's length)
        if tok(i) == "-":
            return -digit(i + 1), i + 2, None
        if tok(i) != "(":
            return digit(i), i + 1, None
        if tok(i + 1).isdigit() and tok(i + 2) == ")":
            return digit(i + 1), i + 3, None
        if tok(i + 1) == "-" and tok(i + 3) == ")":
            return -digit(i + 2), i + 4, None
        a, j, _ = expr(i + 1)
        op = tok(j)
        if op not in "+-*":
            raise ValueError(f"operator expected at {j}: {tokens}")
        b, k, _ = expr(j + 1)
        if tok(k) != ")":
            raise ValueError(f"')' expected at {k}: {tokens}")
        return {"+": a + b, "-": a - b, "*": a * b}[op], k + 1, j - i - 1

    value, end, left = expr(0)
    if end != len(tokens):
        raise ValueError(f"tokens left after the expression: {tokens}")
    return value % m, left


def _words(stream: Stream, seeds, step, batch):
    """The stream's words as token strings with their labels: [(tokens, label)], checking the layout
    (one label, at the word's last position; token 0 past its end)."""
    x, y, mask = stream.sample(torch.as_tensor(seeds), step, batch)
    L = stream.lengths(torch.as_tensor(seeds), step, batch)
    assert x.shape == y.shape == mask.shape == (len(seeds), batch, stream.max_len)
    out = []
    for r in range(len(seeds)):
        for b in range(batch):
            n = int(L[r, b])
            assert mask[r, b].nonzero().flatten().tolist() == [n - 1]
            assert not x[r, b, n:].any() and not y[r, b, :n - 1].any() and not y[r, b, n:].any()
            out.append(([stream.task.tokens[i] for i in x[r, b, :n].tolist()], int(y[r, b, n - 1])))
    return out


@pytest.mark.parametrize("m,lengths,steps,batch", [
    pytest.param(5, (1, 40), range(6), 76, id="m5-len1-40"),
    pytest.param(7, (1, 40), range(3), 40, id="m7-len1-40"),
    pytest.param(2, (1, 12), range(3), 48, id="m2-len1-12"),
    pytest.param(5, (200, 256), range(1), 57, id="m5-len200-256"),
])
def test_every_word_parses_to_its_length_and_label(m, lengths, steps, batch):
    stream = Stream(ModularArithmeticBrackets(m), *lengths)
    assert stream.mode == "device"
    seen = set()
    for step in steps:
        for tokens, label in _words(stream, [0, 11, 12345], step, batch):
            assert parse(tokens, m)[0] == label, tokens
            seen.add(len(tokens))
    assert seen == set(range(lengths[0], lengths[1] + 1))                      # every length was checked


@pytest.mark.parametrize("max_len", [pytest.param(4, id="T4"), pytest.param(5, id="T5"),
                                     pytest.param(9, id="T9"), pytest.param(41, id="T41"),
                                     pytest.param(256, id="T256")])
def test_device_words_equal_their_recursive_twin(max_len):
    """The vectorized builder and the recursion read the same draws and give the same batch."""
    task = ModularArithmeticBrackets(5)
    R, B, T = 2, 24, max_len
    lengths = 1 + hash_ints(torch.arange(R)[:, None], torch.arange(B)[None, :], 7) % T           # (R, B)
    lengths[:, 0] = T                                                          # the longest word too
    word, pos = torch.arange(B)[None, :, None], torch.arange(T)[None, None, :]

    def draw(purpose):
        return hash_ints(torch.arange(R)[:, None, None], word, pos, purpose)

    for fast, ref in zip(task.device_words(draw, lengths, T), task.device_words_ref(draw, lengths, T)):
        assert torch.equal(fast, ref)


def test_levels_bound_the_depth():
    """levels(T) is the deepest nesting (leaves included) that a word of at most T tokens reaches: the
    word that always splits off a left operand of length 1 reaches it."""
    @lru_cache(None)
    def deepest(n):
        return 1 if n < 5 else 1 + max(max(deepest(a), deepest(n - a - 3)) for a in range(1, n - 3))

    assert [levels(T) for T in range(1, 10)] == [1, 1, 1, 1, 2, 2, 2, 2, 3]
    assert all(levels(T) == max(deepest(n) for n in range(1, T + 1)) for T in range(1, 80))


@pytest.mark.parametrize("n", [pytest.param(9, id="n9"), pytest.param(12, id="n12")])
def test_the_law_is_the_cpu_generators(n):
    """The outer left operand's length is uniform in 1..n-4 (chi-square at p = 0.001), and the label
    distribution is the CPU generator's (total variation < 0.05 over 4096 words each)."""
    task = ModularArithmeticBrackets(5)
    words = _words(Stream(task, n, n), [0, 1, 2, 3], 0, 1024)
    lefts = np.bincount([parse(t, 5)[1] for t, _ in words], minlength=n - 3)[1:]
    expected = len(words) / (n - 4)
    assert ((lefts - expected) ** 2 / expected).sum() < CHI2_999[n - 5], lefts
    device = np.bincount([label for _, label in words], minlength=5) / len(words)
    _, y, _ = task.sample_batch(4096, n, torch.Generator().manual_seed(5))
    cpu = np.bincount(y[:, -1].numpy(), minlength=5) / 4096
    assert 0.5 * np.abs(device - cpu).sum() < 0.05, (device, cpu)


@lru_cache(None)
def _collision(n: int, m: int = 5) -> float:
    """P(two independent words of length n are equal) under expression's law."""
    if n < 5:
        return 1 / m
    return sum(_collision(a) * _collision(n - a - 3) for a in range(1, n - 3)) / (n - 4) ** 2 / 3


def test_words_are_fresh_at_every_step():
    """Long words never repeat within or across steps; at n = 12, where the law itself repeats words,
    two steps share as many as independent draws would (a pool of 2048 words shares ~10x more); and a
    word's slot holds an independent word at the next step (at n = 1, the same digit 1 time in m)."""
    stream = Stream(make_task("modular_arithmetic_brackets_p1"), 20, 40)
    first = [" ".join(t) for t, _ in _words(stream, [0, 1], 0, 2048)]
    second = [" ".join(t) for t, _ in _words(stream, [0, 1], 1, 2048)]
    assert len(set(first)) == len(first) and not set(first) & set(second)
    for mode, low, high in (("device", 0.75, 1.25), ("pool", 5.0, np.inf)):
        stream = Stream(ModularArithmeticBrackets(5), 12, 12, mode=mode, pool_size=2048)
        a, b = ([" ".join(t) for t, _ in _words(stream, [3], step, 2048)] for step in (0, 1))
        shared = sum(a.count(w) * b.count(w) for w in set(a) & set(b))       # equal (word of a, word of b) pairs
        expected = 2048 * 2048 * _collision(12)
        assert low < shared / expected < high, (mode, shared, expected)
    for n in (1, 12):
        stream = Stream(ModularArithmeticBrackets(5), n, n)
        a, b = (stream.sample(torch.arange(4), step, 1024)[0] for step in (5, 6))
        same = (a == b).all(-1).double().mean()                                # same slot, next step
        assert abs(same - _collision(n)) < 0.02 + _collision(n) / 2, (n, same)


def test_a_batch_is_a_function_of_seed_and_step():
    stream = Stream(ModularArithmeticBrackets(5), 3, 40)
    a = stream.sample(torch.tensor([4, 9]), 17, 64)
    assert all(torch.equal(p, q) for p, q in zip(a, stream.sample(torch.tensor([4, 9]), 17, 64)))
    assert all(torch.equal(p, q) for p, q in zip(a, stream.sample(torch.tensor([4, 9]), torch.tensor(17), 64)))
    alone = stream.sample(torch.tensor([9]), 17, 64)
    assert all(torch.equal(p[1], q[0]) for p, q in zip(a, alone))             # run 9, alone or in a group
    assert not torch.equal(a[0], stream.sample(torch.tensor([4, 9]), 18, 64)[0])
    assert not torch.equal(a[0], stream.sample(torch.tensor([4, 9]), 17, 64, salt=1)[0])


def test_the_trainers_bracket_stream_makes_words_on_the_device():
    """P1's bracket preset (and the task in a FinalLabel wrapper) gets the device mode; the pool stays
    on request; a mode the task does not offer is refused by name."""
    assert Stream(make_task("modular_arithmetic_brackets_p1"), 3, 40).mode == "device"
    inner = ModularArithmeticBrackets(5)
    wrapped = Stream(FinalLabel(inner), 3, 40)
    assert wrapped.mode == "device"
    seeds = torch.tensor([1, 2])
    assert all(torch.equal(p, q) for p, q in zip(wrapped.sample(seeds, 3, 32), Stream(inner, 3, 40).sample(seeds, 3, 32)))
    assert Stream(inner, 3, 10, mode="pool", pool_size=4).mode == "pool"
    assert Stream(make_task("parity"), 3, 10).mode == "automaton"
    with pytest.raises(TaskError, match="not offered"):
        Stream(inner, 3, 10, mode="automaton")
    with pytest.raises(TaskError, match="not offered"):
        Stream(make_task("parity"), 3, 10, mode="device")
