"""statetrack report: Markdown + self-contained HTML from results files only."""
from __future__ import annotations

import base64
import re

import pytest

from statetrack.reports import paper
from statetrack.reports.load import group_runs, load_runs
from statetrack.reports.render import render_report, summary_rows, verdicts

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_files_and_counts(report):
    out, info = report
    assert info["tasks"] == ["Parity"] and info["runs"] == 4
    assert info["figures"] == 1 + 5                         # overview + five per task
    pngs = sorted((out / "figures").glob("*.png"))
    assert len(pngs) == info["figures"]
    assert all(p.read_bytes().startswith(PNG) for p in pngs)


def test_markdown_references_every_figure_and_nothing_else(report):
    out, info = report
    md = (out / "report.md").read_text()
    refs = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", md)
    assert len(refs) == info["figures"] and all((out / r).is_file() for r in refs)


def test_html_embeds_every_figure_as_png(report):
    out, info = report
    page = (out / "report.html").read_text()
    data = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(data) == info["figures"]
    assert all(base64.b64decode(d).startswith(PNG) for d in data)
    assert "figures/" not in re.sub(r"report\.md uses figures/", "", page)      # no file references
    assert "<script" in page and "data-figures" in page                         # the browser check's marker


def test_cpu_runs_carry_the_cpu_note(report):
    out, _ = report
    assert "comes from CPU training runs" in (out / "report.md").read_text()


def test_three_way_figures_have_one_panel_per_variant(cpu_runs, constructed_parity):
    from statetrack.reports.figures import panels

    [g] = group_runs(load_runs([cpu_runs, constructed_parity]))
    assert [v.label for v in panels(g)] == ["DeltaNet [0,1]", "DeltaNet [-1,1]", "construction: group"]
    [g] = group_runs(load_runs([cpu_runs / "parity_-1,1_s0"]))        # missing pieces keep their column
    assert [v.label for v in panels(g)] == ["DeltaNet [0,1]", "DeltaNet [-1,1]", "construction: (none)"]
    assert [len(v.runs) for v in panels(g)] == [0, 1, 0]


def test_summary_table_puts_p1_beside_ours(tmp_path, make_learned, write_results):
    for seed, top in enumerate((0.9, 1.0, 0.8)):
        write_results(tmp_path / f"n{seed}", make_learned(eig_range="-1,1", seed=seed, accuracy=lambda n, t=top: t))
    write_results(tmp_path / "p0", make_learned(eig_range="0,1", accuracy=lambda n: 0.5))
    head, rows = summary_rows(group_runs(load_runs([tmp_path])))
    row = dict(zip(head, rows[0]))
    assert row["task"] == "Parity" and row["model"] == "DeltaNet"
    assert row["ours [-1,1]"].startswith("1.00 (mean 0.80 ± 0.20, n=3)")   # scaled: 0.8, 1.0, 0.6
    assert row["ours [0,1]"] == "0.00"
    assert row["P1 Table 3 [0,1]"] == "0.017" and row["P1 Table 3 [-1,1]"] == "1.000"
    assert row["construction (test range)"] == "—"


@pytest.mark.parametrize("task, kind, rng, want", [
    pytest.param({"name": "parity"}, "deltanet", "-1,1", 1.0, id="parity-deltanet"),
    pytest.param({"name": "parity"}, "diagonal", "0,1", 0.0, id="parity-mamba"),
    pytest.param({"name": "modular_arithmetic", "options": {"m": 5}}, "deltanet", "-1,1", 0.971, id="modarith"),
    pytest.param({"name": "modular_arithmetic", "options": {"m": 3}}, "deltanet", "-1,1", None, id="modarith-m3"),
    pytest.param({"name": "counting", "options": {"m": 3}}, "deltanet", "-1,1", None, id="not-in-table"),
    pytest.param({"name": "parity"}, "deltaproduct", "-1,1", None, id="no-row"),
])
def test_p1_values_match_task_model_and_range(task, kind, rng, want):
    assert paper.value(task, kind, rng) == want


def test_verdicts_state_the_construction_eigenvalues(cpu_runs, constructed_parity):
    [g] = group_runs(load_runs([cpu_runs, constructed_parity]))
    lines = verdicts(g)
    assert any("construction: group" in line and "token 1: -1, 1" in line for line in lines)
    assert any(line.startswith("**DeltaNet [-1,1]**") and "n=2" in line for line in lines)


def test_gpu_runs_carry_no_cpu_note(tmp_path, make_learned, write_results):
    write_results(tmp_path / "a", make_learned())
    out = render_report([tmp_path], tmp_path / "rep", title="GPU runs", notes=("hand-written note",))
    md = out["markdown"].read_text()
    assert md.startswith("# GPU runs") and "hand-written note" in md and "CPU training runs" not in md


def test_rerendering_a_folder_leaves_no_stale_figures(tmp_path, make_learned, write_results):
    write_results(tmp_path / "runs" / "parity", make_learned())
    write_results(tmp_path / "runs" / "mod3", make_learned(task="counting", options={"m": 3, "n_symbols": 2},
                                                           n_states=3))
    first = render_report([tmp_path / "runs"], tmp_path / "rep")
    assert len(list((tmp_path / "rep" / "figures").glob("*.png"))) == first["figures"] == 11
    second = render_report([tmp_path / "runs" / "parity"], tmp_path / "rep")
    assert sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png")) == sorted(
        ["overview.png"] + [f"parity_{w}.png" for w in ("accuracy", "eigenvalues", "probes", "norms", "size")])
    assert second["figures"] == 6


def test_accuracy_curves_leave_out_lengths_no_run_has():
    """Modular arithmetic without brackets has odd lengths only: the curve joins the odd lengths instead
    of alternating with NaN (which drew no line at all); a length some run has is kept."""
    from pathlib import Path

    import numpy as np

    from statetrack.reports import summary as S
    from statetrack.reports.load import Run

    def run(acc):
        return Run(Path("r.json"), {"eval": {"lengths": list(range(1, len(acc) + 1)), "accuracy": acc}}, "learned")

    lengths, vals = S.curves([run([1.0, None, 0.5, None, 0.25]), run([0.9, None, None, 0.7, 0.2])])
    assert lengths.tolist() == [1, 3, 4, 5]
    assert np.isnan(vals[1, 1]) and np.isnan(vals[0, 2]) and vals[0, 3] == 0.25
