"""Frame sources for ``occrobnet bag-convert``: where images and their ground truth come from.

A source is anything with ``name``, ``len()`` and an iterator of :class:`SourceFrame`:
an RGB image, its intrinsics, the ground truth as a :class:`Prediction` (metres, camera
optical frame, detected = present) and the stamp a camera would have given the frame. The
dataset readers (HO-3D, H2O-3D, InterHand2.6M; issue #5) plug in by providing such a source
and registering their command-line arguments in ``convert.SOURCES``; the synthetic generator is
the first one.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from occrobnet_ros.data.synthetic import Sample, SyntheticConfig, generate_sample
from occrobnet_ros.geometry import palm_orientation
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction
from occrobnet_ros.skeleton import LEFT, NUM_HANDS, NUM_JOINTS, hand_slice

NS_PER_S = 1_000_000_000
DEFAULT_START_NS = 1_700_000_000 * NS_PER_S  # a plausible wall-clock epoch, not zero


class SourceFrame(NamedTuple):
    """One frame to write: image, intrinsics, ground truth and camera stamp."""

    rgb: np.ndarray  # uint8 [H, W, 3]
    K: np.ndarray  # [3, 3]
    ground_truth: Prediction
    stamp_ns: int


class FrameSource(Protocol):
    """What the converter reads: a named, sized sequence of frames in time order."""

    name: str

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[SourceFrame]: ...


def camera_stamp(index: int, start_ns: int, rate_hz: float) -> int:
    """The stamp of frame ``index`` of a camera running at ``rate_hz`` from ``start_ns``."""
    return int(start_ns + round(index * NS_PER_S / rate_hz))


@dataclass
class SyntheticSource:
    """The procedural generator (data/synthetic.py): seeds ``seeds``, one frame each."""

    seeds: Sequence[int]
    config: SyntheticConfig = SyntheticConfig()
    start_ns: int = DEFAULT_START_NS
    rate_hz: float = 30.0
    name: str = "synthetic"

    def __len__(self) -> int:
        return len(self.seeds)

    def __iter__(self) -> Iterator[SourceFrame]:
        for index, seed in enumerate(self.seeds):
            sample = generate_sample(int(seed), self.config)
            yield SourceFrame(
                sample.image,
                sample.K,
                sample_ground_truth(sample),
                camera_stamp(index, self.start_ns, self.rate_hz),
            )


def sample_ground_truth(sample: Sample) -> Prediction:
    """A synthetic sample's exact ground truth as a Prediction (confidences 1)."""
    truth = Prediction()
    for hand in range(NUM_HANDS):
        if not sample.hand_valid[hand]:
            continue
        joints = sample.joints_3d[hand_slice(hand)].astype(np.float64)
        estimate = HandEstimate(
            detected=True,
            confidence=1.0,
            joints=joints,
            keypoints_2d=sample.joints_2d[hand_slice(hand)].astype(np.float64),
            joint_confidence=np.ones(NUM_JOINTS),
            wrist_rotation=palm_orientation(joints, left=hand == LEFT),
        )
        setattr(truth, "left_hand" if hand == LEFT else "right_hand", estimate)
    if sample.object_valid:
        rest = sample.object_corners_rest
        low, high = rest.min(axis=0), rest.max(axis=0)
        rotation = sample.object_rotation.astype(np.float64)
        truth.object = ObjectEstimate(
            detected=True,
            confidence=1.0,
            rotation=rotation,
            # The message's position is the box centre (ObjectPose.msg), wherever the
            # object's own origin is.
            translation=sample.object_translation + rotation @ ((low + high) / 2.0),
            box_size=high - low,
        )
    return truth
