#!/usr/bin/env bash
# Train the embedded checkpoint on one CUDA GPU in a fixed wall-clock budget, in one command.
#
#   scripts/train_gpu.sh OUT_DIR [TRAIN_SECONDS]
#
# Made for a borrowed GPU machine with torch + CUDA + numpy + OpenCV + safetensors and no ROS
# (and for any CUDA workstation). Steps:
#   1. training with a wall-clock schedule (--schedule-minutes): the cosine decay spans
#      TRAIN_SECONDS (default 390) of training, whatever the step time turns out to be
#      (rendering on nproc-1 DataLoader workers or the GPU, whichever is slower), and the run
#      ends when they are spent; --time-limit-minutes (LIMIT_MARGIN s later) is the backstop;
#   2. its checkpoint is exported to float16 (scripts/export_checkpoint.py) into OUT_DIR, with
#      log.csv, val.csv and config.json.
# Training options (batch, learning rate, ...) are those of weights/MODEL_CARD.md; override with
# BATCH, LR, PYTHON, WORKERS, REUSE (--batch-reuse), SEED, DATA_START (first training frame),
# GT_TOKENS (--gt-token-fraction of the schedule), INIT (start from these weights: --init),
# WARMUP (steps, default 100), VAL_EVERY (steps, default 500), MODEL (config, default
# config/model/occrobnet_tiny_cpu.yaml), SET ("KEY=VALUE ...": train --set) and COMPILE=1
# (--compile: the step is launch-bound on a GPU, see docs/performance.md). STEPS=N trains a
# fixed N-step schedule instead of the wall-clock one. LIMIT_MARGIN (s, default 45) is how far
# past TRAIN_SECONDS the time limit lies. Everything the run writes stays in $RUN (default
# /tmp/...).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/train_gpu.sh OUT_DIR [TRAIN_SECONDS]}
BUDGET=${2:-390}
PY=${PYTHON:-python3}
BATCH=${BATCH:-64}
LR=${LR:-3e-4}
WORKERS=${WORKERS:-$(($(nproc) - 1))}
RUN=${RUN:-/tmp/occrobnet_train_gpu}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$RUN"
rm -rf "$RUN/main"

ARGS=(--model "${MODEL:-config/model/occrobnet_tiny_cpu.yaml}" --dataset synthetic
    --batch-size "$BATCH" --lr "$LR" --backbone-lr-scale 1.0 --final-lr-fraction 0.05
    --empty-fraction 0.05 --seed "${SEED:-0}" --workers "$WORKERS" --device "${DEVICE:-cuda}"
    --batch-reuse "${REUSE:-1}" --data-start "${DATA_START:-0}"
    --gt-token-fraction "${GT_TOKENS:-0.25}")
[[ -n "${INIT:-}" ]] && ARGS+=(--init "$INIT")
[[ -n "${COMPILE:-}" ]] && ARGS+=(--compile)
# shellcheck disable=SC2206  # SET is a list of KEY=VALUE words
[[ -n "${SET:-}" ]] && ARGS+=(--set ${SET})

if [[ -n "${STEPS:-}" ]]; then
    SCHEDULE=(--steps "$STEPS" --warmup-steps $((STEPS / 25)) --val-every $((STEPS / 8)))
else
    SCHEDULE=(--steps "${MAX_STEPS:-1000000}" --schedule-minutes
        "$("$PY" -c "print($BUDGET / 60)")" --warmup-steps "${WARMUP:-100}"
        --val-every "${VAL_EVERY:-500}")
fi
echo "== $BATCH per step, $WORKERS workers, ${STEPS:-$BUDGET s}"
"$PY" -m occrobnet_ros.cli train "${ARGS[@]}" --out "$RUN/main" "${SCHEDULE[@]}" --val-size 64 \
    --checkpoint-every 100000 --checkpoint-minutes 1 --log-every 10 \
    --time-limit-minutes "$("$PY" -c "print(($BUDGET + ${LIMIT_MARGIN:-45}) / 60)")" 2>&1 | tr '\r' '\n' |
    grep -v -E "(it/s|s/it)\]$" | tee "$RUN/train.log"

cp "$RUN/main/log.csv" "$RUN/main/val.csv" "$RUN/main/config.json" "$OUT/"
"$PY" scripts/export_checkpoint.py "$RUN/main/checkpoint.safetensors" \
    "$OUT/occrobnet_tiny_synthetic.safetensors"
