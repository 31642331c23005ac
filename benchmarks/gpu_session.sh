#!/usr/bin/env bash
# What issues 6 and 7 still need from one H100, in one device call of at most 600 s.
# On the device, from the repository root, with fla's wheel carried in .whl/ (git-ignored):
#
#   run(command="bash benchmarks/gpu_session.sh", carry=[".whl"], timeout_s=600)
#
# Each stage has its own time limit and writes under $OUT, so a stage that runs long costs only itself:
#   1. the GPU kernel tests (bf16, large and odd shapes; fused_recurrent and the diagonal scan on a GPU);
#   2. the kernel benchmark against fla 0.6.0 in the same process (all issue-6 shapes, DeltaProduct
#      n_h = 2 and 4, float32 vs bfloat16 time, bf16 error vs fla's);
#   3. the training protocol jobs not yet run on a GPU (modular arithmetic, S3/S5 DeltaProduct n_h in
#      {1, 2, 4}, S5 swaps [0,1]) and the compiled-weights checks through every kernel backend.
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="src:/tmp/site" || { echo "no wheels in .whl/: fla columns will be skipped"; export PYTHONPATH=src; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/device.txt" 2>&1

timeout 110 python3 -m pytest -q -p no:cacheprovider tests/kernels > "$OUT/kernel_tests.log" 2>&1
echo "kernel tests: exit $?" | tee -a "$OUT/stages.txt"

timeout 190 python3 benchmarks/kernels.py --sweep -o "$OUT/kernels_h100.json" > "$OUT/kernels.log" 2>&1
echo "kernel benchmark: exit $?" | tee -a "$OUT/stages.txt"

timeout 260 python3 benchmarks/train_protocol.py --workers 14 --name train_protocol_rest.json \
    --only modular_arithmetic/ S3/ S5/ S5_swaps/deltanet/0,1/ --out "$OUT" > "$OUT/protocol.log" 2>&1
echo "training protocol: exit $?" | tee -a "$OUT/stages.txt"
tail -n 5 "$OUT"/*.log
