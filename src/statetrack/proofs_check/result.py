"""The record every check returns: a verdict with the evidence behind it, never a warning."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from statetrack.provenance import jsonable  # noqa: F401  (re-exported; one NaN convention: null)

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
