"""The paper's metrics, computed as the official evaluation code computes them.

Pure numpy / scipy functions on arrays. Joints are in our order (``skeleton.py``; two-hand arrays
are right 0-20 then left 21-41), in metres, in any Cartesian frame that prediction and ground
truth share (every metric here is a distance, so the OpenCV/OpenGL flip ``diag(1, -1, -1)``,
a proper rotation, changes nothing once both sides use the same frame). Reports convert to
each protocol's unit: InterHand2.6M in mm, HO-3D, H2O-3D and MSSD in cm.

Sources (``shared/reference/model_reference.md`` section 3, and ``docs/metrics.md``):

- InterHand2.6M MPJPE / MRRPE: IH ``data/InterHand2.6M/dataset.py:Dataset.evaluate``
  (validity rule in ``Dataset.__init__``), KT ``data/dataset_interhand.py:evaluate``.
- HO-3D joint errors, alignments and AUC: HO3D ``eval.py:align_sc_tr``,
  ``eval.py:align_w_scale``, ``utils/eval_util.py:EvalUtil.get_measures``.
- MSSD: H22 ``evaluate.py:main``; KT ``data/dataset_h2o3d.py:evaluate``,
  ``data/dataset_ho3d.py:evaluate``.
- H2O-3D hands: KT ``data/dataset_h2o3d.py:dump_for_challenge`` (no public scorer exists);
  root-relative MPJPE and MRRPE as for InterHand2.6M.
"""

import math
from collections.abc import Sequence

import numpy as np
from scipy.integrate import trapezoid  # numpy's own needs numpy 2 (Jammy has 1.21)
from scipy.spatial.transform import Rotation

from occrobnet_ros.skeleton import LEFT, MIDDLE_MCP, NUM_JOINTS, RIGHT, WRIST, hand_slice

M_TO_MM = 1000.0
M_TO_CM = 100.0
ROOTS = (RIGHT * NUM_JOINTS + WRIST, LEFT * NUM_JOINTS + WRIST)  # (0, 21) in two-hand arrays

# HO-3D eval.py: EvalUtil.get_measures(0.0, 0.05, 100), i.e. 0-5 cm in 100 thresholds.
HO3D_AUC_MAX_M = 0.05
HO3D_AUC_STEPS = 100


# --- Joint errors, PCK and AUC


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance of every joint: ``(..., J, 3)`` -> ``(..., J)``."""
    return np.linalg.norm(np.asarray(pred, float) - np.asarray(gt, float), axis=-1)


def root_relative(joints: np.ndarray) -> np.ndarray:
    """Two-hand joints ``(..., 42, 3)`` with each hand's own wrist subtracted from that hand."""
    joints = np.array(joints, dtype=float)
    for hand in (RIGHT, LEFT):
        part = hand_slice(hand)
        joints[..., part, :] -= joints[..., ROOTS[hand], None, :]
    return joints


def per_joint_mean(errors: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Mean over samples of each joint's valid errors: ``(N, J)`` -> ``(J,)``, NaN if none."""
    errors = np.asarray(errors, float)
    valid = _mask(valid, errors.shape)
    count = valid.sum(axis=0)
    total = np.where(valid, errors, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def mean_of_joint_means(errors: np.ndarray, valid: np.ndarray | None = None) -> float:
    """The mean over joints of :func:`per_joint_mean`, skipping joints with no valid sample.

    This is how InterHand2.6M and HO-3D average (a mean of per-joint means, not a mean over all
    joint instances); KT uses ``np.nanmean`` so a joint never seen is skipped, as here. A NaN
    error of a valid joint is not skipped: it makes the result NaN, as in the official code.
    """
    errors = np.asarray(errors, float)
    seen = _mask(valid, errors.shape).any(axis=0)
    return _mean(per_joint_mean(errors, valid)[seen])


def pck_curve(
    errors: np.ndarray, thresholds: np.ndarray, valid: np.ndarray | None = None
) -> np.ndarray:
    """Per-joint PCK: the fraction of a joint's valid errors ``<= t``, ``(N, J)`` -> ``(J, T)``.

    Rows of joints with no valid sample are NaN (EvalUtil skips those joints).
    """
    errors = np.asarray(errors, float)
    valid = _mask(valid, errors.shape)
    thresholds = np.asarray(thresholds, float)
    hits = (errors[..., None] <= thresholds) & valid[..., None]  # (N, J, T)
    count = valid.sum(axis=0)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, hits.sum(axis=0) / count, np.nan)


def auc_thresholds(max_value: float, steps: int, min_value: float = 0.0) -> np.ndarray:
    """The thresholds EvalUtil uses: ``np.linspace(min_value, max_value, steps)``."""
    return np.linspace(min_value, max_value, steps)


def auc(
    errors: np.ndarray,
    max_value: float,
    steps: int = HO3D_AUC_STEPS,
    valid: np.ndarray | None = None,
    min_value: float = 0.0,
) -> float:
    """Area under the PCK curve, normalised to [0, 1], averaged over joints (EvalUtil).

    Per joint: ``trapz(PCK(t), t) / trapz(1, t)`` over ``t = linspace(min, max, steps)``; the
    result is the mean over the joints that have at least one valid error.
    """
    thresholds = auc_thresholds(max_value, steps, min_value)
    curves = pck_curve(errors, thresholds, valid)
    norm = trapezoid(np.ones_like(thresholds), thresholds)
    per_joint = trapezoid(curves, thresholds, axis=-1) / norm
    return _mean(per_joint[~np.isnan(per_joint)])  # NaN rows: joints never seen


# --- HO-3D: scale-translation and Procrustes alignment


def align_scale_translation(
    pred: np.ndarray, gt: np.ndarray, root: int = WRIST, scale_joint: int = MIDDLE_MCP
) -> np.ndarray:
    """HO-3D ``align_sc_tr``: scale the prediction to the GT's wrist-to-middle-MCP length and
    move its wrist onto the GT wrist. ``(..., 21, 3)``; no rotation.

    The defaults are our indices of HO-3D's joints 0 (wrist) and 4 (middle MCP).
    """
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    pred_len = np.linalg.norm(pred[..., scale_joint, :] - pred[..., root, :], axis=-1)
    gt_len = np.linalg.norm(gt[..., scale_joint, :] - gt[..., root, :], axis=-1)
    # The official code divides only when the length is positive (a zero prediction stays 0).
    safe_len = np.where(pred_len > 0, pred_len, 1.0)[..., None, None]
    scaled = pred / safe_len * gt_len[..., None, None]
    return scaled - scaled[..., root, None, :] + gt[..., root, None, :]


def align_procrustes(
    pred: np.ndarray, gt: np.ndarray, allow_reflection: bool = True
) -> np.ndarray:
    """HO-3D ``align_w_scale``: the similarity transform of ``pred`` closest to ``gt``.

    Both sets are centred on their means and divided by their Frobenius norm (+1e-8, as the
    official code); the orthogonal Procrustes problem is solved by SVD of ``gt_n^T pred_n``
    (what ``scipy.linalg.orthogonal_procrustes(gt_n, pred_n)`` does), and the prediction is
    mapped back with the GT's norm and mean. ``(..., J, 3)``.

    The official code allows reflections (the default here). ``allow_reflection=False``
    applies the usual reflection fix (flip the last singular direction when ``det < 0``), so
    the rotation is proper, as Umeyama's method gives.
    """
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    gt_mean, pred_mean = gt.mean(axis=-2, keepdims=True), pred.mean(axis=-2, keepdims=True)
    gt_c, pred_c = gt - gt_mean, pred - pred_mean
    gt_norm = np.linalg.norm(gt_c, axis=(-2, -1), keepdims=True) + 1e-8
    pred_norm = np.linalg.norm(pred_c, axis=(-2, -1), keepdims=True) + 1e-8
    gt_c, pred_c = gt_c / gt_norm, pred_c / pred_norm
    cross = np.swapaxes(gt_c, -1, -2) @ pred_c
    finite = np.isfinite(cross).all(axis=(-2, -1), keepdims=True)
    # A set with NaN gets NaN (the SVD would fail); the official code would stop there.
    u, sigma, vt = np.linalg.svd(np.where(finite, cross, 0.0))
    if not allow_reflection:
        sign = np.sign(np.linalg.det(u @ vt))
        sign = np.where(sign == 0, 1.0, sign)
        u = u.copy()
        u[..., :, -1] *= sign[..., None]
        sigma = sigma.copy()
        sigma[..., -1] *= sign
    rotation = u @ vt  # gt_n @ rotation ~ pred_n, so pred_n @ rotation^T ~ gt_n
    scale = sigma.sum(axis=-1)[..., None, None]
    aligned = (pred_c @ np.swapaxes(rotation, -1, -2)) * scale * gt_norm + gt_mean
    return np.where(finite, aligned, np.nan)


def ho3d_aligned_errors(pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """Per-joint errors ``(N, 21)`` in metres of one hand, unaligned and after each alignment.

    Keys ``unaligned``, ``sc_tr``, ``procrustes``; joints in our order.
    """
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    return {
        "unaligned": joint_errors(pred, gt),
        "sc_tr": joint_errors(align_scale_translation(pred, gt), gt),
        "procrustes": joint_errors(align_procrustes(pred, gt), gt),
    }


def ho3d_hand_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """HO-3D's hand joint metrics of ``(N, 21, 3)`` predictions (metres, our order).

    Returns the mean joint error in cm (mean over joints of the per-joint mean) and the AUC
    over 0-5 cm with 100 thresholds, unaligned (``joint_error_cm``, ``joint_auc``), after
    scale-translation alignment (``*_sc_tr``) and after Procrustes alignment
    (``*_procrustes``), with the key names the paper's Table II columns use.
    """
    report = {}
    for name, errors in ho3d_aligned_errors(pred, gt).items():
        suffix = "" if name == "unaligned" else f"_{name}"
        report[f"joint_error{suffix}_cm"] = mean_of_joint_means(errors) * M_TO_CM
        report[f"joint_auc{suffix}"] = auc(errors, HO3D_AUC_MAX_M, HO3D_AUC_STEPS)
    return report


# --- InterHand2.6M and H2O-3D: root-relative MPJPE and MRRPE

SINGLE_HAND_TYPES = ("right", "left")
INTERACTING = "interacting"


def interhand_joint_valid(joint_valid: np.ndarray) -> np.ndarray:
    """InterHand2.6M's validity rule: a hand whose root is invalid loses all its joints.

    (The root-relative pose of such a hand is undefined.) ``(..., 42)`` -> bool ``(..., 42)``.
    """
    valid = np.asarray(joint_valid).astype(bool).copy()
    for hand in (RIGHT, LEFT):
        valid[..., hand_slice(hand)] &= valid[..., ROOTS[hand], None]
    return valid


def root_relative_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-joint errors ``(N, 42)`` after aligning each hand on its own wrist (input units)."""
    return joint_errors(root_relative(pred), root_relative(gt))


def mrrpe_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame root error ``|(p_L - p_R) - (g_L - g_R)|`` of two-hand joints ``(N, 42, 3)``."""
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    right, left = ROOTS
    pred_rel = pred[..., left, :] - pred[..., right, :]
    gt_rel = gt[..., left, :] - gt[..., right, :]
    return np.linalg.norm(pred_rel - gt_rel, axis=-1)


def mpjpe_interhand(
    pred: np.ndarray,
    gt: np.ndarray,
    joint_valid: np.ndarray,
    hand_type: Sequence[str],
) -> dict[str, float]:
    """InterHand2.6M MPJPE in mm of two-hand joints ``(N, 42, 3)`` in metres (our order).

    ``joint_valid`` ``(N, 42)`` is the annotation's flag (the root rule is applied here);
    ``hand_type`` is each frame's annotation: 'right' or 'left' (single hand, SH) or
    'interacting' (IH). Each hand is aligned on its own wrist; MPJPE_single / _interacting /
    _all are the mean over the 42 joint indices of each index's mean error over SH / IH /
    SH+IH frames.
    """
    is_single, is_interacting = _hand_type_masks(hand_type, len(np.asarray(pred)))
    valid = interhand_joint_valid(joint_valid)
    errors = root_relative_errors(pred, gt) * M_TO_MM
    return {
        "mpjpe_single_mm": mean_of_joint_means(errors, valid & is_single[:, None]),
        "mpjpe_interacting_mm": mean_of_joint_means(errors, valid & is_interacting[:, None]),
        "mpjpe_all_mm": mean_of_joint_means(errors, valid & (is_single | is_interacting)[:, None]),
    }


def mrrpe_interhand(
    pred: np.ndarray, gt: np.ndarray, joint_valid: np.ndarray, hand_type: Sequence[str]
) -> float:
    """InterHand2.6M MRRPE in mm: the mean root error over interacting frames whose two roots
    are valid (NaN when there is none). Inputs as :func:`mpjpe_interhand`."""
    _, is_interacting = _hand_type_masks(hand_type, len(np.asarray(pred)))
    valid = np.asarray(joint_valid).astype(bool)
    used = is_interacting & valid[:, ROOTS[0]] & valid[:, ROOTS[1]]
    return _mean(mrrpe_errors(pred, gt)[used]) * M_TO_MM


def interhand_metrics(
    pred: np.ndarray, gt: np.ndarray, joint_valid: np.ndarray, hand_type: Sequence[str]
) -> dict[str, float]:
    """:func:`mpjpe_interhand` and :func:`mrrpe_interhand` (``mrrpe_mm``) in one report."""
    report = mpjpe_interhand(pred, gt, joint_valid, hand_type)
    report["mrrpe_mm"] = mrrpe_interhand(pred, gt, joint_valid, hand_type)
    return report


def h2o3d_hand_metrics(
    pred: np.ndarray, gt: np.ndarray, joint_valid: np.ndarray | None = None
) -> dict[str, float]:
    """H2O-3D hand metrics in cm of two-hand joints ``(N, 42, 3)`` in metres (our order).

    Every frame has both hands. MPJPE: each hand aligned on its own wrist, mean of per-joint
    means (``mpjpe_cm``, and per hand); MRRPE: error of the left-wrist-minus-right-wrist vector,
    averaged over frames whose two roots are valid (``mrrpe_cm``).
    """
    pred = np.asarray(pred, float)
    if joint_valid is None:
        joint_valid = np.ones(pred.shape[:2], dtype=bool)
    valid = interhand_joint_valid(joint_valid)
    errors = root_relative_errors(pred, gt) * M_TO_CM
    roots_valid = valid[:, ROOTS[0]] & valid[:, ROOTS[1]]
    report = {"mpjpe_cm": mean_of_joint_means(errors, valid)}
    for hand, name in ((RIGHT, "right"), (LEFT, "left")):
        part = hand_slice(hand)
        report[f"mpjpe_{name}_cm"] = mean_of_joint_means(errors[:, part], valid[:, part])
    report["mrrpe_cm"] = _mean(mrrpe_errors(pred, gt)[roots_valid]) * M_TO_CM
    return report


def hand_pose_errors(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    visible: np.ndarray | None = None,
) -> dict[str, float]:
    """Plain two-hand errors in mm for benchmarks (e.g. the synthetic one): not a dataset
    protocol, so every mean is over joint instances.

    ``pred``, ``gt``: ``(N, 42, 3)`` metres, our order. ``valid`` ``(N, 42)``: joints to score
    (default all; the InterHand root rule is applied). ``visible`` ``(N, 42)``: True where the
    joint is visible in the image, to split the MPJPE into visible and occluded joints.
    Returns ``mpjpe_mm``, ``mpjpe_right_mm``, ``mpjpe_left_mm`` (root-relative per hand),
    ``mrrpe_mm`` (frames with both roots valid) and, with ``visible``, ``mpjpe_visible_mm`` and
    ``mpjpe_occluded_mm``. A mean over nothing is NaN.
    """
    pred = np.asarray(pred, float)
    valid = interhand_joint_valid(_mask(valid, pred.shape[:2]))
    errors = root_relative_errors(pred, gt) * M_TO_MM
    report = {"mpjpe_mm": _mean(errors[valid])}
    for hand, name in ((RIGHT, "right"), (LEFT, "left")):
        part = hand_slice(hand)
        report[f"mpjpe_{name}_mm"] = _mean(errors[:, part][valid[:, part]])
    roots_valid = valid[:, ROOTS[0]] & valid[:, ROOTS[1]]
    report["mrrpe_mm"] = _mean(mrrpe_errors(pred, gt)[roots_valid]) * M_TO_MM
    if visible is not None:
        seen = np.asarray(visible).astype(bool)
        report["mpjpe_visible_mm"] = _mean(errors[valid & seen])
        report["mpjpe_occluded_mm"] = _mean(errors[valid & ~seen])
    return report


# --- Objects: MSSD with symmetries


# The H22 / KT continuous symmetries: angles np.arange(-pi, pi, 5 deg) about the axis.
def occlusion_classification(
    visibility: np.ndarray, visible: np.ndarray, valid: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """The visibility output as a detector of occluded joints (ours; no paper reports it).

    ``visibility``: predicted P(visible) per joint (negative: the model has none, not scored);
    ``visible``: the ground truth; ``valid``: the joints to score. A joint is called occluded
    when its probability is below ``threshold``. Precision is NaN when none is called occluded.
    """
    scored = np.asarray(valid, bool) & (np.asarray(visibility) >= 0.0)
    truth = ~np.asarray(visible, bool)[scored]
    called = np.asarray(visibility)[scored] < threshold
    hits = int((truth & called).sum())
    return {
        "occluded_precision": hits / called.sum() if called.any() else math.nan,
        "occluded_recall": hits / truth.sum() if truth.any() else math.nan,
        "occluded_joints": int(truth.sum()),
        "scored_joints": int(scored.sum()),
    }


CONTINUOUS_STEP_DEG = 5.0
X_AXIS, Y_AXIS, Z_AXIS = np.eye(3)


def rotations_about(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(K, 3, 3)`` by each angle (rad) about a unit-normalised axis."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return Rotation.from_rotvec(np.asarray(angles, float)[:, None] * axis).as_matrix()


def continuous_symmetry(axis: np.ndarray, step_deg: float = CONTINUOUS_STEP_DEG) -> np.ndarray:
    """A continuous symmetry sampled as H22 does: ``np.arange(-pi, pi, step)`` about the axis."""
    return rotations_about(axis, np.arange(-np.pi, np.pi, np.deg2rad(step_deg)))


def half_turns(*axes: np.ndarray) -> np.ndarray:
    """The identity plus a 180 degree turn about each axis (object frame): ``(1 + k, 3, 3)``."""
    flips = [rotations_about(axis, np.array([np.pi]))[0] for axis in axes]
    return np.stack([np.eye(3), *flips])


NO_SYMMETRY = np.eye(3)[None]
_Z_FLIP, _Y_FLIP = half_turns(Z_AXIS)[1], half_turns(Y_AXIS)[1]
_BOX_FLIPS = np.stack([np.eye(3), _Z_FLIP, _Y_FLIP, _Z_FLIP @ _Y_FLIP])

# HANDS'22 object-pose challenge (H22 evaluate.py), by YCB object name. Anything not listed
# there makes the official script raise; here it is an error as well.
HANDS22_SYMMETRIES: dict[str, np.ndarray] = {
    "025_mug": continuous_symmetry(Z_AXIS),
    "019_pitcher_base": continuous_symmetry(Z_AXIS),
    "011_banana": continuous_symmetry(Z_AXIS),
    "006_mustard_bottle": half_turns(Z_AXIS),
    "021_bleach_cleanser": half_turns(Z_AXIS),
    # z, y and z-after-y flips: the official code builds the last as R(z) R(y) R_gt.
    "003_cracker_box": _BOX_FLIPS,
    "004_sugar_box": _BOX_FLIPS,
    "010_potted_meat_can": _BOX_FLIPS,
    "037_scissors": half_turns(0.0366 * X_AXIS + 0.1271 * Y_AXIS),
    "035_power_drill": NO_SYMMETRY,
}

# Keypoint Transformer's own evaluation, by YCB id; every other id has no symmetry.
KT_H2O3D_SYMMETRIES: dict[int, np.ndarray] = {
    **{obj_id: continuous_symmetry(Z_AXIS) for obj_id in (24, 25, 19)},
    **{obj_id: half_turns(Z_AXIS) for obj_id in (6, 21, 10, 4, 3)},
}
KT_HO3D_SYMMETRIES: dict[int, np.ndarray] = {obj_id: half_turns(Z_AXIS) for obj_id in (6, 21, 10)}

SYMMETRY_PROTOCOLS = ("hands22", "kt-h2o3d", "kt-ho3d")


def object_symmetries(object_name: str, protocol: str = "hands22") -> np.ndarray:
    """The symmetry rotations ``(K, 3, 3)`` (object frame, identity included) of a YCB object
    (``'025_mug'``) under one protocol: 'hands22', 'kt-h2o3d' or 'kt-ho3d'.

    Raises KeyError for an object the HANDS'22 protocol does not define.
    """
    if protocol == "hands22":
        if object_name not in HANDS22_SYMMETRIES:
            raise KeyError(f"object {object_name!r} is not one of the HANDS'22 objects")
        return HANDS22_SYMMETRIES[object_name]
    table = {"kt-h2o3d": KT_H2O3D_SYMMETRIES, "kt-ho3d": KT_HO3D_SYMMETRIES}[protocol]
    return table.get(int(object_name[:3]), NO_SYMMETRY)


def mssd(
    R_pred: np.ndarray,
    t_pred: np.ndarray,
    R_gt: np.ndarray,
    t_gt: np.ndarray,
    vertices: np.ndarray,
    symmetry: np.ndarray | None = None,
) -> float:
    """Maximum symmetry-aware surface distance of one object pose, in the input unit (metres).

    ``min over S of max over v of |(R_gt S) v + t_gt - (R_pred v + t_pred)|`` with ``S`` in
    ``symmetry`` ``(K, 3, 3)`` (object-frame rotations, identity included; default none).
    H22 builds each symmetric GT as ``Rodrigues(angle * R_gt[:, axis]) @ R_gt``, which equals
    ``R_gt @ Rodrigues(angle * axis)``: the same set. ``vertices`` ``(V, 3)``: the model's
    vertices (or its box corners) in the object frame.
    """
    symmetry = NO_SYMMETRY if symmetry is None else np.asarray(symmetry, float)
    vertices = np.asarray(vertices, float)
    pred = vertices @ np.asarray(R_pred, float).T + np.asarray(t_pred, float)
    gt_rotations = np.asarray(R_gt, float) @ symmetry  # (K, 3, 3)
    gt = vertices @ np.swapaxes(gt_rotations, -1, -2) + np.asarray(t_gt, float)  # (K, V, 3)
    return float(np.linalg.norm(gt - pred, axis=-1).max(axis=-1).min())


def mssd_report(errors: np.ndarray, object_names: Sequence[str]) -> dict[str, object]:
    """H22's summary of per-sample MSSD (metres): the pooled mean over all samples
    (``mssd_cm``) and the mean per object (``mssd_per_object_cm``), in cm."""
    errors = np.asarray(errors, float)
    names = np.asarray(object_names)
    per_object = {str(n): float(errors[names == n].mean() * M_TO_CM) for n in dict.fromkeys(names)}
    return {"mssd_cm": _mean(errors) * M_TO_CM, "mssd_per_object_cm": per_object}


# --- helpers


def _mask(valid: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """A boolean mask of ``shape``, all True when ``valid`` is None."""
    if valid is None:
        return np.ones(shape, dtype=bool)
    return np.broadcast_to(np.asarray(valid).astype(bool), shape)


def _mean(values: np.ndarray) -> float:
    """The mean, NaN (without a warning) when there are no values; NaN values propagate."""
    values = np.asarray(values, float)
    return float(values.mean()) if values.size else float("nan")


def _hand_type_masks(hand_type: Sequence[str], num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (single-hand, interacting) masks of InterHand2.6M ``hand_type`` strings."""
    types = np.asarray(hand_type, dtype=str)
    if types.shape != (num_frames,):
        raise ValueError(f"hand_type must hold {num_frames} strings, got shape {types.shape}")
    unknown = set(types.tolist()) - {*SINGLE_HAND_TYPES, INTERACTING}
    if unknown:
        raise ValueError(
            f"unknown hand_type {sorted(unknown)}; use 'right', 'left', 'interacting'"
        )
    return np.isin(types, SINGLE_HAND_TYPES), types == INTERACTING
