"""The bag report's metrics on hand-made predictions with known errors, and sequence naming."""

import argparse

import numpy as np
import pytest

from occrobnet_ros.bag.bag_eval import Result, _name_sequences
from occrobnet_ros.bag.report import jsonable, markdown, pose_metrics
from occrobnet_ros.geometry import rotvec_to_matrix
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction


def _hand(joints: np.ndarray, annotated: np.ndarray | None = None) -> HandEstimate:
    confidence = np.ones(21) if annotated is None else annotated.astype(float)
    return HandEstimate(detected=True, confidence=1.0, joints=joints, joint_confidence=confidence)


def _scene():
    """Ground truth of 3 frames and predictions whose errors are known in advance."""
    rng = np.random.default_rng(3)
    right = rng.uniform(-0.08, 0.08, (21, 3)) + [0.1, 0.0, 0.5]
    left = rng.uniform(-0.08, 0.08, (21, 3)) + [-0.1, 0.0, 0.5]
    R = rotvec_to_matrix(np.array([0.2, -0.4, 0.3]))
    box = ObjectEstimate(True, 1.0, R, np.array([0.0, 0.05, 0.45]), np.array([0.06, 0.08, 0.2]))
    truths = [
        Prediction(right_hand=_hand(right), left_hand=_hand(left), object=box),
        Prediction(right_hand=_hand(right), left_hand=_hand(left)),
        Prediction(right_hand=_hand(right)),
    ]
    finger_error = np.zeros((21, 3))
    finger_error[1:, 0] = 0.010  # 10 mm on every joint but the wrist
    moved_box = ObjectEstimate(True, 1.0, R, box.translation + [0.02, 0.0, 0.0], box.box_size)
    predictions = [
        # right: 10 mm root-relative error; left: whole hand 30 mm further away (MRRPE only)
        Prediction(
            right_hand=_hand(right + finger_error),
            left_hand=_hand(left + [0.0, 0.0, 0.03]),
            object=moved_box,
        ),
        Prediction(right_hand=_hand(right + finger_error)),  # left hand missed
        Prediction(right_hand=_hand(right + finger_error), left_hand=_hand(left)),  # false left
    ]
    return predictions, truths


def test_known_errors_give_known_metrics():
    predictions, truths = _scene()
    got = pose_metrics(predictions, truths)
    assert got["frames"] == 3
    assert got["mpjpe_right_mm"] == pytest.approx(10.0 * 20 / 21)
    assert got["mpjpe_left_mm"] == pytest.approx(0.0, abs=1e-9)  # scored in frame 0 only
    assert got["mrrpe_mm"] == pytest.approx(30.0)  # the only frame with both hands both sides
    assert got["right_hands_in_ground_truth"] == 3 and got["right_hands_found"] == 3
    assert got["left_hands_in_ground_truth"] == 2 and got["left_hands_found"] == 1
    assert got["left_hands_false"] == 1
    assert got["auc_left"] == pytest.approx(1.0, abs=0.01)  # rounding: not all 0 at t = 0
    # PCK reaches 1 at 10 mm for 20 of 21 joints: the area is about 40/50 of theirs.
    assert got["auc_right"] == pytest.approx((20 * 0.8 + 1) / 21, abs=0.01)
    assert got["object_translation_error_cm"] == pytest.approx(2.0)
    assert got["object_mssd_cm"] == pytest.approx(2.0)  # a pure shift moves every corner 2 cm
    assert got["objects_in_ground_truth"] == 1 and got["objects_found"] == 1


def test_joints_the_ground_truth_does_not_annotate_are_not_scored():
    joints = np.random.default_rng(0).uniform(-0.05, 0.05, (21, 3)) + [0.0, 0.0, 0.5]
    annotated = np.ones(21, dtype=bool)
    annotated[4] = False  # e.g. a dataset without the thumb tip in this frame
    wrong_tip = joints.copy()
    wrong_tip[4, 0] += 0.05
    got = pose_metrics([Prediction(right_hand=_hand(wrong_tip))],
                       [Prediction(right_hand=_hand(joints, annotated))])  # fmt: skip
    assert got["mpjpe_right_mm"] == pytest.approx(0.0, abs=1e-9)
    got = pose_metrics([Prediction(right_hand=_hand(wrong_tip))],
                       [Prediction(right_hand=_hand(joints))])  # fmt: skip
    assert got["mpjpe_right_mm"] == pytest.approx(50.0 / 21)


def test_nothing_to_score_is_null_in_json_and_dash_in_markdown():
    truths = [Prediction(right_hand=_hand(np.ones((21, 3))))]
    got = jsonable(pose_metrics([Prediction()], truths))
    assert got["mpjpe_right_mm"] is None and got["object_mssd_cm"] is None
    assert got["right_hands_found"] == 0
    report = {
        "mode": "offline",
        "bags": ["b"],
        "topics": {"image": "/image"},
        "model": {"name": "m", "version": "v", "device": "cpu"},
        "frames": 1,
        "frames_with_ground_truth": 1,
        "rejected": {},
        "metrics": got,
        "sequences": {"b": got},
    }
    table_row = next(line for line in markdown(report).splitlines() if line.startswith("| all"))
    assert table_row.split("|")[3].strip() == "-"


def test_sequences_split_at_stamp_gaps_and_jumps_back():
    stamps_s = [0.0, 0.033, 0.066, 5.0, 5.033, 1.0]
    results = [Result("bag", int(s * 1e9), None, None) for s in stamps_s]
    _name_sequences(results, argparse.Namespace(sequence_by="gap", sequence_gap=1.0))
    assert [r.sequence for r in results] == ["bag#0"] * 3 + ["bag#1"] * 2 + ["bag#2"]
    untouched = [Result("bag", 0, None, None), Result("bag", 10**10, None, None)]
    _name_sequences(untouched, argparse.Namespace(sequence_by="bag", sequence_gap=1.0))
    assert [r.sequence for r in untouched] == ["bag", "bag"]
