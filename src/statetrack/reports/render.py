"""Render a report: ``report.md`` + ``figures/*.png`` and a self-contained ``report.html``.

    paths = render_report(["runs/", "constructed/"], "report/")

Layout of REPORT_DIR:

* ``report.html``: one file that needs nothing beside it; every figure is embedded as a base64
  PNG (``data:`` URI), so the page still works when it is mailed or copied alone.
* ``report.md`` + ``figures/``: the same content for Markdown viewers (GitHub renders it); the
  images are referenced relative to the folder, so copy the folder as a whole.

The page carries a small script that, once the page has loaded, counts the ``<img>`` elements
that decoded (``naturalWidth > 0``) and writes ``loaded/total`` into ``data-figures`` on
``<body>`` and into the footer; the browser test reads that marker.
"""
from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass
from pathlib import Path

from statetrack.reports import figures as F
from statetrack.reports import paper
from statetrack.reports import summary as S
from statetrack.reports.load import TaskGroup, Variant, group_runs, load_runs

FIGURES = (
    ("accuracy", "Accuracy by length", F.accuracy_figure,
     "Accuracy at every length; training lengths shaded, test range between dotted lines. Thin lines: "
     "individual runs, bold: their mean, band: min–max over runs."),
    ("eigenvalues", "Eigenvalues of each token's transition", F.eigen_figure,
     "Complex plane with the unit circle. Learned: eigenvalues at sampled positions of each token "
     "(all layers, heads and runs); hollow rings: where the construction puts them. Yellow bar: the "
     "range a single Householder factor can reach."),
    ("probes", "Linear probes onto the true automaton state", F.probe_figure,
     "Learned: a linear probe per layer, fit on training lengths, scored at every length. "
     "Construction: its own fixed linear read-out (nearest codeword)."),
    ("norms", "State norm and finite-precision drift", F.norm_figure,
     "State norm up to 10x the training length (log-log). For constructions, dashed lines show the "
     "distance of each float format's state from the float64 run."),
    ("size", "Size", F.size_figure,
     "Learned model against construction: parameters, numbers in the recurrent state, layers and "
     "Householder factors per token."),
)


@dataclass
class Figure:
    name: str          # file stem, e.g. "parity_accuracy"
    title: str
    caption: str
    png: bytes


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=F.DPI, facecolor="white")
    plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------------- numbers in words
def fmt(x, nd: int = 2) -> str:
    """A number with nd decimals ("—" for None), never "-0.00"."""
    return "—" if x is None else F.signed(x, nd)


def score_text(v: Variant) -> str:
    st = S.score_stats(v)
    if st["mean"] is None:
        return "—"
    if st["n"] == 1:
        return fmt(st["mean"])
    return f"{fmt(st['best'])} (mean {fmt(st['mean'])} ± {fmt(st['std'])}, n={st['n']})"


def construction_text(g: TaskGroup) -> str:
    parts = []
    for v in g.constructed:
        r = v.runs[0]
        parts.append(f"{v.key[1]}: {fmt(S.score_stats(v)['mean'])} ({r.data.get('dtype', '?')})")
    return "; ".join(parts) or "—"


def protocol_text(vs: list[Variant]) -> str:
    runs = [r for v in vs for r in v.runs]
    if not runs:
        return "—"
    tr, te = S.range_of(runs, "train"), S.range_of(runs, "test")
    steps = sorted({r.data.get("steps") for r in runs if r.data.get("steps") is not None})
    s = f"train {tr[0]}–{tr[1]}, test {te[0]}–{te[1]}" if tr and te else ""
    if steps:
        s += f", {steps[0]:,}" + (f"–{steps[-1]:,}" if len(steps) > 1 else "") + " steps"
    return s


def summary_rows(groups: list[TaskGroup]) -> tuple[list[str], list[list[str]]]:
    """The at-a-glance table: our best-of-runs test scores beside P1 Table 3 (same task, model, range)."""
    head = ["task", "model", "ours [0,1]", "ours [-1,1]", f"{paper.SHORT} [0,1]", f"{paper.SHORT} [-1,1]",
            "construction (test range)", "our protocol"]
    rows = []
    for g in groups:
        models = list(dict.fromkeys((v.key[0], v.key[2], v.key[3]) for v in g.learned)) or [(None, None, None)]
        for kind, n_h, setup in models:
            vs = {v.eig_range: v for v in g.learned if (v.key[0], v.key[2], v.key[3]) == (kind, n_h, setup)}
            detail = next(iter(vs.values())).detail if vs else ""
            name = "—" if kind is None else Variant(key=(kind, "", n_h), detail=detail).label.replace(" []", "")
            if "" in vs:      # a model without an eigenvalue range (attention): one score, across both columns
                rows.append([g.title, name, "n/a (no transition)", score_text(vs[""]), "n/a",
                             fmt(paper.value(g.task, kind, ""), 3), construction_text(g), protocol_text(list(vs.values()))])
                continue
            rows.append([g.title, name,
                         score_text(vs["0,1"]) if "0,1" in vs else "—",
                         score_text(vs["-1,1"]) if "-1,1" in vs else "—",
                         fmt(paper.value(g.task, kind, "0,1"), 3) if kind else "—",
                         fmt(paper.value(g.task, kind, "-1,1"), 3) if kind else "—",
                         construction_text(g), protocol_text(list(vs.values()))])
    return head, rows


def verdicts(g: TaskGroup) -> list[str]:
    """Short factual lines for the top of a task section."""
    lines = []
    for v in g.variants:
        if not v.runs:
            continue
        st = S.score_stats(v)
        if v.constructed:
            r = v.runs[0]
            ev = ((r.data.get("analysis") or {}).get("eigenvalues") or {}).get("layers") or []
            pretty = ev[0]["heads"][0].get("pretty", {}) if ev else {}
            shown = list(pretty.items())[:4]
            eig = "; ".join(f"token {t}: {', '.join(vals)}" for t, vals in shown)
            if len(pretty) > len(shown):
                eig += f"; … ({len(pretty)} tokens)"
            size = S.size_of(r)
            ver = r.data.get("verify") or {}
            fails = [f"{d} first wrong at {x['first_fail_len']}" for d, x in ver.items() if x.get("first_fail_len")]
            exact = [d for d, x in ver.items() if x.get("passed")]
            vtxt = ""
            if ver:
                any_ = next(iter(ver.values()))
                vtxt = (f" Verified on every word up to length {any_['max_len']} and {any_['long_words']} random "
                        f"words of length {any_['long_len']:,}: " +
                        ", ".join((["exact in " + ", ".join(exact)] if exact else []) + fails) + ".")
            lines.append(f"**{v.label}** — test-range scaled accuracy {fmt(st['mean'])} in {r.data.get('dtype')}; "
                         f"{size['layers']} layer(s), width {size['width']}, n_h = {size['n_h']}. "
                         f"Eigenvalues: {eig}.{vtxt}")
        else:
            ext = S.eigen_extent(v.runs)
            imag = "all real" if ext and ext["max_abs_imag"] == 0 else f"|Im λ| ≤ {ext['max_abs_imag']:.2g}" if ext else ""
            eig = "" if ext is None else (f" Eigenvalues span Re λ ∈ [{fmt(ext['min_real'])}, {fmt(ext['max_real'])}] "
                                          f"({100 * ext['frac_negative_real']:.0f}% of them negative), {imag}.")
            train = [((r.data["eval"].get("train_range") or {}).get("scaled_accuracy")) for r in v.runs]
            train = [x for x in train if x is not None]
            ttxt = f" (training lengths {fmt(sum(train) / len(train))})" if train else ""
            lines.append(f"**{v.label}** — test-range scaled accuracy {score_text(v)}{ttxt}.{eig}")
    return lines


def size_rows(g: TaskGroup) -> tuple[list[str], list[list[str]]]:
    head = ["", "layers", "width", "state numbers", "factors per token (n_h)", "parameters"]
    rows = []
    for v in g.variants:
        if not v.runs:
            continue
        s = S.size_of(v.runs[0])

        def n(x):
            return "—" if x is None else f"{x:,}"

        rows.append([v.label, n(s["layers"]), str(s["width"] or "—"), n(s["state"]), n(s["n_h"]), n(s["params"])])
    return head, rows


def extraction_text(run) -> str:
    """The run's automaton extraction in one line (``statetrack extract``): from an ``extraction``
    entry in its results, else from ``extraction.json`` beside its results.json; "—" if none."""
    import json

    from statetrack.extract.pipeline import RECORD_FILE, summary_line

    record = run.data.get("extraction")
    path = run.path.parent / RECORD_FILE
    if record is None and not run.name and path.is_file():
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return f"unreadable {RECORD_FILE}"
    return summary_line(record) if isinstance(record, dict) else "—"


def run_rows(g: TaskGroup, root: Path | None) -> tuple[list[str], list[list[str]]]:
    head = ["variant", "seed", "device", "steps", "train scaled acc", "test scaled acc", "final loss",
            "extracted automaton", "commit", "file"]
    rows = []
    for v in g.variants:
        for r in v.runs:
            d, e = r.data, r.data["eval"]
            commit = ((d.get("git") or {}).get("commit") or "")[:8] or "—"
            if (d.get("git") or {}).get("dirty"):
                commit += "+"
            try:
                shown = str(r.path.relative_to(root)) if root else str(r.path)
            except ValueError:
                shown = str(r.path)
            if r.name:
                shown += f"#{r.name}"
            rows.append([v.label, str(d.get("seed", "—")), str(d.get("device", "—")), str(d.get("steps", "—")),
                         fmt((e.get("train_range") or {}).get("scaled_accuracy")),
                         fmt((e.get("test_range") or {}).get("scaled_accuracy")),
                         fmt(d.get("final_loss"), 4) if d.get("final_loss") is not None else "—",
                         extraction_text(r) if r.kind == "learned" else "—", commit, shown])
    return head, rows


def provenance(runs) -> str:
    learned = [r for r in runs if r.kind == "learned"]
    devices = sorted({str(r.data.get("device", "?")) for r in learned})
    n_c = len(runs) - len(learned)
    text = f"{len(learned)} training run(s) and {n_c} constructed result(s)"
    if devices:
        text += f"; training devices: {', '.join(devices)}"
    return text


def cpu_only(runs) -> bool:
    learned = [r for r in runs if r.kind == "learned"]
    return bool(learned) and all(str(r.data.get("device", "cpu")) == "cpu" for r in learned)


# ---------------------------------------------------------------------- markdown
def _md_table(head: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|")   # noqa: E731
    out = ["| " + " | ".join(map(esc, head)) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(out)


def markdown(ctx: dict) -> str:
    md = [f"# {ctx['title']}", "", f"_{ctx['generated']}_", ""]
    for note in ctx["notes"]:
        md += [f"> **Note.** {note}", ""]
    md += ["## At a glance", "", f"![overview](figures/{ctx['overview'].name}.png)", "",
           _md_table(*ctx["summary"]), "", f"{paper.SHORT}: {paper.CITATION}; {paper.PROTOCOL}. "
           "Ours: best test-range scaled accuracy over runs, with mean ± standard deviation.", ""]
    for sec in ctx["sections"]:
        g = sec["group"]
        md += [f"## {g.title}", ""]
        md += [f"- {line}" for line in sec["verdicts"]] + [""]
        for fig in sec["figures"]:
            md += [f"### {fig.title}", "", f"![{fig.title}](figures/{fig.name}.png)", "", fig.caption, ""]
            if fig.name.endswith("_size"):
                md += [_md_table(*sec["sizes"]), ""]
        md += ["### Runs", "", _md_table(*sec["runs"]), ""]
    md += ["---", f"{ctx['footer']}", ""]
    return "\n".join(md)


# ---------------------------------------------------------------------- html
CSS = """
:root { --ink:#1d2330; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f6f7fa; --blue:#3566a8; --red:#c8413b; --green:#2b8a3e; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:var(--ink); background:var(--bg); }
header { background:#1d2330; color:#fff; padding:28px 40px 22px; }
header h1 { margin:0 0 6px; font-size:26px; font-weight:650; }
header .sub { color:#b9c2d0; font-size:13px; }
nav { position:sticky; top:0; z-index:5; background:#fff; border-bottom:1px solid var(--line); padding:8px 40px; font-size:13.5px; }
nav a { color:var(--ink); text-decoration:none; margin-right:18px; white-space:nowrap; }
nav a:hover { color:var(--blue); }
main { max-width:1400px; margin:0 auto; padding:18px 40px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:20px 26px; margin:22px 0; }
h2 { margin:0 0 10px; font-size:21px; }
h3 { margin:22px 0 6px; font-size:15.5px; color:#2b3445; }
.note { background:#fff7e0; border-left:4px solid #e0a800; padding:9px 14px; margin:14px 0; border-radius:4px; font-size:14px; }
.legend3 span { display:inline-block; margin-right:16px; font-size:13px; }
.legend3 i { display:inline-block; width:12px; height:12px; border-radius:3px; margin-right:5px; vertical-align:-1px; }
ul.verdicts { margin:6px 0 4px; padding-left:20px; }
ul.verdicts li { margin:3px 0; }
figure { margin:8px 0 4px; }
figure img { max-width:100%; height:auto; display:block; border:1px solid var(--line); border-radius:6px; background:#fff; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
table { border-collapse:collapse; font-size:13.5px; margin:8px 0; }
th, td { border-bottom:1px solid var(--line); padding:5px 10px; text-align:left; vertical-align:top; }
th { background:#f1f3f7; font-weight:600; }
td.num { font-variant-numeric: tabular-nums; }
details summary { cursor:pointer; color:var(--muted); margin-top:12px; }
.cite { color:var(--muted); font-size:12.5px; }
footer { color:var(--muted); font-size:12.5px; text-align:center; padding:10px 0 30px; }
"""

FIGURE_CHECK = """
<script>
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.setAttribute('data-figures', ok + '/' + imgs.length);
  var el = document.getElementById('figcheck');
  if (el) el.textContent = ok + ' of ' + imgs.length + ' figures loaded';
});
</script>
"""


def _inline(md_text: str) -> str:
    """Escape, then turn **bold** into <b> (the only markup verdict lines use)."""
    import re

    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(md_text))


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td class='num'>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _img(fig: Figure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(fig.title)}'>"
            f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>")


def html_page(ctx: dict) -> str:
    nav = "".join(f"<a href='#{s['group'].slug}'>{html.escape(s['group'].title)}</a>" for s in ctx["sections"])
    legend = ("<div class='legend3'><span><i style='background:#3566a8'></i>learned, eigenvalues in [0,1]</span>"
              "<span><i style='background:#c8413b'></i>learned, eigenvalues in [-1,1]</span>"
              "<span><i style='background:#2b8a3e'></i>constructed (theory)</span></div>")
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{html.escape(ctx['title'])}</title><style>{CSS}</style></head><body>",
             f"<header><h1>{html.escape(ctx['title'])}</h1><div class='sub'>{html.escape(ctx['generated'])}</div></header>",
             f"<nav><a href='#glance'><b>At a glance</b></a>{nav}</nav><main>"]
    for note in ctx["notes"]:
        parts.append(f"<div class='note'><b>Note.</b> {html.escape(note)}</div>")
    parts.append(f"<section id='glance'><h2>At a glance</h2>{legend}{_img(ctx['overview'])}"
                 f"{_html_table(*ctx['summary'])}<div class='cite'>{html.escape(paper.SHORT)}: "
                 f"{html.escape(paper.CITATION)}; {html.escape(paper.PROTOCOL)}. Ours: best test-range scaled "
                 f"accuracy over runs, with mean ± standard deviation.</div></section>")
    for sec in ctx["sections"]:
        g = sec["group"]
        items = "".join(f"<li>{_inline(line)}</li>" for line in sec["verdicts"])
        parts.append(f"<section id='{g.slug}'><h2>{html.escape(g.title)}</h2><ul class='verdicts'>{items}</ul>")
        for fig in sec["figures"]:
            parts.append(f"<h3>{html.escape(fig.title)}</h3>{_img(fig)}")
            if fig.name.endswith("_size"):
                parts.append(_html_table(*sec["sizes"]))
        parts.append(f"<details><summary>{len(sec['runs'][1])} results file(s)</summary>{_html_table(*sec['runs'])}"
                     "</details></section>")
    parts.append(f"</main><footer>{html.escape(ctx['footer'])} · <span id='figcheck'>figures not checked "
                 f"(scripts off)</span></footer>{FIGURE_CHECK}</body></html>")
    return "".join(parts)


# ---------------------------------------------------------------------- driver
def build_context(paths, *, title: str | None = None, notes: tuple[str, ...] = ()) -> dict:
    """Load runs and draw every figure; returns what markdown() and html_page() render."""
    from statetrack.version import __version__
    from statetrack.provenance import git_info

    runs = load_runs(paths)
    groups = group_runs(runs)
    roots = [Path(p).resolve() for p in paths]
    root = roots[0] if len(roots) == 1 and roots[0].is_dir() else None
    all_notes = list(notes)
    if cpu_only(runs):
        all_notes.insert(0, "Every learned result here comes from CPU training runs (device cpu): small models "
                            "and short training, not P1's GPU protocol. Compare the shapes with P1, not the "
                            "numbers.")
    sections = []
    for g in groups:
        figs = []
        for what, ftitle, fn, caption in FIGURES:
            figs.append(Figure(f"{g.slug}_{what}", ftitle, caption, _png(fn(g))))
        sections.append({"group": g, "verdicts": verdicts(g), "figures": figs, "sizes": size_rows(g),
                         "runs": run_rows(g, root)})
    overview = Figure("overview", "At a glance", "Scaled accuracy on the test lengths per task.",
                      _png(F.overview_figure(groups, paper.value)))
    commit = (git_info().get("commit") or "unknown")[:10]
    return {
        "title": title or "Learned versus constructed state tracking",
        "generated": f"statetrack {__version__} (commit {commit}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
                     f"{provenance(runs)}; tasks: {', '.join(g.title for g in groups)}",
        "notes": all_notes, "summary": summary_rows(groups), "sections": sections, "overview": overview,
        "footer": "Rendered by `statetrack report` from results JSON only (no model was run). "
                  "report.html embeds its figures; report.md uses figures/.",
        "groups": groups, "runs": runs,
    }


def render_report(paths, out_dir, *, title: str | None = None, notes: tuple[str, ...] = ()) -> dict:
    """Write report.md, figures/*.png and report.html into ``out_dir``; return their paths and counts."""
    from statetrack.provenance import atomic_write_bytes

    ctx = build_context(paths, title=title, notes=notes)
    out = Path(out_dir)
    figs = [ctx["overview"]] + [f for s in ctx["sections"] for f in s["figures"]]
    written = []
    for fig in figs:
        written.append(out / "figures" / f"{fig.name}.png")
        atomic_write_bytes(written[-1], fig.png)
    for name, text in (("report.md", markdown(ctx)), ("report.html", html_page(ctx))):
        written.append(out / name)
        atomic_write_bytes(written[-1], text.encode())
    for path in written:                    # readable by a web server or a colleague, like any document
        path.chmod(0o644)
    for old in (out / "figures").glob("*.png"):     # figures of an earlier report in the same folder
        if old not in written:
            old.unlink()
    return {"html": out / "report.html", "markdown": out / "report.md", "figures": len(figs),
            "tasks": [g.title for g in ctx["groups"]], "runs": len(ctx["runs"])}
