#!/usr/bin/env bash
# Issue 12's device work as one staged command: every stage has its own time limit and writes its
# results into $OUT as soon as they exist, so a time-out loses only the stage that was running.
#   STATETRACK_COMMIT=<local HEAD> STAGES="smoke bench parity" bash benchmarks/gpu_train.sh   (.whl carried:
#   automata-lib & deps; the commit, because the device's own git sees only the last landed commit)
# Stages: ktests (the kernel tests of the one-step and packed paths; KTESTS_FILES replaces the files),
#         probe (benchmarks/gpu_dot_probe.py: the dk product forms at 32-wide tiles, one JSON line each),
#         smoke (graph vs eager, group vs alone, packed vs padded on CUDA; SMOKE_CASES kind:dtype[:backend]),
#         bench (statetrack bench train; BENCH_ARGS adds options),
#         parity | words | modarith (protocol groups; PROTO_ARGS adds options, e.g. --ma-steps; PARITY_ONLY,
#         WORDS_ONLY and MA_ONLY replace those stages' group patterns, e.g. WORDS_ONLY="words:S5:* words:A5:nh2").
set -uo pipefail
export PYTHONUNBUFFERED=1
# a mistyped commit would be written into every result of the call: refuse it before any work
if [ -n "${STATETRACK_COMMIT:-}" ] && ! [[ "$STATETRACK_COMMIT" =~ ^[0-9a-f]{7,40}(-dirty)?$ ]]; then
    echo "STATETRACK_COMMIT=$STATETRACK_COMMIT is not a git commit (7-40 hex digits, e.g. git rev-parse HEAD)" >&2; exit 2
fi
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/src
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/triton_cache}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
# the device's checkout is the last landed commit plus this tree's changes: pass the real commit
[ -n "${STATETRACK_COMMIT:-}" ] || echo "warning: STATETRACK_COMMIT is not set; results will record $(git rev-parse --short HEAD 2>/dev/null) (dirty), which may not be the code that ran"
# each call starts from the committed bundle (a fresh machine has no other); join the returned bundles of
# a session's calls with: protocol_gpu.py --out X --merge benchmarks/results/protocol_gpu.json CALL1 CALL2 ...
# (--replace goes on from checkpoints that a cut-off call left in /tmp/proto on a still-warm machine)
[ -f "$OUT/protocol_gpu.json" ] || cp benchmarks/results/protocol_gpu.json "$OUT/" 2>/dev/null || true
PROTO="python3 benchmarks/protocol_gpu.py --out $OUT/protocol_gpu.json --workdir /tmp/proto ${PROTO_ARGS:-}"
TOTAL=${TOTAL_S:-585}          # the whole command's budget; each stage gets at most what is left
left() { local l=$((TOTAL - SECONDS)); [ "$1" -lt "$l" ] && echo "$1" || echo "$l"; }
for stage in ${STAGES:-smoke bench parity}; do
    echo "=== stage $stage $(date +%T), ${SECONDS}s used of ${TOTAL}s"
    [ $((TOTAL - SECONDS)) -gt 20 ] || { echo "no time left for $stage"; continue; }
    case $stage in
        profile) for pa in ${PROFILE_SETS:-24:1024:fused_recurrent};  # N:batch[:backend[:compiled|eager[:packed|padded]]]
                  do timeout $(left ${PROFILE_S:-90}) python3 benchmarks/gpu_profile.py ${pa//:/ } 2>&1 | tee -a "$OUT/profile.log"; done ;;
        ktests) timeout $(left ${KTESTS_S:-120}) python3 -m pytest -q -p no:cacheprovider -n 8 ${KTESTS_FILES:-tests/kernels/test_kernels_varlen.py tests/kernels/test_kernels_householder.py tests/kernels/test_kernels_diagonal.py} 2>&1 | tail -n 15 | tee "$OUT/ktests.log" ;;
        probe) timeout $(left ${PROBE_S:-120}) python3 benchmarks/gpu_dot_probe.py "$OUT/dot_probe.jsonl" 2>&1 | tee "$OUT/probe.log" ;;
        smoke) timeout $(left ${SMOKE_S:-150}) python3 benchmarks/gpu_smoke.py ${SMOKE_CASES:-} 2>&1 | tee "$OUT/smoke.log" ;;
        bench) timeout $(left ${BENCH_S:-260}) python3 -m statetrack.cli bench train --out "$OUT/train_throughput_gpu.json" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.log" ;;
        parity) timeout $(left ${PARITY_S:-300}) $PROTO --only ${PARITY_ONLY:-'table3:parity_p1:*'} --workers ${WORKERS:-1} --deadline ${DEADLINE:-150} 2>&1 | tee -a "$OUT/protocol.log" ;;
        words) timeout $(left ${WORDS_S:-300}) $PROTO --only ${WORDS_ONLY:-'words:*'} --workers ${WORKERS:-1} --deadline ${WORDS_DEADLINE:-200} 2>&1 | tee -a "$OUT/protocol.log" ;;
        modarith) timeout $(left ${MA_S:-300}) $PROTO --only ${MA_ONLY:-'table3:modular*'} --workers ${WORKERS:-1} --deadline ${MA_DEADLINE:-200} 2>&1 | tee -a "$OUT/protocol.log" ;;
        *) echo "unknown stage $stage" ;;
    esac
    echo "=== stage $stage done $(date +%T), exit ${PIPESTATUS[0]}"
done
# every finished run's results.json as well (the bundle can outgrow what a device call brings back)
( cd /tmp/proto 2>/dev/null && tar czf "$OUT/protocol_runs.tgz" --exclude='*.safetensors' . ) || true
