#!/usr/bin/env bash
# The command that trained weights/occrobnet_tiny_synthetic.safetensors (see weights/MODEL_CARD.md).
# Run from the repository root. The run imports a snapshot of the package taken at its start
# (runs/embedded/code), so that colleagues editing the working tree cannot change a running job.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/embedded/code
rm -rf runs/embedded/code/occrobnet_ros
cp -r occrobnet_ros runs/embedded/code/
export PYTHONPATH="$PWD/runs/embedded/code"
export OMP_WAIT_POLICY=PASSIVE  # 2 shared cores: idle OpenMP threads must not spin
nohup .venv/bin/python -m occrobnet_ros.cli train \
    --model config/model/occrobnet_tiny_cpu.yaml --dataset synthetic --out runs/embedded \
    --steps 1400 --batch-size 8 --lr 2e-4 --backbone-lr-scale 1.0 --warmup-steps 50 \
    --gt-token-fraction 0.15 --seed 0 --workers 1 --threads 2 \
    --checkpoint-minutes 8 --checkpoint-every 100 --val-every 100 --val-size 48 \
    > runs/embedded/train.log 2>&1 &
echo "training in the background, pid $!; follow runs/embedded/train.log and log.csv"
