"""A fixed Prediction and a deterministic fake estimator, for the node's tests.

The fake stands in for occrobnet_ros.inference.estimator.Estimator where a test needs something
the real model cannot be made to do on demand: fail on one frame, take a known time, refuse a
checkpoint by name, or return poses a test can compare exactly.
"""

import os
import time
from pathlib import Path

import numpy as np

from occrobnet_ros.geometry import rotvec_to_matrix
from occrobnet_ros.inference.tracking import TrackIds
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction
from occrobnet_ros.skeleton import NUM_JOINTS

REPO = Path(__file__).resolve().parents[1]
FAIL_PIXEL = (255, 0, 255)  # an image whose top-left pixel is magenta makes the fake raise


def sample_hand(offset: float, rotvec: tuple[float, float, float]) -> HandEstimate:
    """A detected hand: joint j at (offset + j mm, 2j mm, 0.5 m + 3j mm), distinct everywhere."""
    j = np.arange(NUM_JOINTS, dtype=np.float64)
    joints = np.stack([offset + 0.001 * j, 0.002 * j, 0.5 + 0.003 * j], axis=1)
    return HandEstimate(
        detected=True,
        confidence=0.75,
        joints=joints,
        keypoints_2d=np.stack([80.0 + j, 60.0 + 0.5 * j], axis=1),
        joint_confidence=np.linspace(0.5, 1.0, NUM_JOINTS),
        wrist_rotation=rotvec_to_matrix(np.array(rotvec)),
        joint_visibility=(j % 3 != 0).astype(np.float64),  # every third joint occluded
        handedness=0.875,
    )


def sample_prediction(left: bool = True, right: bool = True, obj: bool = True) -> Prediction:
    """Both hands and the object detected (unless switched off), with known values."""
    return Prediction(
        right_hand=sample_hand(0.1, (0.1, 0.2, 0.3)) if right else HandEstimate(),
        left_hand=sample_hand(-0.1, (-0.3, 0.1, 0.2)) if left else HandEstimate(),
        object=ObjectEstimate(
            detected=True,
            confidence=0.5,
            rotation=rotvec_to_matrix(np.array([0.0, 0.5, 0.0])),
            translation=np.array([0.0, 0.05, 0.6]),
            box_size=np.array([0.08, 0.06, 0.2]),
        )
        if obj
        else ObjectEstimate(),
        inference_time=0.0125,
    )


class FakeEstimator:
    """The Estimator interface with fixed answers.

    - a checkpoint other than "" / None / one ending in ".good" raises ValueError, like a
      CheckpointError;
    - ``predict`` sleeps ``FAKE_ESTIMATOR_DELAY`` seconds (environment, default 0), raises
      RuntimeError on an image whose top-left pixel is :data:`FAIL_PIXEL`, and otherwise
      returns :func:`sample_prediction`, with track ids from the real TrackIds.
    """

    model_name = "fake_estimator"
    model_version = "test"

    def __init__(self, checkpoint: str | None = None, device: str = "auto", **options) -> None:
        if checkpoint and not checkpoint.endswith(".good"):
            raise ValueError(f"not a checkpoint: {checkpoint}")
        self.device = "cpu" if device == "auto" else device
        self.hand_threshold = 0.5
        self.object_threshold = 0.5
        self.delay = float(os.environ.get("FAKE_ESTIMATOR_DELAY", "0"))
        self.tracks = TrackIds()

    def predict(
        self, rgb: np.ndarray, K: np.ndarray, stamp_s: float | None = None, distortion=None
    ) -> Prediction:
        if tuple(rgb[0, 0].tolist()) == FAIL_PIXEL:
            raise RuntimeError("fake estimator failure")
        if self.delay:
            time.sleep(self.delay)
        prediction = sample_prediction()
        self.tracks.update(prediction)
        return prediction

    def reset(self) -> None:
        self.tracks.reset()

    def set_smoothing(self, enabled: bool, min_cutoff: float, beta: float) -> None:
        pass

    def close(self) -> None:
        pass


def random_checkpoint(path) -> str:
    """A randomly initialised, reduced occrobnet_tiny checkpoint at ``path``: the real
    estimator runs it end to end (it detects nothing, which the tests rely on)."""

    from occrobnet_ros.model.checkpoint import save_random_model
    from occrobnet_ros.model.config import OccRobNetConfig

    config = OccRobNetConfig.from_yaml(REPO / "config" / "model" / "occrobnet_tiny.yaml")
    config.input_size, config.heatmap_size = 128, 16
    save_random_model(config, path)
    return str(path)
