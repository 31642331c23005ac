"""Plain-text tables for the command line (no terminal library needed).

    format_table(["a", "b"], [[1, 2]])   ->  "a  b\n-  -\n1  2"
"""
from __future__ import annotations


def format_check(weights, reports) -> str:
    """The `statetrack check` table: one row per float format (statetrack.verify.FormatReport)."""
    s = weights.summary()
    head = (f"{s['construction']}: {s['layers']} layer(s), widths {s['widths']}, "
            f"at most {s['max_factors_per_symbol']} factors per layer symbol")
    rows = []
    for r in reports:
        long = (f"{r.long_words} x {r.long_len:,}: " +
                ("all exact" if r.long_failed == 0 else f"{r.long_failed} wrong, first at length {r.first_fail_len:,}"))
        rows.append([r.dtype, f"{r.words:,} (<= {r.max_len})",
                     "0" if r.mismatches == 0 else f"{r.mismatches:,} (e.g. {r.first_mismatch})",
                     long if r.long_len else "-", "ok" if r.passed else "MISMATCH", f"{r.seconds:.2f}s"])
    return head + "\n" + format_table(["dtype", "words checked", "mismatches", "long random words", "verdict", "time"], rows)


def format_table(headers: list, rows: list) -> str:
    """Left-aligned columns two spaces apart, a dashed rule under the headers."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])
