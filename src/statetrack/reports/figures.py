"""Matplotlib figures of a report, one function per figure, each returning a Figure.

Every per-task figure has the same columns, side by side: one panel per learned model (DeltaNet
[0,1] before [-1,1]) and one per construction, so a row of panels reads "learned without negative
eigenvalues | learned with them | what the theory builds". Figures only draw values from results
files (see :mod:`statetrack.reports.summary`).
"""
from __future__ import annotations

import numpy as np

from statetrack.reports import summary as S
from statetrack.reports.load import TaskGroup, Variant

#: colours: learned [0,1] blue, learned [-1,1] red, constructions green/purple/ochre
RANGE_FAMILIES = {"0,1": ("#3566a8", "#6fa8dc", "#1c3f73", "#8fb8e8", "#0b2545"),
                  "-1,1": ("#c8413b", "#e69138", "#7f1d1d", "#f08c84", "#b45309")}
OTHER_LEARNED = ("#7b8794", "#8c6bb1", "#a6761d")
#: constructions keep one colour across tasks; unknown names take the spare ones in order
CONSTRUCTION_COLOURS = {"group": "#2b8a3e", "rotation": "#7048b8", "krohn-rhodes": "#c77c02", "direct": "#0b7285"}
SPARE_COLOURS = ("#5c940d", "#a61e4d", "#495057")
DTYPE_COLOURS = {"float64": "#222222", "float32": "#1f77b4", "bfloat16": "#e8590c", "float16": "#9c36b5"}
TOKEN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                 "#bcbd22", "#7f7f7f")
TRAIN_SHADE = "#d9d9d9"
PANEL_W, PANEL_H = 4.0, 3.1
DPI = 110


def setup():
    """Import pyplot on the Agg backend with the report's style; returns the pyplot module."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "legend.fontsize": 7.5,
        "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.6, "axes.axisbelow": True,
        "figure.dpi": DPI, "savefig.dpi": DPI, "axes.titleweight": "bold",
    })
    return plt


def variant_colour(group_or_variants, v: Variant) -> str:
    """Constructions by name; learned models by range (blues for [0,1], reds for [-1,1]), the shade
    by model: DeltaNet, then the diagonal model, then DeltaProduct per n_h."""
    if v.constructed:
        if v.key[1] in CONSTRUCTION_COLOURS:
            return CONSTRUCTION_COLOURS[v.key[1]]
        cons = [x for x in _variants(group_or_variants) if x.constructed and x.key[1] not in CONSTRUCTION_COLOURS]
        return SPARE_COLOURS[cons.index(v) % len(SPARE_COLOURS)] if v in cons else "#495057"
    family = RANGE_FAMILIES.get(v.eig_range, OTHER_LEARNED)
    kind = v.key[0]
    if kind == "deltanet":
        i = 0
    elif kind == "diagonal":
        i = 1
    else:
        same = sorted({x.key[2] for x in _variants(group_or_variants) if not x.constructed and x.key[0] == kind
                       and x.eig_range == v.eig_range} | {v.key[2]})
        i = 2 + same.index(v.key[2])
    return family[i % len(family)]


def _variants(g) -> list[Variant]:
    return g.variants if isinstance(g, TaskGroup) else list(g)


def panels(group: TaskGroup) -> list[Variant | None]:
    """The columns of a task's figures: learned variants, then each construction.

    When a task has DeltaNet runs of one range only, an empty column stands in for the other, and a
    task without constructions gets one empty construction column, so the three-way layout stays.
    """
    cols: list[Variant | None] = list(group.learned)
    ranges = {v.eig_range for v in group.learned if v.key[0] == "deltanet"}
    if group.learned and ranges and ranges != {"0,1", "-1,1"} and ranges <= {"0,1", "-1,1"}:
        missing = ({"0,1", "-1,1"} - ranges).pop()
        cols.insert(0 if missing == "0,1" else len(cols), Variant(key=("deltanet", missing, 1)))
    cols += group.constructed or [Variant(key=("constructed", "(none)"))]
    return cols


MAX_COLS = 4      # panels per row; more variants wrap onto further rows


def _grid(plt, n: int, width: float = PANEL_W, height: float = PANEL_H, sharey: bool = True):
    """n panels, at most MAX_COLS per row; returns (figure, the n axes in reading order)."""
    cols, rows = min(n, MAX_COLS), -(-n // MAX_COLS)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), sharey=sharey, squeeze=False,
                             layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _square_grid(plt, n: int, side: float = 2.6, left: float = 0.62, right: float = 0.28, bottom: float = 0.8,
                 top: float = 0.55, gap: float = 0.55):
    """n square panels laid out by hand (inches), at most MAX_COLS per row, with room for two-line
    titles and a legend strip below.

    (The constrained layout engine misplaces titles of fixed-aspect axes next to a figure legend.)
    """
    cols, rows = min(n, MAX_COLS), -(-n // MAX_COLS)
    cell_w, cell_h = left + side + right, side + top + gap
    W, H = cols * cell_w, bottom + rows * cell_h - gap
    fig = plt.figure(figsize=(W, H))
    axes = []
    for i in range(n):
        r, c = divmod(i, MAX_COLS)
        y = bottom + (rows - 1 - r) * cell_h
        axes.append(fig.add_axes(((c * cell_w + left) / W, y / H, side / W, side / H)))
    return fig, axes


def _fig_legend(fig, axes, ncol: int | None = None, proxies: bool = False, extra: list | None = None) -> None:
    """One legend under the whole figure with every distinct label of the panels.

    ``proxies``: draw scatter entries as plain markers of one size (big scatter markers would make
    the legend taller than the layout engine planned for, pushing titles off the figure).
    """
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D

    seen = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if not lab.startswith("_"):
                seen.setdefault(lab, h)
    for h, lab in extra or []:
        seen.setdefault(lab, h)
    if not seen:
        return
    handles = list(seen.values())
    if proxies:
        for i, h in enumerate(handles):
            if isinstance(h, PathCollection):
                fc, ec = h.get_facecolor(), h.get_edgecolor()
                face = tuple(fc[0]) if len(fc) else "none"
                edge = tuple(ec[0]) if len(ec) else face
                handles[i] = Line2D([], [], ls="", marker="o", markersize=9 if face == "none" else 6,
                                    markerfacecolor=face, markeredgecolor=edge, markeredgewidth=1.0)
    ncol = ncol or min(len(seen), 7)
    rows = -(-len(seen) // ncol)
    strip = (0.12 + 0.2 * rows) / fig.get_figheight()           # figure fraction kept for the legend
    if fig.get_layout_engine() is not None:
        fig.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))
    fig.legend(handles, list(seen.keys()), loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
               frameon=False)


def _empty(ax, v: Variant, what: str) -> None:
    if v.constructed:
        msg = "no constructed results\nrun `statetrack analyze --task ...`\nand pass its directory"
    else:
        msg = f"no {v.label} runs"
    ax.text(0.5, 0.5, msg, ha="center", va="center", transform=ax.transAxes, color="#888888", fontsize=8.5)
    ax.set_title(v.label, color="#888888")


def _title(ax, v: Variant, colour: str, extra: str = "") -> None:
    n = len(v.runs)
    if v.constructed:
        dtype = v.runs[0].data.get("dtype") if v.runs else None
        runs = f" ({dtype})" if dtype else ""
    else:
        runs = f"  ·  {n} run{'s' if n != 1 else ''}"
    label = v.label
    if v.detail:                       # the set-up on a line of its own: panels sit side by side
        label = label.replace(f" ({v.detail})", "")
        runs += f"\n{v.detail}"
    ax.set_title(f"{label}{runs}{extra}", color=colour)


def _shade_train(ax, span: tuple[int, int] | None) -> None:
    if span is None:
        return
    ax.axvspan(span[0], span[1], color=TRAIN_SHADE, alpha=0.6, lw=0, zorder=0, label="training lengths")


def _test_marks(ax, span: tuple[int, int] | None) -> None:
    if span is None:
        return
    for j, x in enumerate(span):
        ax.axvline(x, color="#999999", lw=0.7, ls=(0, (2, 2)), zorder=1, label="test range" if j == 0 else None)


def signed(x: float, nd: int = 2) -> str:
    """A number with nd decimals, never "-0.00"."""
    text = f"{x:.{nd}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


# ---------------------------------------------------------------------- accuracy per length
def accuracy_figure(group: TaskGroup):
    """Accuracy at every length: runs thin, mean bold, min-max band; training lengths shaded."""
    plt = setup()
    cols = panels(group)
    fig, axes = _grid(plt, len(cols))
    chance = float(group.task.get("chance", 0.0))
    for i, (ax, v) in enumerate(zip(axes, cols)):
        ax.set_xlabel("sequence length")
        if i % MAX_COLS == 0:
            ax.set_ylabel("accuracy at the last position")
        ax.set_ylim(-0.02, 1.04)
        if not v.runs:
            _empty(ax, v, "accuracy")
            continue
        colour = variant_colour(group, v)
        lengths, vals = S.curves(v.runs, "accuracy")
        mean, lo, hi = S.band(vals)
        _shade_train(ax, S.range_of(v.runs, "train"))
        _test_marks(ax, S.range_of(v.runs, "test"))
        if len(v.runs) > 1:
            ax.fill_between(lengths, lo, hi, color=colour, alpha=0.18, lw=0, label="min–max over runs")
            for j, row in enumerate(vals):
                ax.plot(lengths, row, color=colour, lw=0.5, alpha=0.45, label="one run" if j == 0 else None)
        few = np.isfinite(np.asarray(mean, dtype=float)).sum() <= 3       # e.g. a result scored at one length
        ax.plot(lengths, mean, color=colour, lw=1.8, marker="o" if few else None,
                label="mean over runs" if len(v.runs) > 1 else ("construction" if v.constructed else "one run"))
        ax.axhline(chance, color="#666666", lw=0.8, ls=":", label="chance")
        st = S.score_stats(v)
        extra = "" if st["mean"] is None else f"\ntest-range scaled accuracy {signed(st['mean'])}" + (
            f" (best {signed(st['best'])})" if st["n"] > 1 else "")
        _title(ax, v, colour, extra)
        ax.set_xlim(0, lengths.max() if len(lengths) else 1)
    _fig_legend(fig, axes)
    return fig


# ---------------------------------------------------------------------- eigenvalues
def _unit_circle(ax, eig_range: str | None) -> None:
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(np.cos(t), np.sin(t), color="#888888", lw=0.9, zorder=1)
    ax.axhline(0, color="#bbbbbb", lw=0.6, zorder=1)
    ax.axvline(0, color="#bbbbbb", lw=0.6, zorder=1)
    if eig_range in ("0,1", "-1,1"):
        lo = 0.0 if eig_range == "0,1" else -1.0
        ax.plot([lo, 1.0], [0, 0], color="#f2c94c", lw=7, alpha=0.55, solid_capstyle="butt", zorder=1,
                label="range of one Householder factor")


def _token_colour(i: int, n_tokens: int) -> str:
    return TOKEN_COLOURS[i % len(TOKEN_COLOURS)] if n_tokens <= len(TOKEN_COLOURS) else "#444444"


def _construction_points(group: TaskGroup) -> np.ndarray:
    pts = [z for v in group.constructed for r in v.runs for z in S.eigen_points([r]).values()]
    return np.unique(np.round(np.concatenate(pts), 9)) if pts else np.zeros(0, complex)


def eigen_figure(group: TaskGroup):
    """Eigenvalues of each token's transition in the complex plane, unit circle drawn.

    Learned panels pool the sampled positions over runs, layers and heads; hollow grey rings mark
    where the construction puts its eigenvalues. Construction panels draw every eigenvalue of every
    token's matrix (concentric markers when tokens share a value).
    """
    plt = setup()
    cols = panels(group)
    fig, axes = _square_grid(plt, len(cols))
    tokens = list(group.task.get("tokens") or [])
    targets = _construction_points(group)
    lim = 1.3
    for v in cols:
        for z in S.eigen_points(v.runs).values():
            if len(z):
                lim = max(lim, float(np.nanmax(np.abs(z.real))) * 1.08, float(np.nanmax(np.abs(z.imag))) * 1.08)
    for ax, v in zip(axes, cols):
        ax.set_aspect("equal")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
        ax.grid(False)
        _unit_circle(ax, v.eig_range)
        if not v.runs:
            _empty(ax, v, "eigenvalues")
            continue
        colour = variant_colour(group, v)
        pts = S.eigen_points(v.runs)
        order = [t for t in tokens if t in pts] + [t for t in pts if t not in tokens]
        many = len(order) > len(TOKEN_COLOURS)
        if v.constructed:
            for i, tok in enumerate(order):
                z = pts[tok]
                size = max(230 - 130 * i, 40) if not many else 60
                ax.scatter(z.real, z.imag, s=size, color=_token_colour(i, len(order)), edgecolor="black",
                           lw=0.6, zorder=3 + i, label=None if many else f"token {tok}")
            if many:
                ax.scatter([], [], s=60, color="#444444", edgecolor="black", label=f"all {len(order)} tokens")
            _label_values(ax, pts)
            ax.set_title(f"{v.label}\nevery eigenvalue of each token's A", color=colour)
        else:
            if len(targets):
                ax.scatter(targets.real, targets.imag, s=170, facecolor="none", edgecolor="#7a7a7a", lw=1.1,
                           zorder=2, label="construction")
            for i, tok in enumerate(order):
                z = pts[tok]
                ax.scatter(z.real, z.imag, s=12 if not many else 6, color=_token_colour(i, len(order)),
                           alpha=0.55 if not many else 0.3, lw=0, zorder=3,
                           label=None if many else f"token {tok}")
            if many:
                ax.scatter([], [], s=12, color="#444444", label=f"{len(order)} sampled tokens")
            ext = S.eigen_extent(v.runs)
            extra = "" if ext is None else (f"\nRe λ in [{signed(ext['min_real'])}, {signed(ext['max_real'])}], " +
                                            ("all real" if ext["max_abs_imag"] == 0 else f"|Im λ| ≤ {ext['max_abs_imag']:.2g}"))
            _title(ax, v, colour, extra)
    _fig_legend(fig, axes, proxies=True)
    return fig


def _label_values(ax, pts: dict[str, np.ndarray]) -> None:
    """Name the distinct eigenvalues of a construction (up to 8) next to the markers."""
    vals = np.unique(np.round(np.concatenate(list(pts.values())), 9)) if pts else []
    if len(vals) > 8:
        return
    for z in vals:
        r = abs(z)
        ang = np.angle(z) if r > 1e-9 else np.pi / 2
        if abs(z.imag) < 1e-9:                 # on the real axis: above the marker, clear of the tick labels
            x, y = z.real, 0.24
        else:
            x, y = z.real + 0.27 * np.cos(ang), z.imag + 0.27 * np.sin(ang)
        ax.text(x, y, _name(complex(z)), ha="center", va="center", fontsize=9, color="#333333", zorder=10)


def _name(z: complex) -> str:
    """Mathtext for an eigenvalue: 1, −1, e^{2πi/3}, or rounded digits."""
    if abs(z.imag) < 1e-9:
        return f"{z.real:.3g}".replace("-", "−")
    turn = np.angle(z) / (2 * np.pi)
    from fractions import Fraction

    f = Fraction(turn).limit_denominator(24)
    if abs(float(f) - turn) < 1e-7 and abs(abs(z) - 1) < 1e-9:
        sign = "-" if f < 0 else ""
        f = abs(f)
        num = "" if f.numerator == 1 else str(f.numerator)
        return rf"$e^{{{sign}{num}2\pi i/{f.denominator}}}$"
    return f"{z.real:.2f}{z.imag:+.2f}i"


# ---------------------------------------------------------------------- linear probes
def probe_figure(group: TaskGroup):
    """Linear-probe accuracy per length (learned: per layer, fit on training lengths); constructions:
    their codebook read-out against the true automaton state."""
    plt = setup()
    cols = panels(group)
    fig, axes = _grid(plt, len(cols))
    most_layers = 1
    for i, (ax, v) in enumerate(zip(axes, cols)):
        ax.set_xlabel("sequence length")
        if i % MAX_COLS == 0:
            ax.set_ylabel("probe accuracy (true state)")
        ax.set_ylim(-0.02, 1.04)
        probes = [(r, (r.data.get("analysis") or {}).get("probes")) for r in v.runs]
        probes = [(r, p) for r, p in probes if p]
        if not probes:
            _empty(ax, v, "probes") if not v.runs else ax.set_title(f"{v.label}: no probes recorded", color="#888888")
            continue
        colour = variant_colour(group, v)
        _shade_train(ax, S.range_of(v.runs, "train"))
        n_layers = max(len(p["layers"]) for _, p in probes)
        if not v.constructed:
            most_layers = max(most_layers, n_layers)
        shades = _shades(colour, n_layers)
        for li in range(n_layers):
            rows = [S.as_array(p["layers"][li]["accuracy"]) for _, p in probes if li < len(p["layers"])]
            vals = S.stack(rows)
            lengths = np.arange(1, vals.shape[1] + 1, dtype=np.float64)
            longest = max((p for _, p in probes), key=lambda p: len(p.get("lengths", [])))
            if len(longest.get("lengths", [])) == vals.shape[1]:
                lengths = np.asarray(longest["lengths"], dtype=np.float64)
            mean, lo, hi = S.band(vals)
            if len(rows) > 1:
                ax.fill_between(lengths, lo, hi, color=shades[li], alpha=0.15, lw=0)
            ax.plot(lengths, mean, color=shades[li], lw=1.6,
                    label="construction: codebook read-out" if v.constructed else None)
        ax.axhline(probes[0][1].get("chance", 0), color="#666666", lw=0.8, ls=":", label="chance")
        target = f"{probes[0][1].get('n_states', '?')} states"
        _title(ax, v, colour, f"\ntarget: automaton state ({target})")
    _fig_legend(fig, axes, extra=_layer_proxies(most_layers))
    return fig


def _layer_proxies(n: int) -> list:
    """Legend entries for learned layers: grey shades, lower layers lighter (as in the panels)."""
    from matplotlib.lines import Line2D

    if n <= 1:
        return [(Line2D([], [], color="#555555", lw=1.6), "learned: mean over runs (band: min–max)")]
    return [(Line2D([], [], color=c, lw=1.6), f"learned layer {i}") for i, c in enumerate(_shades("#333333", n))]


def _shades(colour: str, n: int) -> list:
    """n shades of a colour, lightest first (lower layers lighter)."""
    from matplotlib.colors import to_rgb

    base = np.array(to_rgb(colour))
    if n == 1:
        return [colour]
    return [tuple(base + (1 - base) * (0.55 * (n - 1 - i) / (n - 1))) for i in range(n)]


# ---------------------------------------------------------------------- state norms / drift
def norm_figure(group: TaskGroup):
    """State norm over length up to 10x the training length (log-log). Learned: ||S||_F per layer,
    mean over words and heads, band = spread of that mean over runs. Constructions: ||H||_F per float
    format (solid) and its distance from the float64 run (dashed): finite-precision drift."""
    plt = setup()
    cols = panels(group)
    fig, axes = _grid(plt, len(cols), sharey=False)
    most_layers = 1
    for i, (ax, v) in enumerate(zip(axes, cols)):
        ax.set_xlabel("sequence length")
        ax.set_xscale("log")
        ax.set_yscale("log")
        if i % MAX_COLS == 0:
            ax.set_ylabel("state norm ‖S‖_F")
        norms = [(r, (r.data.get("analysis") or {}).get("state_norms")) for r in v.runs]
        norms = [(r, n) for r, n in norms if n]
        if not norms:
            _empty(ax, v, "norms") if not v.runs else ax.set_title(f"{v.label}: no state norms recorded", color="#888888")
            continue
        colour = variant_colour(group, v)
        tmax = norms[0][1].get("train_max_len")
        if tmax:
            ax.axvspan(1, tmax, color=TRAIN_SHADE, alpha=0.6, lw=0, zorder=0, label="training lengths")
        if v.constructed:
            note = _construction_norms(ax, norms[0][1])
            ax.set_title(f"{v.label}\n{note}", color=colour)
        else:
            n_layers = max(len(n["layers"]) for _, n in norms)
            most_layers = max(most_layers, n_layers)
            shades = _shades(colour, n_layers)
            for li in range(n_layers):
                rows = [S.as_array(n["layers"][li]["mean"]) for _, n in norms if li < len(n["layers"])]
                vals = S.stack(rows)
                lengths = np.asarray(max((n for _, n in norms), key=lambda n: len(n["lengths"]))["lengths"], float)
                mean, lo, hi = S.band(vals)
                if len(rows) > 1:
                    ax.fill_between(lengths, lo, hi, color=shades[li], alpha=0.18, lw=0)
                ax.plot(lengths, mean, color=shades[li], lw=1.6, marker="o", ms=2.8)
            _title(ax, v, colour, "\nmean over words and heads")
        ax.yaxis.set_major_formatter(_compact)
        ax.yaxis.set_minor_formatter(_compact_minor)
        ax.xaxis.set_major_formatter(_compact)
    extra = _layer_proxies(most_layers) if group.learned else []
    if group.constructed:
        from matplotlib.lines import Line2D

        extra.append((Line2D([], [], color="#555555", lw=1.2, ls="--"), "construction: distance from float64"))
    _fig_legend(fig, axes, extra=extra)
    return fig


def _compact(v, _pos=None) -> str:
    """Tick labels such as 0.2, 1, 40, 1e-06 instead of 2x10^-1."""
    return f"{v:g}"


def _compact_minor(v, _pos=None) -> str:
    """Label minor log ticks only at 2 and 5 times a power of ten."""
    import math

    if v <= 0:
        return ""
    mant = v / 10 ** math.floor(math.log10(v) + 1e-12)
    return f"{v:g}" if round(mant) in (2, 5) and abs(mant - round(mant)) < 1e-6 else ""


def _construction_norms(ax, n: dict) -> str:
    """Norm per float format (solid) and distance from float64 (dashed); returns a one-line verdict
    (which formats stay bit-exact, where decoding first goes wrong)."""
    lengths = np.asarray(n["lengths"], dtype=np.float64)
    by = n.get("by_dtype") or {n.get("dtype", "?"): {"layers": n["layers"]}}
    exact, wrong = [], []
    for d, rec in by.items():
        c = DTYPE_COLOURS.get(d, "#555555")
        if d != "float64":
            if all(np.nanmax(S.as_array(lay.get("dev_mean", [np.nan])), initial=0.0) == 0 for lay in rec["layers"]):
                exact.append(d)
            first = S.first_positive(rec.get("decode_error", []), n["lengths"])
            if first is not None:
                wrong.append(f"{d} at {first}")
        for li, lay in enumerate(rec["layers"]):
            ax.plot(lengths, S.as_array(lay["mean"]), color=c, lw=1.4 if d != "float64" else 2.6,
                    alpha=0.9 if d != "float64" else 0.3, label=d if li == 0 else None,
                    zorder=3 if d != "float64" else 2)
            if d == "float64" or "dev_mean" not in lay:
                continue
            dev = S.as_array(lay["dev_mean"])
            if np.nanmax(dev, initial=0.0) > 0:
                ax.plot(lengths, np.where(dev > 0, dev, np.nan), color=c, lw=1.1, ls="--", zorder=3)
    parts = []
    if exact:
        parts.append("bit-exact in " + ", ".join(_short(d) for d in exact))
    parts.append(("first wrong decode: " + ", ".join(wrong)) if wrong else
                 f"decodes right to length {int(lengths.max())}")
    return "\n".join(parts)


def _short(dtype: str) -> str:
    return {"float64": "f64", "float32": "f32", "bfloat16": "bf16", "float16": "f16"}.get(dtype, dtype)


# ---------------------------------------------------------------------- sizes
SIZE_METRICS = (("params", "parameters", True), ("state", "state numbers", True),
                ("layers", "layers", False), ("n_h", "factors per token (n_h)", False))


def size_figure(group: TaskGroup):
    """Learned model size against the construction's: parameters, state numbers, layers, n_h.

    Bars of parameters and state numbers are on a log scale; each bar is labelled with its value.
    """
    plt = setup()
    vs = [v for v in group.variants if v.runs]
    fig, axes = plt.subplots(1, len(SIZE_METRICS), figsize=(3.2 * len(SIZE_METRICS), 0.75 + 0.42 * max(len(vs), 1)),
                             squeeze=False, layout="constrained")
    labels = [v.label for v in vs]
    for k, (ax, (key, title, log)) in enumerate(zip(axes[0], SIZE_METRICS)):
        vals = [S.size_of(v.runs[0]).get(key) for v in vs]
        y = np.arange(len(vs))
        heights = [float(x) if isinstance(x, (int, float)) and x else np.nan for x in vals]
        ax.barh(y, heights, color=[variant_colour(group, v) for v in vs], height=0.6)
        ax.set_yticks(y, labels if k == 0 else [""] * len(vs))
        ax.invert_yaxis()
        ax.set_title(title)
        ax.grid(False)
        ax.spines["bottom"].set_visible(False)
        finite = [h for h in heights if np.isfinite(h)]
        if log and finite:
            ax.set_xscale("log")
            ax.set_xlim(min(finite) / 3, max(finite) * 12)
        elif finite:
            ax.set_xlim(0, max(finite) * 1.5)
        ax.set_xticks([])
        ax.minorticks_off()
        for yi, h in zip(y, heights):
            ax.text(h if np.isfinite(h) else (ax.get_xlim()[0]), yi, f" {int(h):,}" if np.isfinite(h) else " n/a",
                    va="center", ha="left", fontsize=8)
    return fig


# ---------------------------------------------------------------------- overview
def overview_figure(groups: list[TaskGroup], paper_value=None):
    """Test-range scaled accuracy per task and variant: bars = mean over runs, dots = runs, stars =
    P1 Table 3 where it has the same task, model and range."""
    plt = setup()
    fig, ax = plt.subplots(figsize=(max(6.5, 2.4 * len(groups) + 2.5), 3.5), layout="constrained")
    width = 0.82
    handles = {}
    for gi, g in enumerate(groups):
        vs = [v for v in g.variants if v.runs]
        if not vs:
            continue
        w = width / len(vs)
        for vi, v in enumerate(vs):
            x = gi - width / 2 + w * (vi + 0.5)
            st = S.score_stats(v)
            c = variant_colour(g, v)
            if st["mean"] is not None:
                h = ax.bar(x, st["mean"], width=w * 0.88, color=c, alpha=0.9)
                handles.setdefault(v.label.replace(f" ({v.detail})", "") if v.detail else v.label, h)
                xs = S.test_scores(v)
                if len(xs) > 1:
                    d = ax.scatter(np.full(len(xs), x), xs, s=11, color="black", zorder=4, lw=0)
                    handles.setdefault("single runs", d)
                if w >= 0.13:                  # room for a number above the bar
                    ax.text(x, max(st["mean"], 0) + 0.02, signed(st["mean"]), ha="center", va="bottom",
                            fontsize=7.5 if w >= 0.2 else 6.5)
            if paper_value is not None and not v.constructed:
                p = paper_value(g.task, v.key[0], v.eig_range)
                if p is not None:
                    hp = ax.scatter([x + w * 0.3], [p], marker="*", s=110, color="#f2c94c", edgecolor="black",
                                    lw=0.6, zorder=5)
                    handles.setdefault("P1 Table 3 (best of 3 seeds)", hp)
    import textwrap

    ax.set_xticks(range(len(groups)), [textwrap.fill(g.title, 24) for g in groups])   # long titles wrap
    ax.axhline(0, color="#666666", lw=0.8)
    ax.set_ylim(min(-0.1, ax.get_ylim()[0]), 1.12)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel("scaled accuracy on test lengths")
    ax.grid(axis="x", visible=False)
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside right upper", frameon=False)
    return fig
