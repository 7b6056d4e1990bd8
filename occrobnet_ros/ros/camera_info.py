"""The intrinsics ``K`` the estimator needs, from ``sensor_msgs/CameraInfo`` or a parameter.

Which matrix (sensor_msgs/msg/CameraInfo.msg):

- ``k`` (row-major 3x3) describes the *raw*, distorted image (``image_raw``), with ``d`` and
  ``distortion_model`` (:func:`distortion_from_camera_info`): the estimator undistorts its 2D
  keypoints with them before the 3D fit.
- The left 3x3 block of ``p`` describes the *rectified* image (``image_rect*`` topics from
  image_proc): pass ``use_projection=True`` there.

Both are given for the full sensor resolution. A driver that publishes a region of interest
(``roi``) or binned pixels (``binning_x/y``, 0 meaning 1) sends images of
:func:`camera_info_image_size`, and the matrix is shifted by the ROI offset and divided by the
binning. Like every other resize in this package (geometry.py), pixel ``(col, row)`` has its
centre at ``(col, row)``, so a ``b``-fold binning maps ``c`` to ``(c + 0.5) / b - 0.5``;
image_geometry drops the half-pixel terms, a difference of ``(b - 1) / 2b`` px.
"""

from collections.abc import Sequence

import numpy as np
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from occrobnet_ros.geometry import LensDistortion

REASONS = (
    "uncalibrated",  # the matrix is all zeros: the driver has no calibration
    "not_finite",
    "bad_focal",  # fx or fy <= 0
    "bad_matrix",  # not an upper-triangular pinhole matrix with K[2, 2] == 1
    "bad_roi",  # the ROI leaves the sensor, or binning leaves no pixel
    "not_set",  # an empty or all-zero intrinsics parameter
    "bad_length",
    "size_mismatch",  # the image size cannot be reconciled with the CameraInfo's
    "bad_distortion",  # an unsupported distortion_model, or d of the wrong length or not finite
)


class CameraInfoError(ValueError):
    """Intrinsics that cannot be used; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def intrinsics_from_camera_info(msg: CameraInfo, *, use_projection: bool = False) -> np.ndarray:
    """The 3x3 intrinsics of the images ``msg`` describes, ROI and binning applied.

    ``use_projection`` takes ``p``'s left 3x3 block (rectified images) instead of ``k``.
    """
    values = _floats(msg.p if use_projection else msg.k, 12 if use_projection else 9)
    K = values.reshape(3, 4)[:, :3] if use_projection else values.reshape(3, 3)
    _validate(K)
    x_offset, y_offset, _, _ = _roi(msg)
    binning_x, binning_y = _binning(msg)
    K = K.copy()  # the ROI lives in full-resolution pixels, so shift before binning
    K[0, 2] -= x_offset
    K[1, 2] -= y_offset
    return _scale(K, 1.0 / binning_x, 1.0 / binning_y)


def camera_info_image_size(msg: CameraInfo) -> tuple[int, int]:
    """(width, height) of the images ``msg`` describes: its ROI (or full size) over binning.

    (0, 0) when the CameraInfo leaves the size unset.
    """
    _, _, width, height = _roi(msg)
    binning_x, binning_y = _binning(msg)
    return width // binning_x, height // binning_y


def distortion_from_camera_info(msg: CameraInfo) -> LensDistortion | None:
    """The lens distortion of the raw image ``msg`` describes; None when ``d`` is empty or
    all zero (a pinhole camera, or an image rectified already)."""
    coefficients = tuple(float(c) for c in msg.d)
    if not any(coefficients):
        return None
    try:
        return LensDistortion(msg.distortion_model, coefficients)
    except ValueError as error:
        raise CameraInfoError("bad_distortion", str(error)) from error


def intrinsics_from_parameter(values: Sequence[float]) -> np.ndarray:
    """K from a ``[fx, fy, cx, cy]`` parameter, the fallback for cameras without CameraInfo."""
    array = _floats(values)
    if array.size == 0 or not np.any(array):
        raise CameraInfoError("not_set", "no fallback intrinsics [fx, fy, cx, cy] configured")
    if array.size != 4:
        raise CameraInfoError("bad_length", f"need [fx, fy, cx, cy], got {array.size} values")
    fx, fy, cx, cy = array
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    _validate(K)
    return K


def check_image_matches(
    K: np.ndarray,
    width: int,
    height: int,
    info_width: int,
    info_height: int,
    *,
    rescale: bool = True,
    aspect_tolerance: float = 0.01,
) -> np.ndarray:
    """K for an image of ``width x height`` when ``K`` was given for ``info_width x info_height``.

    Equal sizes (or a CameraInfo without a size, 0 x 0) return ``K`` unchanged. A different
    size with the same aspect ratio (within ``aspect_tolerance``, relative) is taken to be the
    same view resized, and K is scaled with it, when ``rescale`` is set. Anything else (a crop,
    a different camera) raises ``CameraInfoError('size_mismatch')``: guessing would put every
    3D pose in the wrong place.
    """
    if (width, height) == (info_width, info_height) or info_width == 0 or info_height == 0:
        return K
    if width <= 0 or height <= 0:
        raise CameraInfoError("size_mismatch", f"image is {width}x{height}")
    scale_x, scale_y = width / info_width, height / info_height
    same_aspect = abs(scale_x - scale_y) <= aspect_tolerance * max(scale_x, scale_y)
    if not (rescale and same_aspect):
        raise CameraInfoError(
            "size_mismatch", f"image {width}x{height} but CameraInfo {info_width}x{info_height}"
        )
    return _scale(K, scale_x, scale_y)


def _floats(values, size: int | None = None) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as error:
        raise CameraInfoError("bad_matrix", f"not numbers: {error}") from None
    if size is not None and array.size != size:
        raise CameraInfoError("bad_length", f"expected {size} values, got {array.size}")
    return array


def _validate(K: np.ndarray) -> None:
    """Refuse anything but a finite pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]."""
    if not np.all(np.isfinite(K)):
        raise CameraInfoError("not_finite", "intrinsics contain NaN or infinity")
    if not np.any(K):
        raise CameraInfoError("uncalibrated", "intrinsics are all zero (uncalibrated camera)")
    if K[0, 0] <= 0.0 or K[1, 1] <= 0.0:
        raise CameraInfoError("bad_focal", f"focal lengths {K[0, 0]}, {K[1, 1]} must be > 0")
    if not np.allclose(K[[1, 2, 2, 2], [0, 0, 1, 2]], [0.0, 0.0, 0.0, 1.0], atol=1e-6):
        raise CameraInfoError(
            "bad_matrix", "not a pinhole matrix: rows 2-3 must be 0 fy cy, 0 0 1"
        )


def _scale(K: np.ndarray, scale_x: float, scale_y: float) -> np.ndarray:
    """K of the same view resized by (scale_x, scale_y), edges onto edges (geometry.py)."""
    scaled = K.astype(float).copy()
    with np.errstate(over="ignore", under="ignore"):
        scaled[0, :2] *= scale_x
        scaled[1, 1] *= scale_y
        scaled[0, 2] = (K[0, 2] + 0.5) * scale_x - 0.5
        scaled[1, 2] = (K[1, 2] + 0.5) * scale_y - 0.5
    # A huge or tiny focal length can overflow to inf or underflow to 0 here: refuse it now
    # rather than hand the estimator a K it cannot use.
    _validate(scaled)
    return scaled


def _binning(msg: CameraInfo) -> tuple[int, int]:
    return max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)


def _roi(msg: CameraInfo) -> tuple[int, int, int, int]:
    """(x_offset, y_offset, width, height) in full-resolution pixels; all-zero ROI = full."""
    roi = msg.roi
    x, y, width, height = (int(v) for v in (roi.x_offset, roi.y_offset, roi.width, roi.height))
    if width == 0 or height == 0:
        return 0, 0, int(msg.width), int(msg.height)
    binning_x, binning_y = _binning(msg)
    inside = msg.width == 0 or (x + width <= msg.width and y + height <= msg.height)
    if not inside or width < binning_x or height < binning_y:
        raise CameraInfoError("bad_roi", f"ROI {width}x{height}+{x}+{y} outside the sensor")
    return x, y, width, height


def camera_info_msg(
    K: np.ndarray, width: int, height: int, header: Header | None = None
) -> CameraInfo:
    """An undistorted pinhole CameraInfo for intrinsics ``K``."""
    K = np.asarray(K, dtype=np.float64)
    projection = np.hstack([K, np.zeros((3, 1))])
    return CameraInfo(
        header=header or Header(),
        width=int(width),
        height=int(height),
        distortion_model="plumb_bob",
        d=[0.0] * 5,
        k=K.ravel().tolist(),
        r=np.eye(3).ravel().tolist(),
        p=projection.ravel().tolist(),
    )
