"""The exceptions of the extraction package."""
from statetrack.errors import StatetrackError


class ExtractionError(StatetrackError):
    """Input extraction cannot use: a run directory without weights, a task with no automaton,
    an unreadable path. The CLI prints it on one line, exit 2."""


class BudgetExceeded(StatetrackError):
    """Learning did not converge within its budget (states, rounds, queries or seconds).

    Attributes:
        partial: the last hypothesis (a :class:`~statetrack.extract.moore.Moore`), or None.
        budget: the budget that ran out, as a JSON-ready dict.
        counterexample: the last word (symbol indices) on which the network contradicted the
            partial hypothesis, or None.
    The CLI writes the partial hypothesis, names the budget and exits 1.
    """

    def __init__(self, message: str, partial=None, budget: dict | None = None):
        super().__init__(message)
        self.partial = partial
        self.budget = budget or {}
        self.counterexample = None
