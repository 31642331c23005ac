"""Issue 15's CPU parity bar: a 2-layer DeltaNet trained on parity with eigenvalues in [-1, 1]
extracts to a 2-state DFA equivalent to parity; the [0, 1] twin does not, and a counterexample
(with the length at which the network first fails) is printed.

Trains with the tiny CPU settings of ``benchmarks/train_cpu_parity.py`` (1,500 steps of 32, lengths
3-40, ~1-2 minutes a run on one core; skipped when ``--runs`` already holds a finished run), then runs
``statetrack extract``'s pipeline on each run and writes ``benchmarks/results/extract_parity_cpu.json``
(the extraction records, accuracy at length 100 from each run's results.json, versions, commit).

    PYTHONPATH=src python3 benchmarks/extract_parity_cpu.py [--seeds 0] [--runs /tmp/statetrack_extract_parity]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

try:
    import statetrack  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

#: equivalence tests: every word up to 10 letters, and 2,000 random words of 20 letters (+ 2,000
#: from state prefixes) per round; L* stops once the table has more than 32 distinct rows
BUDGET = {"max_states": 32, "random_len": 20, "exhaustive_len": 10, "random_words": 2000, "max_seconds": 300.0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--runs", default="/tmp/statetrack_extract_parity", help="training run directories")
    ap.add_argument("--random-len", type=int, default=BUDGET["random_len"],
                    help="length of the random test words (default %(default)s; the runs train on 3-40)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "extract_parity_cpu.json"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from _meta import run_metadata
    from statetrack.extract.lstar import Budget
    from statetrack.extract.oracles import load_network
    from statetrack.extract.pipeline import _aalpy_version, extract, summary_line
    from statetrack.train import train
    from statetrack.train.results import write_results
    from train_cpu_parity import config

    budget = {**BUDGET, "random_len": args.random_len}
    runs = []
    for eig_range in ("-1,1", "0,1"):
        for seed in args.seeds:
            run_dir = Path(args.runs) / f"parity_{eig_range}_s{seed}"
            t = time.perf_counter()
            if not (run_dir / "results.json").exists():
                train(config(eig_range, seed, 1), run_dir, resume=False, progress=False)
            train_s = time.perf_counter() - t
            results = json.loads((run_dir / "results.json").read_text())
            t = time.perf_counter()
            record, _ = extract(load_network(run_dir), Budget(**budget, seed=seed))
            extract_s = time.perf_counter() - t
            line = summary_line(record)
            ab = record["abstraction"]
            runs.append({"eig_range": eig_range, "seed": seed, "train_wall_s": round(train_s, 1),
                         "extract_wall_s": round(extract_s, 2),
                         "scaled_accuracy_at_100": results["eval"]["scaled_accuracy"][99],
                         "summary": line, "record": record})
            print(f"[{eig_range}] seed {seed}: acc@100 {results['eval']['scaled_accuracy'][99]:.3f}; L*: {line}; "
                  f"network check: {record['network_check']}; abstraction: {ab['clusters']} clusters, "
                  f"{ab['states']} states, equivalent {ab['comparison']['equivalent']}; {extract_s:.1f} s", flush=True)
    neg = [r for r in runs if r["eig_range"] == "-1,1"]
    pos = [r for r in runs if r["eig_range"] == "0,1"]
    passed = (all(r["record"]["converged"] and r["record"]["lstar"]["comparison"]["equivalent"]
                  and r["record"]["lstar"]["states"] == 2 for r in neg)
              and all(not r["record"]["network_check"]["agrees"] for r in pos))
    result = {"schema": "statetrack.bench.extract_parity_cpu/1",
              "bar": "[-1,1] run extracts to a 2-state DFA equivalent to parity; [0,1] does not, counterexample printed",
              "passed": passed, "budget": budget, "seeds": args.seeds, "device": "cpu",
              "meta": run_metadata(torch=torch.__version__, aalpy=_aalpy_version(), torch_threads=1,
                                   load_avg_1min=os.getloadavg()[0]),
              "runs": runs}
    write_results(Path(args.out), result)
    print(f"wrote {args.out}; bar passed: {passed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
