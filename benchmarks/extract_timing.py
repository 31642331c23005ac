"""Issue 15's timing bar: extraction of a 20-state target from compiled weights in under 60 s on
one CPU core.

For each case, compile the automaton, run L* with the network as membership oracle (numpy engine,
float64, default budget) and compare the result exactly with the source; the whole extraction is
timed (compile excluded), with every BLAS/torch pool held to one thread and the process pinned to
one core where the OS allows it. Writes ``benchmarks/results/extract_timing_cpu.json``.

    PYTHONPATH=src python3 benchmarks/extract_timing.py [--seeds 0 1 2]
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

try:
    import statetrack  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

BAR_S = 60.0


def random_minimal_dfa(n: int, m: int, seed: int):
    """A random complete DFA over m letters whose minimal form has exactly n states."""
    import numpy as np

    from statetrack.automata.dfa import DFA
    from statetrack.automata.minimize import minimize

    rng = np.random.default_rng(seed)
    while True:
        d = DFA(alphabet=tuple("abcdefgh"[:m]), table=rng.integers(0, n, size=(n, m)), start=0,
                accepting=set(np.flatnonzero(rng.random(n) < 0.5).tolist()))
        mini = minimize(d)
        if mini.n_states == n:
            return mini


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "extract_timing_cpu.json"))
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import torch

    torch.set_num_threads(1)
    import statetrack
    from _meta import run_metadata
    from statetrack.extract.equivalence import compare
    from statetrack.extract.lstar import Budget, learn
    from statetrack.extract.oracles import CompiledNetwork
    from statetrack.extract.pipeline import _aalpy_version
    from statetrack.train.results import write_results

    cases = []
    for seed in args.seeds:
        for m in (2, 3):   # random 20-state DFAs need far more cascade levels than krohn-rhodes allows
            cases.append((f"random DFA, 20 states, {m} letters, seed {seed}", random_minimal_dfa(20, m, seed),
                          "direct"))
    cases.append(("Z20 word problem as a DFA (20 states)", statetrack.group("Z20").to_dfa(), "krohn-rhodes"))
    cases.append(("(a|b)*a(a|b){3} (16 states)", statetrack.DFA.from_regex("(a|b)*a(a|b){3}", "ab"), "krohn-rhodes"))
    cases.append(("group D10 (20 elements)", statetrack.group("D10"), "group"))
    cases.append(("group Z20 (20 elements)", statetrack.group("Z20"), "rotation"))
    cases.append(("beyond the bar: group S5 (120 elements, 120 letters)", statetrack.group("S5"), "group"))
    runs = []
    for name, obj, construction in cases:
        weights = statetrack.compile(obj, construction)
        t = time.perf_counter()
        net = CompiledNetwork(weights)
        result = learn(net, Budget())
        cmp = compare(result.machine, net.target, net)
        seconds = time.perf_counter() - t
        runs.append({"case": name, "construction": weights.construction, "layers": weights.n_layers,
                     "seconds": round(seconds, 3), "within_bar": seconds < BAR_S, **cmp.to_json(),
                     "stats": {k: v for k, v in result.stats.items() if k != "budget"}})
        print(f"{name:45s} {weights.construction:13s} {seconds:6.2f} s  {cmp.line()}", flush=True)
    result = {"schema": "statetrack.bench.extract_timing/1",
              "bar": "extract a 20-state target from compiled weights in < 60 s on one CPU core",
              "passed": all(r["within_bar"] and r["equivalent"] for r in runs if "beyond" not in r["case"]),
              "budget": Budget().__dict__, "seed": args.seeds, "device": "cpu",
              "meta": run_metadata(torch=torch.__version__, aalpy=_aalpy_version(), torch_threads=1,
                                   load_avg_1min=os.getloadavg()[0]),
              "runs": runs}
    write_results(Path(args.out), result)
    print(f"wrote {args.out}; passed: {result['passed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
