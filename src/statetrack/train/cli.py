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
    "conv_size": "model.conv_size", "mlp_ratio": "model.mlp_ratio", "backend": "model.backend",
    "steps": "steps", "batch_size": "batch_size", "lr": "lr", "weight_decay": "weight_decay",
    "warmup": "warmup_steps", "min_lr_ratio": "min_lr_ratio", "grad_clip": "grad_clip",
    "eval_max_len": "eval_max_len", "eval_samples": "eval_samples", "eval_every": "eval_every",
    "seed": "seed", "device": "device", "dtype": "dtype", "threads": "threads",
    "checkpoint_every": "checkpoint_every", "log_every": "log_every", "norm_length_factor": "norm_length_factor",
}


def _allow_negative_ranges(p: argparse.ArgumentParser) -> None:
    # argparse reads "-1,1" as an option unless it looks like a negative number; widen its test so
    # `--eig-range -1,1` works (the `=` and bracket forms never needed this)
    p._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-\d+(,-?\d+)+$")


def add_train_args(p: argparse.ArgumentParser) -> None:
    t = p.add_argument_group("task")
    t.add_argument("--task", metavar="T", help="task name or preset (parity, even_pairs, cycle_navigation, "
                   "modular_arithmetic, counting, word_problem, S5, S5_swaps, S5_tokens4, ...), optionally "
                   "with options: NAME:key=value,...")
    t.add_argument("--task-opt", action="append", default=[], metavar="KEY=VALUE", help="a task option (repeatable)")
    t.add_argument("--regex", metavar="PATTERN", help="train on a regular language (with --alphabet)")
    t.add_argument("--alphabet", metavar="SYMBOLS", help="with --regex: each character is one symbol")
    t.add_argument("--dfa", metavar="FILE", help="train on the DFA in a JSON file")
    t.add_argument("--output", choices=("accept", "state"), help="regex/DFA tasks: label = accept bit or state")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=("deltanet", "deltaproduct", "diagonal"))
    m.add_argument("--eig-range", metavar="R", help="0,1 or -1,1 (beta = sigmoid or 2 sigmoid; a = s or 2s-1)")
    m.add_argument("--n-h", type=int, metavar="N", help="DeltaProduct sub-steps per token")
    m.add_argument("--layers", type=int, metavar="N")
    m.add_argument("--d-model", type=int, metavar="N")
    m.add_argument("--heads", type=int, metavar="N")
    m.add_argument("--head-dim", type=int, metavar="N")
    m.add_argument("--conv-size", type=int, metavar="N")
    m.add_argument("--mlp-ratio", type=int, metavar="N")
    m.add_argument("--backend", choices=("naive", "fused_recurrent", "chunk"), help="kernel backend")
    o = p.add_argument_group("optimization")
    o.add_argument("--steps", type=int)
    o.add_argument("--batch-size", type=int)
    o.add_argument("--lr", type=float)
    o.add_argument("--weight-decay", type=float)
    o.add_argument("--warmup", type=int, metavar="STEPS")
    o.add_argument("--min-lr-ratio", type=float)
    o.add_argument("--grad-clip", type=float)
    o.add_argument("--train-len", type=int, nargs=2, metavar=("MIN", "MAX"))
    o.add_argument("--seed", type=int)
    e = p.add_argument_group("evaluation")
    e.add_argument("--test-len", type=int, nargs=2, metavar=("MIN", "MAX"))
    e.add_argument("--eval-max-len", type=int, metavar="L", help="accuracy at every length 1..L")
    e.add_argument("--eval-samples", type=int, metavar="N", help="words per length")
    e.add_argument("--eval-every", type=int, metavar="STEPS")
    e.add_argument("--norm-length-factor", type=int, metavar="F", help="state norms up to F x train max length")
    e.add_argument("--no-analysis", action="store_true", help="skip eigenvalues, probes and state norms")
    r = p.add_argument_group("runtime")
    r.add_argument("--device", metavar="D", help="auto, cpu, cuda or cuda:N")
    r.add_argument("--dtype", choices=("float32", "bfloat16"))
    r.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    r.add_argument("--checkpoint-every", type=int, metavar="STEPS")
    r.add_argument("--log-every", type=int, metavar="STEPS")
    r.add_argument("--config", metavar="FILE", help="start from this TrainConfig (JSON or TOML)")
    r.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in --out and start over")
    r.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory (checkpoint, config, results.json)")


def config_from_args(args):
    """The TrainConfig a `statetrack train` command line describes."""
    from statetrack.tasks import parse_task_spec
    from statetrack.train.config import TrainConfig, load_config_file, set_dotted
    from statetrack.errors import TrainingError

    base = load_config_file(args.config) if args.config else {}
    d = TrainConfig.from_dict(base).to_dict()
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
    if args.output:
        d["task_options"]["output"] = args.output
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
    return TrainConfig.from_dict(d)


def cmd_train(args) -> int:
    from statetrack.train.loop import train

    cfg = config_from_args(args)
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


def cmd_sweep(args) -> int:
    from statetrack.train.sweep import run_sweep

    summary = run_sweep(args.config, workers=args.workers, progress=not args.no_progress)
    from statetrack.train.sweep import format_summary

    print(format_summary(summary))
    return 0


def register(subparsers) -> None:
    """Add ``train`` and ``sweep`` to the main CLI's subcommands."""
    p = subparsers.add_parser("train", help="train an LRNN on a state-tracking task and measure length generalization",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _allow_negative_ranges(p)
    add_train_args(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("sweep", help="run a grid of training runs (tasks x models x ranges x seeds) with Optuna")
    p.add_argument("config", metavar="CONFIG", help="sweep file (TOML or JSON): [sweep], [base], [grid]")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: one per visible GPU, 1 without CUDA)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_sweep)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m statetrack.train.cli train ...``), for torchrun as well."""
    parser = argparse.ArgumentParser(prog="statetrack")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    from statetrack.cli import run_command

    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
