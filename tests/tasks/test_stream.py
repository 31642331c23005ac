"""The device-side sampler: labels agree with each task's own labelling, lengths and padding are as
specified, draws are a function of (seed, step), and P1's formats keep one label per word."""
import pytest
import torch

from statetrack.tasks import make_task
from statetrack.tasks.brackets import ModularArithmeticBrackets
from statetrack.tasks.final_label import last_labeled
from statetrack.tasks.stream import Stream, hash_ints, mix32


def _bracket_value(tokens: list[str], m: int) -> int:
    """Independent oracle: Python evaluates the expression (digits, + - *, brackets only)."""
    return eval("".join(tokens), {"__builtins__": {}}) % m


@pytest.mark.parametrize("name", [
    pytest.param("parity", id="parity"),
    pytest.param("parity_p1", id="parity-final"),
    pytest.param("modular_arithmetic_p1", id="modarith-final"),
    pytest.param("modular_arithmetic", id="modarith-every"),
    pytest.param("counting_mod3", id="counting"),
    pytest.param("S3", id="S3"),
    pytest.param("S5_swaps", id="S5-swaps"),
    pytest.param("cycle_navigation", id="cycle-navigation"),
])
def test_labels_match_the_tasks_own_labelling(name):
    task = make_task(name)
    stream = Stream(task, 3, 17)
    seeds = torch.tensor([0, 5, 9])
    x, y, m = stream.sample(seeds, 4, 32)                                   # (R, B, T)
    L = stream.lengths(seeds, 4, 32)                                        # (R, B)
    assert x.shape == y.shape == m.shape == (3, 32, 17)
    assert int(L.min()) >= 3 and int(L.max()) <= 17
    pos = torch.arange(17)
    inside = pos < L[..., None]
    assert not (m & ~inside).any() and (x[~inside] == 0).all()
    # the task's own (CPU, automaton-free where it has one) labelling of the same words
    for r in range(3):
        for b in range(32):
            n = int(L[r, b])
            _, yy, mm = task.label(x[r, b, :n][None])
            assert torch.equal(mm[0], m[r, b, :n]), (r, b)
            assert torch.equal(yy[0][mm[0]], y[r, b, :n][m[r, b, :n]]), (r, b)
    if name.endswith("_p1"):
        assert (m.sum(-1) == 1).all()                                       # one label per word


def test_draws_are_a_function_of_seed_and_step():
    stream = Stream(make_task("S3"), 4, 12)
    a = stream.sample(torch.tensor([1, 2]), 7, 16)
    b = stream.sample(torch.tensor([2]), 7, 16)
    c = stream.sample(torch.tensor([1, 2]), 8, 16)
    assert torch.equal(a[0][1], b[0][0])                                    # run 2's words, alone or not
    assert not torch.equal(a[0], c[0])                                      # another step, other words
    step = torch.tensor(7)
    assert torch.equal(stream.sample(torch.tensor([1, 2]), step, 16)[0], a[0])   # tensor step == int step


def test_lengths_are_stratified_and_uniform():
    """Every batch holds each length B / n times (up to one word), in nondecreasing order, the same for
    every seed; over steps each length is equally frequent."""
    stream = Stream(make_task("parity"), 3, 40)                             # n = 38 lengths
    counts = torch.zeros(41, dtype=torch.long)
    for step in range(300):
        L = stream.lengths(torch.tensor([0, 7]), step, 256)
        assert torch.equal(L[0], L[1]) and bool((L[0, 1:] >= L[0, :-1]).all())
        c = torch.bincount(L[0], minlength=41)[3:]
        assert int(c.min()) >= 256 // 38 and int(c.max()) <= 256 // 38 + 1
        counts += torch.bincount(L[0], minlength=41)
    freq = counts[3:].double() / counts.sum()
    assert float((freq * 38 - 1).abs().max()) < 0.02


@pytest.mark.parametrize("name", ["parity_p1", "S3", "modular_arithmetic_brackets_p1"])
def test_packed_batches_hold_the_same_words(name):
    stream = Stream(make_task(name), 3, 17, pool_size=8)
    seeds = torch.tensor([1, 2, 3])
    for step in range(4):
        x, y, m = stream.sample(seeds, step, 19)
        L = stream.lengths(seeds, step, 19)[0]
        xs, ys, ms, pos, cu = stream.sample_packed(seeds, step, 19)
        assert xs.shape == (3, stream.capacity(19)) and cu.shape == (21,)
        assert int(cu[-1]) == xs.shape[1] and int(cu[-2]) < int(cu[-1])    # a non-empty filler segment
        for b in range(19):
            a, e = int(cu[b]), int(cu[b + 1])
            assert e - a == int(L[b])
            for packed, padded in ((xs, x), (ys, y), (ms, m)):
                assert torch.equal(packed[:, a:e], padded[:, b, :e - a])
            assert torch.equal(pos[a:e], torch.arange(e - a))
        assert not ms[:, int(cu[-2]):].any() and not xs[:, int(cu[-2]):].any()


@pytest.mark.parametrize("lo, hi, batch", [(3, 40, 1024), (3, 40, 5), (1, 5, 3), (7, 7, 4), (2, 64, 1)])
def test_longest_segment_bounds_every_packed_segment(lo, hi, batch):
    """longest_segment (what the trainer hands the chunk kernels as max_seqlen) is at least every word and
    filler of every step; with these ranges the filler never outgrows a word, so it is max_len."""
    stream = Stream(make_task("parity"), lo, hi)
    seen = 0
    for step in range(batch + 40):            # the offsets repeat every batch steps; hash_ints spreads them
        L = stream.lengths(torch.tensor([0]), step, batch)[0]
        filler = stream.capacity(batch) - int(L.sum())
        seen = max(seen, int(L.max()), filler)
    assert seen <= stream.longest_segment(batch) == hi


def test_tokens_are_close_to_uniform():
    stream = Stream(make_task("S3"), 64, 64)
    x, _, _ = stream.sample(torch.arange(4), 0, 256)
    freq = torch.bincount(x.flatten(), minlength=6).double() / x.numel()
    assert (freq - 1 / 6).abs().max() < 0.01
    assert hash_ints(torch.arange(1000), 3).unique().numel() == 1000        # no collisions on a small range
    assert int(mix32(torch.tensor(2**32 - 1))) < 2**32


def test_bracket_pool_words_evaluate_correctly():
    task = ModularArithmeticBrackets(m=5)
    stream = Stream(task, 3, 30, pool_size=16, pool_seed=3, mode="pool")
    assert stream.mode == "pool"
    x, y, m = stream.sample(torch.tensor([0, 1]), 2, 24)
    L = stream.lengths(torch.tensor([0, 1]), 2, 24)
    assert (m.sum(-1) == 1).all()
    for r in range(2):
        for b in range(24):
            n = int(L[r, b])
            assert bool(m[r, b, n - 1])
            words = [task.tokens[i] for i in x[r, b, :n].tolist()]
            assert int(y[r, b, n - 1]) == _bracket_value(words, 5), words


def test_bracket_sampler_matches_the_oracle():
    task = ModularArithmeticBrackets(m=5)
    x, y, m = task.sample_batch(64, 23, torch.Generator().manual_seed(0))
    for row, lab in zip(x.tolist(), y[:, -1].tolist()):
        assert _bracket_value([task.tokens[i] for i in row], 5) == lab
    assert m[:, -1].all() and not m[:, :-1].any()


def test_last_labeled_keeps_one_position():
    mask = torch.tensor([[True, False, True, False], [False, False, False, False], [True, True, True, True]])
    assert last_labeled(mask).tolist() == [[False, False, True, False], [False] * 4, [False, False, False, True]]


def test_bad_format_and_lengths_are_named():
    from statetrack.tasks import TaskError

    with pytest.raises(TaskError, match="labels"):
        make_task("parity", {"labels": "middle"})
    with pytest.raises(TaskError, match="min_len"):
        Stream(make_task("parity"), 5, 3)
