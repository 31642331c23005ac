"""Krohn–Rhodes decomposition: any complete DFA as a cascade of permutation–reset levels (P1 Thm 4).

Two stages, each a frozen artefact that runs on its own:

- :func:`holonomy` -> :class:`Holonomy`: the holonomy decomposition (Eilenberg; Egri-Nagy &
  Nehaniv, arXiv:1508.06345; see :mod:`.holonomy`) with dependency functions evaluated on demand.
  Cheap even for DFAs whose explicit cascade is huge.
- :meth:`Holonomy.cascade` / :func:`decompose` -> :class:`Cascade`: the explicit cascade (dense
  dependency tables, initial state, state map), bounded by :class:`CascadeLimits`; the input of the
  ``krohn-rhodes`` LRNN construction.

Example
-------
>>> from statetrack.automata.dfa import DFA
>>> mod5_reset = DFA(alphabet="ar", table=[[(q + 1) % 5, 0] for q in range(5)], start=0, accepting={0})
>>> c = decompose(mod5_reset)
>>> c.widths, [a.kind for a in c.actions[0]]
((5,), ['identity', 'permutation', 'constant'])
>>> c.counterexample(mod5_reset) is None   # agrees on every word
True
"""
from __future__ import annotations

from statetrack.automata.dfa import DFA
from statetrack.automata.krohn_rhodes.cascade import Action, Cascade, CascadeLimits, table_entries
from statetrack.automata.krohn_rhodes.holonomy import NAME, Holonomy, holonomy


def decompose(dfa: DFA, limits: CascadeLimits | None = None) -> Cascade:
    """The explicit holonomy cascade of a DFA; LimitError when it exceeds ``limits``."""
    limits = limits or CascadeLimits()
    return holonomy(dfa, limits.max_images).cascade(limits)


__all__ = ["Action", "Cascade", "CascadeLimits", "Holonomy", "NAME", "decompose", "holonomy", "table_entries"]
