"""The per-frame record that every dataset reader returns, and what the readers share.

A ``Record`` is a ``sample.Sample`` (same fields, same conventions: metres, camera optical
frame, our joint order, right hand 0-20 then left hand 21-41), so ``data/targets.py`` and
``data/augment.py`` take a frame of InterHand2.6M, HO-3D or H2O-3D exactly as they take a
synthetic one. It adds what a real dataset has and the generator does not:

- ``info``: where the frame comes from (``FrameInfo``: dataset, split, sequence, frame id,
  image path; capture, camera and annotation id for InterHand2.6M), so evaluation can write
  its files in the official order.
- ``joint_valid`` [42] bool: the joints the dataset annotates. ``hand_valid`` says which hands
  are present and annotated; a joint of a valid hand may still be unannotated (InterHand2.6M)
  or, on evaluation splits, every joint but the wrist.
- ``hand_type``: ``"right"``, ``"left"`` or ``"interacting"`` (InterHand2.6M's annotation, else
  from ``hand_valid``); metrics split single-hand and interacting frames by it.
- ``hand_present`` [2] bool: which hands are in the image, whether or not their pose is
  annotated. InterHand2.6M takes it from ``hand_type`` where ``hand_type_valid`` (its official
  ``data/InterHand2.6M/dataset.py`` does the same; a right hand whose wrist alone is
  unannotated is still there), else from ``hand_valid``. It supervises hand presence;
  ``hand_valid`` supervises the poses.
- ``roi_box`` [4] ``x0, y0, x1, y1`` px: the dataset's own box around the hands (InterHand2.6M
  annotation or RootNet box, HO-3D / H2O-3D evaluation ``handBoundingBox``), NaN if none;
  ``roi_box_scale``: how much the evaluation crop enlarges it (1.25, ``process_bbox``; 1 for
  RootNet's box, which InterHand2.6M's official code uses as it is).
- ``object_name`` (YCB name such as ``"006_mustard_bottle"``) and ``object_mask_source``:
  ``"segmentation"`` (the dataset's mask), ``"box"`` (no mask file: the filled hull of the
  projected 3D box) or ``""`` (no object).
- ``root_depth_estimate`` [2] metres: an external estimate of the two wrists' depth (RootNet
  for InterHand2.6M), NaN if none.

What real datasets do not know is filled in neutrally: ``hand_mask`` is all 0 (unknown),
``depth`` all NaN (a read-only view, no memory), ``occlusion_bucket`` is ``""``, and
``joint_visible`` is "annotated, in front of the camera and inside the image", occlusion unknown.
Absent hands have NaN joints, as in ``Sample``.
"""

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from occrobnet_ros.crop_policy import DATASET_BOX_SCALE
from occrobnet_ros.data.sample import Sample
from occrobnet_ros.geometry import project
from occrobnet_ros.skeleton import LEFT, NUM_HANDS, NUM_JOINTS, RIGHT, WRIST

NUM_TWO_HAND_JOINTS = NUM_HANDS * NUM_JOINTS
ROOTS = (RIGHT * NUM_JOINTS + WRIST, LEFT * NUM_JOINTS + WRIST)
HAND_TYPES = ("right", "left", "interacting")
SCENE_OF_HAND_TYPE = {"right": "one_hand", "left": "one_hand", "interacting": "interacting"}
# Reader class of each dataset name (``open_dataset``), imported only when asked for.
READERS = {
    "interhand": ("occrobnet_ros.data.readers.interhand", "InterHand"),
    "ho3d": ("occrobnet_ros.data.readers.ho3d", "HO3D"),
    "h2o3d": ("occrobnet_ros.data.readers.h2o3d", "H2O3D"),
}


class DatasetLayoutError(FileNotFoundError):
    """The dataset root does not have the expected layout; the message says what is missing."""


class DatasetFormatError(ValueError):
    """An annotation file exists but cannot be understood; the message names the file."""


@dataclass(frozen=True)
class FrameInfo:
    """Where one frame comes from; enough to write evaluation files in the official order."""

    dataset: str
    split: str
    sequence: str
    frame_id: str
    image_path: Path
    capture: str = ""
    camera: str = ""
    annotation_id: int = -1

    @property
    def name(self) -> str:
        """``"<sequence>/<frame_id>"``, the line of HO-3D's and H2O-3D's split files."""
        return f"{self.sequence}/{self.frame_id}"


@dataclass
class ObjectAnnotation:
    """A YCB object's pose in the camera optical frame and its rest-pose 3D box."""

    name: str
    rotation: np.ndarray  # [3, 3] object -> camera
    translation: np.ndarray  # [3] the object frame's origin in the camera frame, metres
    corners_rest: np.ndarray  # [8, 3] bounding-box corners in the object frame, metres
    symmetry: int  # objects.py classes: 0 none, 1 half turn about z, 2 continuous about z


@dataclass
class Record(Sample):
    """One dataset frame: a ``Sample`` plus its provenance (see the module docstring)."""

    info: FrameInfo | None = None
    joint_valid: np.ndarray = field(default_factory=lambda: np.zeros(NUM_TWO_HAND_JOINTS, bool))
    hand_type: str = ""
    hand_present: np.ndarray = field(default_factory=lambda: np.zeros(2, bool))
    roi_box: np.ndarray = field(default_factory=lambda: np.full(4, np.nan))
    roi_box_scale: float = DATASET_BOX_SCALE  # 1: roi_box is already a crop (RootNet)
    object_name: str = ""
    object_mask_source: str = ""
    root_depth_estimate: np.ndarray = field(default_factory=lambda: np.full(2, np.nan))


def make_record(
    info: FrameInfo,
    image: np.ndarray,
    K: np.ndarray,
    joints_3d: np.ndarray,
    joint_valid: np.ndarray,
    *,
    obj: ObjectAnnotation | None = None,
    object_mask: np.ndarray | None = None,
    hand_type: str | None = None,
    hand_present: np.ndarray | None = None,
    roi_box: np.ndarray | None = None,
    roi_box_scale: float = DATASET_BOX_SCALE,
    root_depth_estimate: np.ndarray | None = None,
) -> Record:
    """A ``Record`` from camera-frame joints [42, 3] (metres, our order) and their validity.

    A hand is valid when its wrist is annotated (InterHand2.6M's rule: a hand without its root
    has no root-relative pose); the joints of an invalid hand become NaN. 2D joints and box
    corners are projections with ``K``. Without ``object_mask``, an object's mask is the filled
    hull of its projected 3D box. ``hand_present`` defaults to the valid hands.
    """
    height, width = image.shape[:2]
    joint_valid = np.asarray(joint_valid, bool).copy()
    hand_valid = joint_valid[list(ROOTS)].copy()
    joint_valid &= np.repeat(hand_valid, NUM_JOINTS)
    joints_3d = np.where(np.repeat(hand_valid, NUM_JOINTS)[:, None], joints_3d, np.nan)
    joints_2d = project(joints_3d, K)
    hand_type = hand_type or hand_type_of(hand_valid)
    return Record(
        image=image,
        K=np.asarray(K, np.float64),
        joints_3d=joints_3d,
        joints_2d=joints_2d,
        joint_visible=joint_valid & in_view(joints_3d, joints_2d, width, height),
        hand_valid=hand_valid,
        hand_mask=np.zeros((height, width), np.uint8),
        occlusion_bucket="",
        depth=np.broadcast_to(np.float32(np.nan), (height, width)),
        scene=SCENE_OF_HAND_TYPE.get(hand_type, ""),
        info=info,
        joint_valid=joint_valid,
        hand_type=hand_type,
        hand_present=(
            hand_valid.copy() if hand_present is None else np.asarray(hand_present, bool)
        ),
        roi_box=np.full(4, np.nan) if roi_box is None else np.asarray(roi_box, np.float64),
        roi_box_scale=float(roi_box_scale),
        root_depth_estimate=(
            np.full(2, np.nan) if root_depth_estimate is None else np.asarray(root_depth_estimate)
        ),
        **object_fields(obj, object_mask, K, height, width),
    )


def object_fields(
    obj: ObjectAnnotation | None, mask: np.ndarray | None, K: np.ndarray, height: int, width: int
) -> dict[str, Any]:
    """The ``object_*`` fields of a ``Sample`` (NaN pose and an empty mask without an object)."""
    if obj is None:
        return {
            "object_valid": False,
            "object_mask": np.zeros((height, width), bool),
            "object_rotation": np.full((3, 3), np.nan),
            "object_translation": np.full(3, np.nan),
            "object_corners_rest": np.full((8, 3), np.nan),
            "object_corners_3d": np.full((8, 3), np.nan),
            "object_corners_2d": np.full((8, 2), np.nan),
            "object_symmetry": -1,
            "object_size": np.full(3, np.nan),
            "object_name": "",
            "object_mask_source": "",
        }
    corners_3d = obj.corners_rest @ obj.rotation.T + obj.translation
    corners_2d = project(corners_3d, K)
    source = "segmentation" if mask is not None else "box"
    if mask is None and height * width > 0:
        mask = hull_mask(corners_2d, height, width)
    elif mask is None:
        mask = np.zeros((height, width), bool)
    return {
        "object_valid": True,
        "object_mask": mask,
        "object_rotation": obj.rotation,
        "object_translation": obj.translation,
        "object_corners_rest": obj.corners_rest,
        "object_corners_3d": corners_3d,
        "object_corners_2d": corners_2d,
        "object_symmetry": int(obj.symmetry),
        "object_size": obj.corners_rest.max(axis=0) - obj.corners_rest.min(axis=0),
        "object_name": obj.name,
        "object_mask_source": source,
    }


def presence_of(hand_type: str) -> np.ndarray:
    """[right, left] presence of an InterHand2.6M ``hand_type``."""
    return np.array([hand_type in ("right", "interacting"), hand_type in ("left", "interacting")])


def hand_type_of(hand_valid: np.ndarray) -> str:
    """``"interacting"`` with both hands, ``"right"`` or ``"left"`` with one, else ``""``."""
    right, left = (bool(v) for v in hand_valid)
    if right and left:
        return "interacting"
    return "right" if right else "left" if left else ""


def in_view(joints_3d: np.ndarray, joints_2d: np.ndarray, width: int, height: int) -> np.ndarray:
    """Joints in front of the camera whose pixel lies inside a ``width x height`` image."""
    with np.errstate(invalid="ignore"):
        inside = (joints_2d >= -0.5).all(1) & (joints_2d[:, 0] < width - 0.5)
        inside &= joints_2d[:, 1] < height - 0.5
        return inside & (joints_3d[:, 2] > 0)


def hull_mask(points_2d: np.ndarray, height: int, width: int) -> np.ndarray:
    """A boolean mask of the filled convex hull of 2D points (the object box's silhouette)."""
    mask = np.zeros((height, width), np.uint8)
    points = np.asarray(points_2d, np.float64)
    points = points[np.isfinite(points).all(1)]
    if len(points) >= 3:
        hull = cv2.convexHull(np.round(points).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def crop_points(record: Record) -> np.ndarray:
    """2D points [N, 2] that an evaluation crop must contain, as Keypoint Transformer crops.

    The dataset's ``roi_box`` corners when it has one (InterHand2.6M annotation or RootNet box,
    HO-3D / H2O-3D evaluation hand boxes), else the annotated joints; plus the object's
    projected box corners. Feed them to ``crop_policy.roi_transform``.
    """
    if np.isfinite(record.roi_box).all():
        x0, y0, x1, y1 = record.roi_box
        points = [np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]])]
    else:
        points = [record.joints_2d[record.joint_valid]]
    if record.object_valid:
        points.append(record.object_corners_2d)
    return np.concatenate(points)


# --- files ------------------------------------------------------------------------------------


def load_rgb(path: Path) -> np.ndarray:
    """The image at ``path`` as uint8 RGB [H, W, 3]."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetFormatError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_mask(path: Path, channel: int, height: int, width: int) -> np.ndarray:
    """A segmentation image's mask: RGB ``channel`` above 200 (Keypoint Transformer's rule),
    resized to ``height x width`` by nearest neighbour (masks may be stored smaller)."""
    image = load_rgb(path)
    mask = (image[:, :, channel] > 200).astype(np.uint8)
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return mask.astype(bool)


def load_json(path: Path) -> Any:
    """The JSON document at ``path``; errors name the file (and the position of a syntax error):
    FileNotFoundError, or DatasetFormatError for what is not valid JSON."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        with path.open("rb") as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        raise DatasetFormatError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{path}: not valid JSON: not UTF-8 ({error})") from error


def require_paths(dataset: str, root: Path, expected: dict[str, Path]) -> None:
    """Raise ``DatasetLayoutError`` naming every missing ``expected`` path (what -> where)."""
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset} root {root} is not a directory")
    missing = {what: path for what, path in expected.items() if not path.exists()}
    if missing:
        found = sorted(entry.name for entry in root.iterdir())[:20]
        lines = "\n".join(f"  {what}: {path}" for what, path in missing.items())
        raise DatasetLayoutError(
            f"{root} is not laid out as {dataset} expects (see docs/datasets.md); missing:\n"
            f"{lines}\n  the root holds: {found}"
        )


def open_dataset(name: str, root: str | Path, split: str, **options: Any) -> Any:
    """The reader of dataset ``name`` (``"interhand"``, ``"ho3d"``, ``"h2o3d"``) for ``split``."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(READERS)}")
    module, cls = READERS[name]
    return getattr(importlib.import_module(module), cls)(root, split, **options)
