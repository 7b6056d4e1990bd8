"""The palm detector in the estimator: where the network looks with nothing tracked, and no
hand without a palm (inference/estimator.py's module docstring)."""

import math
import time
from pathlib import Path

import numpy as np
import pytest

from occrobnet_ros import crop_policy
from occrobnet_ros.inference import estimator as estimator_module
from occrobnet_ros.inference.estimator import HAND_RECHECK_FRAMES, Estimator, EstimatorError
from occrobnet_ros.inference.hand_detection import HandDetection, lies_on_a_hand
from occrobnet_ros.model.checkpoint import save_random_model
from occrobnet_ros.model.config import OccRobNetConfig
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction
from occrobnet_ros.skeleton import NUM_JOINTS
from occrobnet_ros.tools.predict import read_rgb

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
PHOTOS = Path(__file__).parent / "data" / "real_photos"
RIGHT_AT, LEFT_AT = np.array([200.0, 240.0]), np.array([450.0, 240.0])


def _palm(centre, side=120.0, rotation=0.0) -> HandDetection:
    centre = np.asarray(centre, np.float64)
    box = np.concatenate([centre - side / 5, centre + side / 5])
    return HandDetection(0.9, box, np.tile(centre, (7, 1)), centre, side, rotation)


class StubPalms:
    """Stands in for MediaPipe's palm detector: returns ``palms`` and counts its calls;
    ``seconds``: how long each call takes."""

    def __init__(self, palms, seconds=0.0):
        self.palms, self.calls, self.seconds = palms, 0, seconds

    def detect(self, rgb):
        self.calls += 1
        time.sleep(self.seconds)
        return list(self.palms)


def _hand_at(centre) -> HandEstimate:
    keypoints = np.asarray(centre) + np.random.default_rng(0).uniform(-30, 30, (NUM_JOINTS, 2))
    return HandEstimate(detected=True, confidence=0.9, keypoints_2d=keypoints)


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    config = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml")
    config.input_size, config.heatmap_size = 128, 16
    return save_random_model(config, tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


@pytest.fixture
def estimator(random_checkpoint, monkeypatch):
    """The network reports both hands (at RIGHT_AT and LEFT_AT) and the object on every
    frame, whatever it sees: what the gate keeps is the palm detector's doing."""

    def both_hands_and_an_object(*args):
        return Prediction(
            right_hand=_hand_at(RIGHT_AT),
            left_hand=_hand_at(LEFT_AT),
            object=ObjectEstimate(
                detected=True, confidence=0.9, translation=np.array([0.0, 0.0, 0.5])
            ),
        )

    monkeypatch.setattr(estimator_module, "decode_prediction", both_hands_and_an_object)
    return Estimator(random_checkpoint, device="cpu", hand_detector="palm_lite")


FRAME = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def test_a_point_is_on_a_hand_inside_its_rotated_square():
    turned = _palm((100.0, 100.0), side=40.0, rotation=math.pi / 4)
    assert lies_on_a_hand(np.array([[126.0, 100.0]]), [turned])  # towards a corner (28.3 px)
    assert not lies_on_a_hand(np.array([[115.0, 115.0]]), [turned])  # beyond a side (21.2 px)
    assert lies_on_a_hand(np.array([[115.0, 115.0]]), [_palm((100.0, 100.0), side=40.0)])
    assert not lies_on_a_hand(np.array([[115.0, 115.0]]), [])


def test_without_a_palm_no_hand_is_reported_but_the_object_is(estimator):
    estimator._palms = StubPalms([])
    prediction = estimator.predict_batch([FRAME], [K])[0]
    assert not any(hand.detected for hand in prediction.hands)
    assert not prediction.right_hand.keypoints_2d.any()  # an undetected hand is all zero
    assert prediction.object.detected
    assert estimator.predict(FRAME, K).object.detected


def test_only_the_hands_on_a_palm_are_kept_and_the_crop_is_around_the_palms(estimator):
    palm = _palm(RIGHT_AT)
    estimator._palms = StubPalms([palm])
    look = estimator._first_look(FRAME)
    expected = crop_policy.detection_transform(
        [(palm.roi_center, palm.roi_size, palm.roi_rotation)], estimator.input_size
    )
    np.testing.assert_allclose(look.transform, expected)
    prediction = estimator.predict_batch([FRAME], [K])[0]
    assert prediction.right_hand.detected and not prediction.left_hand.detected
    # The detector's time is the frame's (preprocess stage and inference time).
    estimator._palms = StubPalms([palm], seconds=0.05)
    prediction = estimator.predict_batch([FRAME], [K])[0]
    assert prediction.timings["preprocess"] >= 0.05 and prediction.inference_time >= 0.05


def test_one_detected_hand_confirms_one_hand(estimator, monkeypatch):
    """Both of the network's hand slots on the one real hand: the more confident stays."""

    def both_slots_on_one_hand(*args):
        left = _hand_at(RIGHT_AT)
        left.confidence = 0.95
        return Prediction(right_hand=_hand_at(RIGHT_AT), left_hand=left)

    monkeypatch.setattr(estimator_module, "decode_prediction", both_slots_on_one_hand)
    estimator._palms = StubPalms([_palm(RIGHT_AT)])
    prediction = estimator.predict_batch([FRAME], [K])[0]
    assert prediction.left_hand.detected and not prediction.right_hand.detected
    estimator._palms = StubPalms([_palm(RIGHT_AT), _palm(RIGHT_AT + 5.0)])  # two real hands
    prediction = estimator.predict_batch([FRAME], [K])[0]
    assert prediction.left_hand.detected and prediction.right_hand.detected


def test_a_second_slot_on_a_tracked_hand_is_dropped_without_the_detector(estimator, monkeypatch):
    """Tracking one real hand while the network's other slot keeps landing on it: one hand,
    and the detector does not run every frame for the duplicate (the node's CPU budget)."""

    def both_slots_on_one_hand(*args):
        return Prediction(right_hand=_hand_at(RIGHT_AT), left_hand=_hand_at(RIGHT_AT + 3.0))

    monkeypatch.setattr(estimator_module, "decode_prediction", both_slots_on_one_hand)
    palms = StubPalms([_palm(RIGHT_AT)])
    estimator._palms = palms
    frames = [estimator.predict(FRAME, K) for _ in range(5)]
    assert all(sum(hand.detected for hand in frame.hands) == 1 for frame in frames)
    assert palms.calls == 1  # the first look only


def test_a_tracked_hand_needs_no_palm_but_a_new_one_does(estimator):
    palms = StubPalms([_palm(RIGHT_AT)])
    estimator._palms = palms
    first = estimator.predict(FRAME, K)
    assert first.right_hand.detected and not first.left_hand.detected
    assert palms.calls == 1
    palms.palms = []  # the palm is lost from view (occluded by the object, say)
    second = estimator.predict(FRAME, K)
    # The right hand is tracked and kept; the left one is new, so the detector is asked
    # (once) and, with no palm there, it is dropped.
    assert second.right_hand.detected and not second.left_hand.detected
    assert palms.calls == 2


def test_tracked_hands_are_checked_again_after_some_frames(estimator, monkeypatch):
    """A hand the network keeps seeing in the ROI after the real one left (a scene cut)."""

    def the_right_hand(*args):
        return Prediction(right_hand=_hand_at(RIGHT_AT))

    monkeypatch.setattr(estimator_module, "decode_prediction", the_right_hand)
    palms = StubPalms([_palm(RIGHT_AT)])
    estimator._palms = palms
    assert estimator.predict(FRAME, K).right_hand.detected
    palms.palms = []
    calls = palms.calls
    kept = [estimator.predict(FRAME, K).right_hand.detected for _ in range(HAND_RECHECK_FRAMES)]
    assert kept == [True] * (HAND_RECHECK_FRAMES - 1) + [False]
    assert palms.calls == calls + 1  # the tracked hand alone: one check, not one per frame


def test_a_dataset_box_is_trusted(estimator):
    estimator._palms = StubPalms([])
    box = np.array([100.0, 100.0, 300.0, 300.0])
    prediction = estimator.predict_batch([FRAME], [K], boxes=[box])[0]
    assert prediction.right_hand.detected and prediction.left_hand.detected
    assert estimator._palms.calls == 0


def test_an_unknown_detector_is_refused(random_checkpoint):
    with pytest.raises(EstimatorError, match="hand_detector"):
        Estimator(random_checkpoint, device="cpu", hand_detector="yolo")


def test_the_embedded_model_reports_no_hand_on_real_hand_free_photos():
    """The real path: the embedded checkpoint and the real palm detector on real photos
    (OpenCV's samples) where the network alone reports hands (issue 18: 25 on 18 photos)."""
    estimator = Estimator(device="cpu", roi_tracking=False, hand_detector="palm_full")
    photos = sorted((PHOTOS / "no_hands").glob("*.jpg"))[:6]
    assert len(photos) == 6
    for photo in photos:
        rgb = read_rgb(photo)
        prediction = estimator.predict(rgb, K)
        assert not any(hand.detected for hand in prediction.hands), photo.name
