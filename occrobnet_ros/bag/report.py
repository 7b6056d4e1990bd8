"""The bag evaluation report: metrics against the ground truth, throughput, latency, files.

Metrics (metrics.py):

- hands, per frame and hand where both the ground truth and the prediction have the hand,
  over the joints the ground truth annotates (confidence > 0; datasets leave some out):
  root-relative MPJPE (mm, each hand aligned on its own wrist, mean over joint instances as
  ``metrics.hand_pose_errors``), MRRPE (mm, frames with both hands on both sides), PCK over
  0-50 mm and its AUC (HO-3D's EvalUtil: 100 thresholds, mean over joints);
- visible and occluded joints, where the ground truth knows (synthetic bags; a dataset's
  ``joint_visibility`` is -1): the MPJPE of each, and the prediction's ``joint_visibility`` as
  a detector of occluded joints (precision, recall; messages without it are not scored);
- detection: how many ground-truth hands / objects were found, and how many were reported
  where the ground truth has none;
- object, frames where both have it: translation error of the box centre (cm) and MSSD (cm)
  over the ground-truth box's 8 corners, without symmetries (the message has no object
  identity to look them up).

Every mean over nothing is NaN, written as null in report.json and "-" in report.md.
"""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from occrobnet_ros import metrics
from occrobnet_ros.evaluation.evaluate import write_pck_plots
from occrobnet_ros.prediction import Prediction, box_corners
from occrobnet_ros.skeleton import LEFT, NUM_JOINTS, RIGHT, hand_slice

PCK_MAX_M = metrics.HO3D_AUC_MAX_M  # 50 mm
PCK_STEPS = metrics.HO3D_AUC_STEPS
PCK_20MM = 0.02
LATENCY_PERCENTILES = (50, 90, 95, 99)
HANDS = ((RIGHT, "right"), (LEFT, "left"))


# --- arrays of a list of Predictions


def hand_arrays(predictions: Sequence[Prediction]) -> tuple[np.ndarray, np.ndarray]:
    """Two-hand joints ``(N, 42, 3)`` (right then left) and detection flags ``(N, 2)``."""
    joints = np.stack(
        [np.concatenate([p.right_hand.joints, p.left_hand.joints]) for p in predictions]
    ).astype(np.float64)
    detected = np.array([[p.right_hand.detected, p.left_hand.detected] for p in predictions])
    return joints, detected.reshape(len(predictions), 2)


def scored_joints(pred: Sequence[Prediction], gt: Sequence[Prediction]) -> np.ndarray:
    """``(N, 42)``: the annotated joints (ground-truth confidence > 0) of the hands both sides
    have, the only ones scored."""
    both = hand_arrays(pred)[1] & hand_arrays(gt)[1]
    annotated = np.stack(
        [np.concatenate([g.right_hand.joint_confidence, g.left_hand.joint_confidence]) for g in gt]
    )
    return np.repeat(both, NUM_JOINTS, axis=1) & (annotated > 0)


def visibility_array(predictions: Sequence[Prediction]) -> np.ndarray:
    """``(N, 42)`` joint visibility, right then left (-1: unknown)."""
    return np.stack(
        [np.concatenate([p.right_hand.joint_visibility, p.left_hand.joint_visibility])
         for p in predictions]
    ).astype(np.float64)  # fmt: skip


# --- metrics


def pose_metrics(pred: Sequence[Prediction], gt: Sequence[Prediction]) -> dict[str, Any]:
    """Every metric of ``pred`` against ``gt`` (same length, frame by frame)."""
    if len(pred) != len(gt) or not len(gt):
        raise ValueError(f"{len(pred)} predictions for {len(gt)} ground-truth frames")
    report: dict[str, Any] = {"frames": len(gt)}
    report.update(hand_metrics(pred, gt))
    report.update(object_metrics(pred, gt))
    return report


def hand_metrics(pred: Sequence[Prediction], gt: Sequence[Prediction]) -> dict[str, Any]:
    pred_joints, pred_found = hand_arrays(pred)
    gt_joints, gt_present = hand_arrays(gt)
    valid = scored_joints(pred, gt)
    report = metrics.hand_pose_errors(pred_joints, gt_joints, valid)
    errors = metrics.root_relative_errors(pred_joints, gt_joints)  # metres
    report["pck_20mm"] = _fraction(errors[valid] <= PCK_20MM)
    report["auc"] = _auc(errors, valid)
    gt_visibility = visibility_array(gt)
    known = valid & (gt_visibility >= 0.0)
    visible = gt_visibility > 0.5
    report["mpjpe_visible_mm"] = _mean(errors[known & visible]) * metrics.M_TO_MM
    report["mpjpe_occluded_mm"] = _mean(errors[known & ~visible]) * metrics.M_TO_MM
    report.update(metrics.occlusion_classification(visibility_array(pred), visible, known))
    for hand, name in HANDS:
        part = hand_slice(hand)
        report[f"auc_{name}"] = _auc(errors[:, part], valid[:, part])
        report[f"{name}_hands_in_ground_truth"] = int(gt_present[:, hand].sum())
        report[f"{name}_hands_found"] = int((gt_present & pred_found)[:, hand].sum())
        report[f"{name}_hands_false"] = int((~gt_present & pred_found)[:, hand].sum())
    return report


def object_metrics(pred: Sequence[Prediction], gt: Sequence[Prediction]) -> dict[str, Any]:
    present = np.array([g.object.detected for g in gt], dtype=bool)
    found = np.array([p.object.detected for p in pred], dtype=bool)
    translation, mssd = [], []
    for p, g in zip(pred, gt):
        if not (p.object.detected and g.object.detected):
            continue
        translation.append(np.linalg.norm(p.object.translation - g.object.translation))
        corners = box_corners(g.object.box_size)
        mssd.append(
            metrics.mssd(
                p.object.rotation,
                p.object.translation,
                g.object.rotation,
                g.object.translation,
                corners,
            )
        )
    return {
        "object_translation_error_cm": _mean(translation) * metrics.M_TO_CM,
        "object_mssd_cm": _mean(mssd) * metrics.M_TO_CM,
        "objects_in_ground_truth": int(present.sum()),
        "objects_found": int((present & found).sum()),
        "objects_false": int((~present & found).sum()),
    }


def pck_curves(pred: Sequence[Prediction], gt: Sequence[Prediction]) -> dict[str, tuple]:
    """Root-relative joint errors per hand, in the form ``evaluate.write_pck_plots`` plots."""
    pred_joints, _ = hand_arrays(pred)
    gt_joints, _ = hand_arrays(gt)
    errors = metrics.root_relative_errors(pred_joints, gt_joints)
    valid = scored_joints(pred, gt)
    return {
        f"pck_{name}_hand": (errors[:, hand_slice(hand)], valid[:, hand_slice(hand)], "mm")
        for hand, name in HANDS
        if valid[:, hand_slice(hand)].any()
    }


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p95 / p99 / max / mean of durations in seconds, in milliseconds."""
    values = np.asarray(seconds, dtype=np.float64) * 1000.0
    if not values.size:
        return {f"p{q}": math.nan for q in LATENCY_PERCENTILES} | {"max": math.nan}
    summary = {f"p{q}": float(np.percentile(values, q)) for q in LATENCY_PERCENTILES}
    return summary | {"max": float(values.max()), "mean": float(values.mean())}


def _auc(errors: np.ndarray, valid: np.ndarray) -> float:
    if not valid.any():
        return math.nan
    return metrics.auc(errors, PCK_MAX_M, PCK_STEPS, valid)


def _mean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else math.nan


def _fraction(hits: np.ndarray) -> float:
    return float(hits.mean()) if hits.size else math.nan


# --- files


def write_report(directory: Path, report: dict[str, Any], curves: dict[str, tuple]) -> None:
    """report.json, report.md and the PCK plots (PNG) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    if curves:
        report["plots"] = [p.name for p in write_pck_plots(curves, directory)]
    (directory / "report.json").write_text(json.dumps(jsonable(report), indent=2) + "\n")
    (directory / "report.md").write_text(markdown(report))


def jsonable(value: Any) -> Any:
    """Plain JSON: numpy numbers as Python numbers, NaN as null."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


# (key, column title, format) of the metrics tables
METRIC_COLUMNS = (
    ("frames", "frames", "{:d}"),
    ("mpjpe_right_mm", "MPJPE right (mm)", "{:.1f}"),
    ("mpjpe_left_mm", "MPJPE left (mm)", "{:.1f}"),
    ("mrrpe_mm", "MRRPE (mm)", "{:.1f}"),
    ("pck_20mm", "PCK@20mm", "{:.3f}"),
    ("auc", "AUC 0-50mm", "{:.3f}"),
    ("object_translation_error_cm", "object t (cm)", "{:.2f}"),
    ("object_mssd_cm", "MSSD (cm)", "{:.2f}"),
)
DETECTION_KEYS = ("right_hands", "left_hands", "objects")


def markdown(report: dict[str, Any]) -> str:
    """The human-readable report: what was run, then one table per topic of interest."""
    lines = [f"# Bag evaluation ({report['mode']})", ""]
    lines += [f"- bags: {', '.join(report['bags'])}", f"- topics: {_topics(report['topics'])}"]
    model = report["model"]
    lines += [f"- model: {model['name']} {model['version']} on {model['device']}", ""]
    lines += [
        f"Frames read: {report['frames']}; with ground truth: "
        f"{report['frames_with_ground_truth']}; rejected: {report['rejected'] or 0}.",
        "",
    ]
    if report.get("metrics"):
        lines += ["## Accuracy", "", *_metric_table({"all": report["metrics"]}), ""]
        lines += ["## Per sequence", "", *_metric_table(report["sequences"]), ""]
        lines += ["## Detection", "", *_detection_table(report["metrics"]), ""]
        lines += ["## Visible and occluded joints", "", *_occlusion_table(report["metrics"]), ""]
        lines += [f"![{name}]({name})" for name in report.get("plots", [])] + [""]
    elif report["frames_with_ground_truth"]:
        lines += ["No frame has both a prediction and ground truth: no accuracy.", ""]
    else:
        lines += ["No ground truth in the bag: throughput and latency only.", ""]
    if report.get("throughput"):
        lines += ["## Throughput (offline)", "", *_key_values(report["throughput"]), ""]
    if report.get("live"):
        lines += ["## Live replay", "", *_key_values(report["live"]), ""]
    return "\n".join(lines)


def _topics(topics: dict[str, Any]) -> str:
    return ", ".join(f"{key} `{value}`" for key, value in topics.items() if value)


def _metric_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    header = ["sequence"] + [title for _, title, _ in METRIC_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, values in rows.items():
        cells = [name] + [_cell(values.get(key), fmt) for key, _, fmt in METRIC_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _detection_table(values: dict[str, Any]) -> list[str]:
    lines = ["| | in ground truth | found | reported without ground truth |", "|---|---|---|---|"]
    for key in DETECTION_KEYS:
        lines.append(
            f"| {key.replace('_', ' ')} | {values[f'{key}_in_ground_truth']} | "
            f"{values[f'{key}_found']} | {values[f'{key}_false']} |"
        )
    return lines


def _occlusion_table(values: dict[str, Any]) -> list[str]:
    """MPJPE of visible and occluded joints, and the visibility output as a detector of
    occluded joints beside the trivial "all visible" (which never finds one: recall 0)."""
    return [
        "| MPJPE visible (mm) | MPJPE occluded (mm) | occluded joints | called occluded: "
        'precision | recall | "all visible" recall |',
        "|---|---|---|---|---|---|",
        f"| {_cell(values.get('mpjpe_visible_mm'), '{:.1f}')} "
        f"| {_cell(values.get('mpjpe_occluded_mm'), '{:.1f}')} "
        f"| {values.get('occluded_joints', 0)} "
        f"| {_cell(values.get('occluded_precision'), '{:.3f}')} "
        f"| {_cell(values.get('occluded_recall'), '{:.3f}')} | 0.000 |",
    ]


def _key_values(values: dict[str, Any]) -> list[str]:
    lines = ["| | |", "|---|---|"]
    for key, value in values.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {_cell(v, '{:.1f}')}" for k, v in value.items())
        elif isinstance(value, float):
            value = _cell(value, "{:.3f}")
        lines.append(f"| {key} | {value} |")
    return lines


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value) if isinstance(value, (int, float)) else str(value)
