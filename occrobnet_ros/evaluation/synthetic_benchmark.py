"""The synthetic benchmark: a checkpoint's errors on the held-out split, beside a mean pose.

``python -m occrobnet_ros.evaluation.synthetic_benchmark --checkpoint CKPT [--count N]``
renders the first N of the 500 benchmark frames (data/synthetic ``benchmark_seeds``), crops
each around its ground-truth joints and object corners (crop_policy.py ROI without jitter, as
Keypoint Transformer evaluates with the annotated box) and reports, in the units of the paper:

- root-relative MPJPE per hand, of visible and of occluded joints, and MRRPE (mm; every mean
  over joint instances, metrics.hand_pose_errors) and the AUC of the root-relative joint
  errors over 0-50 mm (HO-3D's thresholds);
- PA-MPJPE (mm): the joint error after each hand is aligned to its ground truth by rotation,
  scale and translation (HO-3D's Procrustes), i.e. the articulation error alone;
- the object translation error and MSSD (cm; the box corners as the model's vertices, the
  generator's symmetry), both relative to the reference wrist of data/targets.py, as KT's
  (or, where both hands are present, to the wrist the model's config names:
  ``object_offsets_from``);
- with a visibility head, its precision and recall as a detector of occluded joints
  (metrics.occlusion_classification); the baseline says "all visible".

The baseline predicts the mean training pose: per joint the mean root-relative position, the
mean left-minus-right root offset, the mean object translation and the mean object rotation
(the SO(3) projection of the mean matrix), all over training seeds, never benchmark ones.
"""

import argparse
import json
import math
import time
from collections.abc import Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader

from occrobnet_ros import metrics
from occrobnet_ros.data.augment import AugmentConfig
from occrobnet_ros.data.dataset import SyntheticDataset
from occrobnet_ros.data.synthetic import benchmark_seeds, training_seeds
from occrobnet_ros.data.targets import collate
from occrobnet_ros.model.losses import object_offsets_from
from occrobnet_ros.skeleton import LEFT, NUM_HANDS, NUM_JOINTS, hand_slice

AUC_MAX_MM = 50.0
LEFT_HAND = slice(LEFT * NUM_JOINTS, (LEFT + 1) * NUM_JOINTS)
GT_KEYS = (
    "joints_3d",
    "joint_valid",
    "joint_visible",
    "hand_valid",
    "rel_root",
    "object_valid",
    "object_rotation",
    "object_translation",
    "object_corners_rest",
    "object_symmetry",
)
PRED_KEYS = ("joints_3d", "rel_root", "object_rotation", "object_translation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="safetensors model file")
    parser.add_argument("--count", type=int, default=500, help="first N benchmark frames")
    parser.add_argument("--baseline-count", type=int, default=500, help="training frames")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--json", help="also write the report here")


def run(args: argparse.Namespace) -> int:
    from occrobnet_ros.model import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model, config = load_model(args.checkpoint)
    model.to(args.device)
    started = time.perf_counter()
    report = benchmark(model, config.input_size, args.count, args.baseline_count, args.batch_size)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["checkpoint"] = str(args.checkpoint)
    print(format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2)
    return 0


def benchmark(
    model: torch.nn.Module, input_size: int, count: int, baseline_count: int, batch_size: int
) -> dict:
    """Model and mean-pose metrics on the first ``count`` benchmark frames."""
    dataset = SyntheticDataset(benchmark_seeds()[:count], input_size, None, AugmentConfig.none())
    predictions, gt = predict(model, dataset, batch_size)
    training_gt = ground_truth(training_seeds(baseline_count), input_size)
    baseline = mean_pose(object_offsets_from(training_gt, model.config.object_reference_hand))
    return {
        "frames": count,
        "model": pose_metrics(predictions, gt),
        "mean_pose": pose_metrics(tile_prediction(baseline, len(gt["joints_3d"])), gt),
    }


@torch.no_grad()
def predict(
    model: torch.nn.Module, dataset: SyntheticDataset, batch_size: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(predictions, ground truth) over ``dataset``, in eval mode, as numpy arrays; the
    object translations from the wrist the model's offsets start at (object_offsets_from)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    predictions, gt = [], []
    for images, targets in DataLoader(dataset, batch_size, collate_fn=collate):
        outputs = model(images.to(device))
        batch = {key: outputs[key].float().cpu().numpy() for key in PRED_KEYS}
        if "joint_visibility" in outputs:
            batch["joint_visibility"] = (
                torch.sigmoid(outputs["joint_visibility"].float()).cpu().numpy()
            )
        predictions.append(batch)
        gt.append({key: targets[key].numpy() for key in GT_KEYS})
    model.train(was_training)
    reference = model.config.object_reference_hand
    return _concatenate(predictions), object_offsets_from(_concatenate(gt), reference)


def ground_truth(seeds: Iterable[int], input_size: int) -> dict[str, np.ndarray]:
    """The GT_KEYS targets of the given frames (plain ROI crops)."""
    dataset = SyntheticDataset(np.asarray(seeds), input_size, None, AugmentConfig.none())
    batches = DataLoader(dataset, 32, collate_fn=collate)
    return _concatenate([{key: t[key].numpy() for key in GT_KEYS} for _, t in batches])


def mean_pose(gt: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The mean-pose prediction (one frame) of a set of training targets."""
    valid = gt["joint_valid"].astype(bool)
    joints = np.where(valid[..., None], gt["joints_3d"], 0.0).sum(0)
    joints /= np.maximum(valid.sum(0), 1)[:, None]
    both = gt["hand_valid"].all(1)
    has_object = gt["object_valid"].astype(bool)
    rotation_sum = gt["object_rotation"][has_object].sum(0)
    u, _, vt = np.linalg.svd(rotation_sum)
    rotation = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    return {
        "joints_3d": joints,
        "rel_root": gt["rel_root"][both].mean(0),
        "object_rotation": rotation,
        "object_translation": gt["object_translation"][has_object].mean(0),
    }


def tile_prediction(prediction: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """The same one-frame prediction for ``count`` frames."""
    return {key: np.repeat(value[None], count, axis=0) for key, value in prediction.items()}


def two_hand_frame(joints_3d: np.ndarray, rel_root: np.ndarray) -> np.ndarray:
    """Root-relative hands [N, 42, 3] -> both hands relative to the right wrist (for MRRPE)."""
    joints = np.array(joints_3d, dtype=float)
    joints[:, LEFT_HAND] += rel_root[:, None]
    return joints


def pose_metrics(pred: dict[str, np.ndarray], gt: dict[str, np.ndarray]) -> dict[str, float]:
    """Hand and object metrics of ``pred`` against ``gt`` (see the module docstring)."""
    valid = gt["joint_valid"].astype(bool)
    visible = gt["joint_visible"].astype(bool)
    pred_joints = two_hand_frame(pred["joints_3d"], pred["rel_root"])
    gt_joints = two_hand_frame(gt["joints_3d"], gt["rel_root"])
    report = metrics.hand_pose_errors(pred_joints, gt_joints, valid, visible)
    errors_mm = metrics.root_relative_errors(pred_joints, gt_joints) * metrics.M_TO_MM
    flat_valid = valid.reshape(-1, 1)
    report["auc_0_50mm"] = metrics.auc(errors_mm.reshape(-1, 1), AUC_MAX_MM, valid=flat_valid)
    report["pa_mpjpe_mm"] = procrustes_mpjpe_mm(pred_joints, gt_joints, valid)
    report.update(object_metrics(pred, gt))
    # The mean pose (and a model without the head) says every joint is visible.
    visibility = pred.get("joint_visibility", np.ones(valid.shape))
    report.update(metrics.occlusion_classification(visibility, visible, valid))
    return {key: round(float(value), 3) for key, value in report.items()}


def procrustes_mpjpe_mm(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> float:
    """PA-MPJPE: the joint error left after each predicted hand is rotated, scaled and moved
    onto its ground truth (HO-3D's alignment), over the hands whose 21 joints are all valid.
    What it leaves out of the MPJPE is global orientation and size: the articulation error."""
    errors = []
    for hand in range(NUM_HANDS):
        part = hand_slice(hand)
        rows = valid[:, part].all(axis=1)
        if rows.any():
            aligned = metrics.align_procrustes(pred[rows][:, part], gt[rows][:, part])
            errors.append(metrics.joint_errors(aligned, gt[rows][:, part]).ravel())
    return float(np.mean(np.concatenate(errors))) * metrics.M_TO_MM if errors else math.nan


def object_metrics(pred: dict[str, np.ndarray], gt: dict[str, np.ndarray]) -> dict[str, float]:
    """Object translation error and MSSD in cm, over the frames with an object."""
    frames = np.flatnonzero(gt["object_valid"])
    if len(frames) == 0:
        return {"object_translation_cm": float("nan"), "mssd_cm": float("nan")}
    translation = np.linalg.norm(
        pred["object_translation"][frames] - gt["object_translation"][frames], axis=-1
    )
    mssd = [
        metrics.mssd(
            pred["object_rotation"][i],
            pred["object_translation"][i],
            gt["object_rotation"][i],
            gt["object_translation"][i],
            gt["object_corners_rest"][i],
            symmetry_rotations(int(gt["object_symmetry"][i])),
        )
        for i in frames
    ]
    return {
        "object_translation_cm": float(translation.mean() * metrics.M_TO_CM),
        "mssd_cm": float(np.mean(mssd) * metrics.M_TO_CM),
    }


def symmetry_rotations(symmetry: int) -> np.ndarray:
    """The generator's symmetry code (objects.py) as MSSD's object-frame rotations."""
    if symmetry == 1:
        return metrics.half_turns(metrics.Z_AXIS)
    if symmetry == 2:
        return metrics.continuous_symmetry(metrics.Z_AXIS)
    return metrics.NO_SYMMETRY


def format_report(report: dict) -> str:
    """A small text table: each metric, the model and the mean-pose baseline."""
    lines = [
        f"synthetic benchmark, {report['frames']} frames",
        f"{'metric':28s}model     mean pose",
    ]
    for key, value in report["model"].items():
        lines.append(f"{key:28s}{value:<10.3f}{report['mean_pose'][key]:.3f}")
    return "\n".join(lines)


def _concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m occrobnet_ros.evaluation.synthetic_benchmark", description=__doc__
    )
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
