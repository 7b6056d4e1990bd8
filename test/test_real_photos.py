"""The real-photo check's scoring (tools/real_photos.py): PCK, the scale-aligned 3D error and
how a reference hand is matched to ours."""

from dataclasses import dataclass

import numpy as np
import pytest

from occrobnet_ros.prediction import HandEstimate, Prediction
from occrobnet_ros.tools.real_photos import (
    default_photos,
    hand_size,
    pck,
    photos_in,
    scale_aligned_error_mm,
    score_hand,
)


@dataclass
class Reference:
    keypoints_2d: np.ndarray
    world_joints: np.ndarray
    side: str = "left"


def _hand(rng, centre=(200.0, 150.0), size=100.0):
    keypoints = np.asarray(centre) + rng.uniform(-size / 2, size / 2, (21, 2))
    keypoints[0] = np.asarray(centre) - size / 2  # one corner and the opposite one fix the size
    keypoints[1] = np.asarray(centre) + size / 2
    joints = rng.normal(0.0, 0.04, (21, 3)) + [0.0, 0.0, 0.5]
    return keypoints, joints


def test_pck_counts_keypoints_within_a_share_of_the_hand_size():
    rng = np.random.default_rng(0)
    reference, _ = _hand(rng)
    assert hand_size(reference) == pytest.approx(100.0)
    moved = reference.copy()
    moved[:7] += [15.0, 0.0]  # 7 keypoints 15 px off: inside 0.2 x 100, outside 0.1 x 100
    assert pck(moved, reference, 0.2) == 1.0
    assert pck(moved, reference, 0.1) == pytest.approx(14 / 21)


def test_the_3d_error_ignores_scale_and_position_but_not_shape():
    rng = np.random.default_rng(1)
    _, joints = _hand(rng)
    assert scale_aligned_error_mm(joints * 1.7 + [0.1, -0.2, 0.3], joints) == pytest.approx(
        0.0, abs=1e-9
    )
    bent = joints.copy()
    bent[8] += [0.02, 0.0, 0.0]  # the index tip 20 mm off
    assert 0.3 < scale_aligned_error_mm(bent, joints) < 2.0  # ~20 mm / 21 joints, rescaled


def test_a_reference_hand_is_scored_against_the_closest_detected_hand():
    rng = np.random.default_rng(2)
    keypoints, joints = _hand(rng)
    reference = Reference(keypoints, joints)
    far = HandEstimate(
        detected=True, confidence=0.9, keypoints_2d=keypoints + 300.0, joints=joints
    )
    near = HandEstimate(detected=True, confidence=0.6, keypoints_2d=keypoints + 3.0, joints=joints)
    score = score_hand("a.jpg", Prediction(right_hand=far, left_hand=near), reference)
    assert score.found and score.confidence == 0.6
    assert score.side_agrees  # the nearer hand is in the left slot, as the reference's side
    assert score.pck == {"0.1": 1.0, "0.2": 1.0}
    assert score.error_3d_mm == pytest.approx(0.0, abs=1e-6)
    missed = score_hand("a.jpg", Prediction(right_hand=far), reference)
    assert not missed.found and missed.pck == {"0.1": 0.0, "0.2": 0.0}
    assert missed.error_3d_mm is None
    assert missed.side_agrees is None
    nothing = score_hand("a.jpg", Prediction(), reference)
    assert not nothing.found and nothing.confidence == 0.0
    swapped = score_hand("a.jpg", Prediction(right_hand=near), reference)
    assert swapped.found and swapped.side_agrees is False


def test_the_shipped_photo_set_has_hands_and_enough_hand_free_photos():
    photos = default_photos()
    assert len(photos_in(photos / "hands")) == 4
    assert len(photos_in(photos / "no_hands")) >= 10


def test_the_command_on_a_small_subset(tmp_path, capsys):
    """`occrobnet real-photos` end to end on one hand photo and three hand-free ones, with the
    embedded checkpoint and the default palm detector: the reference finds the hand, we find
    it too and report no hand where there is none; the JSON holds what the model card quotes."""
    import json
    import shutil

    from occrobnet_ros import cli

    photos = default_photos()
    subset = tmp_path / "photos"
    (subset / "hands").mkdir(parents=True)
    (subset / "no_hands").mkdir()
    shutil.copy(photos / "hands" / "handSrc.jpg", subset / "hands")
    for photo in photos_in(photos / "no_hands")[:3]:
        shutil.copy(photo, subset / "no_hands")
    report = tmp_path / "report.json"
    assert cli.main(["real-photos", "--photos", str(subset), "--json", str(report)]) == 0
    summary = json.loads(report.read_text())["summary"]
    assert summary["reference_hands"] == 1 and summary["hands_found"] == 1
    assert summary["hand_free_photos"] == 3
    assert summary["hands_reported_on_hand_free"] == 0
    assert summary["reference_hands_on_hand_free"] == 0
    assert 0.0 <= summary["pck@0.2_mean"] <= 1.0 and summary["error_3d_mm_median"] > 0
    # handSrc shows a left hand (palm to the camera, fingers right, thumb up): MediaPipe and
    # the embedded checkpoint agree on its side.
    assert summary["sides_agreeing"] == 1
    assert "handSrc.jpg: found" in capsys.readouterr().out
