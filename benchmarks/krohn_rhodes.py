"""Benchmark: the Krohn–Rhodes (holonomy) compiler on random DFAs, on one CPU core.

1. scaling: random complete DFAs with |Q| = 4..32 states (2 and 3 letters, several seeds): time of
   the holonomy decomposition, levels, widths, dependency-table size, whether the explicit cascade
   fits the default limits, and a check of the decomposition on random words.
2. bar_200: the seeded sample of 200 minimal DFAs with <= 6 states: compile, then verify exactly
   (the cascade on every word via the product automaton; the weights in float64/float32/bfloat16 on
   every word up to length 8; the causal-shift stack on every word up to length 6); sizes against
   the direct construction.
3. named: size reports of the named test automata.

Writes benchmarks/results/krohn_rhodes.json and benchmarks/results/krohn_rhodes.png.

    .venv/bin/python benchmarks/krohn_rhodes.py
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "krohn_rhodes"))    # the seeded samplers the tests use
from _meta import run_metadata  # noqa: E402
from kr_cases import NAMED, all_codes, sample_minimal_dfas  # noqa: E402

from statetrack.automata.dfa import DFA  # noqa: E402
from statetrack.automata.krohn_rhodes import CascadeLimits, holonomy  # noqa: E402
from statetrack.constructions import compile  # noqa: E402
from statetrack.constructions.krohn_rhodes import run_with_shift, size_report  # noqa: E402
from statetrack.errors import LimitError  # noqa: E402
from statetrack.verify import check  # noqa: E402

SIZES = list(range(4, 33, 2))
LETTERS = (2, 3)
SEEDS = 5
OUT = HERE / "results"


def scaling() -> list[dict]:
    rows = []
    limits = CascadeLimits()
    for n in SIZES:
        for m in LETTERS:
            for seed in range(SEEDS):
                rng = np.random.default_rng([n, m, seed])
                dfa = DFA(alphabet="abc"[:m], table=rng.integers(0, n, size=(n, m)), start=0, accepting={0})
                t0 = time.perf_counter()
                h = holonomy(dfa)
                seconds = time.perf_counter() - t0
                s = h.summary()
                codes = rng.integers(0, m, size=(32, 64))
                ok = [h.dfa_state(h.run(w)) for w in codes] == dfa.trajectory(codes)[:, -1].tolist()
                row = {"states": n, "letters": m, "seed": seed, "reachable": s["states"], "seconds": seconds,
                       "images": s["images"], "classes": s["classes"], "levels": s["levels"],
                       "max_width": max(s["widths"]), "total_width": sum(s["widths"]),
                       "max_sgpdec_width": max(s["sgpdec_widths"]),
                       "table_entries_log10": round(math.log10(s["table_entries"]), 2),
                       "random_words_ok": ok}
                try:
                    limits.check(h.widths, m)
                    t0 = time.perf_counter()
                    weights = compile(dfa, "krohn-rhodes")
                    row["compile_seconds"] = time.perf_counter() - t0
                    row["within_limits"] = True
                    row["total_factors"] = weights.summary()["total_factors"]
                except LimitError:
                    row["within_limits"] = False
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def bar_200() -> dict:
    sample = sample_minimal_dfas(200, max_states=6, seed=0)
    passed, failures, rows = 0, [], []
    t_all = time.perf_counter()
    for k, dfa in enumerate(sample):
        try:
            t0 = time.perf_counter()
            weights = compile(dfa, "krohn-rhodes")
            seconds = time.perf_counter() - t0
        except LimitError as e:
            failures.append({"index": k, "error": str(e)})
            continue
        cascade_exact = holonomy(dfa).cascade().counterexample(dfa) is None
        reports = check(weights, max_len=8, dtypes=("float64", "float32", "bfloat16"), long_words=0, long_len=0)
        codes = all_codes(dfa.n_symbols, 6)
        shift_exact = bool(np.array_equal(run_with_shift(weights, codes), dfa.trajectory(codes)))
        ok = cascade_exact and all(r.passed for r in reports) and shift_exact
        passed += ok
        if not ok:
            failures.append({"index": k, "cascade": cascade_exact, "shift": shift_exact,
                             "formats": {r.dtype: r.passed for r in reports}})
        direct = compile(dfa, "direct").summary()
        s = weights.summary()
        rows.append({"states": dfa.n_states, "letters": dfa.n_symbols, "levels": s["layers"], "widths": s["widths"],
                     "total_factors": s["total_factors"], "direct_total_factors": direct["total_factors"],
                     "max_factors_per_step": max(weights.info["factors_per_letter"].values()),
                     "direct_max_factors_per_step": direct["max_factors_per_symbol"], "compile_seconds": seconds})
    by_n = {}
    for n in sorted({r["states"] for r in rows}):
        rs = [r for r in rows if r["states"] == n]
        by_n[str(n)] = {"count": len(rs), "levels_max": max(r["levels"] for r in rs),
                        "levels_median": statistics.median(r["levels"] for r in rs),
                        "max_width": max(max(r["widths"]) for r in rs),
                        "total_factors_median": statistics.median(r["total_factors"] for r in rs),
                        "direct_total_factors_median": statistics.median(r["direct_total_factors"] for r in rs),
                        "max_factors_per_step_median": statistics.median(r["max_factors_per_step"] for r in rs),
                        "direct_max_factors_per_step_median":
                            statistics.median(r["direct_max_factors_per_step"] for r in rs)}
    return {"sample": 200, "max_states": 6, "seed": 0, "passed": passed, "failures": failures,
            "verification": "cascade on every word (product automaton); weights in float64/float32/bfloat16 on "
                            "every word up to length 8; causal-shift stack on every word up to length 6",
            "seconds": time.perf_counter() - t_all, "by_states": by_n}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    keys = [("seconds", "decomposition time (s)", True), ("levels", "levels", False),
            ("max_width", "widest level (states)", False)]
    for ax, (key, label, log) in zip(axes, keys):
        for m, colour in zip(LETTERS, ("tab:blue", "tab:orange")):
            xs = [r["states"] for r in rows if r["letters"] == m]
            ys = [r[key] for r in rows if r["letters"] == m]
            ax.scatter(xs, ys, s=10, alpha=0.4, color=colour)
            med = [statistics.median(r[key] for r in rows if r["letters"] == m and r["states"] == n) for n in SIZES]
            ax.plot(SIZES, med, color=colour, label=f"{m} letters (median)")
        ax.set_xlabel("|Q| (random DFA)")
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
            ax.axhline(10, color="red", lw=0.8, ls="--", label="10 s bar")
        ax.legend(fontsize=8)
    fig.suptitle("holonomy decomposition of random DFAs, one CPU core")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    OUT.mkdir(parents=True, exist_ok=True)
    rows = scaling()
    sixteen = [r["seconds"] for r in rows if r["states"] == 16]
    bar = bar_200()
    named = {name: size_report(make()) for name, make in NAMED.items()}
    result = {
        "meta": run_metadata(benchmark="krohn_rhodes", cores=1, seeds=SEEDS, sizes=SIZES, letters=list(LETTERS),
                             limits=CascadeLimits().__dict__),
        "bars": {"minimal_dfas_up_to_6_states_verified": f"{bar['passed']}/{bar['sample']}",
                 "max_seconds_16_states": max(sixteen), "under_10s_16_states": max(sixteen) < 10.0,
                 "all_random_word_checks_ok": all(r["random_words_ok"] for r in rows)},
        "scaling": rows,
        "bar_200": bar,
        "named": named,
    }
    (OUT / "krohn_rhodes.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(rows, OUT / "krohn_rhodes.png")
    print(json.dumps(result["bars"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
