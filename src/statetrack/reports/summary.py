"""Numbers a report reads off results files: per-length curves over runs, range summaries, sizes.

Nothing here runs a model: every function only gathers and averages values already in the JSON.
"""
from __future__ import annotations

import numpy as np

from statetrack.reports.load import Run, Variant


def as_array(values) -> np.ndarray:
    """A list with None holes -> float64 array with NaN holes."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def stack(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of different lengths -> (R, max length) padded with NaN."""
    n = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), n), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def curves(runs: list[Run], key: str = "accuracy") -> tuple[np.ndarray, np.ndarray]:
    """Per-length ``eval[key]`` of each run: (lengths (L,), values (R, L) with NaN where a run has no
    value). Lengths no run has a value at are left out: no word of the task has that length (modular
    arithmetic without brackets has odd lengths only), and a line through every other point being NaN
    would draw nothing."""
    rows = stack([as_array(r.data["eval"][key]) for r in runs])
    longest = max(runs, key=lambda r: len(r.data["eval"]["lengths"]))
    lengths = np.asarray(longest.data["eval"]["lengths"], dtype=np.float64)
    keep = np.isfinite(rows).any(0) if rows.size else np.ones(len(lengths), bool)
    return lengths[keep], rows[:, keep]


def band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, min, max) over runs (axis 0), NaN where no run has a value."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)


def range_of(runs: list[Run], which: str) -> tuple[int, int] | None:
    """The union of the runs' ``eval.<which>_range`` (min_len, max_len)."""
    spans = [r.data["eval"].get(f"{which}_range") or {} for r in runs]
    spans = [(s["min_len"], s["max_len"]) for s in spans if "min_len" in s and "max_len" in s]
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def test_scores(v: Variant, key: str = "scaled_accuracy") -> list[float]:
    """``eval.test_range[key]`` of each run that has one."""
    out = []
    for r in v.runs:
        x = (r.data["eval"].get("test_range") or {}).get(key)
        if x is not None:
            out.append(float(x))
    return out


def score_stats(v: Variant, key: str = "scaled_accuracy") -> dict:
    """mean, std, best, n of the test-range score over the variant's runs (None when no run has one)."""
    xs = test_scores(v, key)
    if not xs:
        return {"mean": None, "std": None, "best": None, "worst": None, "n": 0}
    a = np.array(xs)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "best": float(a.max()),
            "worst": float(a.min()), "n": len(a)}


def size_of(run: Run) -> dict:
    """Comparable size facts of a learned model or a construction (None where unknown).

    ``state`` counts the numbers in the recurrent state: learned, layers x heads x K x V (K = V =
    head_dim); constructed, the sum of its layers' n x V. ``n_h`` is the factors per token.
    """
    a = run.data.get("analysis") or {}
    s = a.get("size") or {}
    if run.kind == "constructed":
        per_tok = s.get("factors_per_token") or {}
        return {"layers": s.get("layers"), "width": ", ".join(map(str, s.get("widths", []))) or None,
                "state": s.get("state_size"), "n_h": s.get("n_h"), "params": s.get("params"),
                "factors": s.get("total_factors"),
                "factors_per_token": {t: sum(v) for t, v in per_tok.items()}}
    m = run.data.get("model") or {}
    layers = s.get("layers", m.get("n_layers"))
    heads = s.get("heads", m.get("n_heads"))
    hd = s.get("head_dim", m.get("head_dim"))
    state = layers * heads * hd * hd if all(isinstance(x, int) for x in (layers, heads, hd)) else None
    return {"layers": layers, "width": f"d_model {s.get('d_model', m.get('d_model'))}, {heads} heads x {hd}",
            "state": state, "n_h": s.get("n_h", m.get("n_h")), "params": s.get("params"), "factors": None,
            "factors_per_token": None}


def eigen_points(runs: list[Run]) -> dict[str, np.ndarray]:
    """token -> complex eigenvalues pooled over runs, layers and heads (the sampled positions)."""
    out: dict[str, list] = {}
    for r in runs:
        ev = (r.data.get("analysis") or {}).get("eigenvalues") or {}
        for layer in ev.get("layers", []):
            for head in layer.get("heads", []):
                for tok, vals in (head.get("per_token") or {}).items():
                    z = as_array(vals.get("real", [])).astype(complex)
                    if "imag" in vals:                  # left out when every sampled value is real
                        z = z + 1j * as_array(vals["imag"])
                    out.setdefault(tok, []).append(z)
    return {t: np.concatenate(v) for t, v in out.items()}


def eigen_extent(runs: list[Run]) -> dict | None:
    """min/max real part, max |imag| and fraction of negative real parts, over runs/layers/heads."""
    heads = [h for r in runs for layer in ((r.data.get("analysis") or {}).get("eigenvalues") or {}).get("layers", [])
             for h in layer.get("heads", [])]
    if not heads:
        return None
    return {"min_real": min(h["min_real"] for h in heads), "max_real": max(h["max_real"] for h in heads),
            "max_abs_imag": max(h["max_abs_imag"] for h in heads),
            "frac_negative_real": float(np.mean([h["frac_negative_real"] for h in heads]))}


def first_positive(values, lengths) -> int | None:
    """The first length whose value is > 0 (e.g. decode error), or None."""
    for v, L in zip(values, lengths):
        if v is not None and v > 0:
            return int(L)
    return None
