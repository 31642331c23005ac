"""Time regex -> minimal complete DFA, against automata-lib's own pipeline on the same pattern.

    .venv/bin/python benchmarks/regex_to_dfa.py [--repeats 5] [-o benchmarks/results/regex_to_dfa_cpu.json]

For each case: statetrack's ``regex_to_dfa`` (own parser, automata-lib NFA, bounded subset
construction, vectorized Moore minimization) and automata-lib alone (``NFA.from_regex`` then
``DFA.from_nfa`` with its Hopcroft minimization, ``to_complete``), with ``.`` written either as a
``[...]`` class or as a ``(x|y|...)`` union. Median wall time of ``repeats`` runs after one warm-up.
"""
from __future__ import annotations

import argparse
import json
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _meta import run_metadata  # noqa: E402

A20 = string.ascii_lowercase[:20]
A64 = string.ascii_letters + string.digits + "_@"
CASES = [  # name, pattern, alphabet
    ("20 symbols, 64 states: .*a.{5}", ".*a.{5}", A20),
    ("64 symbols, 3 states: .", ".", A64),
    ("64 symbols, 64 states: .*a.{5}", ".*a.{5}", A64),
    ("2 symbols, 4 states: (a|b)*abb", "(a|b)*abb", "ab"),
]


def median_time(fn, repeats: int) -> tuple[float, object]:
    out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def automata_lib_alone(pattern: str, alphabet: str, dot: str):
    from automata.fa.dfa import DFA
    from automata.fa.nfa import NFA

    expanded = pattern.replace(".", "[" + alphabet + "]" if dot == "class" else "(" + "|".join(alphabet) + ")")
    nfa = NFA.from_regex(expanded, input_symbols=frozenset(alphabet))
    return DFA.from_nfa(nfa).to_complete().minify()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("-o", "--output", default=str(Path(__file__).parent / "results" / "regex_to_dfa_cpu.json"))
    args = ap.parse_args(argv)

    import automata
    from importlib.metadata import version

    from statetrack.automata.regex import regex_to_dfa

    del automata
    rows = []
    for name, pattern, alphabet in CASES:
        t_ours, d = median_time(lambda: regex_to_dfa(pattern, alphabet), args.repeats)
        t_class, lib_c = median_time(lambda: automata_lib_alone(pattern, alphabet, "class"), args.repeats)
        t_union, lib_u = median_time(lambda: automata_lib_alone(pattern, alphabet, "union"), max(1, args.repeats // 2))
        assert len(lib_c.states) == len(lib_u.states) == d.n_states, name
        rows.append({"case": name, "pattern": pattern, "symbols": len(alphabet), "states": d.n_states,
                     "statetrack_s": round(t_ours, 5), "automata_lib_class_s": round(t_class, 5),
                     "automata_lib_union_s": round(t_union, 5),
                     "ratio_automata_lib_class_over_statetrack": round(t_class / t_ours, 2)})
        print(f"{name:34s} statetrack {t_ours * 1e3:8.2f} ms   automata-lib [..] {t_class * 1e3:8.2f} ms   "
              f"(..|..) {t_union * 1e3:8.2f} ms")
    import os

    result = {"benchmark": "regex_to_dfa", "repeats": args.repeats, "device": "cpu",
              "load_average_1min_after": round(os.getloadavg()[0], 2),
              **run_metadata(automata_lib=version("automata-lib")), "rows": rows}
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
