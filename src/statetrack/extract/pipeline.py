"""One extraction, start to end: learn (L* / KV), abstract (clustering), compare both with the target.

    record = extract(load_network("runs/parity"), Budget(max_states=64))
    record["lstar"]["comparison"]["equivalent"]

The record (schema :data:`SCHEMA`) is JSON-ready; ``statetrack extract`` writes it beside a run's
``results.json`` as :data:`RECORD_FILE`, where reports pick it up. It holds the network, the budget,
versions, seed, device and git commit, and per method the machine's size, its comparison with the
target (:class:`~statetrack.extract.equivalence.Comparison`) and timings.
"""
from __future__ import annotations

import time

from statetrack.extract.abstraction import abstract_layers
import numpy as np

from statetrack.extract.equivalence import compare, first_failure, network_check
from statetrack.extract.errors import BudgetExceeded
from statetrack.extract.lstar import Budget, exhaustive_words, learn
from statetrack.extract.oracles import Network

SCHEMA = "statetrack.extract/1"
RECORD_FILE = "extraction.json"
METHODS = ("lstar", "abstraction", "both")


def extract(net: Network, budget: Budget | None = None, *, algorithm: str = "lstar", method: str = "both",
            abstraction_len: int = 8, max_clusters: int = 64) -> tuple[dict, object]:
    """Run the chosen methods; returns (record, the learned Moore machine or the abstraction's).

    When L* runs out of budget, the record says so (``record["converged"] = False``, the budget
    that ran out, the partial hypothesis compared with the target) and the partial hypothesis is
    the returned machine; state abstraction still runs.
    """
    from statetrack.train.results import git_info, versions

    budget = budget or Budget()
    record: dict = {"schema": SCHEMA, "network": net.describe(), "alphabet": list(net.alphabet),
                    "classes": list(net.classes), "seed": budget.seed, "device": "cpu",
                    "versions": {**versions(), "aalpy": _aalpy_version()}, "git": git_info(),
                    "target": None if net.target is None else {"states": net.target.minimize().n_states},
                    "no_target": net.no_target or None, "converged": True}
    machine = None
    if method in ("lstar", "both"):
        try:
            result = learn(net, budget, algorithm=algorithm)
        except BudgetExceeded as e:
            record["converged"] = False
            record["lstar"] = {"converged": False, "message": str(e), "budget_exceeded": e.budget,
                               "states": None if e.partial is None else e.partial.minimize().n_states,
                               "stats": {"algorithm": algorithm, "network_words": net.words_run}}
            if e.partial is not None:
                machine = e.partial.minimize()
                record["lstar"]["comparison"] = _compare(machine, net)
            if e.counterexample:
                w = e.counterexample
                fails = None if net.target is None else first_failure(net.outputs([w])[0][1:], net.target, w)
                record["lstar"]["last_counterexample"] = {"word": [net.alphabet[c] for c in w],
                                                          "network_fails_at": fails}
        else:
            machine = result.machine
            record["lstar"] = {"converged": True, "states": machine.n_states, "stats": result.stats,
                               "comparison": _compare(machine, net)}
    if net.target is not None:
        rng = np.random.default_rng(budget.seed + 1)
        m = len(net.alphabet)
        record["network_check"] = network_check(
            net, [exhaustive_words(m, budget), rng.integers(0, m, size=(budget.random_words, budget.random_len))])
    if method in ("abstraction", "both"):
        t = time.perf_counter()
        a, *per_layer = abstract_layers(net, length=abstraction_len, max_clusters=max_clusters, seed=budget.seed)
        record["abstraction"] = {**a.to_json(), "seconds": round(time.perf_counter() - t, 3),
                                 "comparison": _compare(a.machine, net),
                                 "per_layer": [x.to_json() for x in per_layer]}
        machine = machine or a.machine
    return record, machine


def _compare(machine, net: Network) -> dict | None:
    return None if net.target is None else compare(machine, net.target, net).to_json()


def _aalpy_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aalpy")
    except PackageNotFoundError:  # pragma: no cover - aalpy is a dependency
        return None


def summary_line(record: dict) -> str:
    """One line per record for reports: ``extracted 2 / target 2 states, equivalent yes`` (with the
    shortest counterexample and where the network first fails when not equivalent), or the budget
    L* ran out of, plus the network's own first failure against the target on the test words."""
    part = record.get("lstar") or record.get("abstraction") or {}
    c = part.get("comparison")
    if part.get("converged") is False:
        text = f"L* did not converge: {part.get('message')}"
        last = part.get("last_counterexample")
        if last and last["network_fails_at"] is not None:
            text += (f"; the network's last counterexample fails the target at length {last['network_fails_at']}"
                     f" ('{' '.join(last['word'][:last['network_fails_at']])}')")
    elif c is None:
        text = f"extracted {part.get('states', '?')} states (no target: {record.get('no_target') or 'none given'})"
    else:
        text = f"extracted {c['learned_states']} / target {c['target_states']} states, equivalent " + \
            ("yes" if c["equivalent"] else "no")
        if not c["equivalent"]:
            word = " ".join(c["counterexample"]) or "(empty word)"
            fails = c["network_fails_at"]
            text += (f", shortest counterexample '{word}' ({len(c['counterexample'])} letters), network first "
                     f"fails at length {fails if fails is not None else '-'}")
    nc = record.get("network_check")
    if nc and not nc["agrees"]:
        text += (f"; network vs target on test words up to {nc['max_len']}: first fails at length {nc['fails_at']}"
                 f" on '{' '.join(nc['shortest_failure'])}'")
    return text


__all__ = ["extract", "summary_line", "SCHEMA", "RECORD_FILE", "METHODS", "Budget", "BudgetExceeded"]
