"""``statetrack demo``: compile the showcase automata and verify them in every float format.

Each case goes through the same stages a user runs by hand (``statetrack compile`` then
``statetrack check``): source automaton -> construction -> weights file -> exhaustive and long-word
verification. Exact constructions must pass in every format; the rotation's drift is reported, not
hidden, since that is what the theory predicts for irrational entries.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Case:
    title: str
    source: dict          # keyword arguments for the source: regex+alphabet, or group
    construction: str | None
    max_len: int
    exact: bool = True    # must pass in every format


CASES = (
    Case("parity (even number of 1s)", {"regex": "(0*10*1)*0*", "alphabet": "01"}, "group", 16),
    Case("counting mod 3 (#a = 0 mod 3)", {"regex": "(b*ab*ab*a)*b*", "alphabet": "ab"}, "group", 16),
    Case("counting mod 3, as a rotation", {"regex": "(b*ab*ab*a)*b*", "alphabet": "ab"}, "rotation", 16, exact=False),
    Case("(a|b)*abb, Krohn-Rhodes cascade (the default)", {"regex": "(a|b)*abb", "alphabet": "ab"}, None, 16),
    Case("(a|b)*abb, one non-symmetric layer", {"regex": "(a|b)*abb", "alphabet": "ab"}, "direct", 16),
    Case("S5 word problem", {"group": "S5"}, "group", 2),
    Case("Z60 word problem as rotations: finite precision drifts", {"group": "Z60"}, "rotation", 2, exact=False),
)


def _source(case: Case):
    from statetrack.automata.dfa import DFA
    from statetrack.automata.groups import group
    from statetrack.constructions.common import dfa_source

    if "group" in case.source:
        g = group(case.source["group"])
        return g, {"kind": "group", "name": g.name}, f"group {g.name} (order {g.order}, {g.degree} points)"
    dfa = DFA.from_regex(case.source["regex"], case.source["alphabet"])
    return dfa, dfa_source(dfa, regex=case.source["regex"]), \
        f"regex {case.source['regex']!r} over {case.source['alphabet']!r}: minimal DFA with {dfa.n_states} states"


def _factors_line(weights) -> str:
    if len(weights.alphabet) <= 4:
        # factors applied when reading each letter, summed over layers (upper layers: the most any context needs)
        per = [sum(int(np.max(np.array(layer.factors_per_symbol())[layer.route[c]])) for layer in weights.layers)
               for c in range(len(weights.alphabet))]
        shown = ", ".join(f"{sym!r}: {n}" for sym, n in zip(weights.alphabet, per))
        return f"factors per letter{' (summed over layers, most in any context)' if weights.n_layers > 1 else ''}: {shown}"
    per = [n for lay in weights.layers for n in lay.factors_per_symbol()]
    return (f"factors per letter: min {min(per)}, mean {sum(per) / len(per):.2f}, max {max(per)} "
            f"over {len(weights.alphabet)} letters and {weights.n_layers} layer(s)")


def main(args=None) -> int:
    from statetrack.tables import format_check
    from statetrack.constructions import compile as compile_weights
    from statetrack.constructions.weights import load
    from statetrack.verify import check

    quick = bool(getattr(args, "quick", False))
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(CASES):
            t0 = time.perf_counter()
            obj, source, described = _source(case)
            weights = compile_weights(obj, case.construction, source=source)
            path = Path(tmp) / f"case{i}.safetensors"
            weights.save(path)
            weights = load(path)                       # verify what was written, not what is in memory
            reports = check(weights, min(case.max_len, 8) if quick else case.max_len,
                            long_words=4 if quick else 16, long_len=2_000 if quick else 10_000)
            print(f"== {case.title}")
            print(f"   {described}")
            print(f"   {_factors_line(weights)}")
            print("   " + format_check(weights, reports).replace("\n", "\n   "))
            if case.exact and not all(r.passed for r in reports):
                failures.append(case.title)
            print(f"   ({time.perf_counter() - t0:.1f}s)\n")
    if failures:
        print("FAILED (exact constructions that did not verify): " + "; ".join(failures))
        return 1
    print("All exact constructions verified in float64, float32, bfloat16 and float16.")
    print("Next: `statetrack compile --help`, `statetrack check --help`, and the README.")
    return 0
