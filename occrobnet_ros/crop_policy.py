"""Where the network looks: the square crop fed to the model, shared by training and inference.

Training (data/targets.py) and inference (inference/estimator.py) MUST use this policy, or the
network sees crops at inference that it never saw in training:

- ``FULL_FRAME``: the whole image letterboxed into the square input. Inference uses it when it
  knows nothing yet (first frame, or everything lost); training uses it for a fraction
  ``FULL_FRAME_TRAINING_FRACTION`` of the samples so that the network works on such input.
- ``ROI``: a square box around the hands' 2D joints and the object's 2D corners, enlarged by
  ``ROI_MARGIN`` (Keypoint Transformer crops around the GT joints in the same way). Inference
  takes the points from the previous frame's prediction; training from the ground truth, with
  the jitter of data/augment.py on top.
- ``DETECTED``: around the hands a palm detector found on the whole image
  (inference/hand_detection.py): the square holding every detected hand's region (MediaPipe's
  rotated hand square, which covers the hand and what it holds). Inference uses it instead of
  ``FULL_FRAME`` when a detector runs and finds a hand; its regions are about the size of an
  ``ROI`` box, so training's ROI crops cover it.
- A dataset's own box (evaluation): squared about its centre and enlarged by
  ``DATASET_BOX_SCALE``, as InterHand2.6M's and Keypoint Transformer's ``process_bbox`` do
  with an annotation box; a box that is already a crop (RootNet's output) is used at scale 1.
"""

import numpy as np

from occrobnet_ros import geometry

ROI_MARGIN = 0.4  # fraction added to the points' extent
ROI_MIN_SIZE = 96.0  # px: never zoom in further than this in the original image
FULL_FRAME_TRAINING_FRACTION = 0.3
DATASET_BOX_SCALE = 1.25  # process_bbox: the annotation box, aspect fixed, times 1.25


def full_frame_transform(width: int, height: int, input_size: int) -> np.ndarray:
    """The 2x3 affine image -> crop that letterboxes the whole image."""
    return geometry.letterbox_transform(width, height, input_size)


def box_transform(
    box: np.ndarray, input_size: int, scale: float = DATASET_BOX_SCALE
) -> np.ndarray:
    """The 2x3 affine image -> crop of a dataset box ``[x0, y0, x1, y1]`` (px): the square on
    its centre whose side is its longer side times ``scale``."""
    corners = np.asarray(box, np.float64).reshape(2, 2)
    square = geometry.crop_box(corners, margin=scale - 1.0, min_size=0.0)
    return geometry.crop_transform(square, input_size)


def detection_transform(
    regions: list[tuple[np.ndarray, float, float]], input_size: int
) -> np.ndarray:
    """The 2x3 affine image -> crop of the square around detected hand regions, each a rotated
    square ``(centre [2] px, side px, rotation rad)``."""
    corners = np.concatenate([rotated_square_corners(*region) for region in regions])
    box = geometry.crop_box(corners, margin=0.0, min_size=ROI_MIN_SIZE)
    return geometry.crop_transform(box, input_size)


def rotated_square_corners(centre: np.ndarray, side: float, rotation: float) -> np.ndarray:
    """The 4 corners [4, 2] of a square of ``side`` about ``centre``, turned by ``rotation``."""
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * side / 2.0
    c, s = np.cos(rotation), np.sin(rotation)
    return np.asarray(centre, np.float64) + half @ np.array([[c, -s], [s, c]]).T


def roi_transform(points_2d: np.ndarray, input_size: int) -> np.ndarray:
    """The 2x3 affine image -> crop of the square box around ``points_2d`` [N, 2] (px)."""
    box = geometry.crop_box(points_2d, margin=ROI_MARGIN, min_size=ROI_MIN_SIZE)
    return geometry.crop_transform(box, input_size)
