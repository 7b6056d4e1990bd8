"""A frame and its ground truth: what the generator renders and every dataset reader returns.

The synthetic generator (data/synthetic/generator.py) makes ``Sample``s; the dataset readers return
``Record``s (data/readers/record.py), a ``Sample`` with the dataset's provenance. Training targets
(data/targets.py) and augmentation (data/augment.py) take either.

Fields (camera optical frame, metres; pixels with centres at integers):

- ``image`` uint8 [H, W, 3] RGB; ``K`` [3, 3] float64; ``depth`` float32 [H, W] (z of the
  nearest surface, inf on the background).
- ``joints_3d`` [42, 3], ``joints_2d`` [42, 2] (exact projections of ``joints_3d``),
  ``joint_visible`` [42] bool: right hand 0-20, left hand 21-41, skeleton.py order. Joints of
  an absent hand are NaN and not visible.
- ``hand_valid`` [2] bool (right, left); ``hand_mask`` uint8 [H, W]: 0 none, 1 right (hand,
  nails and forearm), 2 left.
- ``object_valid`` bool; ``object_mask`` bool [H, W]; ``object_rotation`` [3, 3] (object ->
  camera); ``object_translation`` [3] (object centre); ``object_size`` [3];
  ``object_corners_rest`` [8, 3] (3D bounding box, object frame, render.box_corners order);
  ``object_corners_3d`` [8, 3] and ``object_corners_2d`` [8, 2]; ``object_symmetry`` int (see
  objects.py: 0 none, 1 half turn about z, 2 continuous about z; spheres: 2 with the identity
  rotation). Without an object, the pose fields are NaN, ``object_symmetry`` is -1 and the
  object mask is empty.
- ``occlusion_bucket`` str: ``"low"``, ``"medium"`` or ``"high"`` by the fraction of the
  present hands' joints that are not visible (``OCCLUSION_BUCKETS`` thresholds), counting
  joints hidden by the object, the other hand, the hand itself, or outside the image.
- ``scene`` str: ``"one_hand"``, ``"two_hands"`` or ``"interacting"`` (``"empty"``: no hand
  and no object, only with ``empty_probability`` > 0: a cluttered background, or, for
  ``degenerate_probability`` of them, raw noise, a flat colour or a gradient); ``seed`` int.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Sample:
    """One frame and its ground truth (see the module docstring)."""

    image: np.ndarray
    K: np.ndarray
    joints_3d: np.ndarray
    joints_2d: np.ndarray
    joint_visible: np.ndarray
    hand_valid: np.ndarray
    hand_mask: np.ndarray
    object_mask: np.ndarray
    object_valid: bool
    object_rotation: np.ndarray
    object_translation: np.ndarray
    object_corners_rest: np.ndarray
    object_corners_3d: np.ndarray
    object_corners_2d: np.ndarray
    object_symmetry: int
    object_size: np.ndarray
    occlusion_bucket: str
    depth: np.ndarray = field(repr=False)
    scene: str = ""
    seed: int = -1
