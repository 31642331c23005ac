"""Where a batched training step spends its GPU time: the top CUDA kernels of one eager step."""
import sys

import torch

from statetrack.train.batched import GroupTrainer
from statetrack.train.throughput import p1_config

n, batch = int(sys.argv[1]), int(sys.argv[2])
cfg = p1_config(batch, "fused_recurrent", "cuda", False)
tr = GroupTrainer([cfg.replace(seed=s) for s in range(n)], torch.device("cuda"))
tr.run_steps(3, graph=False)
torch.cuda.synchronize()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
    tr.run_steps(2, graph=False)
    torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70))
