"""Which product breaks dk with 32-wide tiles on the H200? One small Triton kernel per product form.

With ``min_block`` 32 at K = V = 32 (``gpu_min_block.py``, ``logs/min_block_h200_782c0e7.jsonl``) the chunk
backward's dk is wrong in fp16 (0.85 relative error) and bf16 ends in an illegal memory access, while o, S,
dq, dv, dbeta and dh0 are right. The products that form dk and no other gradient share one shape: a
[64, 64] float32 matrix computed in registers, **transposed**, cast to 16 bits and used as the left operand
of a dot with a 32-wide result (``tl.trans(P) @ Q`` and ``(M + M^T) @ K``). dq forms ``P @ K`` from the same
P without the transpose and is right; dv forms ``Tm^T @ dUn`` from a transposed *loaded* tile and is right.

Each form below runs alone, in one program, at result widths N = 32 and 64, in fp16 and bf16, at 4 and 8
warps, against torch in float64 on the same 16-bit operands (X rounded to 16 bits as the kernel rounds it).
A form that is wrong at N = 32 and right at 64 is the fault; the others are the workarounds to try:

    plain      X @ Y              (as dq: expected right)
    trans      X^T @ Y            (as dk's P^T Q and dA^T (bK))
    cast_trans (X in 16 bits)^T @ Y
    sym        (X + X^T) @ Y      (as dk's (M + M^T) K)
    moved      (Y^T @ X)^T        (= X^T @ Y: trans with the transpose on the result instead)
    sym_moved  X @ Y + (Y^T @ X)^T  (sym formed that way)

    python3 benchmarks/gpu_dot_probe.py $OUT/dot_probe.jsonl          (one JSON line per case; ~1 min, compiling)
    TRITON_INTERPRET=1 python benchmarks/gpu_dot_probe.py --cpu       (fp16 only: checks the probe itself)
"""
import json
import sys
import time

import torch
import triton
import triton.language as tl

FORMS = ("plain", "trans", "cast_trans", "sym", "moved", "sym_moved")
TOL = 2e-2      # rounding X to 16 bits gives ~1e-3; the fault gave 0.85


@triton.jit
def _probe_kernel(a, b, y, out, N: tl.constexpr, FORM: tl.constexpr):
    r = tl.arange(0, 64)
    c = tl.arange(0, 32)
    n = tl.arange(0, N)
    A = tl.load(a + r[:, None] * 32 + c[None, :])
    B = tl.load(b + r[:, None] * 32 + c[None, :])
    Y = tl.load(y + r[:, None] * N + n[None, :])
    DT = Y.dtype
    X = tl.dot(A, tl.trans(B))                                 # [64, 64] float32 in registers, as P = dO Un^T
    X = tl.where(r[:, None] >= r[None, :], X, 0.0)             # the scores' causal mask
    if FORM == 0:
        o = tl.dot(X.to(DT), Y)
    elif FORM == 1:
        o = tl.dot(tl.trans(X).to(DT), Y)
    elif FORM == 2:
        o = tl.dot(tl.trans(X.to(DT)), Y)
    elif FORM == 3:
        o = tl.dot((X + tl.trans(X)).to(DT), Y)
    elif FORM == 4:
        o = tl.trans(tl.dot(tl.trans(Y), X.to(DT)))
    else:
        o = tl.dot(X.to(DT), Y) + tl.trans(tl.dot(tl.trans(Y), X.to(DT)))
    tl.store(out + r[:, None] * N + n[None, :], o)


def reference(form: str, A, B, Y) -> torch.Tensor:
    """The form in float64 on the kernel's operands, X rounded to Y's dtype where the kernel rounds it."""
    X = torch.tril(A.float() @ B.float().T)
    r16 = lambda m: m.to(Y.dtype).double()  # noqa: E731
    y = Y.double()
    return {"plain": lambda: r16(X) @ y, "trans": lambda: r16(X.T) @ y, "cast_trans": lambda: r16(X).T @ y,
            "sym": lambda: r16(X + X.T) @ y, "moved": lambda: (y.T @ r16(X)).T,
            "sym_moved": lambda: r16(X) @ y + (y.T @ r16(X)).T}[form]()


def relative_error(ref: torch.Tensor, got: torch.Tensor) -> float:
    return float((got.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def run_case(form: str, n: int, dtype: torch.dtype, warps: int, device: str) -> float:
    g = torch.Generator().manual_seed(n + warps)
    A, B = (torch.randn(64, 32, generator=g).to(device, dtype) for _ in range(2))
    Y = torch.randn(64, n, generator=g).to(device, dtype)
    out = torch.empty(64, n, device=device, dtype=torch.float32)
    _probe_kernel[(1,)](A, B, Y, out, N=n, FORM=FORMS.index(form), num_warps=warps)
    return relative_error(reference(form, A, B, Y), out)


def main(argv: list[str]) -> int:
    cpu = "--cpu" in argv
    paths = [a for a in argv if not a.startswith("--")]
    sink = open(paths[0], "a") if paths else None
    device = "cpu" if cpu else "cuda"

    def emit(**row):
        print(row, flush=True)
        if sink:
            sink.write(json.dumps(row) + "\n")
            sink.flush()

    emit(kind="env", device="cpu (interpreter)" if cpu else torch.cuda.get_device_name(),
         torch=torch.__version__, triton=triton.__version__)
    bad = 0
    for dtype in (torch.float16,) if cpu else (torch.float16, torch.bfloat16):
        for n in (32, 64):
            for warps in (4,) if cpu else (4, 8):
                for form in FORMS:
                    case = dict(kind="probe", form=form, N=n, dtype=str(dtype)[6:], warps=warps)
                    t0 = time.perf_counter()
                    try:
                        err = run_case(form, n, dtype, warps, device)
                    except Exception as e:          # an illegal memory access ends the CUDA context: stop there
                        emit(**case, error=f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
                        return 1
                    emit(**case, rel_err=err, ok=err < TOL, s=round(time.perf_counter() - t0, 2))
                    bad += err >= TOL
    print(f"{bad} case(s) at or over {TOL}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
