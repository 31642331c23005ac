"""``statetrack analyze`` and ``statetrack report`` (registered into the main CLI by ``register``).

    statetrack analyze --task parity --out runs/constructed/parity                  # default construction
    statetrack analyze --task counting_mod3 --construction group --out runs/constructed/mod3_group
    statetrack analyze s5.safetensors --task S5 --like runs/s5_seed0 --out runs/constructed/s5
    statetrack report runs/ runs/constructed/ -o report/

``analyze`` measures explicit weights on a task once and writes ``OUT/results.json`` (kind
"constructed"; see statetrack.measure.constructed); ``--like RUN`` copies the training and test
lengths of a training run so both sides are measured alike. ``report`` renders results files only:
``report.html`` (self-contained, figures embedded) and ``report.md`` with ``figures/``.
"""
from __future__ import annotations

from pathlib import Path

from statetrack.cli_args import nonneg_int, pos_int
from statetrack.reports.errors import ReportError

DTYPES = ("float64", "float32", "bfloat16", "float16")


def cmd_analyze(args) -> int:
    from statetrack.measure.constructed import analyze, weights_for_task
    from statetrack.tasks import make_task, parse_task_spec
    from statetrack.train.results import write_results

    from statetrack.provenance import check_output_path

    check_output_path(args.out, directory=True)
    name, opts = parse_task_spec(args.task)
    task = make_task(name, opts)
    lengths = {"train_min_len": 3, "train_max_len": 40, "test_min_len": 40, "test_max_len": 256, "seed": 0}
    if args.like:
        lengths.update(_lengths_of(args.like))
    if args.train_len:
        lengths["train_min_len"], lengths["train_max_len"] = args.train_len
    if args.train_max_len is not None:
        lengths["train_max_len"] = args.train_max_len
        lengths["train_min_len"] = min(lengths["train_min_len"], args.train_max_len)
    if args.test_len:
        lengths["test_min_len"], lengths["test_max_len"] = args.test_len
    if args.seed is not None:
        lengths["seed"] = args.seed
    for lo, hi in (("train_min_len", "train_max_len"), ("test_min_len", "test_max_len")):
        if lengths[lo] > lengths[hi]:
            raise ReportError(f"{lo.replace('_min_len', '')} lengths {lengths[lo]} > {lengths[hi]}: give MIN MAX")
    if args.weights:
        from statetrack.constructions.weights import load

        if args.construction:
            raise ReportError("--construction compiles the task's automaton; give it or a WEIGHTS file, not both")
        weights = load(args.weights)
    else:
        weights = weights_for_task(task, args.construction)
    norm_dtypes = tuple(d.strip() for d in args.norm_dtypes.split(",") if d.strip())
    results = analyze(weights, task, eval_samples=args.eval_samples, dtype=args.dtype, norm_dtypes=norm_dtypes,
                      norm_length_factor=args.norm_length_factor, verify_len=args.verify_len,
                      weights_file=str(args.weights) if args.weights else None, **lengths)
    out = Path(args.out)
    if args.save_weights:
        weights.save(out / "weights.safetensors")
    write_results(out / "results.json", results)
    te = results["eval"]["test_range"]
    ver = results.get("verify") or {}
    fails = ", ".join(f"{d} first wrong at {v['first_fail_len']}" for d, v in ver.items() if v.get("first_fail_len"))
    print(f"{task.name} {weights.construction}: test {te['min_len']}-{te['max_len']} scaled accuracy "
          f"{_f(te['scaled_accuracy'])} in {args.dtype}; {results['analysis']['size']['layers']} layer(s), "
          f"n_h {results['analysis']['size']['n_h']}; " + (f"drift: {fails}; " if fails else "") +
          f"{results['wall_time_s']:.1f} s; results: {out / 'results.json'}")
    return 0


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _lengths_of(path: str) -> dict:
    """train/test lengths and seed of a training run (a run directory or its results.json)."""
    from statetrack.reports.load import find_results, read_run

    found = find_results([path])
    if len(found) != 1:
        raise ReportError(f"--like {path}: expected one results.json, found {len(found)}")
    run = read_run(found[0])
    e = run.data["eval"]
    return {"train_min_len": e["train_range"]["min_len"], "train_max_len": e["train_range"]["max_len"],
            "test_min_len": e["test_range"]["min_len"], "test_max_len": e["test_range"]["max_len"],
            "seed": int(run.data.get("seed") or 0)}


def cmd_report(args) -> int:
    from statetrack.reports.render import render_report

    from statetrack.provenance import check_output_path

    check_output_path(args.out, directory=True)
    out = render_report(args.runs, args.out, title=args.title, notes=tuple(args.note or ()))
    print(f"wrote {out['html']} and {out['markdown']}: {len(out['tasks'])} task(s), {out['runs']} results "
          f"file(s), {out['figures']} figures ({', '.join(out['tasks'])})")
    return 0


_ANALYZE = """Measure explicit weights on a task, as a training run is measured, and write OUT/results.json.

examples:
  statetrack analyze --task parity -o runs/constructed/parity
  statetrack analyze --task counting_mod3 --construction group -o runs/constructed/mod3_group
  statetrack analyze s5.safetensors --task S5 --like runs/s5_seed0 -o runs/constructed/s5

--like RUN copies the training and test lengths and the seed of a training run.
"""
_REPORT = """Render results files (training runs and `statetrack analyze` output) as report.html (figures
embedded) and report.md with figures/. Nothing is run or measured.

example:
  statetrack report runs/ runs/constructed/ -o report/
"""


def register(subparsers) -> None:
    """Add ``analyze`` and ``report`` to the main CLI's subcommands."""
    p = subparsers.add_parser("analyze", help="measure a construction on a task and write results.json (kind constructed)",
                              description=_ANALYZE)
    p.add_argument("weights", nargs="?", metavar="WEIGHTS",
                   help="weights file from `statetrack compile` (default: compile the task's automaton)")
    p.add_argument("--task", required=True, metavar="TASK",
                   help="task name or preset, options as NAME:key=value,... (e.g. parity, counting_mod3, S5)")
    p.add_argument("--construction", metavar="NAME",
                   help="construction to compile (group, rotation, direct, krohn-rhodes; default: per task)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output directory (results.json)")
    p.add_argument("--like", metavar="RUN", help="copy train/test lengths and seed from this training run")
    p.add_argument("--train-len", type=pos_int, nargs=2, metavar=("MIN", "MAX"), help="training lengths (default 3 40)")
    p.add_argument("--train-max-len", type=pos_int, metavar="L", help="only the training maximum (norms run to 10 L)")
    p.add_argument("--test-len", type=pos_int, nargs=2, metavar=("MIN", "MAX"), help="test lengths (default 40 256)")
    p.add_argument("--eval-samples", type=pos_int, default=512, metavar="N", help="words per length (default %(default)s)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="float format of the accuracy run (default %(default)s)")
    p.add_argument("--norm-dtypes", default="float32,bfloat16,float16", metavar="LIST",
                   help="formats whose drift from float64 is measured (default %(default)s)")
    p.add_argument("--norm-length-factor", type=pos_int, default=10, metavar="F",
                   help="state norms up to F x the training maximum (default %(default)s)")
    p.add_argument("--verify-len", type=nonneg_int, default=10_000, metavar="L",
                   help="length of the random long words of the exact check (0: skip; default %(default)s)")
    p.add_argument("--seed", type=nonneg_int, metavar="N", help="seed of the sampled words (default: 0, or --like's)")
    p.add_argument("--save-weights", action="store_true", help="also write the weights to OUT/weights.safetensors")
    p.set_defaults(func=cmd_analyze)

    p = subparsers.add_parser("report", help="render learned-vs-constructed reports (Markdown + HTML) from results JSON",
                              description=_REPORT)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="run directories, results.json files, or directories with runs below them")
    p.add_argument("-o", "--out", required=True, metavar="REPORT_DIR", help="where report.html, report.md, figures/ go")
    p.add_argument("--title", help="page title (default: Learned versus constructed state tracking)")
    p.add_argument("--note", action="append", metavar="TEXT", help="a note shown at the top (repeatable)")
    p.set_defaults(func=cmd_report)
