"""Exceptions for bad user input and unsupported requests.

Every error a user can cause derives from :class:`StatetrackError`; the CLI prints its message on
one line and exits with status 2. Library code raises the most specific subclass and names the
offending item (symbol, state, file, group) in the message. ``assert`` is never used for input.
"""


class StatetrackError(Exception):
    """Base class: a problem with the user's input or request (CLI exit status 2)."""


class RegexError(StatetrackError):
    """A regular expression that cannot be parsed."""


class AlphabetError(StatetrackError):
    """A symbol outside the alphabet, or an invalid alphabet."""


class DFAError(StatetrackError):
    """An inconsistent or malformed DFA (bad table, start state, accepting set, JSON)."""


class GroupError(StatetrackError):
    """An unknown group name or a token that is not an element of the group."""


class LimitError(StatetrackError):
    """An automaton or construction exceeds a configured size limit (states, levels, width)."""


class ConstructionError(StatetrackError):
    """A construction that does not apply to the given automaton (e.g. rotation for a non-cyclic group)."""


class UnreachableConfigurationError(ConstructionError):
    """Weights met a tuple of layer codes they store no route or state for (corrupt or misdecoded)."""


class WeightsFileError(StatetrackError):
    """A weights file that is missing, truncated, corrupt or not written by statetrack."""


class TrainingError(StatetrackError):
    """Training cannot continue (NaN/inf loss, unusable checkpoint, bad config)."""
