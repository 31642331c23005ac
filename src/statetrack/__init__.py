"""statetrack: state tracking in linear RNNs, made executable.

    import statetrack
    model = statetrack.compile(statetrack.DFA.from_regex("(a|b)*abb", "ab"))
    model.accepts(["abb", "ab"])          # [True, False]
    model.save("abb.safetensors"); statetrack.load("abb.safetensors")
"""
from statetrack.version import __version__  # noqa: E402

from statetrack.automata import DFA, Group, group  # noqa: E402
from statetrack.constructions import compile  # noqa: E402
from statetrack.constructions.weights import LRNNWeights, load  # noqa: E402
from statetrack.errors import StatetrackError  # noqa: E402

__all__ = ["DFA", "Group", "group", "compile", "load", "LRNNWeights", "StatetrackError", "__version__"]
