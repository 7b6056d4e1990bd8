#!/usr/bin/env bash
# The paper's Table III on our synthetic data, in one command on one CUDA GPU:
#
#   scripts/ablation_gpu.sh OUT_DIR [SECONDS_EACH]
#
# trains occrobnet_tiny_cpu three times from scratch with the same data, seed and wall-clock
# budget (scripts/train_gpu.sh, default 200 s each): as configured (CIET on, softmax x sigmoid
# attention), with `ciet: off`, and with plain softmax attention. Then it benchmarks the three
# exports side by side (500 benchmark frames each, in parallel) and writes OUT_DIR/ablation.md
# and OUT_DIR/ablation.json. Equal budgets from scratch are what make the rows comparable; the
# embedded checkpoint's own figures come from a longer, staged training (weights/MODEL_CARD.md).
# BATCH, REUSE, LR, WORKERS, DEVICE, PYTHON pass through to train_gpu.sh; FRAMES (default 500)
# benchmark frames.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/ablation_gpu.sh OUT_DIR [SECONDS_EACH]}
SECONDS_EACH=${2:-200}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
declare -A SETS=([full]="" [ciet_off]="ciet=false" [softmax]="attention=softmax")
VARIANTS=(full ciet_off softmax)

for name in "${VARIANTS[@]}"; do
    echo "== $name: ${SETS[$name]:-as configured}"
    SET="${SETS[$name]}" SEED=0 DATA_START=0 GT_TOKENS=0.25 LIMIT_MARGIN=15 \
        RUN="/tmp/occrobnet_ablation/$name" bash scripts/train_gpu.sh "$OUT/$name" "$SECONDS_EACH" |
        grep -E "^(==|step [0-9]+:)" || exit 1
done

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
for name in "${VARIANTS[@]}"; do
    "$PY" -m occrobnet_ros.evaluation.synthetic_benchmark --checkpoint "$OUT/$name/occrobnet_tiny_synthetic.safetensors" \
        --count "${FRAMES:-500}" --threads 4 --device "${DEVICE:-cuda}" \
        --json "$OUT/$name/benchmark.json" > "$OUT/$name/benchmark.txt" &
done
wait

"$PY" - "$OUT" "${VARIANTS[@]}" <<'PY'
import csv, json, sys
from pathlib import Path
out, names = Path(sys.argv[1]), sys.argv[2:]
keys = ["mpjpe_mm", "pa_mpjpe_mm", "mrrpe_mm", "object_translation_cm", "mssd_cm"]
rows, table = {}, ["| variant | steps | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
for name in names:
    model = json.loads((out / name / "benchmark.json").read_text())["model"]
    steps = list(csv.DictReader(open(out / name / "val.csv")))[-1]["step"]  # the last step
    rows[name] = {"steps": int(steps), **{k: model[k] for k in keys}}
    table.append(f"| {name} | {steps} | " + " | ".join(f"{model[k]:.2f}" for k in keys) + " |")
(out / "ablation.json").write_text(json.dumps(rows, indent=1))
(out / "ablation.md").write_text("\n".join(table) + "\n")
print("\n".join(table))
PY
