"""Kernel benchmark against fla, side by side; see statetrack.kernels.bench (`statetrack bench kernels`).

    python benchmarks/kernels.py -o benchmarks/results/kernels_h200.json   (on the device: benchmarks/gpu_kernels.sh)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from statetrack.kernels.bench import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
