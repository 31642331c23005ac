"""Where a batched training step spends its GPU time: the top CUDA kernels of two steps of the
production step (stages through torch.compile; replayed eagerly so every kernel is listed).

    python3 benchmarks/gpu_profile.py N BATCH [fused_recurrent|chunk] [compiled|eager] [packed|padded]
"""
import sys

import torch

from statetrack.train.batched import GroupTrainer
from statetrack.train.throughput import p1_config

from statetrack.cli_args import Parser, pos_int

ap = Parser(prog="gpu_profile.py", description=__doc__.split("\n\n")[0])
ap.add_argument("runs", type=pos_int, help="runs in the group (N)")
ap.add_argument("batch", type=pos_int, help="batch per run")
ap.add_argument("backend", nargs="?", default="fused_recurrent", choices=("fused_recurrent", "chunk"))
ap.add_argument("mode", nargs="?", default="compiled", choices=("compiled", "eager"))
ap.add_argument("layout", nargs="?", default="packed", choices=("packed", "padded"))
args = ap.parse_args()
if not torch.cuda.is_available():
    sys.exit("gpu_profile.py: needs a CUDA device")
n, batch, backend, compiled = args.runs, args.batch, args.backend, args.mode == "compiled"
cfg = p1_config(batch, backend, "cuda", False)
tr = GroupTrainer([cfg.replace(seed=s) for s in range(n)], torch.device("cuda"), compile=compiled,
                  packed=args.layout == "packed")
tr.run_steps(3, graph=False)
torch.cuda.synchronize()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
    tr.run_steps(2, graph=False)
    torch.cuda.synchronize()
print(f"N={n} batch={batch} backend={backend} compiled={compiled} layout={args.layout}")
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70))
