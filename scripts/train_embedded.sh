#!/usr/bin/env bash
# How weights/occrobnet_tiny_synthetic.safetensors was made (see weights/MODEL_CARD.md).
#
#   scripts/train_embedded.sh          start the training run in the background (runs/embedded)
#   scripts/train_embedded.sh resume N continue that run (same code snapshot) with its schedule
#                                      stretched to N steps
#   scripts/train_embedded.sh export   copy its latest checkpoint to weights/ in float16 and
#                                      benchmark it (runs/embedded/benchmark.json)
#
# Run from anywhere; paths are relative to the repository root. The run imports a snapshot of
# the package taken at its start (runs/embedded/code), so edits to the working tree cannot
# change a running job.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=runs/embedded
WEIGHTS=weights/occrobnet_tiny_synthetic.safetensors
BENCHMARK_FRAMES=${BENCHMARK_FRAMES:-500}

if [[ "${1:-train}" == export ]]; then
    .venv/bin/python scripts/export_checkpoint.py "$RUN/checkpoint.safetensors" "$WEIGHTS"
    export PYTHONPATH="$PWD"
    .venv/bin/python -m occrobnet_ros.benchmark --checkpoint "$WEIGHTS" \
        --count "$BENCHMARK_FRAMES" --threads 2 --json "$RUN/benchmark.json"
    exit 0
fi

if [[ "${1:-train}" == resume ]]; then
    export PYTHONPATH="$PWD/$RUN/code" OMP_WAIT_POLICY=PASSIVE
    nohup .venv/bin/python -m occrobnet_ros.cli train --out "$RUN" --resume "$RUN" \
        --steps "$2" --workers 1 --threads 2 >> "$RUN/train.log" 2>&1 &
    echo "resumed in the background, pid $!"
    exit 0
fi

mkdir -p "$RUN/code"
rm -rf "$RUN/code/occrobnet_ros"
cp -r occrobnet_ros "$RUN/code/"
export PYTHONPATH="$PWD/$RUN/code"
export OMP_WAIT_POLICY=PASSIVE  # 2 shared cores: idle OpenMP threads must not spin
nohup .venv/bin/python -m occrobnet_ros.cli train \
    --model config/model/occrobnet_tiny_cpu.yaml --dataset synthetic --out "$RUN" \
    --steps 1400 --batch-size 8 --lr 2e-4 --backbone-lr-scale 1.0 --warmup-steps 50 \
    --gt-token-fraction 0.15 --seed 0 --workers 1 --threads 2 \
    --checkpoint-minutes 8 --checkpoint-every 100 --val-every 100 --val-size 48 \
    > "$RUN/train.log" 2>&1 &
echo "training in the background, pid $!; follow $RUN/train.log and $RUN/log.csv"
