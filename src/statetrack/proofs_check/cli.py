"""``statetrack claims [--quick] [--json FILE] [--only PREFIX]``: run proofs_check, print the table,
exit 1 if any claim fails (2 on bad input, like every statetrack command)."""
from __future__ import annotations

import sys
import time


def register(subparsers) -> None:
    p = subparsers.add_parser("claims", help="check the paper's eigenvalue and finite-precision claims numerically")
    p.add_argument("--quick", action="store_true",
                   help="smaller samples, fewer formats (well under 20 s; default: the full run)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON (with versions and commit)")
    p.add_argument("--only", metavar="PREFIX",
                   help="run only the checks whose claim name starts with PREFIX (default: all)")
    p.set_defaults(func=cmd_claims)


def cmd_claims(args) -> int:
    from statetrack.errors import StatetrackError
    from statetrack.proofs_check.runner import claim_plan, render, run_claims, to_json, write_json

    if args.only and not any(name.startswith(args.only) for name, _ in claim_plan(args.quick)):
        names = ", ".join(dict.fromkeys(name for name, _ in claim_plan(args.quick)))
        raise StatetrackError(f"--only {args.only!r} matches no claim; claims are: {names}")
    if args.json:
        from statetrack.provenance import check_output_path

        check_output_path(args.json)         # refuse an unwritable path before the checks run
    start = time.perf_counter()
    results = run_claims(args.quick, args.only, progress=lambda name: print(f"checking {name} ...",
                                                                            file=sys.stderr, flush=True))
    seconds = time.perf_counter() - start
    render(results)
    if args.json:
        write_json(to_json(results, quick=args.quick, seconds=seconds), args.json)
    return 0 if all(r.holds for r in results) else 1
