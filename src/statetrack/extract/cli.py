"""``statetrack extract PATH -o learned.json``: the automaton a network implements.

PATH is a training run directory (``statetrack train --out``) or a compiled weights file
(``statetrack compile``). The network is the membership oracle of AALpy's L* (or KV, with
``--algorithm kv``); its hidden states are also clustered (state abstraction). Both machines are
compared exactly with the target (the task's automaton, or the source automaton of compiled
weights): equivalent or not, the shortest distinguishing word, and the first length at which the
network itself fails on that word.

Writes the learned machine to ``-o`` (DFA JSON plus ``outputs``/``classes``: a class per state),
and for a run directory the record ``PATH/extraction.json`` (read by ``statetrack report``).
Exit 0 when extraction finished (equivalent or not), 1 when a budget ran out (the partial
hypothesis is written and the budget named), 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    """Add ``extract`` to the main CLI's subcommands."""
    from statetrack.cli import DTYPE_CHOICES
    from statetrack.extract.lstar import ALGORITHMS, Budget
    from statetrack.extract.oracles import RUNNERS
    from statetrack.extract.pipeline import METHODS

    from statetrack.cli_args import nonneg_int, pos_float, pos_int

    d = Budget()
    p = subparsers.add_parser("extract", help="extract the automaton a network implements (L* + state clustering) "
                              "and compare it exactly with the target", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH", help="training run directory or compiled weights file")
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="learned machine (JSON) to write")
    p.add_argument("--method", choices=METHODS, default="both", help="lstar, abstraction or both (default: %(default)s)")
    p.add_argument("--algorithm", choices=ALGORITHMS, default="lstar", help="active learner (default: %(default)s)")
    p.add_argument("--max-states", type=pos_int, default=d.max_states, metavar="N",
                   help="stop when a hypothesis has more states (default: %(default)s)")
    p.add_argument("--max-rounds", type=pos_int, default=d.max_rounds, metavar="N",
                   help="most equivalence queries (default: %(default)s)")
    p.add_argument("--budget", type=pos_int, default=d.max_words, metavar="WORDS",
                   help="most words sent to the network (default: %(default)s)")
    p.add_argument("--max-seconds", type=pos_float, default=d.max_seconds, metavar="S",
                   help="wall-clock budget of the extraction (default: %(default)s)")
    p.add_argument("--exhaustive-len", type=nonneg_int, default=d.exhaustive_len, metavar="L",
                   help="equivalence: every word up to L (capped at 32,768 words; default: %(default)s)")
    p.add_argument("--random-words", type=nonneg_int, default=d.random_words, metavar="N",
                   help="equivalence: random words tried (default: %(default)s)")
    p.add_argument("--random-len", type=pos_int, default=d.random_len, metavar="L",
                   help="equivalence: their longest length (default: %(default)s)")
    p.add_argument("--abstraction-len", type=pos_int, default=8, metavar="L",
                   help="state abstraction: cluster the states of all words up to L (default: %(default)s)")
    p.add_argument("--max-clusters", type=pos_int, default=64, metavar="K",
                   help="state abstraction: most clusters tried (default: %(default)s)")
    p.add_argument("--dtype", choices=DTYPE_CHOICES, default="float64", help="compiled weights: float format (default: %(default)s)")
    p.add_argument("--runner", choices=RUNNERS, default="simulator",
                   help="compiled weights: numpy engine or the torch model (default: %(default)s)")
    p.add_argument("--no-target", action="store_true", help="extract even when the task defines no automaton (default: off)")
    p.add_argument("--json", metavar="FILE", help="also write the record here (default: none)")
    p.add_argument("--threads", type=pos_int, default=1, metavar="N",
                   help="torch CPU threads (default %(default)s: small batches run fastest on one)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the random equivalence words (default: %(default)s)")
    p.set_defaults(func=cmd_extract)


def cmd_extract(args) -> int:
    from statetrack.constructions.weights import atomic_write_bytes
    from statetrack.extract.errors import ExtractionError
    from statetrack.extract.lstar import Budget
    from statetrack.extract.oracles import TrainedNetwork, load_network
    from statetrack.extract.pipeline import RECORD_FILE, extract

    budget = Budget(max_states=args.max_states, max_rounds=args.max_rounds, max_words=args.budget,
                    max_seconds=args.max_seconds, exhaustive_len=args.exhaustive_len,
                    random_words=args.random_words, random_len=args.random_len,
                    seed=args.seed).validate()
    if args.abstraction_len < 1 or args.max_clusters < 1 or args.threads < 1:
        raise ExtractionError("--abstraction-len, --max-clusters and --threads must be positive")
    import torch

    torch.set_num_threads(args.threads)
    net = load_network(args.path, dtype=args.dtype, runner=args.runner, require_target=not args.no_target)
    out = Path(args.out)

    def write(obj: dict, path: Path) -> None:
        atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())

    record, machine = extract(net, budget, algorithm=args.algorithm, method=args.method,
                              abstraction_len=args.abstraction_len, max_clusters=args.max_clusters)
    if machine is not None:
        write(machine.to_json(), out)
    print(format_record(record, out))
    if isinstance(net, TrainedNetwork):
        write(record, net.run_dir / RECORD_FILE)
        print(f"record: {net.run_dir / RECORD_FILE}")
    if args.json:
        write(record, Path(args.json))
    return 0 if record["converged"] else 1


def format_record(record: dict, out: Path) -> str:
    lines = []
    t = record.get("target")
    target = f"target {t['states']} states" if t else f"no target ({record.get('no_target')})"
    if record.get("lstar", {}).get("converged") is False:
        r = record["lstar"]
        partial = f"partial hypothesis ({r['states']} states) -> {out}" if r["states"] is not None else "no hypothesis yet"
        lines.append(f"L* did not converge: {r['message']}; budget {json.dumps(r['budget_exceeded'])}; {partial}")
        last = r.get("last_counterexample")
        if last:
            fails = last["network_fails_at"]
            lines.append(f"  the network's last counterexample: {' '.join(last['word'])}" +
                         ("" if fails is None else f"; the network fails the target on it at length {fails}"))
        if r.get("comparison"):
            lines.append("  the partial hypothesis (the network disagrees with it) vs " + _comparison(r["comparison"], target))
    elif "lstar" in record:
        r, s = record["lstar"], record["lstar"]["stats"]
        lines.append(f"L* ({s['algorithm']}): {r['states']} states in {s['rounds']} rounds, {s['seconds']:.2f} s, "
                     f"{s['network_words']:,} words on the network -> {out}")
        lines.append("  " + _comparison(r.get("comparison"), target))
    nc = record.get("network_check")
    if nc is not None:
        lines.append(f"network vs target on {nc['words']:,} test words up to length {nc['max_len']}: " +
                     ("agrees on every prefix" if nc["agrees"] else
                      f"first fails at length {nc['fails_at']}, on {' '.join(nc['shortest_failure'])}"))
    if "abstraction" in record:
        a = record["abstraction"]
        k = a["clusters"] if a["clusters"] is not None else f"none consistent up to {a['nodes']} nodes"
        lines.append(f"state abstraction ({a['features']}, words up to {a['length']}): clusters needed {k}, "
                     f"{a['states']} states after minimizing (consistency {a['consistency']:.4f}), {a['seconds']:.2f} s"
                     + ("" if record.get("lstar", {}).get("states") is not None else f" -> {out}"))
        lines.append("  " + _comparison(a.get("comparison"), target))
        for x in a.get("per_layer", []):
            k = f"{x['clusters']} clusters, {x['states']} states" if x["clusters"] is not None else \
                f"no consistent quotient (consistency {x['consistency']:.4f})"
            lines.append(f"  {x['features']} alone: {k}")
    return "\n".join(lines)


def _comparison(c: dict | None, target: str) -> str:
    if c is None:
        return target
    if c["equivalent"]:
        return f"{target}: equivalent"
    word = " ".join(c["counterexample"]) if c["counterexample"] else "(empty word)"
    fails = c["network_fails_at"]
    return (f"{target}: NOT equivalent; shortest counterexample ({len(c['counterexample'])} letters): {word}; "
            + ("network agrees with the target on every prefix" if fails is None
               else f"network first fails at length {fails}"))
