#!/usr/bin/env bash
# Rebuild docs/sample_report from committed results: measure the constructions once
# (statetrack analyze), then render (statetrack report). Nothing is trained here.
#
#   docs/sample_report/regenerate.sh                    # the committed CPU runs in docs/sample_report/runs/learned
#   docs/sample_report/regenerate.sh gpu RUNS...        # GPU results, e.g. benchmarks/results/train_protocol.json
#
# The constructed results are measured with the learned runs' lengths: train 3-40 (word problems
# 3-32); test to 100 for the CPU runs, to 256 (word problems 128) for the GPU protocol.
set -euo pipefail
cd "$(dirname "$0")/../.."
ST=${STATETRACK:-.venv/bin/statetrack}
OUTDIR=docs/sample_report
CONS=$OUTDIR/runs/constructed
mode=${1:-cpu}
if [ "$mode" = gpu ]; then
    shift
    LEARNED=("$@")
    TEST=256; WP_TEST=128
    NOTE="Learned runs: GPU results ($*). Constructed: statetrack analyze on the same lengths."
else
    LEARNED=("$OUTDIR/runs/learned")
    TEST=100; WP_TEST=100
    NOTE="Learned runs: small CPU runs made for this sample by docs/sample_report/make_runs.py --preset cpu (2-layer DeltaNet, d_model 16-32, 1,500 steps of batch 32); they illustrate the report, they do not reproduce P1."
fi
analyze() {   # name task [options...]
    local name=$1 task=$2; shift 2
    $ST analyze --task "$task" --out "$CONS/$name" --eval-samples 512 "$@"
}
analyze parity_group parity --train-len 3 40 --test-len 40 "$TEST"
analyze counting_mod3_rotation counting_mod3 --train-len 3 40 --test-len 40 "$TEST"
analyze counting_mod3_group counting_mod3 --construction group --train-len 3 40 --test-len 40 "$TEST"
analyze S5_group S5 --train-len 3 32 --test-len 32 "$WP_TEST"
if [ "$mode" = gpu ]; then
    analyze S5_swaps_group S5_swaps --train-len 3 32 --test-len 32 "$WP_TEST"
    analyze S3_group S3 --train-len 3 32 --test-len 32 "$WP_TEST"
    analyze modular_arithmetic_kr modular_arithmetic --train-len 3 40 --test-len 40 "$TEST"
fi
$ST report "${LEARNED[@]}" "$CONS" -o "$OUTDIR" --title "statetrack sample report: learned versus constructed" \
    --note "$NOTE"
