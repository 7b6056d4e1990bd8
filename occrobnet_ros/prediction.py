"""What the estimator returns for one image: plain numpy, metres, camera optical frame.

This is the boundary between the model side (inference/estimator.py) and the ROS side (ros/):
the node turns a Prediction into messages and TF without knowing anything about the network.
Hands are the person's own left and right hands, as seen by the camera (never mirrored).
"""

from dataclasses import dataclass, field

import numpy as np

from occrobnet_ros.skeleton import NUM_JOINTS

# Corner i of a box has the signs of the bits of i (x = bit 2, y = bit 1, z = bit 0):
# 0 (-,-,-), 1 (-,-,+), 2 (-,+,-), ... 7 (+,+,+); the order ObjectPose.msg documents.
BOX_CORNER_SIGNS = (
    np.array([[(i >> 2) & 1, (i >> 1) & 1, i & 1] for i in range(8)], dtype=np.float64) * 2.0 - 1.0
)


VISIBILITY_UNKNOWN = -1.0  # joint_visibility of a model that does not estimate it


def box_corners(size: np.ndarray) -> np.ndarray:
    """The 8 corners [8,3] of a box of the given size [3], centred at the origin."""
    return BOX_CORNER_SIGNS * (np.asarray(size, dtype=np.float64) / 2.0)


@dataclass
class HandEstimate:
    """One hand. When `detected` is false every array is zero and must be ignored."""

    detected: bool = False
    confidence: float = 0.0
    joints: np.ndarray = field(default_factory=lambda: np.zeros((NUM_JOINTS, 3)))  # m, camera
    keypoints_2d: np.ndarray = field(default_factory=lambda: np.zeros((NUM_JOINTS, 2)))  # px
    joint_confidence: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS))
    wrist_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # palm frame -> camera
    # P(joint seen, not occluded) in [0, 1]; VISIBILITY_UNKNOWN from a model without the head.
    joint_visibility: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS))
    handedness: float = 0.0  # P(this is the hand its slot says), from token identities
    track_id: int = 0  # the same physical hand across frames; 0 = not detected


@dataclass
class ObjectEstimate:
    """The manipulated object. When `detected` is false it must be ignored."""

    detected: bool = False
    confidence: float = 0.0
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # object -> camera
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))  # box centre, m
    box_size: np.ndarray = field(default_factory=lambda: np.zeros(3))  # m, object axes
    track_id: int = 0  # the same object across frames; 0 = not detected

    @property
    def corners(self) -> np.ndarray:
        """The 8 box corners [8,3] in the camera frame, in BOX_CORNER_SIGNS order."""
        return box_corners(self.box_size) @ self.rotation.T + self.translation


@dataclass
class Prediction:
    """Both hands and the object for one image, plus how long the estimator took."""

    right_hand: HandEstimate = field(default_factory=HandEstimate)
    left_hand: HandEstimate = field(default_factory=HandEstimate)
    object: ObjectEstimate = field(default_factory=ObjectEstimate)
    inference_time: float = 0.0  # s: preprocessing + network + decoding
    timings: dict[str, float] = field(default_factory=dict)  # s per stage, for benchmarks

    @property
    def hands(self) -> tuple[HandEstimate, HandEstimate]:
        """(right, left): the order of two-hand tensors (skeleton.RIGHT, skeleton.LEFT)."""
        return self.right_hand, self.left_hand
