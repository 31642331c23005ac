"""The one exception of the reports package."""
from statetrack.errors import StatetrackError


class ReportError(StatetrackError):
    """Results that cannot be read or rendered (missing directory or file, wrong schema), or
    weights that do not compute the task they are analysed on. The CLI prints it on one line, exit 2."""
