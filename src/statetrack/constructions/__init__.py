"""Constructions: an automaton in, explicit LRNN weights out (one module per construction).

    compile(obj, construction=None) -> LRNNWeights

``obj`` is a :class:`~statetrack.automata.dfa.DFA` or a :class:`~statetrack.automata.groups.Group`.
Without a construction name, groups get ``group`` and DFAs get :data:`DEFAULT_FOR_DFA`.

Default policy for DFAs: ``krohn-rhodes`` (symmetric GH factors only, P1 Thm 4) when its cascade is
within its limits (levels, width, table size; see ``constructions.krohn_rhodes.DEFAULT_LIMITS``);
otherwise :data:`FALLBACK_FOR_DFA` (``direct``, one layer), with the reason recorded in the
weights' ``info["default_fallback"]``. A construction named explicitly never falls back: over its
limits it raises LimitError.
"""
from __future__ import annotations

import importlib

from statetrack.automata.dfa import DFA
from statetrack.automata.groups import Group
from statetrack.constructions.weights import Factor, Layer, LRNNWeights, load
from statetrack.errors import ConstructionError, LimitError

#: construction name -> module with ``build(obj, source=None) -> LRNNWeights``
CONSTRUCTIONS = {
    "group": "statetrack.constructions.group",
    "rotation": "statetrack.constructions.rotation",
    "direct": "statetrack.constructions.direct",
    "krohn-rhodes": "statetrack.constructions.krohn_rhodes",
    "orthogonal": "statetrack.constructions.orthogonal",
    "dihedral-cascade": "statetrack.constructions.dihedral_cascade",
}
#: constructions that take a Group as it is (the others run its Cayley-table DFA)
GROUP_CONSTRUCTIONS = ("group", "rotation", "orthogonal", "dihedral-cascade")
DEFAULT_FOR_DFA = "krohn-rhodes"
#: used for a DFA, when no construction was named, if DEFAULT_FOR_DFA exceeds its limits
FALLBACK_FOR_DFA = "direct"


def default_construction(obj: DFA | Group) -> str:
    return "group" if isinstance(obj, Group) else DEFAULT_FOR_DFA


def compile(obj: DFA | Group, construction: str | None = None, *, source: dict | None = None,
            **options) -> LRNNWeights:
    """Compile an automaton into weights with the named construction (default per input kind).

    ``options`` go to the construction's ``build`` (e.g. ``limits=`` for ``krohn-rhodes``).
    """
    name = construction or default_construction(obj)
    if name not in CONSTRUCTIONS:
        raise ConstructionError(f"unknown construction {name!r}; choose from {', '.join(CONSTRUCTIONS)}")
    if isinstance(obj, Group) and name not in GROUP_CONSTRUCTIONS:
        # any DFA construction runs a word problem through its Cayley-table DFA
        obj, source = obj.to_dfa(), {"kind": "group", "name": obj.name}
    try:
        return importlib.import_module(CONSTRUCTIONS[name]).build(obj, source=source, **options)
    except LimitError as e:
        if construction is not None or isinstance(obj, Group) or name != DEFAULT_FOR_DFA:
            raise
        from dataclasses import replace

        weights = importlib.import_module(CONSTRUCTIONS[FALLBACK_FOR_DFA]).build(obj, source=source)
        return replace(weights, info={**weights.info, "default_fallback": f"{name}: {e}"})


__all__ = ["compile", "CONSTRUCTIONS", "DEFAULT_FOR_DFA", "FALLBACK_FOR_DFA", "Factor", "Layer", "LRNNWeights", "load"]
