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
  ``ROI`` box, so training's ROI crops cover it. A single hand's square can be taken upright
  (``upright=True``): turned so that the hand's fingers point up, as MediaPipe crops for its
  landmark network and as the generator's hands mostly stand; the turn is a crop roll, as
  training's roll augmentation makes (``rolled``, ``roll_matrix``). Training shows the network
  such upright hand squares too (``upright_roll``; data/augment.py's ``upright_fraction``).
- A dataset's own box (evaluation): squared about its centre and enlarged by
  ``DATASET_BOX_SCALE``, as InterHand2.6M's and Keypoint Transformer's ``process_bbox`` do
  with an annotation box; a box that is already a crop (RootNet's output) is used at scale 1.
"""

import math

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
    regions: list[tuple[np.ndarray, float, float]], input_size: int, upright: bool = False
) -> np.ndarray:
    """The 2x3 affine image -> crop of the square around detected hand regions, each a rotated
    square ``(centre [2] px, side px, rotation rad)``; with ``upright`` and one region, that
    square itself, turned upright (its roll is ``crop_roll`` of the result)."""
    corners = np.concatenate([rotated_square_corners(*region) for region in regions])
    # A region's offsets (u, v) sit at R(rotation) (u, v) in the image: roll them back.
    roll = -regions[0][2] if upright and len(regions) == 1 else 0.0
    return _square_transform(corners, input_size, 0.0, roll)


def rotated_square_corners(centre: np.ndarray, side: float, rotation: float) -> np.ndarray:
    """The 4 corners [4, 2] of a square of ``side`` about ``centre``, turned by ``rotation``."""
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * side / 2.0
    c, s = np.cos(rotation), np.sin(rotation)
    return np.asarray(centre, np.float64) + half @ np.array([[c, -s], [s, c]]).T


def rolled(affine: np.ndarray, roll: float, input_size: int) -> np.ndarray:
    """``affine`` followed by a rotation of ``roll`` rad about the crop centre."""
    c, s = np.cos(roll), np.sin(roll)
    centre = (input_size - 1) / 2.0
    rotation = np.array(
        [
            [c, -s, centre - c * centre + s * centre],
            [s, c, centre - s * centre - c * centre],
            [0, 0, 1],
        ]
    )
    return (rotation @ np.vstack([affine, [0.0, 0.0, 1.0]]))[:2]


def crop_roll(affine: np.ndarray) -> float:
    """The roll (rad) of a 2x3 image -> crop similarity: 0 for every crop but a rolled one."""
    return float(np.arctan2(affine[1, 0], affine[0, 0]))


def roll_matrix(roll: float) -> np.ndarray:
    """The camera-frame rotation about the optical axis that matches a crop roll: the network
    sees a rolled crop's 3D (joints, offsets, object pose) turned by it."""
    c, s = np.cos(roll), np.sin(roll)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def roi_transform(points_2d: np.ndarray, input_size: int) -> np.ndarray:
    """The 2x3 affine image -> crop of the square box around ``points_2d`` [N, 2] (px)."""
    return _square_transform(points_2d, input_size, ROI_MARGIN, 0.0)


def upright_roll(wrist: np.ndarray, middle_mcp: np.ndarray) -> float:
    """The crop roll (rad) that turns the wrist -> middle-finger MCP vector (image px) to point
    up: the palm detector's upright square (hand_detection.palm_rotation, negated; that module
    sits a layer up and stays free of OpenCV, so it keeps its own line, and a test holds the
    two equal)."""
    dx, dy = np.subtract(middle_mcp, wrist)
    return math.atan2(-dy, dx) - math.pi / 2


def turned(points: np.ndarray, roll: float) -> np.ndarray:
    """Image points [N, 2] as a crop of roll ``roll`` sees them, before its scale and shift."""
    return np.asarray(points, np.float64) @ roll_matrix(roll)[:2, :2].T


def turned_box_transform(box: np.ndarray, roll: float, input_size: int) -> np.ndarray:
    """The 2x3 affine image -> crop of the square ``box`` [x0, y0, x1, y1] drawn around
    ``turned(points, roll)``: its roll is ``roll`` (at 0, exactly the axis-aligned square)."""
    affine = geometry.crop_transform(box, input_size)
    return np.column_stack([affine[:, :2] @ roll_matrix(roll)[:2, :2], affine[:, 2]])


def _square_transform(points: np.ndarray, input_size: int, margin: float, roll: float):
    """The square box of ``points`` seen turned by ``roll`` (enlarged by ``margin``, at least
    ROI_MIN_SIZE), as a 2x3 image -> crop affine whose roll is ``roll``."""
    box = geometry.crop_box(turned(points, roll), margin, ROI_MIN_SIZE)
    return turned_box_transform(box, roll, input_size)
