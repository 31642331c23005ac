"""Many runs, one step: train R runs of one task and architecture as a single batched computation.

    results = train_group([cfg_a, cfg_b, cfg_c], out="runs/parity", names=["a", "b", "c"])

The runs may differ in ``seed``, ``model.eig_range``, ``lr`` and ``weight_decay``; everything else
(task, sizes, steps, batch, lengths, schedule shape) is shared, so one step of all of them is one
computation:

* **Parameters**: each run's model is built exactly as :func:`statetrack.train.loop.build` builds a
  single run (``torch.manual_seed(seed)``, then ``LRNN(cfg.model)``); the R parameter sets live in
  one float32 matrix ``theta [R, P]`` and each parameter is a view of it, so AdamW, gradient
  clipping and the NaN guard are a handful of kernels over ``[R, P]`` whatever the model.
* **Forward**: the model's own code, vectorized over runs with ``torch.func.vmap``: the parameter
  stages of each block (:meth:`statetrack.models.lrnn.Block.pre` / ``post``) run under vmap, and the
  recurrence kernel between them runs once on the runs' batches stacked along its batch axis
  (``[R * B, T, H, K]``), so the Triton kernels need no vmap rule. On CUDA each stage (embedding,
  ``pre``, ``post``, head with the loss) also goes through ``torch.compile``, one traced function per
  stage shared by all blocks, which fuses the stage's elementwise work and its backward; evaluation runs
  the same stages eagerly.
* **Data**: every run draws its own batches on the device (:class:`statetrack.tasks.stream.Stream`), a
  function of (data seed, step) only: a run in a group sees exactly the words it sees alone.
* **Packed words**: with the fused_recurrent and chunk backends (DeltaNet, DeltaProduct and, on
  fused_recurrent only, the diagonal model; not the Transformer), a run's batch
  is by default its words end to end in a fixed number of slots, with no padding (the stream's
  lengths are stratified, so the total is fixed by the step); the short convolution and the
  recurrence restart at each word (``cu_seqlens``). Lengths 3-40 fill 22,035 slots per 1,024 words
  instead of 40,960. The padded layout (``packed=False``; the default on the naive backend, whose loop
  would run once per word) gives the same steps; ``packed=True`` packs on the naive backend too.
* **No host round trip per step**: per-run loss, gradient norm and finiteness accumulate on the
  device; the host reads them every ``log_every`` steps. On CUDA the whole step (sampling, forward,
  backward, clipping, AdamW, schedule) is captured once as a CUDA graph and replayed.
* **NaN guard**: a run whose loss or gradient is not finite skips that update; at the next check it is
  rolled back to its last good state (kept on the device at every check), marked ``diverged`` and
  frozen, while the other runs go on.
* **Checkpoints**: the group state (``theta``, AdamW moments, step, run status, loss history) is
  written atomically every ``checkpoint_every`` steps (0: about every tenth of the run) to
  ``out/group.safetensors``; a rerun with the same configs resumes from it and replays the remaining
  steps exactly.
* **Results**: every run gets ``out/<name>/results.json`` (the schema of
  :mod:`statetrack.train.results`, plus ``"group"``), ``config.json`` and ``checkpoint.safetensors``
  (its weights), as if trained alone.

A run trained in a group matches the same run trained alone (group of one) up to floating-point
reassociation; ``tests/train/test_batched.py`` checks that on the CPU.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call, vmap

from statetrack.errors import TrainingError
from statetrack.train.config import TrainConfig

GROUP_FILE = "group.safetensors"
GROUP_META_KEY = "statetrack_group"
GROUP_FORMAT = 1
#: fields a run of a group may set on its own; every other config field must agree
PER_RUN = ("seed", "lr", "weight_decay", "model.eig_range")
EVAL_SALT = 7_000_003
# parameters are strided views of theta, and so are their gradients (that is the point): torch's
# warning about the gradient layout contract says nothing useful here
warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")


def _shared_view(cfg: TrainConfig) -> dict:
    d = cfg.to_dict()
    for key in PER_RUN:
        parts = key.split(".")
        target = d
        for p in parts[:-1]:
            target = target[p]
        target.pop(parts[-1])
    return d


def check_group(configs: list[TrainConfig]) -> None:
    """TrainingError naming the first field in which two runs of a group differ (other than PER_RUN)."""
    if not configs:
        raise TrainingError("a group needs at least one run")
    ref = _shared_view(configs[0])
    for i, cfg in enumerate(configs[1:], start=1):
        other = _shared_view(cfg)
        for key in sorted(set(ref) | set(other)):
            if ref.get(key) != other.get(key):
                raise TrainingError(f"runs 0 and {i} of a group differ in {key!r} ({ref.get(key)!r} vs "
                                    f"{other.get(key)!r}); only {', '.join(PER_RUN)} may differ")


def _allow_recompiles(limit: int = 64) -> None:
    """Every StackedModel traces its stages anew (its own modules, often its own shapes); torch's default
    limit of 8 traces per function would silently drop later groups of a process back to eager."""
    import torch._dynamo

    cfg = torch._dynamo.config
    name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
    setattr(cfg, name, max(getattr(cfg, name), limit))


def _embed(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Each run's embedding of its tokens: ``weight [R, vocab, D]``, ``x [R, B, T]`` -> ``[R, B, T, D]``
    float32, as a one-hot product rather than a lookup: the lookup's backward scatters a million tokens
    into a handful of rows with atomics (on an H200, 3 ms of a step); the product's is one batched
    matmul. One-hot rows select exactly, so the values equal the lookup's (float32, autocast off)."""
    R, B, T = x.shape
    with torch.autocast(x.device.type, enabled=False):
        hot = torch.nn.functional.one_hot(x.reshape(R, B * T), weight.shape[1]).to(weight.dtype)
        return torch.bmm(hot, weight).view(R, B, T, weight.shape[2])


def _masked_ce(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One run's mean cross-entropy (float32) over the positions where ``mask`` is True."""
    ce = torch.nn.functional.cross_entropy(logits.float().flatten(0, -2), y.flatten(), reduction="none")
    w = mask.flatten().to(ce.dtype)
    return (ce * w).sum() / w.sum().clamp(min=1)


class _Stage(torch.nn.Module):
    """``module.<method>(*args)`` as a forward, so ``functional_call`` can swap its parameters."""

    def __init__(self, module: torch.nn.Module, method: str):
        super().__init__()
        self.m, self.method = module, method

    def forward(self, *args):
        return getattr(self.m, self.method)(*args)


class StackedModel:
    """R copies of one LRNN architecture with their own parameters, run as one computation.

    Args:
        configs: one TrainConfig per run (validated by :func:`check_group`); ``model.vocab_size`` and
            ``n_classes`` must already be set from the task.
        device: where parameters live.
        compile: run the training stages through ``torch.compile`` (:meth:`loss`); :meth:`logits`, used
            for evaluation, stays eager.
    """

    def __init__(self, configs: list[TrainConfig], device: torch.device, compile: bool = False):
        from statetrack.models.lrnn import LRNN

        self.R, self.device = len(configs), device
        self.max_seqlen: int | None = None     # packed words: the longest segment (the trainer sets it)
        models = []
        for cfg in configs:
            torch.manual_seed(cfg.seed)                     # as statetrack.train.loop.build
            models.append(LRNN(cfg.model))
        self.buffers = {n: torch.stack([dict(m.named_buffers())[n] for m in models]).to(device)
                        for n, _ in models[0].named_buffers()}                          # before any move
        self.template = models[0].to(device)
        self.names = [n for n, _ in self.template.named_parameters()]
        self.shapes = [tuple(p.shape) for _, p in self.template.named_parameters()]
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        P = int(self.offsets[-1])
        self.theta = torch.empty(self.R, P, device=device)                                   # (R, P)
        for r, m in enumerate(models):
            self.theta[r] = torch.cat([p.detach().reshape(-1) for p in m.parameters()]).to(device)
        self.grad = torch.zeros_like(self.theta)                                             # (R, P)
        self.params: dict[str, torch.Tensor] = {}
        for name, shape, a, b in zip(self.names, self.shapes, self.offsets[:-1], self.offsets[1:]):
            leaf = self.theta[:, a:b].view(self.R, *shape).detach().requires_grad_()
            leaf.grad = self.grad[:, a:b].view(self.R, *shape)     # backward accumulates in place here
            self.params[name] = leaf
        # weight decay on matrices only, as the single-run optimizer groups do
        self.decay_mask = torch.cat([torch.full((n,), 1.0 if len(s) >= 2 else 0.0)
                                     for n, s in zip(sizes, self.shapes)]).to(device)        # (P,)
        self._mixers = [b.mixer for b in self.template.blocks]
        #: every mixer takes packed words (see :meth:`loss`)
        self.packs = all(getattr(m, "packs", False) for m in self._mixers)
        # Every block has the same architecture, so block 0's modules run every block: functional_call
        # swaps in block i's parameters and buffers. One traced function per stage, not per block.
        pre, post = _Stage(self.template.blocks[0], "pre"), _Stage(self.template.blocks[0], "post")
        head = _Stage(self.template, "read")
        self._eager = {
            "embed": lambda p, x: _embed(p["weight"], x),
            "pre": lambda p, h: vmap(lambda p_, h_: functional_call(pre, p_, (h_,)))(p, h),
            "pre_packed": lambda p, h, pos: vmap(lambda p_, h_, pos_: functional_call(pre, p_, (h_, pos_)),
                                                 in_dims=(0, 0, None))(p, h, pos),
            "post": lambda p, h, o: vmap(lambda p_, h_, o_: functional_call(post, p_, (h_, o_)))(p, h, o),
            "loss": lambda p, h, y, m: vmap(lambda p_, h_, y_, m_: _masked_ce(functional_call(head, p_, (h_,)),
                                                                               y_, m_))(p, h, y, m),
            "head": lambda p, h: vmap(lambda p_, h_: functional_call(head, p_, (h_,)))(p, h),
        }
        self.compiled = bool(compile)
        # torch.compile fuses each stage's elementwise work (norms, activations, the short conv, casts) and
        # its backward into a few generated kernels; the recurrence kernel between stages stays as it is
        if compile:
            _allow_recompiles()
        # static shapes: each new shape is traced anew (torch 2.11 cannot trace vmap'd linears with
        # symbolic sizes, which is what automatic dynamic shapes would try at the second shape)
        self._fast = {k: torch.compile(f, dynamic=False) for k, f in self._eager.items()} if compile else self._eager

    def _sub(self, prefix: str, tensors: dict[str, torch.Tensor], into: str = "m.") -> dict[str, torch.Tensor]:
        n = len(prefix)
        return {into + k[n:]: v for k, v in tensors.items() if k.startswith(prefix)}

    def _stream(self, x: torch.Tensor, fns: dict, pos=None, cu=None) -> tuple[dict, torch.Tensor]:
        """The last residual stream ``[R, B, T, D]`` for tokens ``x [R, B, T]`` (and the parameters);
        packed words (B = 1) with ``pos`` and ``cu`` as :meth:`statetrack.tasks.stream.Stream.sample_packed`
        gives them."""
        R, B, T = x.shape
        pb = {**self.params, **self.buffers}
        if cu is not None:      # the runs' slot rows end to end: one row of R * T slots, R * (words + 1) segments
            cu_all = torch.cat([(cu[:-1][None, :] + T * torch.arange(R, device=cu.device, dtype=cu.dtype)[:, None])
                                .flatten(), cu.new_full((1,), R * T)])
        h = fns["embed"](self._sub("embed.", pb, ""), x)                                    # (R, B, T, D)
        for i, mixer in enumerate(self._mixers):
            p = self._sub(f"blocks.{i}.", pb)
            if cu is None:
                rec = fns["pre"](p, h)                                                      # each (R, B, ...)
                merged = {k: v.flatten(0, 1).contiguous() for k, v in rec.items()}          # (R*B, ...)
                o, _ = mixer.recur(merged)                                                  # (R*B, T, H, V)
            else:
                rec = fns["pre_packed"](p, h, pos)                                          # each (R, 1, T, ...)
                merged = {k: v.flatten(0, 2)[None].contiguous() for k, v in rec.items()}    # (1, R*T, ...)
                o, _ = mixer.recur(merged, cu_seqlens=cu_all, max_seqlen=self.max_seqlen)   # (1, R*T, H, V)
            h = fns["post"](p, h, o.reshape(R, B, T, *o.shape[2:]))
        return pb, h

    def _head_params(self, pb: dict) -> dict:
        return {**self._sub("norm.", pb, "m.norm."), **self._sub("head.", pb, "m.head.")}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """tokens int64 ``[R, B, T]`` -> logits ``[R, B, T, n_classes]``, run r through model r (eager)."""
        pb, h = self._stream(x, self._eager)
        return self._eager["head"](self._head_params(pb), h)

    def loss(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, pos=None, cu=None) -> torch.Tensor:
        """Each run's mean cross-entropy over its labeled positions: ``(R,)`` (compiled stages if on).
        Packed words: ``x, y, mask`` ``[R, 1, N]`` with ``pos [N]`` and ``cu``
        (:meth:`statetrack.tasks.stream.Stream.sample_packed`); needs :attr:`packs`."""
        pb, h = self._stream(x, self._fast, pos, cu)
        return self._fast["loss"](self._head_params(pb), h, y, mask)

    def run_state_dict(self, r: int) -> dict[str, torch.Tensor]:
        """Run r's parameters as an LRNN state dict (CPU copies)."""
        return {n: self.theta[r, a:b].view(*s).detach().cpu().clone()
                for n, s, a, b in zip(self.names, self.shapes, self.offsets[:-1], self.offsets[1:])}

    def run_model(self, r: int, cfg: TrainConfig):
        """An LRNN holding run r's weights (on the stacked model's device)."""
        from statetrack.models.lrnn import LRNN

        model = LRNN(cfg.model).to(self.device)
        model.load_state_dict(self.run_state_dict(r))
        return model


@dataclass
class _Hyper:
    lr: torch.Tensor            # (R,) peak learning rates
    wd: torch.Tensor            # (R,) weight decay
    steps: int
    warmup: int
    min_lr_ratio: float
    beta1: float
    beta2: float
    clip: float


def lr_factor_tensor(h: _Hyper, step: torch.Tensor) -> torch.Tensor:
    """:func:`statetrack.train.loop.lr_factor` on a device tensor (warm-up, then cosine)."""
    s = step.to(torch.float32)
    warm = (s + 1) / max(1, h.warmup)
    span = max(1, h.steps - h.warmup)
    progress = ((s - h.warmup) / span).clamp(0.0, 1.0)
    cos = h.min_lr_ratio + (1 - h.min_lr_ratio) * 0.5 * (1 + torch.cos(math.pi * progress))
    return torch.where(s < h.warmup, warm, cos) if h.warmup else cos


class GroupTrainer:
    """The state and the step of one group (see the module docstring)."""

    def __init__(self, configs: list[TrainConfig], device: torch.device, task=None, compile: bool | None = None,
                 packed: bool | None = None):
        from statetrack.tasks import make_task
        from statetrack.tasks.stream import Stream

        check_group(configs)
        self.configs, self.device = configs, device
        c0 = configs[0]
        if c0.threads:
            torch.set_num_threads(c0.threads)
        self.task = task or make_task(c0.task, c0.task_options)
        for cfg in configs:
            cfg.model.vocab_size, cfg.model.n_classes = self.task.vocab_size, self.task.n_classes
        # compiled stages by default on CUDA only: on a CPU, compilation costs more than it saves
        self.model = StackedModel(configs, device, compile=device.type == "cuda" if compile is None else compile)
        R = self.model.R
        self.stream = Stream(self.task, c0.train_min_len, c0.train_max_len, device, pool_seed=c0.seed)
        self.seeds = torch.tensor([cfg.seed for cfg in configs], dtype=torch.int64, device=device)
        self.h = _Hyper(lr=torch.tensor([cfg.lr for cfg in configs], device=device),
                        wd=torch.tensor([cfg.weight_decay for cfg in configs], device=device),
                        steps=c0.steps, warmup=c0.warmup_steps, min_lr_ratio=c0.min_lr_ratio,
                        beta1=c0.adam_beta1, beta2=c0.adam_beta2, clip=c0.grad_clip)
        self.m = torch.zeros_like(self.model.theta)
        self.v = torch.zeros_like(self.model.theta)
        self.step_t = torch.zeros((), dtype=torch.int64, device=device)
        self.active = torch.ones(R, dtype=torch.bool, device=device)
        self.bad = torch.zeros(R, dtype=torch.bool, device=device)
        self.loss_sum = torch.zeros(R, device=device)
        self.loss_n = torch.zeros(R, device=device)
        self.batch = c0.batch_size
        # packed words (no padding) where every mixer takes them and the lengths vary; by default only on the
        # GPU kernels, where it pays: the naive loop runs once per packed word (14x slower on a CPU)
        can_pack = self.model.packs and c0.train_min_len < c0.train_max_len
        if packed and not self.model.packs:
            raise TrainingError(f"packed batches need mixers that take packed words (not {c0.model.kind!r} with "
                                f"backend {c0.model.backend!r})")
        if packed and not can_pack:
            raise TrainingError(f"packed batches need train lengths that vary (got {c0.train_min_len} to "
                                f"{c0.train_max_len})")
        self.packed = (can_pack and c0.model.backend != "naive") if packed is None else bool(packed)
        if self.packed:     # the kernels' chunk backend lets words of at most a chunk's tokens share chunks
            self.model.max_seqlen = self.stream.longest_segment(self.batch)
        self.bf16 = c0.dtype == "bfloat16" and device.type == "cuda"
        self.history: list[list] = [[] for _ in range(R)]     # per run: [step, mean loss] every check
        self.status = ["training"] * R
        self.diverged_at: list[int | None] = [None] * R
        self._good = None
        self._graph = None
        self.train_time_s = 0.0

    # ---------------------------------------------------------------- one step
    def _autocast(self):
        if self.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
        return contextlib.nullcontext()

    def step(self) -> None:
        """One optimizer step of every active run; no host synchronization."""
        sm, h = self.model, self.h
        sm.grad.zero_()
        if self.packed:
            x, y, mask, pos, cu = self.stream.sample_packed(self.seeds, self.step_t, self.batch)   # (R, N)
            with self._autocast():
                per_run = sm.loss(x[:, None], y[:, None], mask[:, None], pos, cu)        # (R,)
        else:
            x, y, mask = self.stream.sample(self.seeds, self.step_t, self.batch)      # (R, B, T) each
            with self._autocast():
                per_run = sm.loss(x, y, mask)                                        # (R,)
        per_run.sum().backward()
        with torch.no_grad():
            g = sm.grad
            gnorm = g.pow(2).sum(1).sqrt()                                           # (R,)
            if h.clip > 0:
                g.mul_((h.clip / (gnorm + 1e-6)).clamp(max=1.0)[:, None])
            ok = torch.isfinite(per_run) & torch.isfinite(gnorm)
            self.bad |= ~ok
            live = ok & self.active
            self.loss_sum += torch.where(live, per_run.detach(), torch.zeros_like(per_run))
            self.loss_n += live.float()
            # AdamW (decoupled weight decay), per-run lr; runs not live this step are left untouched
            step_f = (self.step_t + 1).to(torch.float32)
            lr = h.lr * lr_factor_tensor(h, self.step_t) * live.float()             # (R,)
            g = torch.where(live[:, None], g, torch.zeros_like(g))
            keep = live[:, None]
            m_new = torch.lerp(self.m, g, 1 - h.beta1)
            v_new = self.v * h.beta2 + (1 - h.beta2) * g * g
            self.m.copy_(torch.where(keep, m_new, self.m))
            self.v.copy_(torch.where(keep, v_new, self.v))
            bc1 = 1 - h.beta1 ** step_f
            bc2 = 1 - h.beta2 ** step_f
            theta = sm.theta
            theta.mul_(1 - (lr * h.wd)[:, None] * sm.decay_mask[None, :])
            denom = (self.v.sqrt() / bc2.sqrt()).add_(1e-8)
            theta.sub_((lr / bc1)[:, None] * self.m / denom)
            self.step_t += 1

    def _capture(self) -> None:
        """Warm up eagerly (real steps) on a side stream, then capture :meth:`step` as a CUDA graph."""
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                self.step()
        torch.cuda.current_stream().wait_stream(s)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self.step()

    def run_steps(self, n: int, *, graph: bool = True) -> None:
        """``n`` steps; on CUDA with ``graph`` the step is captured once and replayed."""
        done = 0
        if graph and self.device.type == "cuda":
            if self._graph is None:
                if n < 4:
                    graph = False
                else:
                    self._capture()          # runs 3 eager steps; the captured one runs at replay
                    done = 3
            for _ in range(n - done if graph else 0):
                self._graph.replay()
            if graph:
                return
        for _ in range(n - done):
            self.step()

    # ---------------------------------------------------------------- checks, rollback
    def check(self) -> list[int]:
        """Host sync: record mean losses, roll back and freeze runs that went non-finite; returns them."""
        step = int(self.step_t)
        n = self.loss_n.cpu()
        mean = (self.loss_sum.cpu() / n.clamp(min=1)).tolist()
        bad = self.bad.cpu().tolist()
        newly = []
        for r in range(self.model.R):
            if self.status[r] != "training":
                continue
            if bad[r]:
                newly.append(r)
                self.status[r], self.diverged_at[r] = "diverged", step
            elif n[r] > 0:
                self.history[r].append([step, mean[r]])
        if newly and self._good is not None:
            idx = torch.tensor(newly, device=self.device)
            for live, saved in zip((self.model.theta, self.m, self.v), self._good):
                live[idx] = saved[idx]
        if newly:
            self.active[torch.tensor(newly, device=self.device)] = False
        self.bad.zero_()
        self.loss_sum.zero_()
        self.loss_n.zero_()
        self._good = tuple(t.clone() for t in (self.model.theta, self.m, self.v))
        return newly

    # ---------------------------------------------------------------- checkpoint
    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"theta": self.model.theta, "m": self.m, "v": self.v, "step": self.step_t.reshape(1),
                "active": self.active}

    def save(self, path: Path, meta: dict) -> None:
        from safetensors.torch import save

        from statetrack.constructions.weights import atomic_write_bytes

        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_tensors().items()}
        meta = {**meta, "format": GROUP_FORMAT, "history": self.history, "status": self.status,
                "diverged_at": self.diverged_at}
        atomic_write_bytes(Path(path), save(tensors, metadata={GROUP_META_KEY: json.dumps(meta)}))

    def load(self, path: Path) -> int:
        """Restore from a group checkpoint written for the same configs (fields added since it was
        written take their defaults); returns its step."""
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {})[GROUP_META_KEY])
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (OSError, KeyError, SafetensorError, ValueError, json.JSONDecodeError) as e:
            raise TrainingError(f"group checkpoint {path} is unreadable or corrupt ({type(e).__name__}); "
                                "delete it to start over") from None
        stored = meta.get("configs")
        if meta.get("format") != GROUP_FORMAT or not isinstance(stored, list) or len(stored) != len(self.configs) \
                or not all(c.matches(d) for c, d in zip(self.configs, stored)):
            raise TrainingError(f"{path} was written for other configs; use a new output directory")
        with torch.no_grad():
            self.model.theta.copy_(tensors["theta"])
            self.m.copy_(tensors["m"])
            self.v.copy_(tensors["v"])
            self.step_t.fill_(int(tensors["step"][0]))
            self.active.copy_(tensors["active"])
        self.history, self.status, self.diverged_at = meta["history"], meta["status"], meta["diverged_at"]
        self.train_time_s = float(meta.get("train_time_s", 0.0))
        self._good = tuple(t.clone() for t in (self.model.theta, self.m, self.v))
        return int(tensors["step"][0])

    # ---------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, n_words: int, max_len: int, chunk: int = 256) -> list[dict]:
        """Accuracy at every length 1..max_len for every run (the ``eval`` block of results.json).

        Regular tasks: words of length max_len, every label (the label after L tokens is the answer
        for the length-L word, in either format). Other tasks: words of every length, each scored at
        its final label. Words come from the stream with an evaluation salt, so training never saw
        their (seed, step) draws.
        """
        from statetrack.tasks.stream import Stream

        task = self.task.every_label
        R, C = self.model.R, task.n_classes
        if task.prefix_closed:
            stream = Stream(task, max_len, max_len, self.device)
            batches = ((stream.sample(self.seeds, i, min(chunk, n_words - d), salt=EVAL_SALT))
                       for i, d in enumerate(range(0, n_words, chunk)))
        else:       # every word of a fresh pool once: n_words / max_len words of each length
            per_len = max(1, n_words // max_len)
            stream = Stream(task, 1, max_len, self.device, pool_size=per_len,
                            pool_seed=self.configs[0].seed + EVAL_SALT, mode="pool")
            words = [t.flatten(0, 1) for t in stream._pool]                              # (max_len * per_len, T)
            batches = (tuple(t[a:a + chunk][None].expand(R, -1, -1) for t in words)
                       for a in range(0, words[0].shape[0], chunk))
        correct = torch.zeros(R, max_len, dtype=torch.float64, device=self.device)
        labeled = torch.zeros_like(correct)
        seq_ok = torch.zeros_like(correct)
        counts = torch.zeros(R, max_len, C, dtype=torch.float64, device=self.device)
        for x, y, m in batches:                                                         # (R, b, T) each
            with self._autocast():
                pred = self.model.logits(x).argmax(-1)
            hit = (pred == y) & m
            correct += hit.sum(1).double()
            labeled += m.sum(1).double()
            seq_ok += (((pred == y) | ~m).long().cumprod(2) * m).sum(1).double()
            counts += (torch.nn.functional.one_hot(y, C) * m[..., None]).sum(1).double()
        correct, labeled, seq_ok, counts = (t.cpu() for t in (correct, labeled, seq_ok, counts))
        from statetrack.train.evaluate import curve_from_counts

        return [curve_from_counts(correct[r], labeled[r], seq_ok[r], counts[r], task.chance) for r in range(R)]


def train_group(configs: list[TrainConfig], out: str | Path, *, names: list[str] | None = None,
                device: str | torch.device | None = None, graph: bool = True, resume: bool = True,
                stop_after: int | None = None, progress=None, analysis: bool | None = None,
                compile: bool | None = None, packed: bool | None = None) -> list[dict] | None:
    """Train a group of runs together; write each run's directory under ``out``; return their results.

    Args:
        configs: one TrainConfig per run (see :func:`check_group` for what may differ).
        out: group directory; run r goes to ``out/<names[r]>``.
        names: run directory names (default ``run0``, ``run1``, ...).
        device: overrides the configs' device (``"auto"`` picks CUDA when present).
        graph: capture the step as a CUDA graph on CUDA devices.
        resume: continue from ``out/group.safetensors`` when it exists.
        stop_after: stop after this many steps in total (as a kill would; tests of resume).
        progress: a callable ``progress(step, total, mean_losses)`` called at every check.
        analysis: override ``config.analysis`` (eigenvalues, probes, state norms per run).
        compile: run the training stages through ``torch.compile`` (default: on CUDA only).
        packed: train on packed words, no padding (default: with the GPU backends, fused_recurrent and
            chunk, where every mixer takes them and the lengths vary).
    Returns:
        The runs' results dicts, or None when stopped by ``stop_after``.
    """
    from statetrack.train import checkpoint as ckpt
    from statetrack.train.evaluate import range_summary
    from statetrack.train.results import FILENAME, SCHEMA, device_name, git_info, versions, write_results

    from statetrack.provenance import check_output_path

    t_wall = time.perf_counter()
    out = check_output_path(out, directory=True)
    names = names or [f"run{r}" for r in range(len(configs))]
    if len(names) != len(configs) or len(set(names)) != len(names):
        raise TrainingError("a group needs one distinct run name per config")
    from statetrack.train.ddp import resolve_device

    dev = resolve_device(str(device or configs[0].device))
    if dev.type == "cuda":
        # the current device is where Triton launches kernels and CUDA graphs capture: make it the group's
        # (a group on cuda:1 from a process whose current device is cuda:0, e.g. protocol_gpu.py --gpus)
        torch.cuda.set_device(dev)
    trainer = GroupTrainer(configs, dev, compile=compile, packed=packed)
    c0 = configs[0]
    cfg_json = [cfg.to_dict() for cfg in configs]
    meta = {"configs": cfg_json, "names": names}
    gpath = out / GROUP_FILE
    out.mkdir(parents=True, exist_ok=True)
    start = trainer.load(gpath) if resume and gpath.exists() else 0
    train_s = trainer.train_time_s
    every = max(1, c0.log_every)
    # checkpoint_every 0: about ten group checkpoints per run (on a multiple of the check interval)
    ck_every = c0.checkpoint_every or max(every, (c0.steps // 10) // every * every)
    end = c0.steps if stop_after is None else min(c0.steps, stop_after)
    trainer.check()                                   # snapshot of the last good state
    step = start
    while step < end:
        n = min(every - step % every, end - step)
        t0 = time.perf_counter()
        trainer.run_steps(n, graph=graph)
        newly = trainer.check()
        train_s += time.perf_counter() - t0
        step += n
        if progress is not None:
            progress(step, c0.steps, [h[-1][1] if h else None for h in trainer.history], newly)
        if (ck_every and step % ck_every == 0) or step == end:
            trainer.save(gpath, {**meta, "train_time_s": train_s})
    if step < c0.steps:
        return None
    if start == c0.steps:       # a finished group: report its runs, do not evaluate again
        from statetrack.train.results import read_results

        done = [out / n / FILENAME for n in names]
        if all(p.exists() for p in done):
            if progress is not None:
                progress(step, c0.steps, [h[-1][1] if h else None for h in trainer.history], [])
            return [read_results(p) for p in done]
    # ---- per-run results, in the single-run schema
    curves = trainer.evaluate(c0.eval_samples, c0.eval_length)
    results = []
    common = {"schema": SCHEMA, "versions": versions(), "git": git_info(), "device": device_name(dev),
              "world_size": 1}
    for r, cfg in enumerate(configs):
        run_dir = out / names[r]
        run_dir.mkdir(parents=True, exist_ok=True)
        model = trainer.model.run_model(r, cfg)
        curve = curves[r]
        curve["train_range"] = range_summary(curve, cfg.train_min_len, cfg.train_max_len)
        curve["test_range"] = range_summary(curve, cfg.test_min_len, cfg.test_max_len)
        losses = trainer.history[r]
        res = {**common, "status": "completed" if trainer.status[r] == "training" else trainer.status[r],
               "config": cfg.to_dict(), "task": trainer.task.describe(),
               "model": {k: getattr(cfg.model, k) for k in ("kind", "eig_range", "n_layers", "d_model", "n_heads",
                                                             "head_dim", "n_h", "backend")},
               "seed": cfg.seed, "dtype": cfg.dtype, "backend": cfg.model.backend, "steps": cfg.steps,
               "final_loss": losses[-1][1] if losses else None, "loss_curve": losses, "eval": curve,
               "checkpoint": ckpt.FILENAME,
               "group": {"size": len(configs), "index": r, "names": names, "cuda_graph": graph and dev.type == "cuda",
                         "compiled": trainer.model.compiled, "packed": trainer.packed,
                         "stream": trainer.stream.mode, "diverged_at": trainer.diverged_at[r],
                         "resumed_from_step": start},     # > 0: this call went on from a checkpoint
               "train_time_s": train_s, "wall_time_s": time.perf_counter() - t_wall}
        if analysis if analysis is not None else cfg.analysis:
            from statetrack.train.analysis import analyze

            res["analysis"] = analyze(model, trainer.task, cfg, dev)
        ckpt.save_weights(run_dir / ckpt.FILENAME, model=model, step=cfg.steps, config=cfg.to_dict())
        from statetrack.constructions.weights import atomic_write_bytes

        atomic_write_bytes(run_dir / "config.json", (cfg.to_json() + "\n").encode())
        write_results(run_dir / FILENAME, res)
        results.append(res)
    return results
