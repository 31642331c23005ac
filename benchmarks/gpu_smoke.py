"""CUDA checks of the batched trainer that the CPU tests cannot make: the captured CUDA graph gives
the eager step's result, and a run in a group matches the run alone (bf16 and float32)."""
import time

import torch

from statetrack.train.batched import GroupTrainer
from statetrack.train.config import TrainConfig


def cfg(kind: str, dtype: str, seed: int, rng: str = "-1,1") -> TrainConfig:
    c = TrainConfig(task="parity_p1", steps=100, batch_size=64, lr=1e-3, warmup_steps=5, dtype=dtype, device="cuda",
                    analysis=False)
    c.model.kind, c.model.d_model, c.model.n_heads, c.model.head_dim = kind, 64, 2, 32
    c.model.backend, c.model.eig_range = "fused_recurrent", rng
    return c


dev = torch.device("cuda")
for kind in ("deltanet", "diagonal", "transformer"):
    for dtype in ("float32", "bfloat16"):
        cfgs = [cfg(kind, dtype, s, r) for s, r in ((0, "-1,1"), (1, "0,1"), (2, "-1,1"))]
        t0 = time.perf_counter()
        a, b = GroupTrainer(cfgs, dev), GroupTrainer(cfgs, dev)
        a.run_steps(20, graph=True)
        b.run_steps(20, graph=False)
        torch.cuda.synchronize()
        d_graph = float((a.model.theta - b.model.theta).abs().max())
        alone = GroupTrainer([cfgs[1]], dev)
        alone.run_steps(20, graph=True)
        d_alone = float((a.model.theta[1] - alone.model.theta[0]).abs().max())
        moved = float((a.model.theta - GroupTrainer(cfgs, dev).model.theta).abs().max())
        print(f"{kind:12s} {dtype:9s} graph-vs-eager max|d| {d_graph:.2e}  group-vs-alone {d_alone:.2e}  "
              f"(weights moved {moved:.2e}) {time.perf_counter() - t0:.1f}s", flush=True)
