"""Camera geometry: projection, crops, rotations, and the absolute translation of a pose.

Conventions used everywhere in the package (DESIGN.md sections 4.8 and 6):

- Points are in metres in the camera optical frame: x right, y down, z forward (REP 103).
- Pixel coordinates ``(u, v)`` put the centre of pixel ``(col, row)`` at ``(col, row)``, as
  OpenCV and ``sensor_msgs/CameraInfo`` do. An image ``W`` pixels wide spans
  ``[-0.5, W - 0.5]``.
- ``K`` is the 3x3 pinhole intrinsic matrix; skew is honoured where it is cheap to do so. A
  lens that bends straight lines adds a :class:`LensDistortion` (``sensor_msgs/CameraInfo``'s
  ``distortion_model`` and ``d``) that maps raw-image pixels to and from pinhole pixels.
- 2x3 affine matrices map source pixel coordinates to destination pixel coordinates, so they can
  be handed to ``cv2.warpAffine(src, A, (out, out))`` unchanged.
- Quaternions are ``(x, y, z, w)``, the order of ``geometry_msgs/Quaternion``.

Only numpy, scipy and OpenCV are used here: no torch, no ROS.
"""

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from occrobnet_ros.skeleton import NUM_JOINTS, WRIST

# Joints that span the palm plane (our skeleton order, see skeleton.py).
_INDEX_MCP, _MIDDLE_MCP, _PINKY_MCP = 5, 9, 17


# --- projection -------------------------------------------------------------------------------


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points ``[..., 3]`` to pixels ``[..., 2]``."""
    points = np.asarray(points, dtype=np.float64)
    homogeneous = points @ np.asarray(K, dtype=np.float64).T
    return homogeneous[..., :2] / homogeneous[..., 2:3]


# CameraInfo distortion models (sensor_msgs/distortion_models.hpp) and their coefficient counts.
PINHOLE_DISTORTION_MODELS = {"plumb_bob": (5,), "rational_polynomial": (8, 12, 14)}
FISHEYE_DISTORTION_MODELS = {"equidistant": (4,)}


@dataclass(frozen=True)
class LensDistortion:
    """A camera's lens distortion: a CameraInfo ``distortion_model`` and its ``d``.

    :meth:`undistort` maps pixels of the raw (distorted) image to the pixels an ideal pinhole
    camera with the same ``K`` would see, and :meth:`project` is the raw image's projection;
    the model follows OpenCV's (``cv2.undistortPoints``, ``cv2.fisheye`` for equidistant).
    """

    model: str
    coefficients: tuple[float, ...]

    def __post_init__(self) -> None:
        counts = {**PINHOLE_DISTORTION_MODELS, **FISHEYE_DISTORTION_MODELS}.get(self.model)
        if counts is None:
            raise ValueError(f"unsupported distortion model '{self.model}'")
        if len(self.coefficients) not in counts:
            raise ValueError(
                f"{self.model} takes {' or '.join(map(str, counts))} coefficients, "
                f"got {len(self.coefficients)}"
            )
        if not np.isfinite(self.coefficients).all():
            raise ValueError(f"distortion coefficients are not finite: {self.coefficients}")

    @property
    def _fisheye(self) -> bool:
        return self.model in FISHEYE_DISTORTION_MODELS

    def undistort(self, uv: np.ndarray, K: np.ndarray) -> np.ndarray:
        """Raw-image pixels ``[..., 2]`` -> pinhole pixels (same ``K``)."""
        uv = np.asarray(uv, dtype=np.float64)
        src, K, D = uv.reshape(-1, 1, 2), np.asarray(K, np.float64), np.array(self.coefficients)
        if self._fisheye:
            out = cv2.fisheye.undistortPoints(src, K, D, P=K)
        else:
            # Iterate to convergence: OpenCV's default of 5 steps leaves ~0.1 px at the edges.
            # OpenCV 4 names that variant undistortPointsIter; OpenCV 5 folds it into
            # undistortPoints.
            criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
            if hasattr(cv2, "undistortPointsIter"):
                out = cv2.undistortPointsIter(src, K, D, None, K, criteria)
            else:
                out = cv2.undistortPoints(src, K, D, None, None, K, criteria)
        return out.reshape(uv.shape)

    def project(self, points: np.ndarray, K: np.ndarray) -> np.ndarray:
        """Camera-frame points ``[..., 3]`` (z > 0) -> raw-image pixels ``[..., 2]``."""
        points = np.asarray(points, dtype=np.float64)
        src, K = points.reshape(-1, 1, 3), np.asarray(K, np.float64)
        D, zero = np.array(self.coefficients), np.zeros(3)
        if self._fisheye:
            out, _ = cv2.fisheye.projectPoints(src, zero, zero, K, D)
        else:
            out, _ = cv2.projectPoints(src, zero, zero, K, D)
        return out.reshape(*points.shape[:-1], 2)


@dataclass(frozen=True)
class Calibration:
    """A camera calibration file: ``K``, the lens and the image size they belong to."""

    K: np.ndarray
    distortion: LensDistortion | None
    width: int
    height: int

    def check_size(self, width: int, height: int) -> None:
        if (width, height) != (self.width, self.height):
            raise ValueError(
                f"the image is {width}x{height} but the calibration is for "
                f"{self.width}x{self.height}"
            )


def load_calibration(path) -> Calibration:
    """A ROS camera calibration YAML (``camera_calibration`` / ``camera_info_manager``:
    ``image_width``, ``image_height``, ``camera_matrix``, ``distortion_model``,
    ``distortion_coefficients``); ValueError on anything missing or malformed."""
    import yaml  # a ROS dependency; only this loader needs it here

    with open(path) as file:
        data = yaml.safe_load(file)
    if not isinstance(data, dict):
        raise ValueError("not a camera calibration file (expected a YAML mapping)")
    try:
        K = np.asarray(data["camera_matrix"]["data"], dtype=np.float64).reshape(3, 3)
        width, height = int(data["image_width"]), int(data["image_height"])
        coefficients = tuple(
            float(c) for c in (data.get("distortion_coefficients") or {}).get("data") or ()
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a camera calibration file: {error!r}") from error
    if not (np.isfinite(K).all() and K[0, 0] > 0 and K[1, 1] > 0 and width > 0 and height > 0):
        raise ValueError(f"invalid intrinsics or size in the calibration: K={K.tolist()}")
    lens = None
    if any(coefficients):
        lens = LensDistortion(str(data.get("distortion_model", "plumb_bob")), coefficients)
    return Calibration(K, lens, width, height)


def intrinsics_from_fov(width: int, height: int, fov_deg: float) -> np.ndarray:
    """K of a pinhole camera with this horizontal field of view, square pixels, centred."""
    focal = (width / 2.0) / np.tan(np.radians(fov_deg) / 2.0)
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0, 0, 1]])


def backproject(uv: np.ndarray, depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points ``[..., 3]`` at pixels ``uv [..., 2]`` and depths ``z [...]``.

    ``depth`` is the z coordinate (what a depth camera measures), not the ray length, so
    ``project(backproject(uv, z, K), K) == uv``.
    """
    return pixel_rays(uv, K) * np.asarray(depth, dtype=np.float64)[..., None]


def pixel_rays(uv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Viewing rays ``[..., 3]`` through pixels ``uv``, scaled so that their z is 1."""
    uv = np.asarray(uv, dtype=np.float64)
    homogeneous = np.concatenate([uv, np.ones_like(uv[..., :1])], axis=-1)
    return homogeneous @ np.linalg.inv(np.asarray(K, dtype=np.float64)).T


# --- crops and letterboxing --------------------------------------------------------------------


def crop_box(points: np.ndarray, margin: float = 0.25, min_size: float = 32.0) -> np.ndarray:
    """A square box ``[x0, y0, x1, y1]`` around 2D points, enlarged by ``margin``.

    The box is centred on the points' bounding box; its side is the longer side of that bounding
    box times ``1 + margin``, and at least ``min_size`` pixels. Non-finite points are ignored.
    The box may extend past the image: the crop transform fills outside with the border value.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        raise ValueError("crop_box needs at least one finite 2D point")
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2.0
    half = max(float((high - low).max()) * (1.0 + margin), min_size) / 2.0
    return np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])


def crop_transform(box: np.ndarray, out_size: int) -> np.ndarray:
    """The 2x3 affine that maps the box ``[x0, y0, x1, y1]`` onto an ``out_size`` square.

    The box's edges go to the crop's edges (``-0.5`` and ``out_size - 0.5``), keeping the
    aspect ratio: a non-square box is scaled by its longer side and centred (letterboxed).
    """
    x0, y0, x1, y1 = (float(value) for value in box)
    width, height = x1 - x0, y1 - y0
    if width <= 0 or height <= 0:
        raise ValueError(f"crop box must have positive size, got {box}")
    scale = out_size / max(width, height)
    # The box centre goes to the crop centre, which is (out_size - 1) / 2 in pixel-centre
    # coordinates; the box edges then land on -0.5 and out_size - 0.5.
    crop_centre = (out_size - 1) / 2.0
    shift_x = crop_centre - scale * (x0 + x1) / 2.0
    shift_y = crop_centre - scale * (y0 + y1) / 2.0
    return np.array([[scale, 0.0, shift_x], [0.0, scale, shift_y]])


def letterbox_transform(width: int, height: int, out_size: int) -> np.ndarray:
    """The 2x3 affine that fits a whole ``width x height`` image into an ``out_size`` square."""
    return crop_transform(np.array([-0.5, -0.5, width - 0.5, height - 0.5]), out_size)


def invert_affine(A: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine (crop pixels back to image pixels, for example)."""
    full = np.vstack([np.asarray(A, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(A: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to 2D points ``[..., 2]``."""
    A = np.asarray(A, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ A[:, :2].T + A[:, 2]


def crop_intrinsics(K: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Intrinsics of the image warped by the 2x3 affine ``A`` (a crop or letterbox)."""
    full = np.vstack([np.asarray(A, dtype=np.float64), [0.0, 0.0, 1.0]])
    return full @ np.asarray(K, dtype=np.float64)


# --- rotations -------------------------------------------------------------------------------


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` to unit quaternions ``[..., 4]`` (x, y, z, w), w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    q = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat()
    q = np.where(q[:, 3:4] < 0.0, -q, q)  # one canonical sign, as ROS tools expect
    return q.reshape(R.shape[:-2] + (4,))


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternions ``[..., 4]`` (x, y, z, w; normalised here) to rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    R = Rotation.from_quat(q.reshape(-1, 4)).as_matrix()
    return R.reshape(q.shape[:-1] + (3, 3))


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle vectors ``[..., 3]`` (radians) to rotation matrices ``[..., 3, 3]``."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    R = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix()
    return R.reshape(rotvec.shape[:-1] + (3, 3))


def matrix_to_rotvec(R: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` to axis-angle vectors ``[..., 3]`` (radians)."""
    R = np.asarray(R, dtype=np.float64)
    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_rotvec().reshape(R.shape[:-2] + (3,))


# --- absolute pose -----------------------------------------------------------------------------


def solve_translation(
    uv: np.ndarray, points_rel: np.ndarray, K: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The translation ``t`` for which ``project(points_rel + t, K)`` best matches ``uv``.

    DESIGN.md section 4.8: the network predicts root-relative 3D joints (or object corners
    relative to the object centre) and their 2D pixels; the camera-frame translation follows by
    linear least squares. With normalised coordinates ``(x, y, 1) = K^-1 (u, v, 1)``, each point
    gives two equations linear in ``t``::

        (X + tx) - x (Z + tz) = 0        (Y + ty) - y (Z + tz) = 0

    ``weights`` (per point, >= 0; e.g. joint confidences) scale each point's squared residuals.
    Points with a zero weight or non-finite values are ignored. Raises ``ValueError`` when fewer
    than 2 valid points remain, or when they do not determine ``t`` (all on one viewing ray).
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    points_rel = np.asarray(points_rel, dtype=np.float64).reshape(-1, 3)
    if len(uv) != len(points_rel):
        raise ValueError(f"{len(uv)} 2D points but {len(points_rel)} 3D points")
    w = np.ones(len(uv)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    valid = np.isfinite(uv).all(1) & np.isfinite(points_rel).all(1) & np.isfinite(w) & (w > 0)
    if valid.sum() < 2:
        raise ValueError(
            f"solve_translation needs at least 2 valid points, got {int(valid.sum())}"
        )
    rays = pixel_rays(uv[valid], K)  # (x, y, 1)
    X, sqrt_w = points_rel[valid], np.sqrt(w[valid])
    n = len(X)
    A = np.zeros((2 * n, 3))
    A[0::2, 0] = 1.0
    A[1::2, 1] = 1.0
    A[0::2, 2] = -rays[:, 0]
    A[1::2, 2] = -rays[:, 1]
    b = np.empty(2 * n)
    b[0::2] = rays[:, 0] * X[:, 2] - X[:, 0]
    b[1::2] = rays[:, 1] * X[:, 2] - X[:, 1]
    row_weights = np.repeat(sqrt_w, 2)
    t, _, rank, _ = np.linalg.lstsq(A * row_weights[:, None], b * row_weights, rcond=None)
    if rank < 3:
        raise ValueError("solve_translation: the points do not determine the translation")
    return t


def palm_orientation(joints: np.ndarray, left: bool = False) -> np.ndarray:
    """The wrist frame of one hand's 21 joints (our order) as a 3x3 rotation, columns x, y, z.

    - x points from the wrist to the middle-finger MCP (along the hand);
    - z is the palm normal, pointing out of the palm (the palmar side), for both hands; it is
      the normal of the plane through the wrist and the index and little-finger MCPs, made
      orthogonal to x;
    - y = z x x completes a right-handed frame. It points to the little-finger side on a right
      hand and to the thumb side on a left hand (a left hand is a mirrored right hand, and a
      frame with the palm at +z and the thumb at +y is a left hand's).

    This is the orientation of the wrist pose in ``HandPose`` messages and TF.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3):
        raise ValueError(f"palm_orientation expects joints of shape (21, 3), got {joints.shape}")
    wrist = joints[WRIST]
    x = _unit(joints[_MIDDLE_MCP] - wrist)
    # index x pinky (from the wrist) points out of a right palm and the back of a left hand.
    normal = _cross(joints[_INDEX_MCP] - wrist, joints[_PINKY_MCP] - wrist)
    z = -normal if left else normal
    z = _unit(z - np.dot(z, x) * x)
    return np.stack([x, _cross(z, x), z], axis=1)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b of two 3-vectors. np.cross's axis handling took a third of the estimator's
    per-frame decoding in a profile; without it decoding is 1.3x faster (docs/performance.md)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    if not np.isfinite(norm) or norm < 1e-12:
        raise ValueError("degenerate hand: joints coincide, cannot build a palm frame")
    return vector / norm
