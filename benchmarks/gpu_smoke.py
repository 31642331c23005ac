"""CUDA checks of the batched trainer that the CPU tests cannot make: the production step (stages
through torch.compile, the whole step replayed as a CUDA graph) gives the plain eager step's result,
a run in a group matches the run alone (bf16 and float32), and packed words give the padded layout's
result (the kernels' packed path inside the captured graph; argv picks the backend)."""
import sys
import time

import torch

from statetrack.train.batched import GroupTrainer
from statetrack.train.config import TrainConfig


def cfg(kind: str, dtype: str, seed: int, rng: str = "-1,1", backend: str = "fused_recurrent") -> TrainConfig:
    c = TrainConfig(task="parity_p1", steps=100, batch_size=64, lr=1e-3, warmup_steps=5, dtype=dtype, device="cuda",
                    analysis=False)
    c.model.kind, c.model.d_model, c.model.n_heads, c.model.head_dim = kind, 64, 2, 32
    c.model.backend, c.model.eig_range = backend, rng
    return c


CASES = (("deltanet", "float32"), ("deltanet", "bfloat16"), ("diagonal", "bfloat16"), ("transformer", "bfloat16"))
dev = torch.device("cuda")
# argv: kind:dtype[:backend] to run (default: all of CASES, on fused_recurrent)
for kind, dtype, *backend in [tuple(a.split(":")) for a in sys.argv[1:]] or CASES:
    cfgs = [cfg(kind, dtype, s, r, *backend) for s, r in ((0, "-1,1"), (1, "0,1"), (2, "-1,1"))]
    t0 = time.perf_counter()
    fast, plain = GroupTrainer(cfgs, dev, compile=True), GroupTrainer(cfgs, dev, compile=False, packed=False)
    fast.run_steps(20, graph=True)
    plain.run_steps(20, graph=False)
    torch.cuda.synchronize()
    d_fast = float((fast.model.theta - plain.model.theta).abs().max())
    alone = GroupTrainer([cfgs[1]], dev, compile=False, packed=False)
    alone.run_steps(20, graph=True)
    d_alone = float((plain.model.theta[1] - alone.model.theta[0]).abs().max())
    moved = float((plain.model.theta - GroupTrainer(cfgs, dev, compile=False).model.theta).abs().max())
    packed = ""
    if fast.packed:     # fast packs by default where the mixer takes packed words; plain is padded
        padded = GroupTrainer(cfgs, dev, compile=True, packed=False)
        padded.run_steps(20, graph=True)
        packed = f"  packed-vs-padded {float((fast.model.theta - padded.model.theta).abs().max()):.2e}"
    print(f"{kind:12s} {dtype:9s} {cfgs[0].model.backend:15s} compiled+graph{' (packed)' if fast.packed else ''} "
          f"vs eager max|d| {d_fast:.2e}  "
          f"group-vs-alone {d_alone:.2e}{packed}  (weights moved {moved:.2e}) {time.perf_counter() - t0:.1f}s",
          flush=True)
