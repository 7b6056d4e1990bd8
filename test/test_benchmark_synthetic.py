"""The synthetic benchmark's metrics (evaluation/synthetic_benchmark.py) on known predictions."""

import numpy as np
import pytest

from occrobnet_ros.data.synthetic import benchmark_seeds, training_seeds
from occrobnet_ros.evaluation.synthetic_benchmark import (
    ground_truth,
    mean_pose,
    pose_metrics,
    tile_prediction,
)


@pytest.fixture(scope="module")
def gt():
    return ground_truth(benchmark_seeds()[:12], 64)


def perfect(gt):
    return {key: gt[key].copy() for key in ("joints_3d", "rel_root", "object_rotation")} | {
        "object_translation": gt["object_translation"].copy()
    }


def test_the_ground_truth_scores_zero(gt):
    report = pose_metrics(perfect(gt), gt)
    for key in ("mpjpe_mm", "pa_mpjpe_mm", "mrrpe_mm", "object_translation_cm", "mssd_cm"):
        assert report[key] == pytest.approx(0.0, abs=1e-3), key
    assert report["auc_0_50mm"] == pytest.approx(1.0)


def test_pa_mpjpe_ignores_a_hand_s_global_rotation_and_size_but_not_its_articulation(gt):
    from scipy.spatial.transform import Rotation

    prediction = perfect(gt)
    right = prediction["joints_3d"][:, :21]
    turn = Rotation.from_euler("z", 40, degrees=True).as_matrix()
    prediction["joints_3d"][:, :21] = 1.2 * (right - right[:, :1]) @ turn.T + right[:, :1]
    report = pose_metrics(prediction, gt)
    assert report["mpjpe_right_mm"] > 10.0
    assert report["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)
    prediction["joints_3d"][:, 8] += [0.0, 0.0, 0.02]  # the right index tip bends 2 cm
    assert pose_metrics(prediction, gt)["pa_mpjpe_mm"] > 0.1


def test_errors_are_in_the_reported_units(gt):
    prediction = perfect(gt)
    prediction["joints_3d"][:, 1:21] += [0.01, 0.0, 0.0]  # 10 mm on the right hand's fingers
    prediction["object_translation"] += [0.0, 0.02, 0.0]  # 2 cm
    report = pose_metrics(prediction, gt)
    right_valid = gt["joint_valid"][:, :21]
    assert report["mpjpe_right_mm"] == pytest.approx(
        10.0 * right_valid[:, 1:].sum() / right_valid.sum(),
        abs=1e-3,  # reports round
    )
    assert report["object_translation_cm"] == pytest.approx(2.0, abs=1e-3)
    assert report["mssd_cm"] == pytest.approx(2.0, abs=1e-3)


def test_mean_pose_comes_from_training_frames_and_is_worse_than_the_truth(gt):
    baseline = mean_pose(ground_truth(training_seeds(12), 64))
    assert np.isfinite(baseline["joints_3d"]).all()
    assert np.linalg.det(baseline["object_rotation"]) == pytest.approx(1.0)
    report = pose_metrics(tile_prediction(baseline, len(gt["joints_3d"])), gt)
    assert report["mpjpe_mm"] > 10.0
    assert report["object_translation_cm"] > 1.0
