"""Automata: DFAs, regexes, group word problems, transition monoids, Krohn–Rhodes cascades."""
from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA
from statetrack.automata.groups import Group, group

__all__ = ["DFA", "DEFAULT_MAX_STATES", "Group", "group"]
