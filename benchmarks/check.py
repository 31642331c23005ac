"""Benchmark: `statetrack check` on every word up to length 16 of a 20-state binary DFA (131,071 words).

Runs the real CLI command in-process on one CPU core and, side by side on the same words, a plain
numpy table-lookup simulation (all words of each length in one vectorized pass: the fastest way to
*only* run the DFA). Writes benchmarks/results/check_cpu.json.

    taskset -c 0 .venv/bin/python benchmarks/check.py
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _meta import run_metadata  # noqa: E402

from statetrack.automata.dfa import DFA  # noqa: E402
from statetrack.cli import main as cli  # noqa: E402
from statetrack.constructions import DEFAULT_FOR_DFA  # noqa: E402
from statetrack.constructions import compile as compile_weights  # noqa: E402
from statetrack.errors import StatetrackError  # noqa: E402
from statetrack.constructions.weights import atomic_write_bytes  # noqa: E402

MAX_LEN, STATES = 16, 20


def random_dfa(seed: int = 0) -> DFA:
    rng = np.random.default_rng(seed)
    return DFA(alphabet=("a", "b"), table=rng.integers(0, STATES, size=(STATES, 2)), start=0,
               accepting=set(rng.choice(STATES, size=STATES // 2, replace=False).tolist()))


def numpy_table_lookup(dfa: DFA) -> tuple[float, int]:
    """Every word up to MAX_LEN through the table, one vectorized pass per length (best of 3)."""
    t0, words = time.perf_counter(), 0
    for length in range(MAX_LEN + 1):
        codes = np.indices((2,) * length).reshape(length, -1).T if length else np.zeros((1, 0), dtype=np.int64)
        dfa.run_batch(codes)
        words += len(codes)
    return time.perf_counter() - t0, words


def timed_cli(argv) -> float:
    t0 = time.perf_counter()
    code = cli(argv)
    if code != 0:
        raise SystemExit(f"statetrack {' '.join(argv)} exited {code}")
    return time.perf_counter() - t0


def main() -> None:
    dfa = random_dfa()
    results = {"case": f"random {STATES}-state binary DFA, all words up to length {MAX_LEN}", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for construction in sorted({"direct", DEFAULT_FOR_DFA}):
            model = str(Path(tmp) / f"{construction}.safetensors")
            try:
                compile_weights(dfa, construction).save(model)
            except StatetrackError as e:
                results["runs"].append({"construction": construction, "skipped": str(e)})
                continue
            base, words = min(numpy_table_lookup(dfa) for _ in range(3))
            # best of 3 each (the first call also pays one-time imports)
            exhaustive = min(timed_cli(["check", model, "--max-len", str(MAX_LEN), "--long-len", "0"]) for _ in range(3))
            full = min(timed_cli(["check", model, "--max-len", str(MAX_LEN)]) for _ in range(3))
            baseline = base
            results["runs"].append({
                "construction": construction, "words": words, "dtypes": 4,
                "check_exhaustive_s": exhaustive, "check_full_s": full,
                "long_words": "16 x 10,000 per dtype (in check_full_s)",
                "numpy_table_lookup_s": baseline,
                "ratio_exhaustive_to_lookup": exhaustive / baseline,
                "ratio_exhaustive_per_dtype_to_lookup": exhaustive / 4 / baseline,
                "bar_s": 10.0, "bar_met": full < 10.0,
            })
    results["meta"] = run_metadata()
    out = Path(__file__).parent / "results" / "check_cpu.json"
    atomic_write_bytes(out, (json.dumps(results, indent=1) + "\n").encode())
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
