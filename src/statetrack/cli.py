"""The ``statetrack`` command.

    statetrack compile (--regex P --alphabet S | --dfa FILE | --group NAME) [--construction C] -o FILE
    statetrack run FILE [--dtype D]            words on stdin, one per line
    statetrack check FILE --max-len L          exhaustive + long-word verification, exit 1 on mismatch
    statetrack demo                            compile and verify the showcase automata
    statetrack claims | train | sweep | report | bench   (registered by their packages)

Bad input exits 2 with one line naming the problem. Heavy imports (torch, matplotlib) happen inside
the commands that need them, so start-up stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from statetrack.cli_args import Parser, nonneg_int, pos_int
from statetrack.errors import AlphabetError, StatetrackError
from statetrack.tables import format_check, format_table  # noqa: F401  (re-exported)

#: Packages that add subcommands through ``register(subparsers)``.
_EXTENSIONS = (
    "statetrack.reports.cli",
    "statetrack.train.cli",
    "statetrack.proofs_check.cli",
    "statetrack.extract.cli",
)

DTYPE_CHOICES = ("float64", "float32", "bfloat16", "float16")


# ---------------------------------------------------------------------- compile
def _add_source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--regex", metavar="PATTERN", help="regular expression (| * + ? () [...] {m,n} and . = any symbol)")
    src.add_argument("--dfa", metavar="FILE", help="DFA as JSON (see README)")
    src.add_argument("--group", metavar="NAME", help="group word problem: S<n>, A<n>, Z<n>, D<n>, products like A4xZ5")
    p.add_argument("--alphabet", metavar="SYMBOLS", help="with --regex: each character is one symbol")
    p.add_argument("--max-states", type=pos_int, default=None, metavar="N",
                   help="refuse automata with more states (default: 4096)")


def load_source(args):
    """The automaton named by --regex/--dfa/--group, and its JSON description for the metadata."""
    from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA
    from statetrack.automata.groups import group
    from statetrack.constructions.common import dfa_source

    limit = args.max_states or DEFAULT_MAX_STATES
    if args.regex is not None:
        if not args.alphabet:
            raise StatetrackError("--regex needs --alphabet (each character is one symbol), e.g. --alphabet ab")
        dfa = DFA.from_regex(args.regex, args.alphabet, max_states=limit)
        return dfa, dfa_source(dfa, regex=args.regex)
    if args.alphabet:
        raise StatetrackError("--alphabet goes with --regex only (a DFA file and a group name define their own)")
    if args.dfa is not None:
        dfa = DFA.load(args.dfa, max_states=limit).complete()
        return dfa, dfa_source(dfa, file=Path(args.dfa).name)
    g = group(args.group, max_order=limit)
    return g, {"kind": "group", "name": g.name}


def check_readable_alphabet(alphabet) -> None:
    """Refuse symbols that `statetrack run` could never read from a line of stdin.

    A line break ends a word, so no symbol may hold one. A one-character blank (space, tab) is
    fine: with such a symbol `run` reads each line character by character. Multi-character symbols
    are separated by blanks, so they may not hold one.
    """
    for s in alphabet:
        if len("".join(f"{s}x".splitlines())) != len(s) + 1:
            raise AlphabetError(f"symbol {s!r} holds a line break; `statetrack run` reads one word per line")
        if len(s) > 1 and any(ch.isspace() for ch in s):
            raise AlphabetError(f"symbol {s!r} holds a blank; `statetrack run` separates multi-character "
                                "symbols by blanks")


def cmd_compile(args) -> int:
    from statetrack.automata.dfa import DFA
    from statetrack.constructions import compile as compile_weights
    from statetrack.constructions import default_construction

    obj, source = load_source(args)
    check_readable_alphabet(obj.alphabet if isinstance(obj, DFA) else ())
    options, limits = {}, None
    if args.max_levels is not None or args.max_width is not None:
        from dataclasses import replace

        from statetrack.constructions.krohn_rhodes import DEFAULT_LIMITS

        if (args.construction or default_construction(obj)) != "krohn-rhodes":
            raise StatetrackError("--max-levels/--max-width apply to the krohn-rhodes construction only")
        limits = replace(DEFAULT_LIMITS, **{k: v for k, v in (("max_levels", args.max_levels),
                                                               ("max_width", args.max_width)) if v is not None})
        options["limits"] = limits
    from statetrack.provenance import check_output_path

    check_output_path(args.out)
    weights = compile_weights(obj, args.construction, source=source, **options)
    weights.save(args.out)
    s = weights.summary()
    if "default_fallback" in weights.info:
        print(f"note: default construction exceeded its limits ({weights.info['default_fallback']}); "
              f"used {weights.construction}")
    print(f"wrote {args.out}: construction {s['construction']}, {s['layers']} layer(s), widths {s['widths']}, "
          f"{s['total_factors']} factors in all, at most {s['max_factors_per_symbol']} per letter (n_h)")
    print(format_table(["layer", "width", "symbols", "factors per symbol (min/mean/max)", "betas"],
                       [_layer_row(i, layer) for i, layer in enumerate(weights.layers)]))
    if isinstance(obj, DFA):
        print(format_size_report(obj, limits))
    return 0


def format_size_report(dfa, limits=None) -> str:
    """Krohn–Rhodes cascade against the one-layer direct construction, for the same DFA."""
    from statetrack.constructions.krohn_rhodes import size_report

    rep = size_report(dfa, limits)
    rows = []
    for name in ("krohn-rhodes", "direct"):
        r = rep[name]
        if "error" in r:
            rows.append([name, "-", "-", "-", "-", f"over limits: {r['error']}"])
        else:
            rows.append([name, r["layers"], r["widths"], r["total_factors"], r["max_factors_per_step"],
                         "symmetric GH only" if r["symmetric_only"] else "non-symmetric factors"])
    return (f"size report ({rep['states']} states, {rep['letters']} letters):\n" +
            format_table(["construction", "layers", "widths", "factors", "factors per letter step", "kind"], rows))


def _layer_row(i, layer) -> list:
    per = layer.factors_per_symbol()
    betas = sorted({f.beta for fs in layer.factors for f in fs})
    return [i, layer.width, layer.n_symbols, f"{min(per)}/{sum(per) / len(per):.2f}/{max(per)}",
            ",".join(f"{b:g}" for b in betas) or "-"]


# ---------------------------------------------------------------------- run
def read_words(weights, lines) -> list:
    """Encode stdin lines as letter arrays; errors name the line.

    One-character symbols: blanks between them are ignored, unless a blank is itself a symbol, in
    which case every character of the line is a symbol. Longer symbols: separated by blanks.
    """
    single = all(len(s) == 1 for s in weights.alphabet)
    verbatim = single and any(s.isspace() for s in weights.alphabet)
    words = []
    for k, line in enumerate(lines, 1):
        tokens = line.split()
        word = list(line) if verbatim else [ch for tok in tokens for ch in tok] if single else tokens
        try:
            words.append(weights.encode(word))
        except StatetrackError as e:
            raise type(e)(f"line {k}: {e}") from None
    return words


def cmd_run(args) -> int:
    from statetrack.constructions.weights import load

    weights = load(args.file)
    words = read_words(weights, _stdin_lines())
    states = weights.run_encoded(words, args.dtype)
    if weights.is_group:
        lines = [weights.state_labels[q] for q in states]
    else:
        lines = ["accept" if weights.accepting[q] else "reject" for q in states]
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


# ---------------------------------------------------------------------- check
def cmd_check(args) -> int:
    from statetrack.constructions.weights import load
    from statetrack.verify import check

    weights = load(args.file)
    if args.json:
        from statetrack.provenance import check_output_path

        check_output_path(args.json)
    reports = check(weights, args.max_len, args.dtypes, long_words=args.long_words, long_len=args.long_len,
                    seed=args.seed)
    print(format_check(weights, reports))
    if args.json:
        from statetrack.provenance import provenance, write_json

        doc = {"file": str(args.file), "summary": weights.summary(), "passed": all(r.passed for r in reports),
               "max_len": args.max_len, "long_words": args.long_words, "long_len": args.long_len,
               **provenance(seed=args.seed, dtype=",".join(args.dtypes), backend="numpy"),
               "formats": [r.to_json() for r in reports]}
        write_json(args.json, doc)
    return 0 if all(r.passed for r in reports) else 1


# ---------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from statetrack.demo import main as demo_main

    return demo_main(args)


# ---------------------------------------------------------------------- bench
#: suite -> module with ``main(argv) -> int``
BENCH_SUITES = {"kernels": "statetrack.kernels.bench", "train": "statetrack.train.throughput"}


def cmd_bench(args) -> int:
    return int(importlib.import_module(BENCH_SUITES[args.suite]).main(args.args) or 0)


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from statetrack.version import __version__
    from statetrack.constructions import CONSTRUCTIONS

    parser = Parser(prog="statetrack", description="State tracking in linear RNNs, made executable.")
    parser.add_argument("--version", action="version", version=f"statetrack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("compile", help="compile a regex, DFA or group word problem into LRNN weights")
    _add_source_args(p)
    p.add_argument("--construction", choices=sorted(CONSTRUCTIONS), default=None,
                   help="default: group for groups, krohn-rhodes for regexes/DFAs (direct when over its limits)")
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="safetensors file to write")
    p.add_argument("--max-levels", type=pos_int, default=None, metavar="N",
                   help="krohn-rhodes: most cascade levels (default: 16)")
    p.add_argument("--max-width", type=pos_int, default=None, metavar="N",
                   help="krohn-rhodes: widest level (default: 64)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run", help="run compiled weights on words read from stdin, one per line")
    p.add_argument("file", metavar="FILE", help="weights file written by `statetrack compile`")
    p.add_argument("--dtype", choices=DTYPE_CHOICES, default="float64", help="float format to run in")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="verify compiled weights against their automaton in every float format")
    p.add_argument("file", metavar="FILE", help="weights file written by `statetrack compile`")
    p.add_argument("--max-len", type=nonneg_int, required=True, metavar="L", help="check every word up to this length")
    p.add_argument("--dtypes", nargs="+", choices=DTYPE_CHOICES, default=list(DTYPE_CHOICES), metavar="D",
                   help=f"float formats to check, from {', '.join(DTYPE_CHOICES)} (default: all)")
    p.add_argument("--long-words", type=nonneg_int, default=16, metavar="N", help="how many random long words")
    p.add_argument("--long-len", type=nonneg_int, default=10_000, metavar="T", help="their length (0: none)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the random long words")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON (with seed, versions, commit)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo", help="compile and verify parity, mod-3 counting, (a|b)*abb and the S5 word problem")
    p.add_argument("--quick", action="store_true", help="shorter checks (default: off)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="benchmarks: `statetrack bench kernels [--help]` (GPU; fla side by side), "
                       "`statetrack bench train [--help]` (training throughput)")
    p.add_argument("suite", choices=sorted(BENCH_SUITES), help="which benchmark suite")
    p.add_argument("args", nargs=argparse.REMAINDER, help="options of the suite")
    p.set_defaults(func=cmd_bench)

    for name in _EXTENSIONS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))


def _stdin_lines() -> list[str]:
    """stdin as text lines (UTF-8; a NUL byte or other control character is refused by the alphabet)."""
    return sys.stdin.read().splitlines()


def run_command(args) -> int:
    """Run a parsed command; bad input becomes one line on stderr and exit status 2.

    Bad input is a StatetrackError, a file that cannot be read or written (OSError, named with its
    path) or input bytes that are not UTF-8 text.
    """
    def fail(message: str) -> int:
        print(f"statetrack {args.command}: error: {message}", file=sys.stderr)
        return 2

    try:
        return int(args.func(args) or 0)
    except StatetrackError as e:
        return fail(e.cli_message())
    except UnicodeDecodeError as e:
        return fail(f"input is not UTF-8 text (byte {e.object[e.start:e.start + 1]!r} at offset {e.start})")
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            return 0
        where = f"{e.filename}: " if e.filename else ""
        return fail(f"{where}{e.strerror or e}")
    except BrokenPipeError:  # e.g. `statetrack run ... | head`
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
