"""Training augmentation: crop jitter, in-plane roll, colour scale, and a valid horizontal flip.

Keypoint Transformer's ``get_aug_config`` gives the defaults (model_reference.md 1.6): a shift
of up to 15 % of the box, a scale of ``1 + clip(N(0, 1), -1, 1) * 0.25``, a roll of
``clip(N(0, 1), -2, 2) * 45`` degrees with probability 0.6 and a per-channel colour scale in
[0.8, 1.2]. The crop itself follows crop_policy.py (full frame for a fraction of samples, else
the box around the ground-truth joints and object corners), so training sees the crops the
estimator makes. With ``upright_fraction`` > 0, that fraction of the samples is instead the
crop the palm detector's first look makes (crop_policy ``DETECTED``, upright): one hand's square
turned fingers-up, with the same shift and scale jitter and a small roll for the detector's
own angle error.

A horizontal flip turns a right hand into a left one: ``flip_sample`` mirrors the image, the
camera and the 3D scene together and swaps the two hands, so the flipped sample is a correct
sample of the same kind. That holds for the generator's box, cylinder and sphere objects and
for hands without objects (InterHand2.6M), not for YCB objects: a mirrored YCB object is no
longer that object (mirrored shape and print), so HO-3D and H2O-3D are never flipped here
(``dataset.FLIPPABLE``). That is our choice, not Keypoint Transformer's in every mode: KT
does not flip HO-3D, but it does flip H2O-3D in its ``vectors`` mode, mirrored objects and
all (``get_aug_config``: a flip with p = 0.5 except in ``angles`` mode or for HO-3D;
model_reference.md 1.6).

Every draw comes from the ``numpy.random.Generator`` passed in, so a sample's augmentation is
fixed by its seed and the same in any worker process.
"""

from dataclasses import dataclass, replace

import cv2
import numpy as np

from occrobnet_ros import crop_policy, geometry
from occrobnet_ros.data.readers.record import Record
from occrobnet_ros.data.sample import Sample
from occrobnet_ros.data.targets import Crop, annotated_joints
from occrobnet_ros.skeleton import MIDDLE_MCP, NUM_JOINTS, WRIST, hand_slice

MIRROR = np.diag([-1.0, 1.0, 1.0])  # x -> -x: the camera-frame mirror of a horizontal flip
# Hand-mask labels under a flip: right (1) and left (2) trade places, anything else is 0.
SWAP_HAND_LABELS = np.zeros(256, np.uint8)
SWAP_HAND_LABELS[1], SWAP_HAND_LABELS[2] = 2, 1
# The palm detector's upright squares are off by a few degrees (its wrist and MCP keypoints):
# the upright crops' roll jitter, degrees (standard deviation, clipped at 2).
UPRIGHT_ROLL_JITTER_DEGREES = 10.0


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths (KT's defaults); ``none()`` turns everything off."""

    full_frame_fraction: float = crop_policy.FULL_FRAME_TRAINING_FRACTION
    shift: float = 0.15  # fraction of the box side
    scale: float = 0.25
    roll_degrees: float = 45.0
    roll_probability: float = 0.6
    colour: float = 0.2  # per-channel scale in [1 - colour, 1 + colour]
    flip_probability: float = 0.5
    upright_fraction: float = 0.0  # one hand's upright square, as the palm detector crops

    @classmethod
    def none(cls) -> "AugmentConfig":
        """No augmentation: always the plain ROI crop (evaluation)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def roi_points(sample: Sample) -> np.ndarray:
    """The 2D points the ROI crop must contain: annotated joints, the object's corners."""
    points = [sample.joints_2d[annotated_joints(sample)]]
    if sample.object_valid:
        points.append(sample.object_corners_2d)
    return np.concatenate(points)


def draw_crop(
    rng: np.random.Generator, sample: Sample, input_size: int, config: AugmentConfig
) -> Crop:
    """A full-frame, upright-hand or jittered ROI crop of ``sample``."""
    # Drawn only when asked for, so that the other crops' draws stay those of earlier runs.
    if config.upright_fraction > 0 and rng.random() < config.upright_fraction:
        hand = _upright_hand(rng, sample)
        if hand is not None:
            return _upright_crop(rng, hand, input_size, config)
    height, width = sample.image.shape[:2]
    points = roi_points(sample)
    points = points[np.isfinite(points).all(axis=1)]
    # An empty frame has nothing to crop around: the estimator then sees the whole frame.
    if rng.random() < config.full_frame_fraction or len(points) == 0:
        return Crop(crop_policy.full_frame_transform(width, height, input_size))
    box = _jittered(rng, _roi_box(points), config)
    roll = 0.0
    if rng.random() < config.roll_probability:
        roll = float(np.deg2rad(np.clip(rng.normal(), -2, 2) * config.roll_degrees))
    return Crop(
        crop_policy.rolled(geometry.crop_transform(box, input_size), roll, input_size), roll
    )


def _roi_box(points: np.ndarray) -> np.ndarray:
    return geometry.crop_box(
        points, margin=crop_policy.ROI_MARGIN, min_size=crop_policy.ROI_MIN_SIZE
    )


def _jittered(rng: np.random.Generator, box: np.ndarray, config: AugmentConfig) -> np.ndarray:
    """The square ``box`` shifted and scaled by up to ``config``'s fractions of its side."""
    side = box[2] - box[0]
    centre = (box[:2] + box[2:]) / 2 + np.clip(rng.normal(size=2), -1, 1) * config.shift * side
    half = side * (1 + np.clip(rng.normal(), -1, 1) * config.scale) / 2
    return np.concatenate([centre - half, centre + half])


def _upright_hand(rng: np.random.Generator, sample: Sample) -> np.ndarray | None:
    """The annotated 2D joints [N, 2] of one of the sample's hands (the wrist first, then the
    middle MCP), picked at random among those whose wrist and middle MCP are annotated."""
    annotated = annotated_joints(sample) & np.isfinite(sample.joints_2d).all(axis=1)
    hands = []
    for side in np.flatnonzero(sample.hand_valid):
        rows = np.arange(NUM_JOINTS)[annotated[hand_slice(side)]]
        if WRIST in rows and MIDDLE_MCP in rows:
            order = [WRIST, MIDDLE_MCP] + [j for j in rows if j not in (WRIST, MIDDLE_MCP)]
            hands.append(sample.joints_2d[hand_slice(side)][order])
    return hands[rng.integers(len(hands))] if hands else None


def _upright_crop(rng, joints_2d: np.ndarray, input_size: int, config: AugmentConfig) -> Crop:
    """The jittered square around one hand's joints, turned so that its fingers point up."""
    jitter = np.clip(rng.normal(), -2, 2) * UPRIGHT_ROLL_JITTER_DEGREES
    roll = crop_policy.upright_roll(joints_2d[0], joints_2d[1]) + float(np.deg2rad(jitter))
    box = _jittered(rng, _roi_box(crop_policy.turned(joints_2d, roll)), config)
    return Crop(crop_policy.turned_box_transform(box, roll, input_size), roll)


def colour_scale(rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Per-channel multipliers [3] for the RGB image."""
    return rng.uniform(1 - config.colour, 1 + config.colour, 3)


def flip_sample(sample: Sample) -> Sample:
    """The horizontally mirrored sample: image, camera and scene mirrored, hands swapped.

    Pixel u goes to W - 1 - u, so the principal point does too; the scene is mirrored by
    x -> -x, which the mirrored camera projects onto the mirrored pixels exactly. The object
    frame is mirrored as well (R -> M R M, corners -> M corners): a box, cylinder or sphere
    maps onto itself, so its pose stays a proper rotation. A dataset ``Record``'s own
    annotations (joint validity, hand type, box, root depths) follow the hands.
    """
    width = sample.image.shape[1]
    K = sample.K.copy()
    K[0, 2] = width - 1 - K[0, 2]
    K[0, 1] = -K[0, 1]
    swap = np.r_[NUM_JOINTS : 2 * NUM_JOINTS, 0:NUM_JOINTS]
    joints_2d = sample.joints_2d[swap].copy()
    joints_2d[:, 0] = width - 1 - joints_2d[:, 0]
    corners_2d = sample.object_corners_2d.copy()
    corners_2d[:, 0] = width - 1 - corners_2d[:, 0]
    # cv2.flip and a lookup table, not numpy's reversed views and np.where: 0.6 ms instead of
    # 5.5 per 640x480 flip on the development VM, about a tenth of a training frame's cost.
    return replace(
        sample,
        image=cv2.flip(sample.image, 1),
        K=K,
        joints_3d=sample.joints_3d[swap] @ MIRROR,
        joints_2d=joints_2d,
        joint_visible=sample.joint_visible[swap],
        hand_valid=sample.hand_valid[::-1].copy(),
        hand_mask=cv2.LUT(cv2.flip(sample.hand_mask.astype(np.uint8), 1), SWAP_HAND_LABELS),
        object_mask=_flip_mask(sample.object_mask),
        object_rotation=MIRROR @ sample.object_rotation @ MIRROR,
        object_translation=MIRROR @ sample.object_translation,
        object_corners_rest=sample.object_corners_rest @ MIRROR,
        object_corners_3d=sample.object_corners_3d @ MIRROR,
        object_corners_2d=corners_2d,
        depth=cv2.flip(sample.depth, 1),
        **flipped_annotations(sample, width, swap),
    )


def _flip_mask(mask: np.ndarray) -> np.ndarray:
    """A mirrored boolean (or uint8) mask; OpenCV has no bool type, so through uint8."""
    if mask.dtype == bool:
        return cv2.flip(mask.view(np.uint8), 1).view(bool)
    return cv2.flip(mask, 1)


def flipped_annotations(sample: Sample, width: int, swap: np.ndarray) -> dict:
    """The ``Record`` fields that a flip changes (none for a synthetic ``Sample``)."""
    if not isinstance(sample, Record):
        return {}
    x0, y0, x1, y1 = sample.roi_box
    return {
        "joint_valid": sample.joint_valid[swap],
        "hand_type": {"right": "left", "left": "right"}.get(sample.hand_type, sample.hand_type),
        "hand_present": sample.hand_present[::-1].copy(),
        "roi_box": np.array([width - 1 - x1, y0, width - 1 - x0, y1]),
        "root_depth_estimate": sample.root_depth_estimate[::-1].copy(),
    }


def augment(
    rng: np.random.Generator, sample: Sample, input_size: int, config: AugmentConfig
) -> tuple[Sample, Crop, np.ndarray]:
    """(possibly flipped sample, its crop, colour scale [3]) for one training example."""
    if rng.random() < config.flip_probability:
        sample = flip_sample(sample)
    crop = draw_crop(rng, sample, input_size, config)
    return sample, crop, colour_scale(rng, config)
