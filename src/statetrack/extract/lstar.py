"""Active learning of the automaton a network implements: AALpy's L* (or Kearns–Vazirani) with the
network as membership oracle and a batched equivalence oracle (Weiss, Goldberg & Yahav, ICML 2018,
use the same pairing of L* with a network).

    result = learn(load_network("abb.safetensors"), Budget(max_states=64))
    result.machine          # minimal Moore machine (a DFA plus a class per state)

Membership: a word's outputs are the network's classes after each prefix (AALpy's Moore-machine
query), answered from :meth:`Network.outputs`' cache. Equivalence (:class:`BatchEquivalence`),
each stage one batch on the network, the first stage that finds a disagreement returns its
shortest one:

1. **target**: when the target automaton is known, a shortest word on which the hypothesis and
   the target differ (exact, :func:`~statetrack.extract.equivalence.shortest_difference`); if the
   network agrees with the target there, the hypothesis is wrong and that prefix is the
   counterexample. (If the network agrees with the hypothesis, the network really differs from
   the target on it, and the search goes on.)
2. **exhaustive**: every word of length ``exhaustive_len`` (and so every shorter word, as prefixes),
   capped at ``max_exhaustive`` words.
3. **random**: ``random_words`` words of ``random_len`` letters, plus the same number of words that
   start with the access word of a random hypothesis state.

Budgets (:class:`Budget`) bound hypothesis states, rounds, words sent to the network and seconds;
running out raises :class:`~statetrack.extract.errors.BudgetExceeded` carrying the last hypothesis.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from statetrack.extract.equivalence import shortest_difference
from statetrack.extract.errors import BudgetExceeded, ExtractionError
from statetrack.extract.moore import Moore
from statetrack.extract.oracles import Network

ALGORITHMS = ("lstar", "kv")


@dataclass(frozen=True)
class Budget:
    """Limits of one extraction and the equivalence oracle's test sizes."""

    max_states: int = 256             # a hypothesis with more states stops learning
    max_rounds: int = 200             # equivalence queries
    max_words: int = 2_000_000        # words sent to the network (after the cache)
    max_seconds: float = 600.0        # wall clock
    exhaustive_len: int = 10          # every word up to this length is tested ...
    max_exhaustive: int = 1 << 15     # ... unless that is more words than this (then shorter)
    random_words: int = 2000          # random test words per round (and as many from state prefixes)
    random_len: int = 40              # their length
    seed: int = 0

    def validate(self) -> Budget:
        for name, value in asdict(self).items():
            low = 0 if name == "seed" else 1
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
                raise ExtractionError(f"budget {name} must be a {'non-negative' if low == 0 else 'positive'} "
                                      f"number, got {value!r}")
        return self


@dataclass
class Extraction:
    """What :func:`learn` returns: the minimal machine and how it was found."""

    machine: Moore
    stats: dict = field(default_factory=dict)


def to_moore(hyp, net: Network) -> Moore:
    """An AALpy Moore machine over inputs ``0..m-1`` as a :class:`Moore` (BFS-numbered)."""
    index = {hyp.initial_state: 0}
    order = [hyp.initial_state]
    for s in order:
        for c in range(len(net.alphabet)):
            t = s.transitions[c]
            if t not in index:
                index[t] = len(order)
                order.append(t)
    table = np.array([[index[s.transitions[c]] for c in range(len(net.alphabet))] for s in order], dtype=np.int64)
    outputs = np.array([s.output for s in order], dtype=np.int64)
    return Moore.from_table(net.alphabet, table, 0, outputs, net.classes, net.accept_classes)


class _Clock:
    def __init__(self, net: Network, budget: Budget):
        self.net, self.budget, self.t0 = net, budget, time.perf_counter()
        self.last: Moore | None = None
        self.last_cex: tuple[int, ...] | None = None     # the network's word against self.last
        self.rounds = 0

    def exceeded(self, message: str, budget: dict, partial: Moore | None = None) -> BudgetExceeded:
        e = BudgetExceeded(message, partial if partial is not None else self.last, budget)
        e.counterexample = self.last_cex
        return e

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def check(self) -> None:
        b = self.budget
        if self.seconds > b.max_seconds:
            raise self.exceeded(f"no convergence within {b.max_seconds:g} s", {"max_seconds": b.max_seconds})
        if self.net.words_run > b.max_words:
            raise self.exceeded(f"no convergence within {b.max_words:,} words sent to the network",
                                {"max_words": b.max_words})


def _make_sul(net: Network, clock: _Clock):
    from aalpy.base import SUL

    class NetworkSUL(SUL):
        """AALpy's view of the network: ``query`` answers a whole word from the cache."""

        def __init__(self):
            super().__init__()
            self.word: list[int] = []

        def query(self, word: tuple) -> list:
            clock.check()
            self.num_queries += 1
            self.num_steps += len(word)
            out = net.outputs([tuple(word)])[0]
            return [int(out[0])] if len(word) == 0 else [int(x) for x in out[1:]]

        def pre(self) -> None:
            self.word = []

        def post(self) -> None:
            pass

        def step(self, letter):
            if letter is None:
                return net.empty_output
            self.word.append(letter)
            return int(net.outputs([tuple(self.word)])[0][-1])

    return NetworkSUL()


def _first_mismatch(words: np.ndarray, net_out: np.ndarray, hyp_out: np.ndarray) -> tuple[int, ...] | None:
    """Shortest prefix of ``words`` (N, L) after which net (N, L+1) and hypothesis (N, L+1) differ."""
    bad = net_out != hyp_out
    if not bad.any():
        return None
    first = np.where(bad.any(1), bad.argmax(1), np.iinfo(np.int64).max)
    i = int(first.argmin())
    return tuple(int(c) for c in words[i, :first[i]])


def exhaustive_words(m: int, budget: Budget) -> np.ndarray:
    """Every word of the longest length <= ``exhaustive_len`` with at most ``max_exhaustive`` words:
    int64 (m^L, L), lexicographic (their prefixes are every shorter word)."""
    ex_len = min(budget.exhaustive_len, int(math.log(budget.max_exhaustive) / math.log(max(m, 2)) + 1e-9))
    if ex_len <= 0:
        return np.zeros((1, 0), dtype=np.int64)
    return np.indices((m,) * ex_len).reshape(ex_len, -1).T.astype(np.int64)


def _make_oracle(net: Network, sul, budget: Budget, clock: _Clock):
    from aalpy.base import Oracle

    m = len(net.alphabet)
    rng = np.random.default_rng(budget.seed)
    exhaustive = exhaustive_words(m, budget)

    class BatchEquivalence(Oracle):
        """Target-guided, exhaustive and random tests, each one batch (see the module docstring)."""

        def __init__(self):
            super().__init__(list(range(m)), sul)
            self.stage_hits = {"target": 0, "exhaustive": 0, "random": 0}

        def _test(self, words: np.ndarray, hyp: Moore) -> tuple[int, ...] | None:
            if words.shape[1] == 0:
                return None
            self.num_queries += len(words)
            self.num_steps += words.size
            net_out = np.stack(net.outputs([tuple(w) for w in words.tolist()]))                 # (N, L+1)
            return _first_mismatch(words, net_out, hyp.run_outputs(words))

        def find_cex(self, hypothesis):
            hyp = to_moore(hypothesis, net)
            clock.last, clock.last_cex, clock.rounds = hyp, None, clock.rounds + 1
            if hyp.n_states > budget.max_states:
                raise clock.exceeded(f"the hypothesis grew to {hyp.n_states} states, over --max-states "
                                     f"{budget.max_states}", {"max_states": budget.max_states})
            if clock.rounds > budget.max_rounds:
                raise clock.exceeded(f"no convergence within {budget.max_rounds} rounds",
                                     {"max_rounds": budget.max_rounds})
            clock.check()
            if net.target is not None:
                w = shortest_difference(hyp, net.target)
                if w:
                    cex = self._test(np.array([w], dtype=np.int64), hyp)
                    if cex is not None:
                        self.stage_hits["target"] += 1
                        clock.last_cex = cex
                        return cex
            cex = self._test(exhaustive, hyp)
            if cex is not None:
                self.stage_hits["exhaustive"] += 1
                clock.last_cex = cex
                return cex
            n, L = budget.random_words, budget.random_len
            plain = rng.integers(0, m, size=(n, L))
            access = _access_words(hyp)
            picks = rng.integers(0, len(access), size=n)
            prefixed = []
            for i, k in enumerate(picks.tolist()):
                a = access[k][:L]
                prefixed.append(list(a) + rng.integers(0, m, size=L - len(a)).tolist())
            cex = self._test(np.concatenate([plain, np.array(prefixed, dtype=np.int64).reshape(n, L)]), hyp)
            if cex is not None:
                self.stage_hits["random"] += 1
                clock.last_cex = cex
            return cex

    return BatchEquivalence()


def _access_words(m: Moore) -> list[tuple[int, ...]]:
    """A shortest word reaching each state (BFS, alphabet order): list indexed by state."""
    words: dict[int, tuple[int, ...]] = {m.dfa.start: ()}
    order = [m.dfa.start]
    for q in order:
        for c, r in enumerate(m.dfa.table[q].tolist()):
            if r not in words:
                words[r] = words[q] + (c,)
                order.append(r)
    return [words[q] for q in sorted(words)]


@contextlib.contextmanager
def _batched_tables(net: Network, clock: _Clock):
    """While L* runs, fill each observation-table update with one batched network call.

    AALpy's ``ObservationTable.update_obs_table`` asks for the cells one word at a time; wrapped
    here, it first hands every word it is about to ask (rows x suffixes) to ``net.prefetch``, so the
    queries that follow are cache hits. AALpy's own logic runs unchanged; the original method is
    restored on exit. It also stops learning once the table has more rows than ``max_states``.
    """
    from aalpy.learning_algs.deterministic.ObservationTable import ObservationTable

    original = ObservationTable.update_obs_table

    def update_obs_table(self, s_set=None, e_set=None):
        if len(self.S) > clock.budget.max_states:     # every row of S is a distinct state of the next hypothesis
            raise clock.exceeded(f"the observation table grew to {len(self.S)} distinct rows (states), over "
                                 f"--max-states {clock.budget.max_states}", {"max_states": clock.budget.max_states})
        clock.check()
        rows = s_set if s_set else list(self.S) + list(self.s_dot_a())
        suffixes = e_set if e_set else self.E
        net.prefetch([tuple(s) + tuple(e) for s in rows for e in suffixes])
        return original(self, s_set, e_set)

    ObservationTable.update_obs_table = update_obs_table
    try:
        yield
    finally:
        ObservationTable.update_obs_table = original


def learn(net: Network, budget: Budget | None = None, algorithm: str = "lstar") -> Extraction:
    """Learn the minimal Moore machine the network implements (see the module docstring).

    Raises:
        BudgetExceeded: with the last hypothesis, when a budget runs out first.
        ExtractionError: unknown algorithm or bad budget.
    """
    from aalpy.learning_algs import run_KV, run_Lstar

    budget = (budget or Budget()).validate()
    if algorithm not in ALGORITHMS:
        raise ExtractionError(f"unknown algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    clock = _Clock(net, budget)
    sul = _make_sul(net, clock)
    oracle = _make_oracle(net, sul, budget, clock)
    alphabet = list(range(len(net.alphabet)))
    if algorithm == "lstar":
        with _batched_tables(net, clock):
            hyp, data = run_Lstar(alphabet, sul, oracle, automaton_type="moore", cache_and_non_det_check=False,
                                  return_data=True, print_level=0)
    else:
        hyp, data = run_KV(alphabet, sul, oracle, automaton_type="moore", cache_and_non_det_check=False,
                           return_data=True, print_level=0)
    machine = to_moore(hyp, net).minimize()
    stats = {"algorithm": algorithm, "rounds": clock.rounds, "seconds": round(clock.seconds, 3),
             "membership_queries": int(data.get("queries_learning", sul.num_queries)),
             "equivalence_tests": int(oracle.num_queries), "counterexamples_by_stage": oracle.stage_hits,
             "network_words": net.words_run, "network_positions": net.positions_run,
             "network_forward_calls": net.forward_calls, "cached_prefixes": net.cache_size,
             "budget": asdict(budget)}
    return Extraction(machine=machine, stats=stats)
