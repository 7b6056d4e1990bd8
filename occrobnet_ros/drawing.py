"""The annotated image of a Prediction: both skeletons and the object's box on the picture.

Pure numpy and OpenCV, so that ``occrobnet predict --draw`` and ``occrobnet real-photos --draw``
need no ROS; the node's debug image and RViz markers (ros/markers.py) use the same colours.
"""

import cv2
import numpy as np

from occrobnet_ros.geometry import LensDistortion, project
from occrobnet_ros.prediction import Prediction
from occrobnet_ros.skeleton import BONES

# RGBA in [0, 1]; right warm, left cool, object green (the debug image uses the same colours).
COLORS = {
    "right_hand": (1.0, 0.35, 0.2, 1.0),
    "left_hand": (0.2, 0.55, 1.0, 1.0),
    "object": (0.2, 0.85, 0.35, 0.4),
}
# The 12 edges of a box: corners whose indices differ in one bit (prediction.BOX_CORNER_SIGNS).
BOX_EDGES = np.array([(i, i | bit) for bit in (1, 2, 4) for i in range(8) if not i & bit])


def draw_prediction(
    rgb: np.ndarray, prediction: Prediction, K: np.ndarray, lens: LensDistortion | None = None
) -> np.ndarray:
    """A copy of ``rgb`` with both skeletons (2D keypoints) and the object box drawn on it
    (``lens``: the image's distortion, so the box lands where the raw image shows it)."""
    canvas = np.array(rgb, dtype=np.uint8, copy=True)
    thickness = max(1, round(max(canvas.shape[:2]) / 320))
    for side, hand in (("right_hand", prediction.right_hand), ("left_hand", prediction.left_hand)):
        if hand.detected:
            draw_skeleton(canvas, hand.keypoints_2d, COLORS[side], thickness)
    obj = prediction.object
    if obj.detected and np.all(obj.corners[:, 2] > 0.0):  # a box behind the camera has no image
        corners = project(obj.corners, K) if lens is None else lens.project(obj.corners, K)
        _polylines(canvas, corners[BOX_EDGES], COLORS["object"], thickness)
    return canvas


def draw_skeleton(canvas: np.ndarray, keypoints_2d: np.ndarray, color, thickness: int) -> None:
    """A hand's bones between its 21 pixel positions, on ``canvas`` (RGB, in place);
    ``color`` is (r, g, b[, a]) in [0, 1], as the markers'."""
    _polylines(canvas, np.asarray(keypoints_2d)[np.array(BONES)], color, thickness)


def _polylines(canvas: np.ndarray, segments: np.ndarray, color, thickness: int) -> None:
    finite = np.isfinite(segments).all(axis=(1, 2))
    lines = np.round(segments[finite]).clip(-1e5, 1e5).astype(np.int32)
    rgb = tuple(int(255 * c) for c in color[:3])
    cv2.polylines(canvas, list(lines), False, rgb, thickness, cv2.LINE_AA)
