"""``statetrack train`` and ``statetrack sweep`` (registered into the main CLI by ``register``).

    statetrack train --task parity --model deltanet --eig-range=-1,1 --steps 2000 --out runs/parity
    statetrack train --task word_problem --task-opt group=S5 --task-opt variant=swaps --layers 1 --out runs/s5
    statetrack train --regex '(a|b)*abb' --alphabet ab --out runs/abb
    torchrun --nproc_per_node=2 -m statetrack.cli train ... --out runs/ddp     # data parallel
    statetrack sweep configs/parity_table3.toml                                # Optuna grid, one worker per GPU

Flags override a ``--config FILE`` (JSON or TOML TrainConfig), which overrides the defaults.
Write the negative range with ``=`` (``--eig-range=-1,1``) or in brackets (``--eig-range [-1,1]``);
plain ``--eig-range -1,1`` works too.
"""
from __future__ import annotations

import argparse
import re
import sys


# flag dest -> dotted TrainConfig field
_FIELDS = {
    "model": "model.kind", "eig_range": "model.eig_range", "n_h": "model.n_h", "layers": "model.n_layers",
    "d_model": "model.d_model", "heads": "model.n_heads", "head_dim": "model.head_dim",
    "conv_size": "model.conv_size", "mlp_ratio": "model.mlp_ratio", "mlp": "model.mlp", "init": "model.init",
    "backend": "model.backend",
    "steps": "steps", "batch_size": "batch_size", "lr": "lr", "weight_decay": "weight_decay",
    "warmup": "warmup_steps", "min_lr_ratio": "min_lr_ratio", "grad_clip": "grad_clip",
    "eval_max_len": "eval_max_len", "eval_samples": "eval_samples", "eval_every": "eval_every",
    "seed": "seed", "device": "device", "dtype": "dtype", "threads": "threads",
    "checkpoint_every": "checkpoint_every", "log_every": "log_every", "norm_length_factor": "norm_length_factor",
}


_DESCRIPTION = """Train an LRNN on a state-tracking task and measure length generalization.

examples:
  statetrack train --task parity --out runs/parity          # about a minute on a 2-core CPU (cpu preset)
  statetrack train --task word_problem --task-opt group=S5 --task-opt variant=swaps --layers 1 --out runs/s5
  statetrack train --regex '(a|b)*abb' --alphabet ab --out runs/abb
  statetrack train --task parity_p1 --seeds 0 1 2 --eig-ranges 0,1 -1,1 --out runs/p1   # 6 runs, one step
  torchrun --nproc_per_node=2 -m statetrack.cli train ... --out runs/ddp     # data parallel

Sizes start from a preset (gpu with a CUDA device, else cpu; --preset picks one), then a --config
file, then flags. The run checkpoints periodically; running the same command again resumes it, and
a finished run is reported, not retrained (--fresh starts over). Write a negative eigenvalue range
as --eig-range=-1,1 or --eig-range -1,1.
"""


def _allow_negative_ranges(p: argparse.ArgumentParser) -> None:
    # argparse reads "-1,1" as an option unless it looks like a negative number; widen its test so
    # `--eig-range -1,1` works (the `=` and bracket forms never needed this)
    p._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-\d+(,-?\d+)+$")


def _default(*paths: str) -> str:
    """``(default: X)`` for config fields (gpu values), plus the cpu preset's where they differ."""
    from statetrack.train.config import PRESETS, TrainConfig

    gpu = TrainConfig().to_dict()
    gpu["model"]["head_dim"] = 0                 # "derive from d_model // n_heads"
    gpu_vals, cpu_vals = [], []
    for path in paths:
        node, cpu = gpu, PRESETS["cpu"]
        for part in path.split("."):
            node = node[part]
            cpu = cpu.get(part, node) if isinstance(cpu, dict) else node
        gpu_vals.append(node)
        cpu_vals.append(node if isinstance(cpu, dict) else cpu)
    show = lambda vals: " ".join(repr(v) if isinstance(v, str) else str(v) for v in vals)  # noqa: E731
    if cpu_vals != gpu_vals:
        return f"(default: {show(gpu_vals)}; {show(cpu_vals)} with the cpu preset)"
    return f"(default: {show(gpu_vals)})"


def _help(text: str, *paths: str):
    """``text`` followed by the defaults of config fields, computed when --help is shown (no torch at start-up)."""
    from statetrack.cli_args import LazyHelp

    return LazyHelp(lambda: f"{text} {_default(*paths)}")


def add_train_args(p: argparse.ArgumentParser) -> None:
    from statetrack.cli_args import nonneg_float, nonneg_int, pos_float, pos_int

    t = p.add_argument_group("task")
    t.add_argument("--task", metavar="T", help="task name or preset (parity, even_pairs, cycle_navigation, "
                   "modular_arithmetic, counting, word_problem, S5, S5_swaps, S5_tokens4, ...), optionally "
                   "with options: NAME:key=value,... (default: parity)")
    t.add_argument("--task-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="a task option (repeatable; default: none)")
    t.add_argument("--regex", metavar="PATTERN", help="train on a regular language (with --alphabet)")
    t.add_argument("--alphabet", metavar="SYMBOLS", help="with --regex: each character is one symbol")
    t.add_argument("--dfa", metavar="FILE", help="train on the DFA in a JSON file")
    t.add_argument("--label", choices=("accept", "state"),
                   help="regex/DFA tasks: the label at each position is the accept bit or the state (default: accept)")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=("deltanet", "deltaproduct", "diagonal", "transformer"),
                   help=_help("mixer (transformer: causal attention, the baseline)", "model.kind"))
    m.add_argument("--eig-range", metavar="R",
                   help=_help("0,1 or -1,1 (beta = sigmoid or 2 sigmoid; a = s or 2s-1)", "model.eig_range"))
    m.add_argument("--n-h", type=pos_int, metavar="N", help=_help("DeltaProduct sub-steps per token", "model.n_h"))
    m.add_argument("--layers", type=pos_int, metavar="N", help=_help("blocks", "model.n_layers"))
    m.add_argument("--d-model", type=pos_int, metavar="N", help=_help("residual width", "model.d_model"))
    m.add_argument("--heads", type=pos_int, metavar="N", help=_help("heads per mixer", "model.n_heads"))
    m.add_argument("--head-dim", type=nonneg_int, metavar="N",
                   help=_help("key/value size per head, 0: d_model / heads", "model.head_dim"))
    m.add_argument("--conv-size", type=nonneg_int, metavar="N",
                   help=_help("short causal convolution, 0: none", "model.conv_size"))
    m.add_argument("--mlp-ratio", type=nonneg_int, metavar="N", help=_help("MLP width / d_model", "model.mlp_ratio"))
    m.add_argument("--mlp", choices=("gelu", "swiglu"), help=_help("MLP: gelu, or swiglu as P1's fla DeltaNet", "model.mlp"))
    m.add_argument("--init", choices=("torch", "fla", "p1"),
                   help=_help("weights: PyTorch's defaults, fla's DeltaNet initialization (normal 0.02), or "
                              "P1's code's (mixer linears xavier, gain 2^-2.5)", "model.init"))
    m.add_argument("--backend", choices=("naive", "fused_recurrent", "chunk"),
                   help=_help("kernel backend", "model.backend"))
    o = p.add_argument_group("optimization")
    o.add_argument("--steps", type=pos_int, help=_help("optimizer steps", "steps"))
    o.add_argument("--batch-size", type=pos_int, help=_help("sequences per step", "batch_size"))
    o.add_argument("--lr", type=pos_float, help=_help("peak learning rate", "lr"))
    o.add_argument("--weight-decay", type=nonneg_float, help=_help("AdamW weight decay", "weight_decay"))
    o.add_argument("--warmup", type=nonneg_int, metavar="STEPS", help=_help("linear warm-up steps", "warmup_steps"))
    o.add_argument("--min-lr-ratio", type=nonneg_float, help=_help("cosine decay floor / lr", "min_lr_ratio"))
    o.add_argument("--grad-clip", type=nonneg_float, help=_help("gradient norm clip, 0: none", "grad_clip"))
    o.add_argument("--train-len", type=pos_int, nargs=2, metavar=("MIN", "MAX"),
                   help=_help("training lengths", "train_min_len", "train_max_len"))
    o.add_argument("--seed", type=nonneg_int, help=_help("seed of the model and every batch", "seed"))
    g = p.add_argument_group("many runs in one step (the batched trainer; any of these with two or more values)")
    g.add_argument("--seeds", type=nonneg_int, nargs="+", metavar="S",
                   help="train one run per seed (x ranges x lrs) as one batched group under --out (default: --seed)")
    g.add_argument("--eig-ranges", nargs="+", metavar="R",
                   help="eigenvalue ranges of the group's runs, e.g. --eig-ranges 0,1 -1,1 (default: --eig-range)")
    g.add_argument("--lrs", type=pos_float, nargs="+", metavar="LR", help="peak learning rates of the group's runs "
                   "(default: --lr)")
    g.add_argument("--no-compile", action="store_true", help="grouped runs only: run the group's model stages "
                   "eagerly instead of through torch.compile (default: compiled on CUDA, eager on CPU)")
    g.add_argument("--layout", choices=("auto", "packed", "padded"), default="auto",
                   help="grouped runs only (with --seeds, --eig-ranges or --lrs; a single run refuses packed and "
                        "padded): words end to end without padding (packed), or each padded to the longest (padded); "
                        "auto: packed with the GPU backends (fused_recurrent, chunk), padded on naive (default: auto)")
    e = p.add_argument_group("evaluation")
    e.add_argument("--test-len", type=pos_int, nargs=2, metavar=("MIN", "MAX"),
                   help=_help("test lengths of the headline score", "test_min_len", "test_max_len"))
    e.add_argument("--eval-max-len", type=nonneg_int, metavar="L",
                   help=_help("accuracy at every length 1..L, 0: test max", "eval_max_len"))
    e.add_argument("--eval-samples", type=pos_int, metavar="N", help=_help("words per length", "eval_samples"))
    e.add_argument("--eval-every", type=nonneg_int, metavar="STEPS",
                   help=_help("steps between intermediate evaluations, 0: end only", "eval_every"))
    e.add_argument("--norm-length-factor", type=pos_int, metavar="F",
                   help=_help("state norms up to F x train max length", "norm_length_factor"))
    e.add_argument("--no-analysis", action="store_true",
                   help="skip eigenvalues, probes and state norms (default: analysis on; off with the cpu preset)")
    r = p.add_argument_group("runtime")
    r.add_argument("--preset", default="auto", choices=("auto", "cpu", "gpu"),
                   help="starting sizes below --config and flags; auto: gpu with a CUDA device, else cpu")
    r.add_argument("--device", metavar="D", help="auto, cpu, cuda or cuda:N (default: auto)")
    r.add_argument("--dtype", choices=("float32", "bfloat16"), help=_help("compute type on CUDA", "dtype"))
    r.add_argument("--threads", type=nonneg_int, metavar="N", help=_help("CPU threads for torch, 0: torch's choice", "threads"))
    r.add_argument("--checkpoint-every", type=nonneg_int, metavar="STEPS",
                   help=_help("steps between checkpoints, 0: at the end only", "checkpoint_every"))
    r.add_argument("--log-every", type=pos_int, metavar="STEPS", help=_help("steps between loss records", "log_every"))
    r.add_argument("--config", metavar="FILE", help="start from this TrainConfig (JSON or TOML; default: none)")
    r.add_argument("--fresh", action="store_true",
                   help="ignore an existing checkpoint or finished run in --out and start over (default: resume)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar or log lines (default: shown)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="run directory (checkpoint, config, results.json)")


def config_from_args(args, with_preset: bool = False):
    """The TrainConfig a `statetrack train` command line describes.

    Layers, lowest first: TrainConfig defaults, the preset (``--preset``, default auto: by device),
    a ``--config`` file, flags. With ``with_preset`` returns (config, preset name, reason).
    """
    from statetrack.tasks import parse_task_spec
    from statetrack.train.config import TrainConfig, apply_preset, load_config_file, preset_for, set_dotted
    from statetrack.errors import TrainingError

    base = load_config_file(args.config) if args.config else {}
    preset, why = preset_for(getattr(args, "preset", "gpu"), args.device or str(base.get("device", "auto")))
    d = TrainConfig().to_dict()
    d["model"]["head_dim"] = 0                       # derived from d_model // n_heads unless set below
    d = apply_preset(d, preset)
    d.update({k: v for k, v in base.items() if k != "model"})
    d["model"].update(base.get("model", {}))
    d = TrainConfig.from_dict(d).to_dict()
    sources = [s for s in (args.task, args.regex, args.dfa) if s is not None]
    if len(sources) > 1:
        raise TrainingError("give one of --task, --regex, --dfa")
    if args.alphabet and args.regex is None:
        raise TrainingError("--alphabet goes with --regex")
    if args.regex is not None:
        if not args.alphabet:
            raise TrainingError("--regex needs --alphabet (each character is one symbol), e.g. --alphabet ab")
        d["task"], d["task_options"] = "regex", {"regex": args.regex, "alphabet": args.alphabet}
    elif args.dfa is not None:
        from statetrack.automata.dfa import DFA

        d["task"], d["task_options"] = "dfa", {"dfa": DFA.load(args.dfa).to_json()}
    elif args.task is not None:
        name, opts = parse_task_spec(args.task)
        d["task"], d["task_options"] = name, opts
    for item in args.task_opt:
        key, eq, value = item.partition("=")
        if not eq:
            raise TrainingError(f"--task-opt {item!r} is not of the form KEY=VALUE")
        _, parsed = parse_task_spec(f"x:{key}={value}")
        d["task_options"].update(parsed)
    if args.label:
        d["task_options"]["output"] = args.label
    if (args.d_model is not None or args.heads is not None) and args.head_dim is None \
            and not base.get("model", {}).get("head_dim"):
        d["model"]["head_dim"] = 0          # re-derive d_model // n_heads from the new sizes
    for dest, path in _FIELDS.items():
        value = getattr(args, dest)
        if value is not None:
            set_dotted(d, path, value)
    if args.train_len:
        d["train_min_len"], d["train_max_len"] = args.train_len
    if args.test_len:
        d["test_min_len"], d["test_max_len"] = args.test_len
    if args.no_analysis:
        d["analysis"] = False
    cfg = TrainConfig.from_dict(d)
    return (cfg, preset, why) if with_preset else cfg


def cmd_train(args) -> int:
    from statetrack.provenance import check_output_path

    check_output_path(args.out, directory=True)
    cfg, preset, why = config_from_args(args, with_preset=True)
    if args.seeds or args.eig_ranges or args.lrs:
        return _train_group(args, cfg, preset, why)
    # options of the batched trainer that the single-run loop has no use for: refused, not ignored
    group_only = [f"--layout {args.layout}"] if args.layout != "auto" else []
    group_only += ["--no-compile"] if args.no_compile else []
    if group_only:
        from statetrack.errors import TrainingError

        raise TrainingError(f"{' and '.join(group_only)} applies only to runs trained as a group (--seeds, "
                            "--eig-ranges or --lrs); a single run is neither packed nor compiled, so drop it, or "
                            "train it as a group of one with --seeds N")
    m = cfg.model
    print(f"preset {preset} ({why}): {cfg.task} {m.kind}[{m.eig_range}] {m.n_layers} layers d_model {m.d_model}, "
          f"{cfg.steps} steps of {cfg.batch_size}, train lengths {cfg.train_min_len}-{cfg.train_max_len}, test "
          f"{cfg.test_min_len}-{cfg.test_max_len}, checkpoint every {cfg.checkpoint_every or cfg.steps} steps",
          flush=True)
    from statetrack.train.loop import train

    results = train(cfg, args.out, resume=not args.fresh, progress=not args.no_progress)
    if results is not None:
        te, tr = results["eval"]["test_range"], results["eval"]["train_range"]

        def fmt(x):
            return "n/a" if x is None else f"{x:.3f}"

        print(f"{cfg.task} {cfg.model.kind}[{cfg.model.eig_range}] seed {cfg.seed}: "
              f"test {te['min_len']}-{te['max_len']} scaled accuracy {fmt(te['scaled_accuracy'])} "
              f"(accuracy {fmt(te['accuracy'])}), train {tr['min_len']}-{tr['max_len']} scaled accuracy "
              f"{fmt(tr['scaled_accuracy'])}, final loss {fmt(results['final_loss'])}, "
              f"{results['wall_time_s']:.1f} s on {results['device']} ({results['backend']}); "
              f"results: {args.out}/results.json")
    return 0


def _train_group(args, cfg, preset: str, why: str) -> int:
    """``statetrack train --seeds/--eig-ranges/--lrs``: the runs of the grid as one batched group."""
    import itertools

    from statetrack.models.mixers import parse_eig_range
    from statetrack.train.batched import train_group

    seeds = args.seeds or [cfg.seed]
    ranges = [parse_eig_range(r) for r in (args.eig_ranges or [cfg.model.eig_range])]
    lrs = args.lrs or [cfg.lr]
    configs, names = [], []
    for rng, lr, seed in itertools.product(ranges, lrs, seeds):
        configs.append(cfg.replace(seed=seed, lr=lr, model__eig_range=rng))
        names.append(f"{cfg.model.kind}_{rng}" + (f"_lr{lr:g}" if len(lrs) > 1 else "") + f"_s{seed}")
    m = cfg.model
    print(f"preset {preset} ({why}): {cfg.task} {m.kind} {m.n_layers} layers d_model {m.d_model}, {len(configs)} runs "
          f"in one batched group ({', '.join(names)}), {cfg.steps} steps of {cfg.batch_size}, train lengths "
          f"{cfg.train_min_len}-{cfg.train_max_len}, test {cfg.test_min_len}-{cfg.test_max_len}", flush=True)

    def progress(step, total, losses, diverged):
        if not args.no_progress:
            shown = " ".join("-" if x is None else f"{x:.3f}" for x in losses)
            print(f"step {step}/{total} loss {shown}" + (f"; diverged and frozen: {diverged}" if diverged else ""),
                  file=sys.stderr, flush=True)

    results = train_group(configs, args.out, names=names, resume=not args.fresh, progress=progress,
                          compile=False if args.no_compile else None, packed={"auto": None, "packed": True, "padded": False}[args.layout])
    for name, res in zip(names, results):
        te = res["eval"]["test_range"]
        acc = "n/a" if te["scaled_accuracy"] is None else f"{te['scaled_accuracy']:.3f}"
        print(f"{name}: {res['status']}, test {te['min_len']}-{te['max_len']} scaled accuracy {acc}, final loss "
              f"{res['final_loss'] if res['final_loss'] is None else round(res['final_loss'], 4)}; "
              f"results: {args.out}/{name}/results.json")
    return 0


def cmd_sweep(args) -> int:
    from statetrack.train.sweep import run_sweep

    summary = run_sweep(args.config, workers=args.workers, progress=not args.no_progress)
    from statetrack.train.sweep import format_summary

    print(format_summary(summary))
    return 0


def register(subparsers) -> None:
    """Add ``train`` and ``sweep`` to the main CLI's subcommands."""
    p = subparsers.add_parser("train", help="train an LRNN on a state-tracking task and measure length generalization",
                              description=_DESCRIPTION)
    _allow_negative_ranges(p)
    add_train_args(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("sweep", help="run a grid of training runs (tasks x models x ranges x seeds) with Optuna")
    p.add_argument("config", metavar="CONFIG", help="sweep file (TOML or JSON): [sweep], [base], [grid]")
    from statetrack.cli_args import pos_int

    p.add_argument("--workers", type=pos_int, default=None, metavar="N",
                   help="worker processes (default: the sweep file's, else one per visible GPU, 1 without CUDA)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or log lines (default: shown)")
    p.set_defaults(func=cmd_sweep)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m statetrack.train.cli train ...``), for torchrun as well."""
    from statetrack.cli_args import Parser

    parser = Parser(prog="statetrack")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    from statetrack.cli import run_command

    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
