"""The reports package's exception, defined with the others in statetrack.errors (re-exported here)."""
from statetrack.errors import ReportError

__all__ = ["ReportError"]
