"""Extract the automaton of every training run under a directory (CPU), for the reports.

Each run directory holding ``checkpoint.safetensors`` gets ``extraction.json`` (see
``statetrack extract``); with ``--bundle`` (a ``train_protocol.py`` results file), each record is also
stored in the bundle as ``runs[name]["results"]["extraction"]`` (run directory name = run name with
``/`` replaced by ``_``, as ``train_protocol.py`` writes them), so ``statetrack report BUNDLE`` shows
the extraction beside accuracy by length. One line per run on stdout, as each finishes.

    PYTHONPATH=src python3 benchmarks/extract_runs.py /tmp/statetrack_protocol \\
        --bundle benchmarks/results/train_protocol_h100.json [--max-seconds 120]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

try:
    import statetrack  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="directory with run directories below it")
    ap.add_argument("--bundle", help="train_protocol.py results file to add the records to")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="per run (default %(default)s)")
    ap.add_argument("--max-states", type=int, default=64)
    ap.add_argument("--random-len", type=int, default=20, help="equivalence tests' word length (default %(default)s)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from statetrack.errors import StatetrackError
    from statetrack.extract.lstar import Budget
    from statetrack.extract.oracles import load_network
    from statetrack.extract.pipeline import RECORD_FILE, extract, summary_line
    from statetrack.train.results import write_results

    budget = Budget(max_seconds=args.max_seconds, max_states=args.max_states, random_len=args.random_len)
    records = {}
    for ckpt in sorted(Path(args.root).rglob("checkpoint.safetensors")):
        run = ckpt.parent
        t = time.perf_counter()
        try:
            record, _ = extract(load_network(run), budget)
        except StatetrackError as e:
            print(f"{run.name}: skipped: {e}", flush=True)
            continue
        write_results(run / RECORD_FILE, record)
        records[run.name] = record
        print(f"{run.name}: {summary_line(record)} ({time.perf_counter() - t:.1f} s)", flush=True)
    if args.bundle:
        path = Path(args.bundle)
        bundle = json.loads(path.read_text())
        hits = 0
        for name, entry in bundle.get("runs", {}).items():
            rec = records.get(name.replace("/", "_"))
            if rec is not None and entry.get("ok"):
                entry["results"]["extraction"] = rec
                hits += 1
        write_results(path, bundle)
        print(f"added {hits} extraction record(s) to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
