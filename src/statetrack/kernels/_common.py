"""Shared plumbing for the kernel ops: argument checks, dtype rules, backend dispatch, lazy Triton.

Conventions every op follows (see ``statetrack.kernels``):

* layout ``[B, T, H, K]`` (batch, time, head, feature); values ``[B, T, H, V]``;
  states ``[B, H, K, V]``;
* inputs are float32, bfloat16 or float16 (the ``naive`` backend also takes float64);
  the state is accumulated in float32 (float64 when the inputs are float64);
  the output has the input dtype, the final state the accumulation dtype;
* ``scale=None`` means ``K ** -0.5``;
* every function returns ``(o, final_state_or_None)``;
* packed variable-length input (every op; for the diagonal op not its chunk backend): ``B = 1`` and
  ``cu_seqlens`` int32/int64 ``[N + 1]`` (0, the running sum of the N lengths, ..., T) cuts the time
  axis into N independent sequences; initial and final states are then ``[N, H, K, V]``. The naive
  and fused_recurrent backends take empty sequences (equal neighbouring offsets): their final state
  is their initial state.

Triton is imported only when a Triton backend is asked for, so ``import statetrack.kernels`` and
``backend="naive"`` work on a machine without it.
"""
from __future__ import annotations

import importlib
import numbers
import os
from typing import Callable

import torch

from statetrack.errors import StatetrackError

BACKENDS = ("naive", "fused_recurrent", "chunk")
KERNEL_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
NAIVE_DTYPES = KERNEL_DTYPES + (torch.float64,)


class KernelArgumentError(StatetrackError, ValueError):
    """A kernel call with inconsistent shapes, an unsupported dtype or device, or an unknown backend."""


def require_triton():
    """Import and return ``triton``, or raise an ImportError that says how to install it."""
    try:
        import triton  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without triton
        raise ImportError(
            "the 'fused_recurrent' and 'chunk' kernel backends need Triton: `pip install triton` "
            "(or `pip install statetrack[triton]`); backend='naive' works without it"
        ) from exc
    return triton


def warps_autotuned(*key: str):
    """Decorator for a one-step-at-a-time kernel: Triton picks its warp count per ``key`` (the tile
    sizes and ``NPROG``, the launch's program count rounded to a power of two, see :func:`nprog`).

    Such a kernel is a chain of small dependent reductions over one state tile per program; how many
    warps share the tile trades reduction latency against occupancy, and the best choice moves with
    the tile size and with how many programs there are (on an H200 at 98k programs of a 32 x 32 tile, a
    fixed 4 warps was the step's slowest kernel). Under ``TRITON_INTERPRET=1`` there is one
    configuration (4 warps), so the CPU tests run each kernel once.
    """
    triton = require_triton()
    warps = (4,) if os.environ.get("TRITON_INTERPRET") == "1" else (1, 2, 4, 8)
    return triton.autotune(configs=[triton.Config({}, num_warps=w) for w in warps], key=list(key) + ["NPROG"])


def sum_blocks(partial: torch.Tensor) -> torch.Tensor:
    """Sum of per-block partials ``[NB, ...]`` over the block axis; with one block, that block itself
    (a view: no extra pass over a gradient the size of the activations)."""
    return partial[0] if partial.shape[0] == 1 else partial.sum(0)


def cdiv(a: int, b: int) -> int:
    """ceil(a / b) on the host. triton.cdiv and triton.next_power_of_2 are constexpr functions whose calls
    unwrap every argument: 14 such calls were about a third of the Python time of a chunk fwd+bwd (all but
    the launches) on a 2-core CPU, so host code uses this and :func:`next_pow2`."""
    return -(-a // b)


def next_pow2(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1), on the host."""
    return 1 << max(0, int(n) - 1).bit_length()


def nprog(n: int) -> int:
    """A launch's program count rounded up to a power of two: the autotuning key's size bucket."""
    return next_pow2(n)


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """State dtype for inputs of ``dtype``: float64 for float64, float32 otherwise."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def resolve_scale(scale: float | None, K: int) -> float:
    return float(K) ** -0.5 if scale is None else float(scale)


def _shape(name: str, t: torch.Tensor, expected: tuple[int, ...], names: str) -> None:
    if tuple(t.shape) != tuple(expected):
        raise KernelArgumentError(
            f"{name} has shape {tuple(t.shape)}, expected {tuple(expected)} ({names})"
        )


def check_inputs(
    op: str,
    backend: str,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    gate: torch.Tensor,
    gate_name: str,
    initial_state: torch.Tensor | None,
    n_h: int | None = None,
    cu_seqlens: torch.Tensor | None = None,
    max_seqlen: int | None = None,
) -> None:
    """Validate one call of ``op``; raise :class:`KernelArgumentError` naming the bad argument.

    ``n_h`` is None for one (k, v) per token (delta rule, diagonal) and the number of sub-steps for
    DeltaProduct, whose k, v and beta carry an extra ``n_h`` axis after time. ``cu_seqlens`` (packed
    sequences, see the module notes) is checked value by value, which reads it back to the host, and
    against ``max_seqlen`` (the longest sequence's tokens, if the caller states it) where given.
    """
    if backend not in BACKENDS:
        raise KernelArgumentError(f"{op}: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if q.dim() != 4:
        raise KernelArgumentError(f"{op}: q must be [B, T, H, K], got shape {tuple(q.shape)}")
    B, T, H, K = q.shape
    if T < 1 or K < 1 or B < 1 or H < 1:
        raise KernelArgumentError(f"{op}: q has an empty dimension, shape {tuple(q.shape)}")
    extra = () if n_h is None else (n_h,)
    lay = "[B, T, H, K]" if n_h is None else "[B, T, n_h, H, K]"
    _shape("k", k, (B, T) + extra + (H, K), lay)
    if v.dim() != q.dim() + len(extra) or tuple(v.shape[:-1]) != (B, T) + extra + (H,):
        raise KernelArgumentError(
            f"v has shape {tuple(v.shape)}, expected {(B, T) + extra + (H,)} + (V,) "
            f"({lay.replace('K]', 'V]')})"
        )
    V = v.shape[-1]
    if V < 1:
        raise KernelArgumentError(f"{op}: v has an empty value dimension")
    if gate_name == "a":
        _shape("a", gate, (B, T, H, K), "[B, T, H, K]")
    else:
        _shape(gate_name, gate, (B, T) + extra + (H,), "[B, T, H]" if n_h is None else "[B, T, n_h, H]")
    allowed = NAIVE_DTYPES if backend == "naive" else KERNEL_DTYPES
    if q.dtype not in allowed:
        raise KernelArgumentError(
            f"{op}: dtype {q.dtype} not supported by backend {backend!r} "
            f"(use one of {', '.join(str(d).removeprefix('torch.') for d in allowed)})"
        )
    for name, t in (("k", k), ("v", v)):
        if t.dtype != q.dtype:
            raise KernelArgumentError(f"{op}: {name} has dtype {t.dtype} but q has {q.dtype}; cast them alike")
    if not gate.is_floating_point():
        raise KernelArgumentError(f"{op}: {gate_name} must be a floating-point tensor, got {gate.dtype}")
    devices = {t.device for t in (q, k, v, gate)}
    N = B
    if max_seqlen is not None and (cu_seqlens is None or isinstance(max_seqlen, bool)
                                   or not isinstance(max_seqlen, numbers.Integral) or max_seqlen < 1):
        raise KernelArgumentError(f"{op}: max_seqlen must be a positive int given with cu_seqlens, got {max_seqlen!r}"
                                  f"{'' if cu_seqlens is not None else ' without cu_seqlens'}")
    if cu_seqlens is not None:
        N = check_cu_seqlens(op, cu_seqlens, B, T, allow_empty=backend != "chunk", max_seqlen=max_seqlen)
        devices.add(cu_seqlens.device)
    if initial_state is not None:
        _shape("initial_state", initial_state, (N, H, K, V),
               "[B, H, K, V]" if cu_seqlens is None else "[N, H, K, V], N = len(cu_seqlens) - 1")
        if not initial_state.is_floating_point():
            raise KernelArgumentError(f"{op}: initial_state must be floating point, got {initial_state.dtype}")
        devices.add(initial_state.device)
    if len(devices) > 1:
        raise KernelArgumentError(f"{op}: inputs are on several devices: {sorted(str(d) for d in devices)}")
    if backend != "naive":
        device = q.device
        if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
            raise KernelArgumentError(
                f"{op}: backend {backend!r} runs Triton kernels, which need CUDA tensors (got {device}); "
                "use backend='naive', or set TRITON_INTERPRET=1 before importing triton to run them "
                "slowly on the CPU"
            )
        if n_h is not None and n_h < 1:
            raise KernelArgumentError(f"{op}: n_h must be >= 1, got {n_h}")


def capturing(t: torch.Tensor) -> bool:
    """True while a CUDA graph is being captured on ``t``'s device, when no value may be read back."""
    return t.is_cuda and torch.cuda.is_current_stream_capturing()


def check_cu_seqlens(op: str, cu_seqlens: torch.Tensor, B: int, T: int, allow_empty: bool = False,
                     max_seqlen: int | None = None) -> int:
    """Check packed-sequence offsets against a ``[B, T, ...]`` input; return the number of sequences N.

    ``cu_seqlens`` must be an int32/int64 vector ``[N + 1]`` starting at 0 and ending at T, with B = 1;
    it must increase strictly (every sequence at least one token), or, with ``allow_empty``, never
    decrease (empty sequences allowed). The values are read on the host, except while a CUDA graph is
    being captured (a host read is not allowed then): the checks of the eager calls before a capture
    stand for it, and N is ``len(cu_seqlens) - 1``. With ``max_seqlen`` no sequence may be longer.
    """
    if cu_seqlens.dtype not in (torch.int32, torch.int64) or cu_seqlens.dim() != 1:
        raise KernelArgumentError(
            f"{op}: cu_seqlens must be a 1-D int32 or int64 tensor, got {cu_seqlens.dtype} "
            f"of shape {tuple(cu_seqlens.shape)}")
    if B != 1:
        raise KernelArgumentError(
            f"{op}: with cu_seqlens the sequences are packed along time, so B must be 1 (got {B})")
    if capturing(cu_seqlens):
        return cu_seqlens.shape[0] - 1
    offs = cu_seqlens.tolist()
    if len(offs) < 2 or offs[0] != 0 or offs[-1] != T:
        raise KernelArgumentError(
            f"{op}: cu_seqlens must run from 0 to T = {T} with at least one sequence, got {offs[:4]}"
            f"{'...' if len(offs) > 4 else ''} (length {len(offs)})")
    if allow_empty:
        bad = [i for i in range(len(offs) - 1) if offs[i + 1] < offs[i]]
        rule = "non-decreasing"
    else:
        bad = [i for i in range(len(offs) - 1) if offs[i + 1] <= offs[i]]
        rule = "strictly increasing for the chunk backend (no empty sequences)"
    if bad:
        i = bad[0]
        raise KernelArgumentError(
            f"{op}: cu_seqlens must be {rule} (sequence {i} spans {offs[i]}..{offs[i + 1]})")
    long = [] if max_seqlen is None else [i for i in range(len(offs) - 1) if offs[i + 1] - offs[i] > max_seqlen]
    if long:
        i = long[0]
        raise KernelArgumentError(f"{op}: sequence {i} has {offs[i + 1] - offs[i]} tokens, more than max_seqlen = "
                                  f"{max_seqlen}")
    return len(offs) - 1


def per_sequence(fn: Callable, q, k, v, gate, cu_seqlens, initial_state, output_final_state, **kw):
    """Run a dense op ``fn(q, k, v, gate, initial_state=, output_final_state=True, **kw)`` once per
    packed sequence of ``cu_seqlens`` (inputs ``[1, T, ...]``) and join the results: ``o`` along time,
    final states ``[N, H, K, V]``. An empty sequence adds no rows and keeps its initial state (zeros
    without one). The reference for the kernels' packed path (autograd flows through)."""
    offs = cu_seqlens.tolist()
    H, K, V = q.shape[2], q.shape[3], v.shape[-1]
    acc = accumulation_dtype(q.dtype)
    outs, states = [], []
    for n in range(len(offs) - 1):
        a, b = offs[n], offs[n + 1]
        h0 = None if initial_state is None else initial_state[n:n + 1]
        if a == b:
            outs.append(q.new_zeros(1, 0, H, V))
            states.append(q.new_zeros(1, H, K, V, dtype=acc) if h0 is None else h0.to(acc))
            continue
        o, S = fn(q[:, a:b], k[:, a:b], v[:, a:b], gate[:, a:b], initial_state=h0, output_final_state=True, **kw)
        outs.append(o)
        states.append(S)
    return torch.cat(outs, 1), (torch.cat(states, 0) if output_final_state else None)


def dispatch(backend: str, op: str) -> Callable:
    """The implementation of ``op`` (e.g. ``delta_rule``) for ``backend``, imported on first use:
    ``statetrack.kernels.<op>.<backend>.<backend>_<op>``."""
    if backend != "naive":
        require_triton()
    module = importlib.import_module(f"statetrack.kernels.{op}.{backend}")
    return getattr(module, f"{backend}_{op}")
