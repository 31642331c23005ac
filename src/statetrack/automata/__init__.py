"""Automata: DFAs, regexes, group word problems, transition monoids, Krohn–Rhodes cascades."""
from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA
from statetrack.automata.groups import Group, group
from statetrack.automata.minimize import equivalent, find_difference, minimize
from statetrack.automata.monoid import TransitionMonoid, transition_monoid
from statetrack.automata.product import complement, product
from statetrack.automata.regex import regex_to_dfa

__all__ = ["DFA", "DEFAULT_MAX_STATES", "Group", "group", "TransitionMonoid", "complement", "equivalent",
           "find_difference", "minimize", "product", "regex_to_dfa", "transition_monoid"]
