"""Where a batched training step spends its GPU time: the top CUDA kernels of two steps of the
production step (stages through torch.compile; replayed eagerly so every kernel is listed).

    python3 benchmarks/gpu_profile.py N BATCH [BACKEND] [eager]
"""
import sys

import torch

from statetrack.train.batched import GroupTrainer
from statetrack.train.throughput import p1_config

n, batch = int(sys.argv[1]), int(sys.argv[2])
backend = sys.argv[3] if len(sys.argv) > 3 else "fused_recurrent"
compiled = "eager" not in sys.argv[4:]
cfg = p1_config(batch, backend, "cuda", False)
tr = GroupTrainer([cfg.replace(seed=s) for s in range(n)], torch.device("cuda"), compile=compiled)
tr.run_steps(3, graph=False)
torch.cuda.synchronize()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
    tr.run_steps(2, graph=False)
    torch.cuda.synchronize()
print(f"N={n} batch={batch} backend={backend} compiled={compiled}")
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70))
