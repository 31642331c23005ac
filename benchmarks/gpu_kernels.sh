#!/usr/bin/env bash
# Issue 13 on one H200, as one device call (under 8 minutes): GPU kernel tests, then the kernel benchmark.
# From the repository root, with fla's wheel carried in .whl/ (git-ignored):
#
#   run(command="bash benchmarks/gpu_kernels.sh", carry=[".whl"], timeout_s=600)
#
# KEEP_CACHE=0 skips packing the Triton cache at the end (a narrowed call that will not carry it on).
# Optionally carry the Triton cache of an earlier call: copy its $OUT/triton_cache.tar.xz to
# out/triton_cache.tar.xz (git-ignored) and carry [".whl", "out/triton_cache.tar.xz"]; it is unpacked
# before the tests, which with the benchmark then skip most compilation (and fla's autotuning).
# Stages, each with its own limit, logs and results in $OUT:
#   1. GPU kernel tests (tests/kernels, 8 xdist workers), timeout TEST_TIMEOUT (150 s) -> $OUT/kernel_tests.log
#   2. statetrack bench kernels, budget BENCH_BUDGET (300 s; timeout 30 s more) -> $OUT/kernels_h200.json,
#      $OUT/kernels.log; BENCH_ARGS are passed on (e.g. "--skip tune"). A call cut off by its budget is
#      finished by the next on the same commit: copy its kernels_h200.json to out/ (git-ignored), carry it,
#      and pass BENCH_ARGS="--resume out/kernels_h200.json" (the tests run again, about 50 s).
#      (the JSON is rewritten after every shape, so a cut-off run keeps what it measured)
set -u
OUT=${OUT:-out}
TEST_TIMEOUT=${TEST_TIMEOUT:-150}
BENCH_BUDGET=${BENCH_BUDGET:-300}
BENCH_ARGS=${BENCH_ARGS:-}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src"
if ls .whl/*.whl > /dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PWD/src"
else
    echo "no wheels in .whl/: fla columns will be skipped"
fi
export TRITON_CACHE_DIR="${TRITON_CACHE_DIR:-/tmp/triton_cache}"
export TRITON_CACHE_AUTOTUNING=1      # fla's autotuned kernels: timings cached on disk too (Triton >= 3.2)
mkdir -p "$TRITON_CACHE_DIR"
[ -f out/triton_cache.tar.xz ] && tar -xJf out/triton_cache.tar.xz -C "$TRITON_CACHE_DIR"
# a mistyped commit would be written into every result of the call: refuse it before the stages run
if [ -n "${STATETRACK_COMMIT:-}" ] && ! [[ "$STATETRACK_COMMIT" =~ ^[0-9a-f]{7,40}(-dirty)?$ ]]; then
    echo "STATETRACK_COMMIT=$STATETRACK_COMMIT is not a git commit (7-40 hex digits, e.g. git rev-parse HEAD)" >&2; exit 2
fi
# The device's checkout is the last landed commit plus this tree's changes: pass the real commit
# (STATETRACK_COMMIT=<local HEAD>); without it the recorded one says -dirty when the tree differs.
if [ -z "${STATETRACK_COMMIT:-}" ]; then
    STATETRACK_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    [ -n "$(git status --porcelain 2>/dev/null)" ] && STATETRACK_COMMIT="${STATETRACK_COMMIT}-dirty" \
        && echo "warning: STATETRACK_COMMIT not set; recording ${STATETRACK_COMMIT}"
fi
export STATETRACK_COMMIT
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv > "$OUT/device.txt" 2>&1
echo "start $(date +%T), triton cache: $(du -sh "$TRITON_CACHE_DIR" | cut -f1)" | tee "$OUT/stages.txt"

# compilation dominates the tests: spread them over 8 processes (pytest-xdist is in the device image)
XDIST=""
python3 -c "import xdist" 2> /dev/null && XDIST="-n 8"
t0=$(date +%s)
timeout "$TEST_TIMEOUT" python3 -m pytest -q -p no:cacheprovider $XDIST --durations=15 tests/kernels 2>&1 \
    | tee "$OUT/kernel_tests.log" | tail -n 25
echo "kernel tests: exit ${PIPESTATUS[0]}, $(( $(date +%s) - t0 )) s" | tee -a "$OUT/stages.txt"

t0=$(date +%s)
timeout $(( BENCH_BUDGET + 30 )) python3 -m statetrack.cli bench kernels --budget "$BENCH_BUDGET" $BENCH_ARGS \
    --tests-log "$OUT/kernel_tests.log" \
    -o "$OUT/kernels_h200.json" 2>&1 | tee "$OUT/kernels.log" | grep -v '^\[' | tail -n 40
echo "kernel benchmark: exit ${PIPESTATUS[0]}, $(( $(date +%s) - t0 )) s" | tee -a "$OUT/stages.txt"

# the cache for the next call (see the top); carry allows 64 MiB with the wheels. xz, all cores: gzip
# made 57 MB of a full run's cache (2026-12-02), just over what fits beside the wheels
if [ "${KEEP_CACHE:-1}" = 0 ]; then
    echo "KEEP_CACHE=0: the Triton cache is not packed" | tee -a "$OUT/stages.txt"
elif command -v xz > /dev/null; then
    tar -cf - -C "$TRITON_CACHE_DIR" . 2>/dev/null | xz -T0 -6 > "$OUT/triton_cache.tar.xz"
else
    echo "no xz on this machine: the Triton cache is not kept" | tee -a "$OUT/stages.txt"
fi
size=$(du -sm "$OUT/triton_cache.tar.xz" 2>/dev/null | cut -f1)
if [ "${size:-0}" -gt 56 ]; then
    rm -f "$OUT/triton_cache.tar.xz"
    echo "triton cache ${size} MB compressed: too large to carry, not kept" | tee -a "$OUT/stages.txt"
fi
cat "$OUT/stages.txt"
