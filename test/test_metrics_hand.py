"""Hand metrics: HO-3D alignments and AUC, InterHand2.6M MPJPE / MRRPE, H2O-3D, generic."""

import numpy as np
import pytest
from scipy.integrate import trapezoid
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from occrobnet_ros import metrics
from occrobnet_ros.skeleton import HO3D_FROM_OURS, HO3D_MIDDLE_MCP, HO3D_ROOT, MIDDLE_MCP

RNG_SEED = 7


def hands(num_frames: int, num_joints: int = 21, seed: int = RNG_SEED) -> np.ndarray:
    """Random hand-sized joint sets (metres) around 0.5 m in front of the camera."""
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.04, size=(num_frames, num_joints, 3)) + [0.0, 0.0, 0.5]


def similarity(joints: np.ndarray, seed: int = 1) -> np.ndarray:
    """``joints`` rotated, scaled and translated (a different transform per frame)."""
    rotations = Rotation.random(len(joints), random_state=seed).as_matrix()
    scales = np.linspace(0.5, 2.0, len(joints))[:, None, None]
    shifts = np.random.default_rng(seed).normal(size=(len(joints), 1, 3))
    return scales * joints @ np.swapaxes(rotations, 1, 2) + shifts


# --- generic errors, PCK, AUC


def test_known_offset_gives_known_error():
    gt = hands(3)
    pred = gt + [0.003, 0.0, -0.004]  # 5 mm everywhere
    np.testing.assert_allclose(metrics.joint_errors(pred, gt), 0.005)
    np.testing.assert_allclose(metrics.mean_of_joint_means(metrics.joint_errors(pred, gt)), 0.005)


def test_mean_of_joint_means_differs_from_instance_mean():
    errors = np.array([[1.0, 10.0], [3.0, np.nan]])
    valid = np.array([[True, True], [True, False]])
    # joint 0: mean 2, joint 1: mean 10 -> 6; the mean over instances would be 14 / 3
    assert metrics.mean_of_joint_means(errors, valid) == pytest.approx(6.0)
    np.testing.assert_allclose(metrics.per_joint_mean(errors, valid), [2.0, 10.0])
    assert np.isnan(metrics.per_joint_mean(errors, np.zeros((2, 2), bool))).all()


def test_auc_of_perfect_prediction_is_one_and_of_far_prediction_zero():
    assert metrics.auc(np.zeros((5, 21)), 0.05, 100) == 1.0
    assert metrics.auc(np.full((5, 21), 0.06), 0.05, 100) == 0.0


def test_auc_of_constant_error_by_hand():
    # thresholds k * 0.05/99 m, k = 0..99. Every error is 2 cm: PCK is 1 from k = 40 on
    # (2 cm = 39.6 steps), so the trapezoid covers 59 full steps and half the step 39 -> 40.
    assert metrics.auc(np.full((4, 21), 0.02), 0.05, 100) == pytest.approx((99 - 40 + 0.5) / 99)


def test_pck_curve_counts_errors_at_or_below_threshold_per_joint():
    errors = np.array([[0.01, 0.03], [0.02, 0.03], [0.04, np.nan]])
    valid = np.array([[1, 1], [1, 1], [1, 0]], bool)
    curve = metrics.pck_curve(errors, [0.0, 0.02, 0.03], valid)
    np.testing.assert_allclose(curve, [[0.0, 2 / 3, 2 / 3], [0.0, 0.0, 1.0]])


# --- HO-3D


def test_similarity_transformed_prediction_has_zero_procrustes_error():
    gt = hands(6)
    pred = similarity(gt)
    aligned = metrics.align_procrustes(pred, gt)
    # The official +1e-8 in the norms leaves a few nanometres.
    np.testing.assert_allclose(aligned, gt, atol=1e-7)
    report = metrics.ho3d_hand_metrics(pred, gt)
    assert report["joint_error_procrustes_cm"] < 1e-5
    assert report["joint_error_cm"] > 1.0


def test_procrustes_matches_the_official_scipy_formulation():
    gt, pred = hands(4), hands(4, seed=3)
    for g, p in zip(gt, pred):
        t1, t2 = g.mean(0), p.mean(0)
        g_c, p_c = g - t1, p - t2
        s1 = np.linalg.norm(g_c) + 1e-8
        g_c, p_c = g_c / s1, p_c / (np.linalg.norm(p_c) + 1e-8)
        rotation, scale = orthogonal_procrustes(g_c, p_c)
        expected = p_c @ rotation.T * scale * s1 + t1
        np.testing.assert_allclose(metrics.align_procrustes(p, g), expected, atol=1e-12)


def test_procrustes_reflection_is_allowed_officially_and_fixed_on_request():
    gt = hands(1)[0]
    mirrored = gt * [-1.0, 1.0, 1.0]
    official = metrics.align_procrustes(mirrored, gt)
    proper = metrics.align_procrustes(mirrored, gt, allow_reflection=False)
    assert metrics.joint_errors(official, gt).max() < 1e-7
    assert metrics.joint_errors(proper, gt).mean() > 0.01
    # without a reflection both agree
    pred = similarity(hands(1, seed=4))[0]
    np.testing.assert_allclose(
        metrics.align_procrustes(pred, gt), metrics.align_procrustes(pred, gt, False)
    )


def test_scaled_and_translated_prediction_has_zero_sc_tr_error():
    gt = hands(5)
    pred = 1.7 * gt + [0.2, -0.1, 0.3]
    np.testing.assert_allclose(metrics.align_scale_translation(pred, gt), gt, atol=1e-12)
    report = metrics.ho3d_hand_metrics(pred, gt)
    assert report["joint_error_sc_tr_cm"] < 1e-9
    assert report["joint_auc_sc_tr"] > 0.99


def test_sc_tr_does_not_rotate_and_uses_wrist_to_middle_mcp():
    gt = hands(1)[0]
    rotated = gt @ Rotation.from_euler("z", 90, degrees=True).as_matrix().T
    assert metrics.joint_errors(metrics.align_scale_translation(rotated, gt), gt).mean() > 0.01
    # In HO-3D order the same alignment uses joints 0 and 4: same result after reordering.
    pred = hands(1, seed=9)[0]
    ours = metrics.align_scale_translation(pred, gt)
    theirs = metrics.align_scale_translation(
        pred[HO3D_FROM_OURS], gt[HO3D_FROM_OURS], HO3D_ROOT, HO3D_MIDDLE_MCP
    )
    np.testing.assert_allclose(ours[HO3D_FROM_OURS], theirs)
    length = np.linalg.norm(ours[MIDDLE_MCP] - ours[0])
    assert length == pytest.approx(np.linalg.norm(gt[MIDDLE_MCP] - gt[0]))


def test_zero_prediction_keeps_official_behaviour():
    # the official align_sc_tr skips the division for a zero-length bone
    gt = hands(2)
    aligned = metrics.align_scale_translation(np.zeros_like(gt), gt)
    np.testing.assert_allclose(aligned, np.broadcast_to(gt[:, :1], gt.shape))


def test_ho3d_known_offset_in_cm_and_auc():
    gt = hands(4)
    pred = gt + [0.0, 0.01, 0.0]  # 1 cm: unaligned error 1 cm, sc-tr removes a translation
    report = metrics.ho3d_hand_metrics(pred, gt)
    assert report["joint_error_cm"] == pytest.approx(1.0)
    assert report["joint_error_sc_tr_cm"] < 1e-9
    thresholds = np.linspace(0, 0.05, 100)
    expected_auc = trapezoid((thresholds >= 0.01 - 1e-12) * 1.0, thresholds) / 0.05
    assert report["joint_auc"] == pytest.approx(expected_auc, abs=1e-9)


# --- InterHand2.6M


def two_hands(num_frames: int, seed: int = RNG_SEED) -> np.ndarray:
    joints = hands(num_frames, 42, seed)
    joints[:, 21:] += [0.15, 0.0, 0.0]  # the left hand beside the right
    return joints


def test_interhand_root_alignment_ignores_per_hand_translation():
    gt = two_hands(4)
    pred = gt.copy()
    pred[:, :21] += [0.05, 0.0, 0.0]  # right hand shifted: no MPJPE, 50 mm MRRPE
    types = ["interacting"] * 4
    report = metrics.interhand_metrics(pred, gt, np.ones((4, 42)), types)
    assert report["mpjpe_all_mm"] == pytest.approx(0.0, abs=1e-9)
    assert report["mrrpe_mm"] == pytest.approx(50.0)


def test_interhand_single_interacting_all_are_means_of_joint_means():
    gt = two_hands(3)
    pred = gt.copy()
    pred[0, 1:21] += [0.0, 0.0, 0.002]  # frame 0 (right only): 2 mm on right non-root joints
    pred[1, 22:] += [0.006, 0.0, 0.0]  # frame 1 (interacting): 6 mm on left non-root joints
    pred[2, 22:] += [0.012, 0.0, 0.0]  # frame 2 (interacting): 12 mm on left non-root joints
    valid = np.ones((3, 42))
    valid[0, 21:] = 0  # frame 0 has no left hand
    report = metrics.mpjpe_interhand(pred, gt, valid, ["right", "interacting", "interacting"])
    # single: right joints 2 mm at 20 indices, 0 at the wrist, left never seen -> 20*2/21
    assert report["mpjpe_single_mm"] == pytest.approx(20 * 2 / 21)
    # interacting: right all 0 (21 indices), left non-roots mean 9 mm (20 indices) -> 180/42
    assert report["mpjpe_interacting_mm"] == pytest.approx(20 * 9 / 42)
    # all: right non-roots mean (2+0+0)/3, left non-roots mean 9 -> (20*2/3 + 20*9) / 42
    assert report["mpjpe_all_mm"] == pytest.approx((20 * 2 / 3 + 20 * 9) / 42)


def test_interhand_invalid_root_drops_the_hand_and_mrrpe_frame():
    gt = two_hands(2)
    pred = gt.copy()
    pred[:, 22:] += [0.0, 0.01, 0.0]  # 10 mm on left non-root joints in both frames
    pred[0, 21] += [0.02, 0.0, 0.0]  # frame 0's left root is also off, ...
    valid = np.ones((2, 42))
    valid[0, 21] = 0  # ... but invalid there: frame 0's whole left hand is dropped
    types = ["interacting", "interacting"]
    valid_after = metrics.interhand_joint_valid(valid)
    assert not valid_after[0, 21:].any() and valid_after[0, :21].all() and valid_after[1].all()
    report = metrics.interhand_metrics(pred, gt, valid, types)
    assert report["mpjpe_interacting_mm"] == pytest.approx(20 * 10 / 42)
    assert report["mrrpe_mm"] == pytest.approx(0.0, abs=1e-9)  # only frame 1 counts
    # with frame 0 valid the shifted root adds its root-relative error and its MRRPE
    report_all = metrics.interhand_metrics(pred, gt, np.ones((2, 42)), types)
    assert report_all["mrrpe_mm"] == pytest.approx(10.0)


def test_interhand_mrrpe_uses_interacting_frames_only():
    gt = two_hands(2)
    pred = gt.copy()
    pred[:, 21:] += [0.0, 0.0, 0.03]
    report = metrics.interhand_metrics(pred, gt, np.ones((2, 42)), ["left", "right"])
    assert np.isnan(report["mrrpe_mm"]) and np.isnan(report["mpjpe_interacting_mm"])
    with pytest.raises(ValueError, match="hand_type"):
        metrics.interhand_metrics(pred, gt, np.ones((2, 42)), ["left", "both"])


# --- H2O-3D and the generic benchmark errors


def test_h2o3d_metrics_in_cm():
    gt = two_hands(3)
    pred = gt.copy()
    pred[:, 1:21] += [0.0, 0.02, 0.0]  # right non-roots 2 cm off
    pred[:, 21:] += [0.05, 0.0, 0.0]  # left hand 5 cm off as a whole
    report = metrics.h2o3d_hand_metrics(pred, gt)
    assert report["mpjpe_right_cm"] == pytest.approx(2.0 * 20 / 21)
    assert report["mpjpe_left_cm"] == pytest.approx(0.0, abs=1e-9)
    assert report["mpjpe_cm"] == pytest.approx(2.0 * 20 / 42)
    assert report["mrrpe_cm"] == pytest.approx(5.0)


def test_hand_pose_errors_split_visible_and_occluded():
    gt = two_hands(2)
    pred = gt.copy()
    pred[:, 1:21] += [0.004, 0.0, 0.0]  # right non-roots: 4 mm
    pred[:, 22:] += [0.0, 0.0, 0.010]  # left non-roots: 10 mm
    visible = np.ones((2, 42), bool)
    visible[:, 22:] = False  # the left fingers are occluded
    report = metrics.hand_pose_errors(pred, gt, visible=visible)
    assert report["mpjpe_right_mm"] == pytest.approx(4 * 20 / 21)
    assert report["mpjpe_left_mm"] == pytest.approx(10 * 20 / 21)
    assert report["mpjpe_occluded_mm"] == pytest.approx(10.0)
    assert report["mpjpe_visible_mm"] == pytest.approx(4 * 20 / 22)
    assert report["mrrpe_mm"] == pytest.approx(0.0, abs=1e-9)
    valid = np.ones((2, 42), bool)
    valid[:, 21] = False  # no left root: the left hand is not scored
    masked = metrics.hand_pose_errors(pred, gt, valid=valid, visible=visible)
    assert np.isnan(masked["mpjpe_left_mm"]) and np.isnan(masked["mpjpe_occluded_mm"])
    assert np.isnan(masked["mrrpe_mm"])


def test_nan_prediction_is_not_silently_dropped():
    gt = two_hands(2)
    pred = gt.copy()
    pred[1, 5, 0] = np.nan
    types = ["interacting", "interacting"]
    assert np.isnan(metrics.mpjpe_interhand(pred, gt, np.ones((2, 42)), types)["mpjpe_all_mm"])
    assert np.isnan(metrics.hand_pose_errors(pred, gt)["mpjpe_mm"])
    assert np.isnan(metrics.ho3d_hand_metrics(pred[:, :21], gt[:, :21])["joint_error_cm"])


def test_occlusion_classification_scores_the_visibility_output_as_a_detector():
    visible = np.array([[True, True, False, False, False, True]])
    valid = np.array([[True, True, True, True, True, False]])  # the last is not scored
    visibility = np.array([[0.9, 0.2, 0.1, 0.4, 0.8, 0.0]])  # called occluded: 1, 2, 3
    result = metrics.occlusion_classification(visibility, visible, valid)
    assert result["occluded_precision"] == pytest.approx(2 / 3)  # 2 and 3 of 1, 2, 3
    assert result["occluded_recall"] == pytest.approx(2 / 3)  # 2 and 3 of 2, 3, 4
    assert result["occluded_joints"] == 3 and result["scored_joints"] == 5
    all_visible = metrics.occlusion_classification(np.ones((1, 6)), visible, valid)
    assert all_visible["occluded_recall"] == 0.0 and np.isnan(all_visible["occluded_precision"])
    unknown = metrics.occlusion_classification(np.full((1, 6), -1.0), visible, valid)
    assert unknown["scored_joints"] == 0 and np.isnan(unknown["occluded_recall"])
