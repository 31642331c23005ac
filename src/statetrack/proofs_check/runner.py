"""Run every claim check, render the table, write the JSON record.

    run_claims(quick) -> list[ClaimResult]

``quick`` uses smaller samples, one float8 format and bfloat16 only for the sampled stacks, for
tests; the full
run is what ``statetrack claims`` reports. A check that raises is recorded as ``fails`` with the
exception in its evidence: a crash never passes silently.
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from statetrack.proofs_check.result import ClaimResult, jsonable


#: the rounding model each claim's evidence is computed under (``details.rounding`` and the table)
ROUNDING = {
    "parity.float8_exhaustive": "per token: h <- round(a h + b), one rounding per letter",
    "parity.per_step_triangular": "per token: each layer's state rounded once per letter",
    "parity.general_nonneg_exact_state": "exact state, rounded read-out (P1 Lemma 1's model)",
    "parity.per_step_scope": "per factor: every GH factor's projection and update rounded",
    "parity.reflection_solves": "per factor (engine)",
    "mod3.non_triangular_needed": "per token: each layer's state rounded once per letter",
    "mod3.per_factor_real_spectrum_counts": "per factor: every GH factor's projection and update rounded",
    "mod3.counters": "per factor (engine)",
    "gh.norm_bound": "none: float64 matrices",
    "gh.factorization": "none: float64 matrices (permutations exact)",
    "gh.real_spectrum": "none: float64, exact re-check",
    "gh.k3_complex_witness": "none: exact rationals",
    "one_hot.merge_needs_nonsymmetric": "none: float64 matrices",
    "p2.norm_rank": "none: float64 matrices",
    "p2.reachable_eigenvalues": "none: float64 matrices",
    "p2.one_layer_groups": "none: exact swaps; rotation groups run per factor in float64",
}


def claim_plan(quick: bool) -> list[tuple[str, Callable[[], ClaimResult]]]:
    """(claim name, thunk) for every check, with the sizes for a quick or a full run."""
    from statetrack.proofs_check import deltaproduct as p2
    from statetrack.proofs_check import general_nonneg as general
    from statetrack.proofs_check import gh_products as gh
    from statetrack.proofs_check import mod3_non_triangular as mod3
    from statetrack.proofs_check import per_step_mod3
    from statetrack.proofs_check import one_hot_limit as onehot
    from statetrack.proofs_check import parity_needs_negative as parity
    from statetrack.proofs_check import per_step_scope as scope

    q = quick
    sampled_fmts = ("bfloat16",) if q else ("float16", "bfloat16", "float32")
    plan = [
        ("parity.float8_exhaustive", lambda: parity.check_float8_exhaustive("float8_e4m3fn")),
        ("parity.float8_exhaustive", lambda: parity.check_float8_exhaustive("float8_e5m2")),
        ("parity.per_step_triangular",
         lambda: parity.check_per_step_triangular(sampled_fmts, samples=24 if q else 256)),
        ("parity.general_nonneg_exact_state",
         lambda: general.check_general_nonneg(("bfloat16",) if q else ("bfloat16", "float16", "float8_e4m3fn"),
                                              samples=6 if q else 24)),
        ("parity.per_step_scope",
         lambda: scope.check_per_step_gh_cycles("bfloat16", samples=256 if q else 1024, general=not q,
                                                survey=() if q else (("float16", 2, 2), ("bfloat16", 1, 2),
                                                                     ("bfloat16", 2, 3)))),
        ("parity.reflection_solves",
         lambda: parity.check_reflection_parity(literal_steps=10**4 if q else 10**5)),
        ("mod3.non_triangular_needed",
         lambda: mod3.check_triangular_period(sampled_fmts, samples=24 if q else 256)),
        ("mod3.per_factor_real_spectrum_counts", lambda: per_step_mod3.check_per_step_period3("bfloat16")),
        ("mod3.counters", lambda: mod3.check_counters(max_len=2_000 if q else 50_000,
                                                      survey_moduli=() if q else (5, 7, 12, 60))),
        ("gh.norm_bound", lambda: gh.check_norm_bound(samples=400 if q else 5000)),
        ("gh.factorization", lambda: gh.check_factorization(samples=60 if q else 900)),
        ("gh.real_spectrum", lambda: gh.check_real_spectrum(samples=400 if q else 5000)),
        ("gh.k3_complex_witness", lambda: gh.check_complex_witness()),
        ("one_hot.merge_needs_nonsymmetric", lambda: onehot.check_one_hot_merge(samples=300 if q else 3000)),
        ("p2.norm_rank", lambda: p2.check_norm_rank(samples=300 if q else 3000)),
        ("p2.reachable_eigenvalues", lambda: p2.check_reachable_eigenvalues(samples=300 if q else 2000,
                                                                           grid=8 if q else 24)),
        ("p2.one_layer_groups", lambda: p2.check_one_layer_groups(max_points=5 if q else 6,
                                                                 rotation_groups=("A4",) if q else ("S4", "A4", "A5"))),
    ]
    if quick:                                  # one float8 format is enough for a smoke run
        del plan[1]
    return plan


def run_claims(quick: bool = False, only: str | None = None, progress: Callable[[str], None] | None = None
               ) -> list[ClaimResult]:
    """Run the checks (those whose name starts with ``only``, if given), in order."""
    results = []
    for name, thunk in claim_plan(quick):
        if only and not name.startswith(only):
            continue
        if progress:
            progress(name)
        start = time.perf_counter()
        try:
            result = thunk()
        except Exception as e:  # noqa: BLE001 - a crashing check is a failing check, recorded as such
            result = ClaimResult(name, "-", "-", "fails", f"the check raised {type(e).__name__}: {e}", None, {})
        results.append(replace(result, details={**result.details, "rounding": ROUNDING.get(name, "-"),
                                                "seconds": round(time.perf_counter() - start, 3)}))
    return results


def environment() -> dict:
    """Versions, machine and git commit, for the JSON record (statetrack.provenance)."""
    from statetrack.provenance import provenance

    env = provenance(dtype="float64")
    env["machine"] = {"machine": platform.machine(), "processor": platform.processor() or None,
                      "system": platform.system()}
    return env


def to_json(results: list[ClaimResult], *, quick: bool, seconds: float) -> dict:
    return {"all_hold": all(r.holds for r in results), "quick": quick, "seconds": round(seconds, 3),
            "environment": environment(), "claims": [r.to_json() for r in results]}


def write_json(record: dict, path: str | Path) -> None:
    """Write the record atomically (a reader never sees half a file)."""
    from statetrack.provenance import write_json as write

    write(path, record)


def short_witness(w, width: int = 56) -> str:
    if w is None:
        return "-"
    text = json.dumps(jsonable(w), separators=(",", ":"))
    return text if len(text) <= width else text[:width - 3] + "..."


def render(results: list[ClaimResult], console=None) -> None:
    """Print the claims table (rich), as wide as the terminal (``COLUMNS`` when set, else 100)."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        import shutil

        console = Console(width=max(60, shutil.get_terminal_size((100, 24)).columns))
    table = Table(title="statetrack claims", show_lines=True)
    table.add_column("claim", overflow="fold")
    table.add_column("reference", max_width=22)
    table.add_column("format; rounding", max_width=24)
    table.add_column("verdict", no_wrap=True)
    table.add_column("evidence", ratio=1)
    table.add_column("witness", max_width=28, overflow="fold")
    for r in results:
        style = "green" if r.holds else "bold red"
        rounding = r.details.get("rounding", "-")
        table.add_row(r.claim, r.reference, f"{r.fmt}; rounding: {rounding}", f"[{style}]{r.verdict}[/{style}]", r.evidence,
                      short_witness(r.witness))
    console.print(table)
    held = sum(r.holds for r in results)
    console.print(f"{held} of {len(results)} checks hold")
