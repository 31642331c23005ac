"""The training loop: fresh batches every step, AdamW with warm-up and cosine decay, gradient
clipping, NaN/inf guard, atomic checkpoints with exact resume, DDP, evaluation and analysis.

    results = train(TrainConfig(task="parity", model=ModelConfig(kind="deltanet")), out="runs/p")

Exact resume: the batch of step s on rank r is drawn from a generator seeded by (seed, s, r) and
its length from (seed, s), so a run resumed from a checkpoint of step c replays steps c+1.. exactly
as the uninterrupted run does; model, optimizer, scheduler and torch RNG states come back from the
checkpoint bit for bit (tests/train compare final weights bitwise).
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from statetrack.errors import TrainingError
from statetrack.train import checkpoint as ckpt
from statetrack.train import ddp
from statetrack.train.config import TrainConfig
from statetrack.train.results import FILENAME as RESULTS_FILE
from statetrack.provenance import provenance, write_json
from statetrack.train.results import SCHEMA, write_results


def batch_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """The generator of one rank's batch at one step (independent of any earlier step)."""
    state = np.random.SeedSequence([seed, step, rank, 0x57A7E]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] % (2**63)))


def step_length(cfg: TrainConfig, step: int) -> int:
    """The training length of a step: uniform in [train_min_len, train_max_len], equal on all ranks."""
    state = np.random.SeedSequence([cfg.seed, step, 0x1E46]).generate_state(1, dtype=np.uint64)
    return cfg.train_min_len + int(state[0] % (cfg.train_max_len - cfg.train_min_len + 1))


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Multiplier of the peak lr before optimizer step ``step + 1``: linear warm-up, then cosine."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build(cfg: TrainConfig, device: torch.device):
    """Task, model (vocab/classes from the task), optimizer and scheduler for a config."""
    from statetrack.models.lrnn import LRNN
    from statetrack.tasks import make_task

    task = make_task(cfg.task, cfg.task_options)
    cfg.model.vocab_size, cfg.model.n_classes = task.vocab_size, task.n_classes
    torch.manual_seed(cfg.seed)
    model = LRNN(cfg.model).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s))
    return task, model, opt, sched


class _Progress:
    """A rich progress bar when rich is installed and stderr is a terminal, else a line per log step."""

    def __init__(self, total: int, start: int, enabled: bool, label: str):
        self.total, self.enabled, self.label = total, enabled, label
        self._bar = None
        if not enabled:
            return
        try:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            if sys.stderr.isatty():
                self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                     TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False)
                self._bar.start()
                self._id = self._bar.add_task(label, total=total, completed=start, info="")
        except ImportError:
            self._bar = None

    def update(self, step: int, info: str, log: bool) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._id, completed=step, info=info)
        elif log:
            print(f"[{self.label}] step {step}/{self.total} {info}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _autocast(cfg: TrainConfig, device: torch.device):
    if cfg.dtype == "bfloat16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _finite_params(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = True, progress: bool = True,
          stop_after: int | None = None) -> dict | None:
    """Train, evaluate and analyse one run; write ``out/results.json`` and return it (rank 0).

    Args:
        cfg: the configuration (saved in ``out/config.json``, every checkpoint and the results).
        out: run directory.
        resume: continue from ``out/checkpoint.safetensors`` when it exists (else start over).
        progress: show a progress bar (or log lines when stderr is not a terminal).
        stop_after: stop right after this optimizer step, as a kill would (tests of resume).

    Raises:
        TrainingError: on NaN/inf loss or gradients (the last good checkpoint is kept), an unusable
            checkpoint, or a bad config.
    """
    t_wall = time.perf_counter()
    out = Path(out)
    if resume and (done := finished_results(cfg, out)) is not None:
        if progress:
            print(f"{out} holds a finished run of this config ({cfg.steps} steps); not training again "
                  "(--fresh trains anew)", flush=True)
        return done
    info = ddp.setup(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = info.device
    try:
        task, model, opt, sched = build(cfg, device)
        cfg_json = cfg.to_dict()
        ckpt_path = out / ckpt.FILENAME
        start, extra = 0, {"loss_curve": [], "wall_time_s": 0.0, "train_time_s": 0.0}
        if resume and ckpt_path.exists():
            meta = ckpt.load_checkpoint(ckpt_path, model=model, optimizer=opt, scheduler=sched)
            if not cfg.matches(meta["config"]):
                raise TrainingError(f"{ckpt_path} was written by a different config",
                                    api_hint="use another out directory or resume=False",
                                    cli_hint="use a new --out directory or start over with --fresh")
            start, extra = int(meta["step"]), meta["extra"]
            if info.is_main and progress:
                print(f"resuming from step {start} of {cfg.steps} ({ckpt_path})", flush=True)
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / "config.json", cfg.to_dict())
        net = model
        if torch.distributed.is_initialized():      # under torchrun, even with one process
            net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)
        per_rank = cfg.batch_size // info.world_size
        if per_rank < 1 or cfg.batch_size % info.world_size:
            raise TrainingError(f"batch_size {cfg.batch_size} does not split evenly over {info.world_size} ranks")
        label = f"{cfg.task}/{cfg.model.kind}[{cfg.model.eig_range}] seed {cfg.seed}"
        bar = _Progress(cfg.steps, start, progress and info.is_main, label)
        recent: list[float] = []
        last_good = start if ckpt_path.exists() else None
        t_train = time.perf_counter()
        model.train()
        for step in range(start, cfg.steps):
            length = step_length(cfg, step)
            x, y, m = task.sample_batch(per_rank, length, batch_generator(cfg.seed, step, info.rank))
            x, y, m = x.to(device), y.to(device), m.to(device)
            with _autocast(cfg, device):
                logits = net(x)                                                           # (B, T, C)
            loss = torch.nn.functional.cross_entropy(logits.float()[m], y[m])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            loss_all = ddp.all_mean(loss.detach(), info)
            lv, gv = float(loss_all), float(gnorm)
            if not (math.isfinite(lv) and math.isfinite(gv)):
                where = f"{ckpt_path} (step {last_good})" if last_good is not None else "none (no checkpoint written yet)"
                raise TrainingError(f"training diverged at step {step + 1}: loss {lv}, gradient norm {gv}, "
                                    f"lr {opt.param_groups[0]['lr']:.3g}; last good checkpoint: {where}")
            opt.step()
            sched.step()
            recent.append(lv)
            done = step + 1
            log = done % cfg.log_every == 0 or done == cfg.steps
            if log:
                extra["loss_curve"].append([done, float(np.mean(recent))])
                recent = []
            bar.update(done, f"loss {lv:.4f}", log)
            if cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.steps and info.is_main:
                elapsed = extra["train_time_s"] + (time.perf_counter() - t_train)
                _intermediate_eval(model, task, cfg, device, done, extra, elapsed)
            if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == cfg.steps:
                if not _finite_params(model):
                    raise TrainingError(f"parameters hold NaN/inf after step {done}; last good checkpoint: "
                                        f"{ckpt_path if last_good is not None else 'none'}")
                if info.is_main:
                    extra["train_time_s"] += time.perf_counter() - t_train
                    extra["wall_time_s"] += time.perf_counter() - t_wall
                    t_train = t_wall = time.perf_counter()
                    ckpt.save_checkpoint(ckpt_path, model=model, optimizer=opt, scheduler=sched, step=done,
                                         config=cfg_json, extra=extra)
                last_good = done
                ddp.barrier(info)
            if stop_after is not None and done >= stop_after:
                bar.close()
                return None
        bar.close()
        extra["train_time_s"] += time.perf_counter() - t_train if start < cfg.steps else 0.0
        results = None
        if info.is_main:
            results = _finish(model, task, cfg, info, extra, t_wall, out)
        ddp.barrier(info)
        return results
    finally:
        ddp.teardown(info)


def finished_results(cfg: TrainConfig, out: Path) -> dict | None:
    """The results of a completed run of exactly ``cfg`` in ``out``, or None."""
    from statetrack.errors import StatetrackError
    from statetrack.train.results import read_results

    path = out / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        results = read_results(path)
    except StatetrackError:          # unreadable: train again and overwrite it
        return None
    if not isinstance(results, dict) or results.get("status") != "completed" \
            or not cfg.matches(results.get("config")):
        return None
    return results


def _intermediate_eval(model, task, cfg, device, step, extra, elapsed: float) -> None:
    from statetrack.train.evaluate import per_length_accuracy, range_summary

    curve = per_length_accuracy(model, task, max_len=cfg.test_max_len, n_samples=min(256, cfg.eval_samples),
                                seed=cfg.seed, device=device, autocast=_autocast(cfg, device))
    summ = range_summary(curve, cfg.test_min_len, cfg.test_max_len)
    at_max = curve["scaled_accuracy"][cfg.test_max_len - 1]
    extra.setdefault("eval_curve", []).append([step, summ["scaled_accuracy"], at_max, elapsed])


def _finish(model, task, cfg, info, extra, t_wall, out: Path) -> dict:
    from statetrack.train.analysis import analyze
    from statetrack.train.evaluate import per_length_accuracy, range_summary

    curve = per_length_accuracy(model, task, max_len=cfg.eval_length, n_samples=cfg.eval_samples, seed=cfg.seed,
                                device=info.device, autocast=_autocast(cfg, info.device))
    curve["train_range"] = range_summary(curve, cfg.train_min_len, cfg.train_max_len)
    curve["test_range"] = range_summary(curve, cfg.test_min_len, cfg.test_max_len)
    losses = extra["loss_curve"]
    results = {
        "schema": SCHEMA, "status": "completed", "config": cfg.to_dict(), "task": task.describe(),
        "model": {k: getattr(cfg.model, k) for k in ("kind", "eig_range", "n_layers", "d_model", "n_heads",
                                                      "head_dim", "n_h", "backend")},
        **provenance(seed=cfg.seed, dtype=cfg.dtype, backend=cfg.model.backend, device=info.device),
        "world_size": info.world_size,
        "steps": cfg.steps, "final_loss": losses[-1][1] if losses else None, "loss_curve": losses,
        "eval": curve, "checkpoint": ckpt.FILENAME,
    }
    if "eval_curve" in extra:
        results["eval_curve"] = extra["eval_curve"]
    if cfg.analysis:
        results["analysis"] = analyze(model, task, cfg, info.device)
    results["train_time_s"] = extra["train_time_s"]
    results["wall_time_s"] = extra["wall_time_s"] + (time.perf_counter() - t_wall)
    write_results(out / RESULTS_FILE, results)
    return results
