"""Published numbers the report puts beside ours.

P1 = Grazzi, Siems, Zela, Franke, Hutter, Pontil, *Unlocking State-Tracking in Linear RNNs Through
Negative Eigenvalues*, ICLR 2025 (arXiv 2411.12537), Table 3: scaled accuracy
``(acc - chance) / (1 - chance)`` on test lengths 40-256 after training on lengths 3-40, best of 3
seeds (2 layers, 3 for modular arithmetic; d_model 128; 100k steps). Copied from
``PAPER_NOTES.md``; only the columns that match a task of ``statetrack.tasks`` are used.
"""
from __future__ import annotations

CITATION = ("Grazzi et al., Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues, "
            "ICLR 2025 (arXiv:2411.12537), Table 3")
SHORT = "P1 Table 3"
PROTOCOL = "train lengths 3-40, test 40-256, scaled accuracy, best of 3 seeds"

#: column -> model -> eigenvalue range -> scaled accuracy
TABLE3 = {
    "parity": {
        "Mamba": {"0,1": 0.000, "-1,1": 1.000},
        "DeltaNet": {"0,1": 0.017, "-1,1": 1.000},
        "Transformer": {"": 0.022},
    },
    "mod_arith_no_brackets": {
        "Mamba": {"0,1": 0.095, "-1,1": 0.241},
        "DeltaNet": {"0,1": 0.314, "-1,1": 0.971},
        "Transformer": {"": 0.031},
    },
    "mod_arith_brackets": {
        "Mamba": {"0,1": 0.123, "-1,1": 0.116},
        "DeltaNet": {"0,1": 0.194, "-1,1": 0.260},
        "Transformer": {"": 0.067},
    },
}

#: our model kind -> P1's row name
MODEL_ROW = {"deltanet": "DeltaNet", "diagonal": "Mamba", "transformer": "Transformer"}


def column_for(task: dict) -> str | None:
    """The Table 3 column that measures the same task, or None."""
    name, opts = task["name"], task.get("options") or {}
    if name == "parity":
        return "parity"
    if name == "modular_arithmetic" and opts.get("m", 5) == 5:
        return "mod_arith_no_brackets"
    if name == "modular_arithmetic_brackets" and opts.get("m", 5) == 5:
        return "mod_arith_brackets"
    return None


def value(task: dict, model_kind: str, eig_range: str) -> float | None:
    """P1's Table 3 value for our task, model kind and range, or None where the paper has none."""
    col = column_for(task)
    row = MODEL_ROW.get(model_kind)
    if col is None or row is None:
        return None
    return TABLE3[col][row].get("" if model_kind == "transformer" else eig_range)
