"""Exceptions for bad user input and unsupported requests.

Every error a user can cause derives from :class:`StatetrackError`; the CLI prints its message on
one line and exits with status 2. Library code raises the most specific subclass and names the
offending item (symbol, state, file, group) in the message. ``assert`` is never used for input.
"""


class StatetrackError(Exception):
    """Base class: a problem with the user's input or request (CLI exit status 2).

    ``api_hint`` / ``cli_hint``: how to get past the problem, in the words of the Python API
    (``raise max_states``) and of the command line (``raise it with --max-states``). ``str(e)``
    carries the API hint, so nothing raised through the Python API names a CLI flag;
    :meth:`cli_message` is what the ``statetrack`` command prints.
    """

    def __init__(self, message: str = "", *, api_hint: str | None = None, cli_hint: str | None = None):
        super().__init__(message)
        self.api_hint, self.cli_hint = api_hint, cli_hint

    def _with(self, hint: str | None) -> str:
        base = str(self.args[0]) if self.args else ""
        return f"{base}; {hint}" if hint else base

    def __str__(self) -> str:
        return self._with(self.api_hint)

    def cli_message(self) -> str:
        return self._with(self.cli_hint or self.api_hint)


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


class ArgumentError(StatetrackError, TypeError):
    """A Python API argument of the wrong kind (e.g. one string where a list of words is expected)."""


class TaskError(StatetrackError):
    """A task name or option that does not exist or does not make sense."""


class ModelError(StatetrackError):
    """A model configuration that cannot be built (unknown kind, range, backend, bad sizes)."""


class ReportError(StatetrackError):
    """Results that cannot be read or rendered (missing directory or file, wrong schema), or
    weights that do not compute the task they are analysed on."""
