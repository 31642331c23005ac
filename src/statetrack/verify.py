"""Exact verification of compiled weights against their source automaton.

For each float format, :func:`check` runs the weights (statetrack.constructions.engine) and compares
the *decoded* automaton state with the DFA's state, which must agree exactly:

- on every word up to ``max_len``, walking the tree of words level by level (the state of ``w a``
  is one step from the state of ``w``, so each word costs one step, not ``len(w)``);
- on random long words (default 16 words of length 10,000), reporting the first length at which
  any word decodes wrongly (rotations drift; integer constructions never should).

Long words are split into segments that run in parallel. Segment 0 starts from the stored initial
state H_0 (exactly as a sequential run does); every later segment starts on the exact (rounded)
codeword of its ideal code. By induction this is the same computation as one sequential run as long
as every segment ends bitwise on its next segment's starting state; that is checked, and from the
first segment where it does not hold the word is continued sequentially from its true computed
state. :func:`sequential_first_failures` is the plain twin (one word at a time, one letter at a
time, no segments, no batching); tests compare the two on perturbed weights of every construction.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.constructions.engine import DTYPES, Simulator
from statetrack.constructions.weights import LRNNWeights
from statetrack.errors import LimitError

#: Most words the exhaustive part will enumerate (sum over lengths 0..max_len).
MAX_EXHAUSTIVE_WORDS = 10_000_000
_SEGMENT = 128


@dataclass(frozen=True)
class FormatReport:
    """Verification of one float format."""

    dtype: str
    max_len: int                 # exhaustive: every word of length 0..max_len
    words: int                   # how many words that is
    mismatches: int              # exhaustive words whose decoded state differs from the DFA's
    first_mismatch: str | None   # the shortest such word, rendered
    long_words: int              # random long words checked
    long_len: int                # their length
    long_failed: int             # long words that decoded wrongly somewhere
    first_fail_len: int | None   # first length at which any long word decoded wrongly
    seconds: float

    @property
    def passed(self) -> bool:
        return self.mismatches == 0 and self.long_failed == 0

    def to_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def source_automaton(weights: LRNNWeights) -> DFA:
    """The automaton the weights were compiled from (a group's word problem as its Cayley DFA)."""
    src = weights.source
    if src.get("kind") == "group":
        from statetrack.automata.groups import group

        return group(src["name"], max_order=max(len(weights.accepting), 1)).to_dfa()
    return DFA.from_json(src["dfa"]).complete()


def render_word(alphabet, letters) -> str:
    """A word for display: symbols joined directly when all are one character, else by spaces."""
    syms = [alphabet[int(c)] for c in letters]
    sep = "" if all(len(s) == 1 for s in alphabet) else " "
    return sep.join(syms) if syms else "(empty word)"


def exhaustive_words(n_symbols: int, max_len: int) -> int:
    return sum(n_symbols ** k for k in range(max_len + 1))


def check(weights: LRNNWeights, max_len: int, dtypes=DTYPES, *, long_words: int = 16,
          long_len: int = 10_000, seed: int = 0, dfa: DFA | None = None) -> list[FormatReport]:
    """Verify ``weights`` in each float format; see the module docstring."""
    dfa = dfa or source_automaton(weights)
    m = dfa.n_symbols
    total = exhaustive_words(m, max_len)
    if total > MAX_EXHAUSTIVE_WORDS:
        raise LimitError(f"all words up to length {max_len} over {m} symbols are {total:,} words, over the "
                         f"limit of {MAX_EXHAUSTIVE_WORDS:,}", api_hint="use a smaller max_len",
                         cli_hint="use a smaller --max-len")
    rng = np.random.default_rng(seed)
    long_codes = rng.integers(0, m, size=(long_words, long_len))
    long_truth = dfa.trajectory(long_codes)
    reports = []
    for dtype in dtypes:
        t0 = time.perf_counter()
        sim = Simulator(weights, dtype, lenient=True)       # an unstored configuration is a failure, not a crash
        bad, first_bad = _exhaustive(sim, dfa, max_len)
        fail_at = _long_first_failures(sim, long_codes, long_truth) if long_len else np.zeros(0)
        failed = fail_at[fail_at >= 0]
        reports.append(FormatReport(
            dtype=dtype, max_len=max_len, words=total, mismatches=bad,
            first_mismatch=None if first_bad is None else render_word(dfa.alphabet, first_bad),
            long_words=long_words if long_len else 0, long_len=long_len, long_failed=int(len(failed)),
            first_fail_len=int(failed.min()) if len(failed) else None,
            seconds=time.perf_counter() - t0))
    return reports


def _exhaustive(sim: Simulator, dfa: DFA, max_len: int) -> tuple[int, list[int] | None]:
    """Walk all words level by level; return (mismatch count, shortest mismatching word)."""
    m = dfa.n_symbols
    state, truth = sim.init(1), np.array([dfa.start])
    words = np.zeros((1, 0), dtype=np.int64)
    bad, first = 0, None
    for length in range(max_len + 1):
        if length:
            n = len(truth)
            # children grouped by letter, so each block shares one letter (the engine's fast path)
            state = [np.concatenate(parts) for parts in zip(*[sim.step(state, np.full(n, c)) for c in range(m)])]
            truth = np.concatenate([dfa.table[truth, c] for c in range(m)])
            words = np.concatenate([np.hstack([words, np.full((n, 1), c)]) for c in range(m)])
        wrong = np.flatnonzero(sim.automaton_states(state) != truth)
        bad += len(wrong)
        if first is None and len(wrong):
            first = words[wrong[0]].tolist()
    return bad, first


def _long_first_failures(sim: Simulator, codes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per word, the first length (1..L) whose decoded state is wrong, or -1. codes (N, L)."""
    N, L = codes.shape
    ideal = sim.ideal_codes(codes)                                # (N, L + 1, layers)
    n_seg = -(-L // _SEGMENT)
    # every segment of every word at once: row r is word r // n_seg, segment r % n_seg
    word_of, seg_of = np.divmod(np.arange(N * n_seg), n_seg)
    begin = seg_of * _SEGMENT
    end = np.minimum(begin + _SEGMENT, L)
    state = sim.codeword_state(ideal[word_of, begin])
    # segment 0 starts where a sequential run starts: the stored H_0, which need not be a codeword
    first = np.flatnonzero(seg_of == 0)
    for h, h0 in zip(state, sim.init(len(first))):
        h[first] = h0
    fail, state = _run_rows(sim, state, codes, truth, word_of, begin, end)
    expected = sim.codeword_state(ideal[word_of, end])
    exact = np.ones(N * n_seg, dtype=bool)
    for got, want in zip(state, expected):
        exact &= np.all(got.reshape(len(got), -1) == want.reshape(len(want), -1), axis=1)
    fail, exact = fail.reshape(N, n_seg), exact.reshape(N, n_seg)
    # A segment's run is the true one if every earlier segment ended exactly on its codeword.
    # Where one did not, continue that word sequentially from its computed state at that point.
    result = np.full(N, -1)
    tails = []
    for w in range(N):
        inexact = np.flatnonzero(~exact[w])
        last_valid = int(inexact[0]) if len(inexact) else n_seg - 1
        found = fail[w, :last_valid + 1]
        if (found >= 0).any():
            result[w] = found[found >= 0][0]
        elif len(inexact) and (last_valid + 1) * _SEGMENT < L:
            tails.append((w, w * n_seg + last_valid))
    if tails:
        words, rows = map(np.array, zip(*tails))
        tail_state = Simulator.take(state, rows)
        begin = (rows % n_seg + 1) * _SEGMENT
        result[words], _ = _run_rows(sim, tail_state, codes, truth, words, begin, np.full(len(words), L))
    return result


def sequential_first_failures(sim: Simulator, codes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The slow twin of :func:`_long_first_failures`, same signature and result.

    Each word runs alone from ``sim.init(1)``, one letter at a time, decoded after every letter
    (what ``statetrack run`` computes for that word). codes (N, L) letters, truth (N, L + 1) DFA
    states. Returns the first wrong length (1..L) per word, or -1.
    """
    out = np.full(len(codes), -1)
    for n, word in enumerate(codes):
        state = sim.init(1)
        for t, letter in enumerate(word):
            state = sim.step(state, np.array([letter]))
            if sim.automaton_states(state)[0] != truth[n, t + 1]:
                out[n] = t + 1
                break
    return out


def _run_rows(sim: Simulator, state: list, codes: np.ndarray, truth: np.ndarray, word: np.ndarray,
              begin: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, list]:
    """Advance row r, which runs word word[r], from position begin[r] to end[r].

    codes (N, L) letters and truth (N, L + 1) DFA states are indexed by word. Returns (first wrong
    length per row or -1, final states).
    """
    L = codes.shape[1]
    fail = np.full(len(word), -1)
    for k in range(int((end - begin).max(initial=0))):
        pos = begin + k
        live = pos < end
        stepped = sim.step(state, codes[word, np.minimum(pos, L - 1)])
        state = stepped if live.all() else [np.where(live[:, None, None], new, old) for new, old in zip(stepped, state)]
        wrong = live & (fail < 0) & (sim.automaton_states(state) != truth[word, np.minimum(pos + 1, L)])
        fail[wrong] = pos[wrong] + 1
    return fail, state
