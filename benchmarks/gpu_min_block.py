"""Do the chunk kernels take 32-wide key / value tiles on this GPU? (K = V = 32, the trainer's heads.)

Since 335eb96 every key, value and query tile is at least ``CONFIG["min_block"]`` = 64 wide: 16-bit dots on
32-wide tiles gave wrong gradients (fp16) and an illegal memory access (bf16) on an H100 with triton 3.6,
correct under the interpreter. So K = 32 (d_model 128 in 4 heads, P1's trainer) runs half-empty 64-wide
tiles. This script checks ``min_block`` 32 against the float64 loop (padded and packed input, delta rule
and DeltaProduct n_h = 2, float32 / float16 / bfloat16) and times fwd+bwd beside 64 at the kernel bench's
(64, 256, 4, 32) and at a trainer batch (1,024 packed words of 3-40 tokens, 4 heads). The 64 cases run
first: an illegal memory access ends the process. One JSON line per result into argv[1].

    python3 benchmarks/gpu_min_block.py $OUT/min_block.jsonl
"""
import json
import sys
import time

import torch

from statetrack.kernels.bench import _bench, _bench_graph, _inputs
from statetrack.kernels.delta_product import delta_product
from statetrack.kernels.delta_rule import delta_rule
from statetrack.kernels.testing import forced_launch, make_inputs, poison_empty, relative_error

DEV = "cuda"
OUT = open(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdout", "a")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def emit(**row):
    OUT.write(json.dumps(row) + "\n")
    OUT.flush()
    print(row, flush=True)


def grads(fn, inp, dtype, h0, cu):
    sd = torch.float64 if dtype == torch.float64 else torch.float32
    xs = [inp[n].detach().to(dtype).clone().requires_grad_() for n in ("q", "k", "v", "gate")]
    h = h0.detach().to(sd).clone().requires_grad_()
    o, S = fn(*xs, initial_state=h, output_final_state=True, backend="naive" if dtype == torch.float64 else "chunk",
              cu_seqlens=cu)
    dS = torch.randn(S.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).to(DEV)
    ((o.double() * inp["do"]).sum() + (S.double() * dS).sum()).backward()
    return dict(o=o, S=S, dq=xs[0].grad, dk=xs[1].grad, dv=xs[2].grad, dbeta=xs[3].grad, dh0=h.grad)


def accuracy(mb: int, dtypes):
    cases = [("delta_rule", None, (2, 300), None), ("delta_rule", None, (1, 493), (1, 63, 64, 65, 300)),
             ("delta_product", 2, (2, 150), None)]
    for op, n_h, (B, T), lengths in cases:
        fn = delta_rule if op == "delta_rule" else delta_product
        inp = make_inputs(op, B, T, 2, 32, 32, n_h=n_h, h0=False, device=DEV)
        N = len(lengths) if lengths else B
        h0 = torch.randn(N, 2, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(DEV)
        cu = None if lengths is None else torch.tensor([0] + torch.tensor(lengths).cumsum(0).tolist(), device=DEV,
                                                         dtype=torch.int32)
        ref = grads(fn, inp, torch.float64, h0, cu)
        for name in dtypes if op == "delta_rule" else ("bfloat16",):
            dt = DTYPES[name]
            t0 = time.perf_counter()
            with forced_launch(min_block=mb), poison_empty():
                out = grads(fn, inp, dt, h0, cu)
            torch.cuda.synchronize() if DEV == "cuda" else None
            errs = {k: relative_error(ref[k], out[k]) for k in ref}
            emit(kind="accuracy", min_block=mb, op=op, n_h=n_h, packed=lengths is not None, dtype=name,
                 worst=max(errs.values()), errors=errs, s=round(time.perf_counter() - t0, 1))


def timing():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 41, (1024,), generator=g)
    cu = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]).to(DEV, torch.int32)
    shapes = [("kernel bench (64, 256, 4, 32)", (64, 256), None), (f"trainer: 1,024 packed words, "
              f"{int(lengths.sum())} tokens, 4 heads", (1, int(lengths.sum())), cu)]
    for label, (B, T), c in shapes:
        xs = [x.requires_grad_() for x in _inputs(torch, B, T, 4, 32, 32, torch.bfloat16, 1.0, device=DEV)]
        do = torch.randn(B, T, 4, 32, device=DEV, dtype=torch.bfloat16)

        def run():
            delta_rule(*xs, backend="chunk", cu_seqlens=c)[0].backward(do)
        res = {}
        for rep in range(2):          # interleaved, best of two: the GPU is shared with other runs
            for mb in (64, 32):
                with forced_launch(min_block=mb):
                    eager, graph = _bench(run, grad_to_none=xs), _bench_graph(run, grad_to_none=xs)
                res[mb] = [min(a, b) for a, b in zip(res.get(mb, [eager, graph]), [eager, graph])]
        emit(kind="timing", shape=label, dtype="bfloat16", fwdbwd_ms={mb: r[0] for mb, r in res.items()},
             fwdbwd_graph_ms={mb: r[1] for mb, r in res.items()})


def trainer_step():
    """ms per step of the batched trainer (chunk, packed, CUDA graph) at batch 1,024, N = 24: the cell of
    train_throughput_gpu.json that misses its bar (71.2 ms at 13f900d)."""
    from statetrack.train.throughput import p1_config, time_batched

    cfg = p1_config(1024, "chunk", "cuda", False)
    for mb in (64, 32):
        t0 = time.perf_counter()
        with forced_launch(min_block=mb):
            dt, packed = time_batched(cfg, 24, 30, graph=True)
        emit(kind="trainer", min_block=mb, runs=24, batch=1024, backend="chunk", packed=packed,
             ms_per_step=1e3 * dt, s=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    emit(kind="env", device=torch.cuda.get_device_name(), torch=torch.__version__,
         triton=__import__("triton").__version__)
    accuracy(64, ("float16", "bfloat16"))
    accuracy(32, ("float16", "bfloat16", "float32"))
    timing()
    trainer_step()
