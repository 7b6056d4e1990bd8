#!/usr/bin/env bash
# How weights/occrobnet_tiny_synthetic.safetensors was made (see weights/MODEL_CARD.md).
#
#   scripts/train_gpu.sh OUT [SECONDS]      stage 1, on one CUDA GPU (the model card gives the
#                                           exact call); OUT/occrobnet_tiny_synthetic.safetensors
#   scripts/train_embedded.sh cpu INIT      a CPU stage: continue from INIT on this machine's CPU,
#                                           in the background (runs/embedded); STEPS, LR,
#                                           DATA_START, SEED and MINUTES override the stage-2
#                                           settings (the model card lists each stage's call);
#                                           SCHEDULE_MINUTES=M: a wall-clock schedule of M
#                                           minutes (--schedule-minutes) instead of STEPS
#   scripts/train_embedded.sh real STAGE    the real-image checkpoint (issue 18) on this CPU, in
#                                           the background (runs/embedded_real): STAGE "heads"
#                                           puts the synthetic checkpoint's transformer and heads
#                                           on MediaPipe's landmark body (frozen; a new FPN),
#                                           STAGE "all" then fine-tunes everything, the body at
#                                           0.1x; STAGE "tiny" fine-tunes the synthetic
#                                           checkpoint itself (same network, so the node's speed
#                                           is unchanged) on rendered frames; MINUTES (default
#                                           50) of wall-clock schedule; DATASET (default
#                                           synthetic; rendered for "tiny"), LR, UPRIGHT (the
#                                           fraction of upright palm crops, default 0)
#   scripts/train_embedded.sh resume N      continue that run (same code snapshot) with its
#                                           schedule stretched to N steps
#   scripts/train_embedded.sh export        copy its latest checkpoint to weights/ in float16 and
#                                           benchmark it (runs/embedded/benchmark.json)
#
# Run from anywhere; paths are relative to the repository root. A CPU run imports a snapshot of
# the package taken at its start (runs/embedded/code), so edits to the working tree cannot
# change a running job.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/embedded}
WEIGHTS=weights/occrobnet_tiny_synthetic.safetensors
BENCHMARK_FRAMES=${BENCHMARK_FRAMES:-500}
export OMP_WAIT_POLICY=PASSIVE  # 2 shared cores: idle OpenMP threads must not spin

case "${1:-}" in
export)
    .venv/bin/python scripts/export_checkpoint.py "$RUN/checkpoint.safetensors" "$WEIGHTS"
    PYTHONPATH="$PWD" .venv/bin/python -m occrobnet_ros.evaluation.synthetic_benchmark --checkpoint "$WEIGHTS" \
        --count "$BENCHMARK_FRAMES" --threads 2 --json "$RUN/benchmark.json"
    ;;
real)
    RUN=${RUN_REAL:-runs/embedded_real}
    MINUTES=${MINUTES:-50}
    AFTER_FPN=(ciet heatmap_head segmentation_head token_embedding transformer identity_head
               pose_heads)
    case "${2:-}" in
    heads)
        START=(--model config/model/occrobnet_mediapipe_cpu.yaml
               --init weights/occrobnet_tiny_synthetic.safetensors --init-parts "${AFTER_FPN[@]}"
               --backbone-weights weights/mediapipe/hand_landmark_full.safetensors
               --train-only backbone.fpn "${AFTER_FPN[@]}" --backbone-lr-scale 1.0)
        OUT="$RUN/heads" ;;
    all)
        START=(--init "$RUN/heads/checkpoint.safetensors" --backbone-lr-scale 0.1)
        OUT="$RUN/all" ;;
    tiny)
        START=(--init weights/occrobnet_tiny_synthetic.safetensors --backbone-lr-scale 1.0)
        DATASET=${DATASET:-rendered}
        OUT="$RUN/tiny" ;;
    *) echo "usage: scripts/train_embedded.sh real heads|all|tiny" ; exit 2 ;;
    esac
    mkdir -p "$OUT/code"
    rm -rf "$OUT/code/occrobnet_ros"
    cp -r occrobnet_ros "$OUT/code/"
    export PYTHONPATH="$PWD/$OUT/code"
    nohup .venv/bin/python -m occrobnet_ros.cli train "${START[@]}" \
        --dataset "${DATASET:-synthetic}" --out "$OUT" --steps 1000000 \
        --schedule-minutes "$MINUTES" --time-limit-minutes "$((MINUTES + 5))" \
        --batch-size 16 --lr "${LR:-1e-4}" --warmup-steps 50 --final-lr-fraction 0.1 \
        --gt-token-fraction 0 --empty-fraction 0.1 --data-start "${DATA_START:-400000}" \
        --augment "upright_fraction=${UPRIGHT:-0}" \
        --seed "${SEED:-2}" --workers 1 --threads 2 --checkpoint-minutes 5 \
        --checkpoint-every 250 --val-every 250 --val-size 64 > "$OUT/train.log" 2>&1 &
    echo "training in the background, pid $!; follow $OUT/train.log and $OUT/val.csv"
    ;;
resume)
    export PYTHONPATH="$PWD/$RUN/code"
    nohup .venv/bin/python -m occrobnet_ros.cli train --out "$RUN" --resume "$RUN" \
        --steps "$2" --workers 1 --threads 2 >> "$RUN/train.log" 2>&1 &
    echo "resumed in the background, pid $!"
    ;;
cpu)
    INIT=${2:?usage: scripts/train_embedded.sh cpu INIT.safetensors}
    mkdir -p "$RUN/code"
    rm -rf "$RUN/code/occrobnet_ros"
    cp -r occrobnet_ros "$RUN/code/"
    export PYTHONPATH="$PWD/$RUN/code"
    SCHEDULE=(--steps "${STEPS:-3500}")
    if [[ -n "${SCHEDULE_MINUTES:-}" ]]; then
        SCHEDULE=(--steps 1000000 --schedule-minutes "$SCHEDULE_MINUTES")
        MINUTES=${MINUTES:-$(python3 -c "print($SCHEDULE_MINUTES + 5)")}
    fi
    # Stage 2 read frames from 200,000 on: none of them was seen in stage 1 (83,200 frames).
    nohup .venv/bin/python -m occrobnet_ros.cli train --init "$INIT" --dataset synthetic \
        --out "$RUN" "${SCHEDULE[@]}" --batch-size 16 --lr "${LR:-8e-5}" \
        --backbone-lr-scale 1.0 --warmup-steps 50 --final-lr-fraction 0.05 \
        --gt-token-fraction 0 --empty-fraction 0.05 --data-start "${DATA_START:-200000}" \
        --seed "${SEED:-1}" --workers 1 --threads 2 --checkpoint-minutes 5 \
        --checkpoint-every 250 --val-every 250 --val-size 64 \
        --time-limit-minutes "${MINUTES:-100}" > "$RUN/train.log" 2>&1 &
    echo "training in the background, pid $!; follow $RUN/train.log and $RUN/val.csv"
    ;;
*)
    sed -n '2,14p' "$0"
    exit 2
    ;;
esac
