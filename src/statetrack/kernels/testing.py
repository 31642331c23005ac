"""Helpers for testing the kernels against the float64 loops (used by tests/kernels and the benchmark).

* :func:`make_inputs` draws one op's inputs in float64 (unit keys, beta spanning [0, 2] with the
  endpoints included, decays spanning [-1, 1] with exact 0 and +-1);
* :func:`outputs_and_grads` runs a backend in a given dtype and returns o, the final state and every
  gradient, for one fixed random cotangent;
* :func:`assert_close` compares one named tensor by relative error ``||out - ref|| / ||ref||``;
* :func:`poison_empty` makes ``torch.empty`` / ``torch.empty_like`` return NaN-filled memory, so a
  kernel that leaves part of an output (or a buffer it later reads) unwritten fails loudly;
* :func:`forced_launch` runs a block with chunk-kernel launch settings forced (e.g. the split kernels);
* :func:`traced_launches` runs interpreted launches' programs in a chosen order and records the bytes
  each loads and stores; :func:`cross_program_clashes` lists the slots two programs of a launch share.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F

# relative-error budget per compute dtype (the float32 figure is the bar)
TOLERANCE = {torch.float32: 1e-5, torch.float16: 5e-3, torch.bfloat16: 3e-2, torch.float64: 1e-12}
NAMES = ("o", "final_state", "dq", "dk", "dv", "dgate", "dh0")


def make_inputs(op: str, B: int, T: int, H: int, K: int, V: int, n_h: int | None = None,
                h0: bool = True, seed: int = 0, device: str = "cpu") -> dict:
    """Float64 inputs for ``op`` in {"delta_rule", "delta_product", "diagonal"}."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    extra = () if n_h is None else (n_h,)
    q = torch.randn(B, T, H, K, dtype=torch.float64, generator=g)
    k = F.normalize(torch.randn((B, T) + extra + (H, K), dtype=torch.float64, generator=g), dim=-1)
    v = torch.randn((B, T) + extra + (H, V), dtype=torch.float64, generator=g)
    if op == "diagonal":
        gate = 2 * torch.rand(B, T, H, K, dtype=torch.float64, generator=g) - 1
        flat = gate.view(-1)
        flat[::17] = 0.0
        flat[5::23] = 1.0
        flat[11::29] = -1.0
    else:
        gate = 2 * torch.rand((B, T) + extra + (H,), dtype=torch.float64, generator=g)
        flat = gate.view(-1)
        flat[::13] = 2.0
        flat[7::19] = 0.0
    out = dict(q=q, k=k, v=v, gate=gate,
               initial_state=torch.randn(B, H, K, V, dtype=torch.float64, generator=g) if h0 else None,
               do=torch.randn(B, T, H, V, dtype=torch.float64, generator=g),
               dht=torch.randn(B, H, K, V, dtype=torch.float64, generator=g))
    return {n: (None if t is None else t.to(device)) for n, t in out.items()}


def outputs_and_grads(fn: Callable, inputs: dict, dtype: torch.dtype, backend: str) -> dict:
    """o, final state and the gradients of ``<o, do> + <S_T, dht>`` for one backend and dtype."""
    state_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    xs = [inputs[n].detach().to(dtype).clone().requires_grad_() for n in ("q", "k", "v", "gate")]
    h0 = inputs["initial_state"]
    h0 = None if h0 is None else h0.detach().to(state_dtype).clone().requires_grad_()
    o, S = fn(*xs, initial_state=h0, output_final_state=True, backend=backend)
    loss = (o.double() * inputs["do"]).sum() + (S.double() * inputs["dht"]).sum()
    loss.backward()
    res = dict(o=o, final_state=S, dq=xs[0].grad, dk=xs[1].grad, dv=xs[2].grad, dgate=xs[3].grad)
    if h0 is not None:
        res["dh0"] = h0.grad
    return res


def relative_error(ref: torch.Tensor, out: torch.Tensor) -> float:
    ref, out = ref.double(), out.double()
    return ((out - ref).norm() / ref.norm().clamp_min(1e-300)).item()


def assert_close(name: str, ref: torch.Tensor, out: torch.Tensor, ratio: float) -> None:
    """Fail unless ``out`` has ref's shape, no NaN/inf, and relative error at most ``ratio``."""
    if out is None:
        raise AssertionError(f"{name}: missing (None)")
    if tuple(out.shape) != tuple(ref.shape):
        raise AssertionError(f"{name}: shape {tuple(out.shape)} != reference {tuple(ref.shape)}")
    if not torch.isfinite(out).all():
        bad = (~torch.isfinite(out)).sum().item()
        raise AssertionError(f"{name}: {bad} of {out.numel()} entries are NaN/inf (unwritten or overflow)")
    err = relative_error(ref, out)
    if not err <= ratio:
        raise AssertionError(f"{name}: relative error {err:.3e} > {ratio:.1e}")


@contextlib.contextmanager
def poison_empty():
    """Within the block, ``torch.empty`` and ``torch.empty_like`` return NaN-filled float tensors."""
    real_empty, real_like = torch.empty, torch.empty_like

    def fill(t):
        if t.is_floating_point():
            t.fill_(float("nan"))
        return t

    torch.empty = lambda *a, **kw: fill(real_empty(*a, **kw))
    torch.empty_like = lambda *a, **kw: fill(real_like(*a, **kw))
    try:
        yield
    finally:
        torch.empty, torch.empty_like = real_empty, real_like


@contextlib.contextmanager
def forced_launch(*, shape_rows: bool = True, **settings):
    """Within the block, the delta-rule chunk kernels launch with ``settings`` over their defaults and
    the matching ``SHAPE_CONFIG`` row; with ``shape_rows=False`` over ``CONFIG`` alone (the rows are
    set aside, so a tuned setting is timed against the defaults, not on top of an earlier tuning)."""
    from statetrack.kernels.delta_rule import chunk as chunk_mod

    saved, rows = dict(chunk_mod.FORCED), list(chunk_mod.SHAPE_CONFIG)
    chunk_mod.FORCED.update(settings)
    if not shape_rows:
        chunk_mod.SHAPE_CONFIG.clear()
    try:
        yield
    finally:
        chunk_mod.FORCED.clear()
        chunk_mod.FORCED.update(saved)
        chunk_mod.SHAPE_CONFIG[:] = rows


@contextlib.contextmanager
def traced_launches(order: str = "natural", seed: int = 0):
    """Under TRITON_INTERPRET=1, within the block every Triton launch runs its programs in ``order``
    ("natural", "reversed" or "shuffled") and records the bytes each program loads and stores.

    The interpreter runs programs one after another, so a slot that two programs of one launch share
    (written by both, or written by one and read by another) never shows as a wrong result on the CPU,
    while on a GPU its outcome depends on which programs run at once. The records let
    :func:`cross_program_clashes` find such slots directly, and a changed order changes any result that
    depends on them. Yields the list of launches, each a dict: ``kernel``, ``grid``, ``buffers`` (tensor
    argument name -> [first byte, end byte)), ``reads`` and ``writes`` (lists of (program, byte array)).
    """
    import numpy as np
    from triton.runtime import interpreter

    builder = interpreter.interpreter_builder
    launches: list = []
    current: dict = {}
    rng = np.random.default_rng(seed)

    def set_grid_idx(x, y, z):
        nx, ny, nz = builder.grid_dim
        n = (x * ny + y) * nz + z
        if n == 0:
            idx = [(a, b, c) for a in range(nx) for b in range(ny) for c in range(nz)]
            if order == "reversed":
                idx.reverse()
            elif order == "shuffled":
                idx = [idx[i] for i in rng.permutation(len(idx))]
            current["order"] = idx
        pid = current["order"][n]
        current["pid"] = pid
        builder.grid_idx = pid

    def element_bytes(ptrs, mask):
        size = ptrs.get_element_ty().primitive_bitwidth // 8
        addr = ptrs.data[np.broadcast_to(mask.data, ptrs.data.shape)].astype(np.uint64)
        return (addr[:, None] + np.arange(size, dtype=np.uint64)[None, :]).ravel()

    real_load, real_store = builder.create_masked_load, builder.create_masked_store

    def load(ptrs, mask, other, *a, **kw):
        launches[-1]["reads"].append((current["pid"], element_bytes(ptrs, mask)))
        return real_load(ptrs, mask, other, *a, **kw)

    def store(ptrs, value, mask, *a, **kw):
        launches[-1]["writes"].append((current["pid"], element_bytes(ptrs, mask)))
        return real_store(ptrs, value, mask, *a, **kw)

    real_call = interpreter.GridExecutor.__call__

    def call(self, *args, **kwargs):
        named = dict(zip(self.arg_names, args), **kwargs)
        buffers = {name: (t.data_ptr(), t.data_ptr() + t.numel() * t.element_size())
                   for name, t in named.items() if isinstance(t, torch.Tensor)}
        grid = self.grid(named) if callable(self.grid) else self.grid
        launches.append(dict(kernel=self.fn.__name__, grid=tuple(grid), buffers=buffers, reads=[], writes=[]))
        return real_call(self, *args, **kwargs)

    builder.set_grid_idx, builder.create_masked_load, builder.create_masked_store = set_grid_idx, load, store
    interpreter.GridExecutor.__call__ = call
    try:
        yield launches
    finally:
        interpreter.GridExecutor.__call__ = real_call
        for name in ("set_grid_idx", "create_masked_load", "create_masked_store"):
            del builder.__dict__[name]


def cross_program_clashes(launch: dict) -> list[str]:
    """Slots of one recorded launch (:func:`traced_launches`) that two of its programs share: bytes
    stored by more than one program, and bytes one program loads that another stores. One line per
    (buffer, kind): the byte count and one pair of programs."""
    import numpy as np

    pids = sorted({p for p, _ in launch["writes"] + launch["reads"]})
    code = {p: i for i, p in enumerate(pids)}

    def unique_pairs(records):                     # sorted unique (byte, program) rows
        if not records:
            return np.zeros((0, 2), np.uint64)
        addr = np.concatenate([b for _, b in records])
        prog = np.concatenate([np.full(len(b), code[p], np.uint64) for p, b in records])
        return np.unique(np.stack([addr, prog], 1), axis=0)

    w, r = unique_pairs(launch["writes"]), unique_pairs(launch["reads"])
    waddr, first, count = np.unique(w[:, 0], return_index=True, return_counts=True)
    shared = first[count > 1]                      # rows of w: first two writers of each shared byte
    clashes = [("stored by several programs", w[shared, 0], w[shared, 1], w[shared + 1, 1])]
    j = np.minimum(np.searchsorted(waddr, r[:, 0]), max(len(waddr) - 1, 0))
    if len(waddr):
        writer = w[first[j], 1]
        other = (waddr[j] == r[:, 0]) & (writer != r[:, 1])
        clashes.append(("loaded by one program, stored by another", r[other, 0], r[other, 1], writer[other]))
    out = []
    for kind, addr, p1, p2 in clashes:
        for name, (lo, hi) in launch["buffers"].items():
            sel = np.nonzero((addr >= lo) & (addr < hi))[0]
            if len(sel):
                i = sel[0]
                out.append(f"{launch['kernel']} {name}: {len(sel)} bytes {kind}, e.g. programs "
                           f"{pids[p1[i]]} and {pids[p2[i]]}")
    return out
