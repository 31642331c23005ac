"""The issue's bars: every minimal DFA of <= 6 states in a seeded sample of 200 compiles and
verifies exactly; a 16-state random DFA decomposes in well under 10 s."""
import time

import numpy as np

from tests.krohn_rhodes.kr_cases import sample_minimal_dfas
from statetrack.automata.dfa import DFA
from statetrack.automata.krohn_rhodes import decompose, holonomy
from statetrack.constructions import compile
from statetrack.verify import check


def test_200_minimal_dfas_up_to_6_states_compile_and_verify():
    sample = sample_minimal_dfas(200, max_states=6, seed=0)
    assert len(sample) == 200 and {d.n_states for d in sample} == {2, 3, 4, 5, 6}
    passed = 0
    for dfa in sample:
        weights = compile(dfa, "krohn-rhodes")                     # within the default limits
        exact = decompose(dfa).counterexample(dfa) is None          # the cascade, every word
        report, = check(weights, max_len=6, dtypes=("float32",), long_words=0, long_len=0)
        passed += exact and report.passed
    assert passed == 200


def test_16_state_random_dfas_decompose_fast_and_correctly():
    rng = np.random.default_rng(16)
    for _ in range(5):
        dfa = DFA(alphabet="abc", table=rng.integers(0, 16, size=(16, 3)), start=0, accepting={0})
        t0 = time.perf_counter()
        h = holonomy(dfa)
        assert time.perf_counter() - t0 < 10.0
        codes = rng.integers(0, 3, size=(40, 50))
        assert [h.dfa_state(h.run(w)) for w in codes] == dfa.trajectory(codes)[:, -1].tolist()
