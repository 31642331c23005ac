"""Helpers for testing the kernels against the float64 loops (used by tests/kernels and the benchmark).

* :func:`make_inputs` draws one op's inputs in float64 (unit keys, beta spanning [0, 2] with the
  endpoints included, decays spanning [-1, 1] with exact 0 and +-1);
* :func:`outputs_and_grads` runs a backend in a given dtype and returns o, the final state and every
  gradient, for one fixed random cotangent;
* :func:`assert_close` compares one named tensor by relative error ``||out - ref|| / ||ref||``;
* :func:`poison_empty` makes ``torch.empty`` / ``torch.empty_like`` return NaN-filled memory, so a
  kernel that leaves part of an output (or a buffer it later reads) unwritten fails loudly;
* :func:`forced_launch` runs a block with chunk-kernel launch settings forced (e.g. the split kernels).
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
def forced_launch(**settings):
    """Within the block, the delta-rule chunk kernels launch with ``settings`` over their defaults."""
    from statetrack.kernels.delta_rule import chunk as chunk_mod

    saved = dict(chunk_mod.FORCED)
    chunk_mod.FORCED.update(settings)
    try:
        yield
    finally:
        chunk_mod.FORCED.clear()
        chunk_mod.FORCED.update(saved)
