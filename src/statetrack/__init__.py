"""statetrack: state tracking in linear RNNs, made executable."""
__version__ = "0.1.0"

from statetrack.automata import DFA, Group, group  # noqa: E402
from statetrack.errors import StatetrackError  # noqa: E402

__all__ = ["DFA", "Group", "group", "StatetrackError", "__version__"]
