"""synthetic -> bag -> bag-eval gives the metrics of evaluating the same frames directly."""

import json

import numpy as np
import pytest
from bag_fixtures import small_source, stack_joints, tiny_checkpoint

from occrobnet_ros import cli, metrics
from occrobnet_ros.bag.convert import write_bag
from occrobnet_ros.bag.io import BagReader
from occrobnet_ros.inference.estimator import Estimator
from occrobnet_ros.skeleton import NUM_JOINTS, hand_slice

FRAMES, BATCH = 6, 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The bag, the checkpoint, and the frames evaluated directly (no bag involved)."""
    directory = tmp_path_factory.mktemp("bag_offline")
    source = small_source(FRAMES)
    checkpoint = tiny_checkpoint(directory)
    bag = directory / "synthetic"
    assert write_bag(source, bag, progress=False) == FRAMES
    frames = list(source)
    estimator = Estimator(checkpoint, device="cpu", roi_tracking=False, hand_threshold=0.0)
    estimator.object_threshold = 0.0
    predictions = []
    for i in range(0, FRAMES, BATCH):  # the batches bag-eval makes
        chunk = frames[i : i + BATCH]
        predictions += estimator.predict_batch([f.rgb for f in chunk], [f.K for f in chunk])
    truths = [f.ground_truth for f in frames]
    report_dir = directory / "report"
    code = cli.main(
        [
            "bag-eval",
            str(bag),
            "-o",
            str(report_dir),
            "--checkpoint",
            str(checkpoint),
            "--device",
            "cpu",
            "--batch-size",
            str(BATCH),
            "--hand-threshold",
            "0",
            "--object-threshold",
            "0",
            "--no-progress",
        ]  # fmt: skip
    )
    assert code == 0
    report = json.loads((report_dir / "report.json").read_text())
    return report_dir, report, predictions, truths


def test_hand_metrics_equal_direct_evaluation(setup):
    _, report, predictions, truths = setup
    pred, found = stack_joints(predictions)
    gt, present = stack_joints(truths)
    scored = np.repeat(found & present, NUM_JOINTS, axis=1)
    assert scored.any(), "no hand scored: the comparison would be NaN against NaN"
    expected = metrics.hand_pose_errors(pred, gt, scored)
    errors = metrics.root_relative_errors(pred, gt)
    right = hand_slice(0)
    expected["auc_right"] = metrics.auc(errors[:, right], 0.05, 100, scored[:, right])
    got = report["metrics"]
    assert got["frames"] == FRAMES
    for key, value in expected.items():
        if np.isnan(value):
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert got["right_hands_in_ground_truth"] == int(present[:, 0].sum())
    assert got["right_hands_found"] == int((found & present)[:, 0].sum())
    assert got["left_hands_false"] == int((found & ~present)[:, 1].sum())


def test_object_metrics_equal_direct_evaluation(setup):
    _, report, predictions, truths = setup
    pairs = [
        (p, t) for p, t in zip(predictions, truths) if p.object.detected and t.object.detected
    ]
    got = report["metrics"]
    assert got["objects_in_ground_truth"] == sum(t.object.detected for t in truths)
    assert got["objects_found"] == len(pairs)
    if pairs:
        translation = np.mean([np.linalg.norm(p.object.translation - t.object.translation)
                               for p, t in pairs])  # fmt: skip
        assert got["object_translation_error_cm"] == pytest.approx(translation * 100, rel=1e-9)
        assert got["object_mssd_cm"] >= got["object_translation_error_cm"] - 1e-9
    else:
        assert got["object_translation_error_cm"] is None


def test_report_files_and_predictions_bag(setup):
    report_dir, report, predictions, _ = setup
    assert report["sequences"].keys() == {"synthetic"}
    assert report["sequences"]["synthetic"]["mpjpe_mm"] == report["metrics"]["mpjpe_mm"]
    assert report["throughput"]["frames"] == FRAMES
    assert report["throughput"]["estimator_frames_per_s"] > 0
    assert (report_dir / "report.md").read_text().startswith("# Bag evaluation (offline)")
    for name in report["plots"]:
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with BagReader(report_dir / "predictions" / "synthetic") as bag:
        assert bag.topics == {"/hand_object_pose": "occrobnet_ros/msg/HandObjectPose"}
        outputs = [msg for _, _, msg in bag.messages(["/hand_object_pose"])]
    assert len(outputs) == FRAMES
    for msg, prediction in zip(outputs, predictions):
        assert msg.header.frame_id == "camera_color_optical_frame"
        assert msg.right_hand.detected == prediction.right_hand.detected
        if prediction.right_hand.detected:
            got = np.array([(p.x, p.y, p.z) for p in msg.right_hand.joints])
            np.testing.assert_allclose(got, prediction.right_hand.joints, rtol=1e-12)
