"""Automata: DFAs, regexes, group word problems, transition monoids, Krohn–Rhodes cascades."""
from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA
from statetrack.automata.groups import Group, group
from statetrack.automata.minimize import equivalent, find_difference, minimize
from statetrack.automata.monoid import TransitionMonoid, transition_monoid
from statetrack.automata.product import complement, product
from statetrack.automata.regex import regex_to_dfa



def _from_regex(cls, pattern: str, alphabet, *, max_states: int = DEFAULT_MAX_STATES) -> DFA:
    """The minimal complete DFA of ``pattern`` over ``alphabet`` (see statetrack.automata.regex)."""
    return regex_to_dfa(pattern, alphabet, max_states=max_states)


def _minimize(self) -> DFA:
    """The minimal complete DFA of the same language (see statetrack.automata.minimize)."""
    return minimize(self)


# Convenience methods on DFA, wired here so that dfa.py imports neither algorithm (no import circle).
DFA.from_regex = classmethod(_from_regex)
DFA.minimize = _minimize

__all__ = ["DFA", "DEFAULT_MAX_STATES", "Group", "group", "TransitionMonoid", "complement", "equivalent",
           "find_difference", "minimize", "product", "regex_to_dfa", "transition_monoid"]
