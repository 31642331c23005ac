"""Constructions: an automaton in, explicit LRNN weights out (one module per construction).

    compile(obj, construction=None) -> LRNNWeights

``obj`` is a :class:`~statetrack.automata.dfa.DFA` or a :class:`~statetrack.automata.groups.Group`.
Without a construction name, groups get ``group`` and DFAs get :data:`DEFAULT_FOR_DFA`.
"""
from __future__ import annotations

import importlib

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import Group
from statetrack.constructions.weights import Factor, Layer, LRNNWeights, load
from statetrack.errors import ConstructionError

#: construction name -> module with ``build(obj, source=None) -> LRNNWeights``
CONSTRUCTIONS = {
    "group": "statetrack.constructions.group",
    "rotation": "statetrack.constructions.rotation",
    "direct": "statetrack.constructions.direct",
}
DEFAULT_FOR_DFA = "direct"


def default_construction(obj: DFA | Group) -> str:
    return "group" if isinstance(obj, Group) else DEFAULT_FOR_DFA


def compile(obj: DFA | Group, construction: str | None = None, *, source: dict | None = None) -> LRNNWeights:
    """Compile an automaton into weights with the named construction (default per input kind)."""
    name = construction or default_construction(obj)
    if name not in CONSTRUCTIONS:
        raise ConstructionError(f"unknown construction {name!r}; choose from {', '.join(CONSTRUCTIONS)}")
    if isinstance(obj, Group) and name not in ("group", "rotation"):
        # any DFA construction runs a word problem through its Cayley-table DFA
        obj, source = obj.to_dfa(), {"kind": "group", "name": obj.name}
    return importlib.import_module(CONSTRUCTIONS[name]).build(obj, source=source)


__all__ = ["compile", "CONSTRUCTIONS", "DEFAULT_FOR_DFA", "Factor", "Layer", "LRNNWeights", "load"]
