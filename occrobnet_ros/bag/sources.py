"""Frame sources for ``occrobnet bag-convert``: where images and their ground truth come from.

A source is anything with ``name``, ``len()`` and an iterator of :class:`SourceFrame`:
an RGB image, its intrinsics, the ground truth as a :class:`Prediction` (metres, camera
optical frame, detected = present) and the stamp a camera would have given the frame. The
synthetic generator is one source; the dataset readers (HO-3D, H2O-3D, InterHand2.6M,
``data.readers.record.open_dataset``) are the others, through :class:`DatasetSource`.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from occrobnet_ros.data.sample import Sample
from occrobnet_ros.data.synthetic import SyntheticConfig, generate_sample
from occrobnet_ros.geometry import palm_orientation
from occrobnet_ros.prediction import (
    VISIBILITY_UNKNOWN,
    HandEstimate,
    ObjectEstimate,
    Prediction,
)
from occrobnet_ros.skeleton import (
    JOINT_NAMES,
    LEFT,
    MIDDLE_MCP,
    NUM_HANDS,
    NUM_JOINTS,
    WRIST,
    hand_slice,
)

NS_PER_S = 1_000_000_000
DEFAULT_START_NS = 1_700_000_000 * NS_PER_S  # a plausible wall-clock epoch, not zero
SEQUENCE_GAP_S = 10  # between two sequences of a dataset, so they are told apart
INDEX_MCP, PINKY_MCP = (JOINT_NAMES.index(name) for name in ("index_mcp", "pinky_mcp"))
PALM_JOINTS = (WRIST, INDEX_MCP, MIDDLE_MCP, PINKY_MCP)  # what geometry.palm_orientation uses


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
    """The procedural generator (data/synthetic/generator.py): seeds ``seeds``, one frame each."""

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


@dataclass
class DatasetSource:
    """Frames of a dataset reader (``data.readers.record.open_dataset``: ``frames``, ``record(i)``)
    in its order. Each sequence runs at ``rate_hz``; a new sequence starts ``SEQUENCE_GAP_S``
    later, so ``bag-eval --sequence-by gap`` finds the sequences again."""

    reader: Any
    indices: Sequence[int]
    start_ns: int = DEFAULT_START_NS
    rate_hz: float = 30.0
    name: str = "dataset"

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[SourceFrame]:
        sequences, previous = 0, None
        for count, index in enumerate(self.indices):
            sequence = self.reader.frames[index].sequence
            if previous is not None and sequence != previous:
                sequences += 1
            previous = sequence
            record = self.reader.record(index)
            stamp = camera_stamp(count, self.start_ns, self.rate_hz)
            yield SourceFrame(
                record.image,
                record.K,
                sample_ground_truth(record),
                stamp + sequences * SEQUENCE_GAP_S * NS_PER_S,
            )


def dataset_indices(
    reader: Any, sequence: str | None, camera: str | None, stride: int, limit: int | None
) -> list[int]:
    """The reader's frames of one sequence / camera (None: all), every ``stride``-th, at most
    ``limit``; only ``reader.frames`` is read (no image, no annotation)."""
    indices = [
        i
        for i, info in enumerate(reader.frames)
        if (sequence is None or info.sequence == sequence)
        and (camera is None or info.camera == camera)
    ][::stride]
    return indices if limit is None else indices[:limit]


def sample_ground_truth(sample: Sample) -> Prediction:
    """A sample's ground truth as a Prediction: confidences 1, except that a joint a dataset
    does not annotate (``Record.joint_valid``) has confidence 0 and position 0. Joint
    visibility is the generator's (1 seen, 0 occluded); a dataset's is unknown."""
    annotated = getattr(sample, "joint_valid", None)
    visibility = np.full(NUM_HANDS * NUM_JOINTS, VISIBILITY_UNKNOWN)
    if annotated is None:  # the generator annotates every joint of a present hand
        annotated = np.ones(NUM_HANDS * NUM_JOINTS, dtype=bool)
        visibility = np.asarray(sample.joint_visible, dtype=np.float64)
    truth = Prediction()
    for hand in range(NUM_HANDS):
        if not sample.hand_valid[hand]:
            continue
        valid = annotated[hand_slice(hand)]
        joints = np.where(valid[:, None], sample.joints_3d[hand_slice(hand)], 0.0)
        estimate = HandEstimate(
            detected=True,
            confidence=1.0,
            joints=joints,
            keypoints_2d=np.where(valid[:, None], sample.joints_2d[hand_slice(hand)], 0.0),
            joint_confidence=valid.astype(np.float64),
            wrist_rotation=_palm(joints, hand, valid),
            joint_visibility=visibility[hand_slice(hand)],
            handedness=1.0,
        )
        setattr(truth, "left_hand" if hand == LEFT else "right_hand", estimate)
    if sample.object_valid:
        truth.object = _object(sample)
    return truth


def _palm(joints: np.ndarray, hand: int, valid: np.ndarray) -> np.ndarray:
    """The palm frame, or the identity when its joints are not annotated."""
    if not valid[list(PALM_JOINTS)].all():
        return np.eye(3)
    return palm_orientation(joints, left=hand == LEFT)


def _object(sample: Sample) -> ObjectEstimate:
    rest = sample.object_corners_rest
    low, high = rest.min(axis=0), rest.max(axis=0)
    rotation = np.asarray(sample.object_rotation, dtype=np.float64)
    return ObjectEstimate(
        detected=True,
        confidence=1.0,
        rotation=rotation,
        # The message's position is the box centre (ObjectPose.msg), wherever the object's
        # own origin is.
        translation=sample.object_translation + rotation @ ((low + high) / 2.0),
        box_size=high - low,
    )
