"""Batches drawn on the device, for many runs at once, as a pure function of (seed, step).

The batched trainer (:mod:`statetrack.train.batched`) trains R runs in one step. Each run has its
own data seed; its batch at step s is a function of (seed, s) alone, computed on the device with
static shapes (no host round trip, so a whole step can be captured in a CUDA graph), the same on
CPU and GPU, and the same whether the run trains alone or in a group:

    stream = Stream(task, min_len=3, max_len=40)
    x, y, m = stream.sample(seeds, step, batch)      # int64/int64/bool [R, B, max_len]

Lengths are stratified: a batch of B words holds every length of ``min_len..max_len`` B / n times
(n lengths; up to one word, the extra words rotating with the step), in nondecreasing order; so a
word drawn from a batch has a uniform length, and every batch of a step has the same total length,
whatever the seed. Positions past a word's end are padding (token 0, no label). Randomness is a
counter-based hash of (seed, step, word, position), so no generator state exists to save: resuming
at step s draws exactly what the uninterrupted run drew.

Because the total length is fixed by the step alone, a batch also packs without padding into a
fixed number of token slots (:meth:`Stream.sample_packed`): words end to end, with their boundaries
(``cu_seqlens``) and each slot's position in its word. The batched trainer trains on that layout
with the one-step (fused_recurrent) kernels.

Three ways to make words, picked per task (``Stream.mode``), in this order of preference:

* **automaton** (every regular task whose sampler draws position t uniformly from a fixed token set,
  :meth:`statetrack.tasks.base.Task.position_tokens`): tokens from the hash, labels by running the
  task's automaton table over the word (``label_of_state``), all on the device;
* **device** (a task with its own sampler on the device, :meth:`statetrack.tasks.base.Task.device_sampler`,
  e.g. the context-free bracket task): the stream hands it the hash of (seed, step, word, position,
  purpose) and the lengths, and it builds fresh words of its own law, all on the device;
* **pool** (any other task, or on request): ``pool_size`` words per length are made once on the CPU by
  the task's own sampler and moved to the device; a step draws words from the pool by hashed index
  (what is drawn is still a function of (seed, step) alone, but every word recurs, about
  ``steps * B / (n * pool_size)`` times over a run; the batched trainer's evaluation uses a pool on
  purpose, to score a fixed set of CPU-made words).

Labels follow the task's format: a label at every labeled position, or only at the last one
(:class:`statetrack.tasks.final_label.FinalLabel`, P1's format).
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.tasks.base import Task, TaskError
from statetrack.tasks.final_label import FinalLabel

_MASK32 = 0xFFFFFFFF
_SALT_TOKEN, _SALT_LENGTH, _SALT_POOL, _SALT_WORDS = 0x5EED, 0x1E46, 0x9001, 0x7A5C
MODES = ("automaton", "device", "pool")


def mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash on int64 tensors holding values in ``0 .. 2^32 - 1`` (no overflow:
    every product stays below 2^63)."""
    x = x & _MASK32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    return (x >> 16) ^ x


def _mix32_int(x: int) -> int:
    """:func:`mix32` of a Python int (no tensor, so nothing moves between devices)."""
    x &= _MASK32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    return (x >> 16) ^ x


def hash_ints(*parts: torch.Tensor | int) -> torch.Tensor:
    """Hash of a tuple of integers (int64 tensors broadcast together, or Python ints), values in
    ``0 .. 2^32 - 1``; at least one part must be a tensor."""
    h = None
    for p in parts:
        v = mix32(p.to(torch.int64)) if torch.is_tensor(p) else _mix32_int(int(p))
        h = v if h is None else mix32((h * 0x27D4EB2D & _MASK32) ^ v)
    return h


class Stream:
    """Device-side sampler of one task (see the module docstring).

    Args:
        task: the task (its format, every / final, comes with it).
        min_len, max_len: word lengths, uniform in ``min_len..max_len``; batches are ``[R, B, max_len]``.
        device: where batches are made.
        pool_size: words per length in the pool (pool mode only).
        pool_seed: seed of the pool (fixed per task so every run of a group draws from one pool).
        mode: one of :data:`MODES`; None picks the first the task offers (see the module docstring).
    """

    def __init__(self, task: Task, min_len: int, max_len: int, device: torch.device | str = "cpu", *,
                 pool_size: int = 2048, pool_seed: int = 0, mode: str | None = None):
        if not 1 <= min_len <= max_len:
            raise TaskError(f"stream lengths must satisfy 1 <= min_len <= max_len, got {min_len}..{max_len}")
        self.task, self.min_len, self.max_len = task, min_len, max_len
        self.device = torch.device(device)
        self.final = isinstance(task, FinalLabel) or not task.prefix_closed
        law, self._sampler = task.position_tokens(), task.device_sampler()
        offered = [k for k, ok in zip(MODES, (law is not None, self._sampler is not None, True)) if ok]
        if mode is not None and mode not in offered:
            raise TaskError(f"stream mode {mode!r} is not offered by task {task.name!r}; "
                            f"it offers {', '.join(offered)} (modes: {', '.join(MODES)})")
        self.mode = mode or offered[0]
        if self.mode == "automaton":
            dfa = task.automaton()
            self._table = torch.tensor(np.array(dfa.table, dtype=np.int64), device=self.device).reshape(-1)
            self._n_sym, self._start = len(dfa.alphabet), int(dfa.start)
            self._label = torch.tensor(np.array(task.label_of_state, dtype=np.int64), device=self.device)
            width = max(len(c) for c in law)
            self._law = torch.tensor([c + [c[0]] * (width - len(c)) for c in law], device=self.device)   # (P, W)
            self._law_n = torch.tensor([len(c) for c in law], device=self.device)                        # (P,)
        elif self.mode == "pool":
            self._build_pool(pool_size, pool_seed)

    # ------------------------------------------------------------------ pool
    def _build_pool(self, size: int, seed: int) -> None:
        n_len = self.max_len - self.min_len + 1
        xs = torch.zeros(n_len, size, self.max_len, dtype=torch.int64)
        ys = torch.zeros(n_len, size, self.max_len, dtype=torch.int64)
        ms = torch.zeros(n_len, size, self.max_len, dtype=torch.bool)
        gen = torch.Generator().manual_seed(seed)
        for i, L in enumerate(range(self.min_len, self.max_len + 1)):
            x, y, m = self.task.sample_batch(size, L, gen)
            xs[i, :, :L], ys[i, :, :L], ms[i, :, :L] = x, y, m
        self._pool = tuple(t.to(self.device) for t in (xs, ys, ms))

    # ------------------------------------------------------------------ sampling
    def lengths(self, seeds: torch.Tensor, step: torch.Tensor | int, batch: int, salt: int = 0) -> torch.Tensor:
        """int64 ``[R, B]``: each word's length, stratified (see the module docstring): word b gets
        ``min_len + floor((b B + o) n / B^2)`` with one offset ``o`` in ``0..B-1`` per (step, salt),
        the same for every run."""
        n = self.max_len - self.min_len + 1
        o = hash_ints(step, _SALT_LENGTH + salt) % batch
        b = torch.arange(batch, device=self.device)
        L = self.min_len + ((b * batch + o) * n) // (batch * batch)                     # (B,)
        return L[None, :].expand(seeds.shape[0], batch)

    def capacity(self, batch: int) -> int:
        """Token slots of a packed batch: the largest total length of ``batch`` words (offset B - 1),
        plus one, so that the filler segment after the words is never empty."""
        n = self.max_len - self.min_len + 1
        b = np.arange(batch, dtype=np.int64)
        return int((self.min_len + ((b * batch + batch - 1) * n) // (batch * batch)).sum()) + 1

    def longest_segment(self, batch: int) -> int:
        """The most tokens one segment of a packed batch holds: a word (max_len), or the filler after the
        words (the capacity less the smallest total, offset 0)."""
        n = self.max_len - self.min_len + 1
        b = np.arange(batch, dtype=np.int64)
        smallest = int((self.min_len + (b * batch * n) // (batch * batch)).sum())
        return max(self.max_len, self.capacity(batch) - smallest)

    def sample_packed(self, seeds: torch.Tensor, step: torch.Tensor | int, batch: int, salt: int = 0):
        """The words of :meth:`sample`, end to end in ``N = capacity(batch)`` slots per run.

        Returns:
            ``(x, y, m, pos, cu)``: tokens, targets and label mask ``[R, N]``; ``pos`` int64 ``[N]``,
            each slot's position in its word; ``cu`` int32 ``[B + 2]``, the word boundaries
            ``0, end_0, ..., end_{B-1}, N``. Slots past the last word (at least one) form one filler
            segment (token 0, no label).
        """
        x, y, m = self.sample(seeds, step, batch, salt)                                 # (R, B, T)
        L = self.lengths(seeds[:1], step, batch, salt)[0]                               # (B,)
        ends = L.cumsum(0)
        N = self.capacity(batch)
        slot = torch.arange(N, device=self.device)
        word = torch.searchsorted(ends, slot, right=True).clamp(max=batch - 1)          # (N,)
        inside = slot < ends[-1]
        p = torch.where(inside, slot - (ends[word] - L[word]), torch.zeros_like(slot))
        xs, ys, ms = (t[:, word, p] for t in (x, y, m))                                # (R, N)
        xs = torch.where(inside, xs, torch.zeros_like(xs))
        ys = torch.where(inside, ys, torch.zeros_like(ys))
        ms = ms & inside
        pos = torch.where(inside, p, slot - ends[-1])
        cu = torch.cat([ends.new_zeros(1), ends, ends.new_full((1,), N)]).to(torch.int32)
        return xs, ys, ms, pos, cu

    def sample(self, seeds: torch.Tensor, step: torch.Tensor | int, batch: int, salt: int = 0):
        """``(x, y, m)``: tokens, targets int64 and label mask bool, each ``[R, B, max_len]``.

        Args:
            seeds: int64 ``[R]`` data seeds, one per run, on the stream's device.
            step: the step (int or a 0-dim int64 tensor on the device, for graph capture).
            batch: words per run.
            salt: separates streams of the same seeds (evaluation uses its own).
        """
        R, B, T = seeds.shape[0], batch, self.max_len
        L = self.lengths(seeds, step, batch, salt)                                     # (R, B)
        pos = torch.arange(T, device=self.device)                                      # (T,)
        inside = pos[None, None, :] < L[..., None]                                     # (R, B, T)
        if self.mode == "pool":
            xs, ys, ms = self._pool
            j = hash_ints(seeds[:, None], step, torch.arange(B, device=self.device)[None, :],
                          _SALT_POOL + salt) % xs.shape[1]                             # (R, B)
            li = L - self.min_len
            return xs[li, j], ys[li, j], ms[li, j]
        word = torch.arange(B, device=self.device)[None, :, None]
        if self.mode == "device":
            base = hash_ints(seeds[:, None, None], step, word, pos[None, None, :], _SALT_WORDS + salt)  # (R, B, T)
            return tuple(self._sampler(lambda purpose: hash_ints(base, purpose), L, T))
        u = hash_ints(seeds[:, None, None], step, word, pos[None, None, :], _SALT_TOKEN + salt)   # (R, B, T)
        cls = pos % self._law.shape[0]                                                 # (T,)
        x = self._law[cls, u % self._law_n[cls]]                                       # (R, B, T)
        q = torch.full((R * B,), self._start, dtype=torch.int64, device=self.device)
        flat_x = x.reshape(R * B, T)
        states = []
        for t in range(T):
            q = self._table[q * self._n_sym + flat_x[:, t]]
            states.append(q)
        lab = self._label[torch.stack(states, 1)].reshape(R, B, T)                     # (R, B, T)
        m = (lab >= 0) & inside
        if self.final:
            last = torch.where(m, pos, torch.full_like(pos, -1)).amax(-1, keepdim=True)
            m = m & (pos == last)
        x = torch.where(inside, x, torch.zeros_like(x))
        return x, torch.where(m, lab, torch.zeros_like(lab)), m
