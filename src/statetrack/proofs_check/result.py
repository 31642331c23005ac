"""The record every check returns: a verdict with the evidence behind it, never a warning."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

VERDICTS = ("holds", "fails")


@dataclass(frozen=True)
class ClaimResult:
    """Outcome of one numerical check of one claim.

    Attributes:
        claim: short dotted name, e.g. ``parity.float8_exhaustive``.
        reference: where the claim comes from, e.g. ``P1 Thm 1 / Lemma 1``.
        fmt: the float format(s) the evidence was computed in, comma separated.
        verdict: ``holds`` or ``fails``.
        evidence: one or two sentences with the numbers that decide the verdict.
        witness: JSON-ready example (a counterexample when the verdict is ``fails``, or the
            constructive witness the claim asks for), or None.
        details: JSON-ready extra numbers (sample counts, per-format tables, timings).
    """

    claim: str
    reference: str
    fmt: str
    verdict: str
    evidence: str
    witness: Any = None
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def to_json(self) -> dict:
        return {"claim": self.claim, "reference": self.reference, "fmt": self.fmt, "verdict": self.verdict,
                "evidence": self.evidence, "witness": jsonable(self.witness), "details": jsonable(self.details)}


def verdict(ok: bool) -> str:
    return "holds" if ok else "fails"


def jsonable(x: Any) -> Any:
    """numpy scalars/arrays, Fractions, tuples and non-finite floats turned into plain JSON values.

    Non-finite floats become the strings ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has no literal for them).
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, Fraction):
        return str(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(x, complex) or isinstance(x, np.complexfloating):
        return {"re": jsonable(x.real), "im": jsonable(x.imag)}
    return x
