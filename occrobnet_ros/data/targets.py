"""From a full-frame sample to what the network trains on: the input crop and its targets.

``make_example(sample, crop, input_size)`` warps the image with the crop's 2x3 affine (image px
-> crop px, crop_policy.py decides where the crop is, augment.py jitters it) and expresses the
ground truth in the crop, exactly as ``model/losses.py`` documents its ``targets`` dict:

- 2D quantities (joints, box corners, the object mask) go through the same affine as the image.
- 3D quantities are root-relative, in camera axes. A crop that rolls the image by ``roll``
  radians rolls the camera about its optical axis by the same angle (KT rotates its 3D ground
  truth with its 2D rotation the same way), so joints, the relative root translation and the
  object pose are rotated about z.

Conventions that the losses do not fix and we do here:

- ``joint_valid``: the joints with ground truth (``annotated_joints``): a dataset ``Record``'s
  own ``joint_valid`` (joints it does not annotate are not supervised), or for a synthetic
  ``Sample`` every joint of a present hand, occluded or not (the generator knows them all);
  ``joint_visible`` says which the image shows; it trains the visibility head where
  ``joint_visibility_known`` (synthetic samples only: a dataset knows no occlusion).
- ``object_translation`` is the object centre minus the right wrist, or minus the left wrist
  when there is no right hand (the only hand is the reference the network can see).
- ``object_corners_rest`` is reordered to ``heads.BOX_CORNER_SIGNS`` (x slowest, z fastest).
- Absent hands and objects have zeros, never NaN, in their (invalid) entries.

Extra keys ``intrinsics`` (the crop's, [3, 3]) and ``root_depth`` ([2], wrist z) are what a
2.5D model needs to lift its output to metres.
"""

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from occrobnet_ros import crop_policy, geometry
from occrobnet_ros.data.sample import Sample
from occrobnet_ros.skeleton import LEFT, NUM_HANDS, NUM_JOINTS, RIGHT, WRIST

BORDER_VALUE = 0  # what the crop shows outside the image (the estimator letterboxes with it)
# heads.BOX_CORNER_SIGNS, without importing torch-heavy model code into data preparation.
BOX_CORNER_SIGNS = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))
ROOTS = (RIGHT * NUM_JOINTS + WRIST, LEFT * NUM_JOINTS + WRIST)


@dataclass
class Crop:
    """Where the input comes from: the 2x3 affine image px -> crop px and its roll (rad).

    ``roll`` is the rotation the affine applies (counter-clockwise as x right, y down), which
    the 3D targets must follow; the affine's own rotation part must equal it.
    """

    affine: np.ndarray
    roll: float = 0.0


def make_example(
    sample: Sample, crop: Crop, input_size: int
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(image [3, S, S] float in [0, 1], targets) of ``sample`` seen through ``crop``."""
    image = warp_image(sample.image, crop.affine, input_size)
    targets = hand_targets(sample, crop)
    targets.update(object_targets(sample, crop, input_size))
    targets["intrinsics"] = geometry.crop_intrinsics(sample.K, crop.affine)
    roots = sample.joints_3d[list(ROOTS), 2]
    targets["root_depth"] = np.nan_to_num(roots, nan=0.0)
    image_tensor = torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0)
    return image_tensor, {key: _to_tensor(value) for key, value in targets.items()}


def warp_image(image: np.ndarray, affine: np.ndarray, input_size: int) -> np.ndarray:
    """The uint8 crop [S, S, 3]; pixels outside the image get ``BORDER_VALUE``."""
    return cv2.warpAffine(
        image,
        np.asarray(affine, np.float64),
        (input_size, input_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(BORDER_VALUE,) * 3,
    )


def warp_mask(mask: np.ndarray, affine: np.ndarray, input_size: int) -> np.ndarray:
    """A boolean mask warped like the image (bilinear, then thresholded at one half)."""
    warped = cv2.warpAffine(
        mask.astype(np.uint8) * 255,
        np.asarray(affine, np.float64),
        (input_size, input_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return warped > 127


def annotated_joints(sample: Sample) -> np.ndarray:
    """[42] bool: the joints with ground truth (see the module docstring)."""
    present = np.repeat(np.asarray(sample.hand_valid, bool), NUM_JOINTS)
    annotated = getattr(sample, "joint_valid", None)  # a Record's; a Sample has none
    return present if annotated is None else present & np.asarray(annotated, bool)


def hand_targets(sample: Sample, crop: Crop) -> dict[str, np.ndarray]:
    """joints_2d, joints_3d (root-relative per hand), joint_valid, joint_visible,
    hand_valid and rel_root of ``sample`` in the crop."""
    rotation = crop_policy.roll_matrix(crop.roll)
    hand_valid = np.asarray(sample.hand_valid, bool)
    joint_valid = annotated_joints(sample)
    joints_2d = geometry.apply_affine(crop.affine, sample.joints_2d)
    joints_3d = np.zeros((NUM_HANDS * NUM_JOINTS, 3))
    for hand in range(NUM_HANDS):
        rows = slice(hand * NUM_JOINTS, (hand + 1) * NUM_JOINTS)
        joints_3d[rows] = (sample.joints_3d[rows] - sample.joints_3d[ROOTS[hand]]) @ rotation.T
    rel_root = np.zeros(3)
    if hand_valid.all():
        rel_root = rotation @ (sample.joints_3d[ROOTS[LEFT]] - sample.joints_3d[ROOTS[RIGHT]])
    return {
        "joints_2d": np.where(joint_valid[:, None], joints_2d, 0.0),
        "joints_3d": np.where(joint_valid[:, None], joints_3d, 0.0),
        "joint_valid": joint_valid,
        "joint_visible": np.asarray(sample.joint_visible, bool) & joint_valid,
        # The synthetic generator knows occlusion by depth; a dataset's joint_visible only
        # says "annotated and inside the image" (InterHand2.6M's joint_valid is not
        # visibility either), so its visibility is not supervised.
        "joint_visibility_known": joint_valid & (getattr(sample, "joint_valid", None) is None),
        "hand_valid": hand_valid,
        # Presence is a hand in the image, annotated or not (Record.hand_present); the
        # generator annotates every hand it draws.
        "hand_present": np.asarray(getattr(sample, "hand_present", hand_valid), bool),
        "rel_root": rel_root,
    }


def object_reference(sample: Sample) -> np.ndarray:
    """The wrist that object translations are relative to (see the module docstring)."""
    hand = RIGHT if sample.hand_valid[RIGHT] else LEFT
    return sample.joints_3d[ROOTS[hand]]


def object_targets(sample: Sample, crop: Crop, input_size: int) -> dict[str, np.ndarray]:
    """The object_* targets of ``sample`` in the crop (zeros when it has no object)."""
    mask = warp_mask(sample.object_mask, crop.affine, input_size)
    valid = bool(sample.object_valid) and bool(np.asarray(sample.hand_valid).any())
    targets = {
        "object_mask": mask[None],
        "object_valid": np.array(valid),
        "object_rotation": np.eye(3),
        "object_translation": np.zeros(3),
        "object_corners_rest": BOX_CORNER_SIGNS * 0.01,
        "object_corners_2d": np.zeros((8, 2)),
        "object_symmetry": np.array(0, dtype=np.int64),
    }
    if not valid:
        return targets
    rotation = crop_policy.roll_matrix(crop.roll)
    rest = corners_in_model_order(sample.object_corners_rest)
    corners_image = geometry.project(
        rest @ sample.object_rotation.T + sample.object_translation, sample.K
    )
    targets.update(
        object_rotation=rotation @ sample.object_rotation,
        object_translation=rotation @ (sample.object_translation - object_reference(sample)),
        object_corners_rest=rest,
        object_corners_2d=geometry.apply_affine(crop.affine, corners_image),
        object_symmetry=np.array(max(int(sample.object_symmetry), 0), dtype=np.int64),
    )
    return targets


def corners_in_model_order(corners_rest: np.ndarray) -> np.ndarray:
    """Box corners [8, 3] (any order) rearranged so corner i has the signs BOX_CORNER_SIGNS[i]
    about the box centre."""
    corners_rest = np.asarray(corners_rest, np.float64)
    centre = (corners_rest.max(0) + corners_rest.min(0)) / 2
    signs = np.where(corners_rest >= centre, 1.0, -1.0)
    order = [int(np.flatnonzero((signs == s).all(axis=1))[0]) for s in BOX_CORNER_SIGNS]
    return corners_rest[order]


def collate(
    examples: list[tuple[torch.Tensor, dict[str, torch.Tensor]]],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Stack examples into a batch: images [B, 3, S, S] and every target with a batch dim."""
    images = torch.stack([image for image, _ in examples])
    keys = examples[0][1].keys()
    return images, {key: torch.stack([targets[key] for _, targets in examples]) for key in keys}


def _to_tensor(value: np.ndarray) -> torch.Tensor:
    value = np.asarray(value)
    if value.dtype == np.float64:
        return torch.from_numpy(value.astype(np.float32))
    return torch.from_numpy(value.copy())
