"""Benchmark: fewest factors per group, one layer against two (issue 14), on one CPU core.

Per group: P1's permutation construction (``group``: width = points, n_h = most swaps per letter),
ours in one layer (``orthogonal``: the cheapest faithful orthogonal representation found) and in two
layers (``dihedral-cascade``: parity gauge). Each compiled model is verified with
``statetrack.verify.check`` in every float format on every word up to length 2 and on random long
words; the table records "exact" or the first length at which a word decoded wrongly.

Writes benchmarks/results/orthogonal.json (rows as they finish, so a cut run keeps what it has).
``--drift`` is a second table: for the groups whose chosen representation has irrational entries it
runs ``orthogonal`` and ``dihedral-cascade`` on longer random words and records the first wrong
length per format (benchmarks/results/orthogonal_drift.json).

    .venv/bin/python benchmarks/orthogonal.py --long-words 8 --long-len 5000
    .venv/bin/python benchmarks/orthogonal.py --drift --long-words 4 --long-len 20000 \
        -o benchmarks/results/orthogonal_drift.json
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _meta import run_metadata  # noqa: E402

from statetrack.automata.groups import group  # noqa: E402
from statetrack.constructions import compile  # noqa: E402
from statetrack.constructions.engine import DTYPES  # noqa: E402
from statetrack.constructions.reps import best, candidates  # noqa: E402
from statetrack.verify import check  # noqa: E402

GROUPS = ("S3", "S4", "A4", "A5", "S5", "D4", "D5", "D6", "Z2", "Z3", "Z4", "Z5", "Z6", "Z12",
          "Z2xZ2", "S3xZ2", "Z3xZ3", "A4xZ2", "A4xZ5")
CONSTRUCTIONS = ("group", "orthogonal", "dihedral-cascade")


def verdicts(weights, long_words: int, long_len: int, seed: int) -> dict:
    out = {}
    for r in check(weights, max_len=2, dtypes=DTYPES, long_words=long_words, long_len=long_len, seed=seed):
        out[r.dtype] = "exact" if r.passed else (r.first_fail_len if r.mismatches == 0 else
                                                 f"mismatch up to length 2 ({r.first_mismatch})")
    return out


def row(name: str, long_words: int, long_len: int, seed: int) -> dict:
    g = group(name)
    found = [{"representation": r.name, "width": r.width, "n_h": r.n_h, "exact_entries": r.exact}
             for r in candidates(g)]
    result = {"name": name, "order": g.order, "representations_found": found, "constructions": {}}
    for c in CONSTRUCTIONS:
        t0 = time.perf_counter()
        w = compile(g, c)
        s = w.summary()
        per_layer = [max(layer.factors_per_symbol(), default=0) for layer in w.layers]
        result["constructions"][c] = {"layers": s["layers"], "widths": s["widths"], "n_h": s["max_factors_per_symbol"],
                     "n_h_per_layer": per_layer, "representation": s.get("representation", "permutation (P1)"),
                     "formats": verdicts(w, long_words, long_len, seed),
                     "seconds": round(time.perf_counter() - t0, 2)}
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long-words", type=int, default=8)
    ap.add_argument("--long-len", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--groups", default=",".join(GROUPS))
    ap.add_argument("-o", "--output", default=str(HERE / "results" / "orthogonal.json"))
    ap.add_argument("--drift", action="store_true", help="second stage: longer words for the inexact groups")
    args = ap.parse_args(argv)
    if args.drift:
        return drift(args)
    record = {"meta": run_metadata(seed=args.seed, long_words=args.long_words, long_len=args.long_len,
                                   exhaustive_max_len=2, formats=list(DTYPES), device="cpu"), "rows": []}
    t0 = time.perf_counter()
    for name in args.groups.split(","):
        r = row(name, args.long_words, args.long_len, args.seed)
        record["rows"].append(r)
        record["meta"]["seconds"] = round(time.perf_counter() - t0, 1)
        Path(args.output).write_text(json.dumps(record, indent=1) + "\n")
        by = r["constructions"]
        cells = "  ".join(f"{c}: L{by[c]['layers']} w{by[c]['widths']} n_h {by[c]['n_h']} "
                          f"{'/'.join(str(v) for v in by[c]['formats'].values())}" for c in CONSTRUCTIONS)
        print(f"{name:6s} {cells}", flush=True)
    return 0


def drift(args) -> int:
    """First wrong length per format on longer words, for the groups with inexact representations."""
    path = Path(args.output)
    inexact = [name for name in args.groups.split(",") if not best(group(name)).exact]
    out = {"meta": run_metadata(seed=args.seed, long_words=args.long_words, long_len=args.long_len,
                                exhaustive_max_len=0, formats=list(DTYPES), device="cpu"), "rows": []}
    t0 = time.perf_counter()
    for name in inexact:
        g = group(name)
        row = {"name": name}
        for c in ("orthogonal", "dihedral-cascade"):
            reports = check(compile(g, c), max_len=0, dtypes=DTYPES, long_words=args.long_words,
                            long_len=args.long_len, seed=args.seed + 1)
            row[c] = {r.dtype: ("exact" if r.passed else r.first_fail_len) for r in reports}
        out["rows"].append(row)
        out["meta"]["seconds"] = round(time.perf_counter() - t0, 1)
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(name, row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
