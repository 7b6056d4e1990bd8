"""InterHand2.6M (v1.0) reader: one or two hands per image, many cameras per frame.

Layout (the v1.0 release, 5 fps or 30 fps; docs/datasets.md)::

    <root>/annotations/<split>/InterHand2.6M_<split>_data.json
        COCO-like: "images" (id, file_name, width, height, capture, camera, frame_idx,
        seq_name) and "annotations" (id, image_id, bbox [x, y, w, h] px, joint_valid [42],
        hand_type "right" | "left" | "interacting", hand_type_valid)
    <root>/annotations/<split>/InterHand2.6M_<split>_camera.json
        {capture: {"campos" | "camrot" | "focal" | "princpt": {camera: value}}}: the camera
        centre in world mm, world -> camera rotation [3, 3], (fx, fy), (cx, cy) px
    <root>/annotations/<split>/InterHand2.6M_<split>_joint_3d.json
        {capture: {frame_idx: {"world_coord": [42, 3] mm, "joint_valid", "hand_type", ...}}}
    <root>/images/<split>/<file_name>        Capture*/<seq>/cam*/image*.jpg

Conversions (IH ``data/InterHand2.6M/dataset.py``): camera point = ``camrot @ (world -
campos)``, mm -> metres; pixels by the pinhole ``K`` of focal and princpt; joints from
InterHand's order (tips first, wrist last) to ours (``skeleton.OURS_FROM_INTERHAND``), right
hand 0-20, left 21-41. Validity is the annotation's ``joint_valid`` with IH's rule that a hand
whose wrist is invalid loses all its joints. The frames are in the data file's annotation order.

With ``rootnet_output`` (IH's ``rootnet_interhand2.6m_output_{val,test}[_30fps].json``: a list of
``{"annot_id", "bbox" [x, y, w, h], "abs_depth" [right, left] mm}``), ``roi_box`` is RootNet's
box, used as it is (``roi_box_scale`` 1: the official code crops it without enlarging, while an
annotation box is enlarged x1.25), and ``root_depth_estimate`` its wrist depths, as the IH and
Keypoint Transformer test protocols use them; frames RootNet does not cover keep the
annotation's box and get NaN depths.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from occrobnet_ros.crop_policy import DATASET_BOX_SCALE
from occrobnet_ros.data.readers import record as rec
from occrobnet_ros.data.readers.record import FrameInfo, Record
from occrobnet_ros.skeleton import NUM_HANDS, NUM_JOINTS, OURS_FROM_INTERHAND, two_hand_map

SPLITS = ("train", "val", "test")
MM_TO_M = 1e-3
OURS_FROM_INTERHAND_42 = two_hand_map(OURS_FROM_INTERHAND)
CAMERA_KEYS = ("campos", "camrot", "focal", "princpt")


@dataclass
class Camera:
    """One calibrated camera of one capture (world in metres)."""

    rotation: np.ndarray  # [3, 3] world -> camera
    position: np.ndarray  # [3] camera centre in the world, metres
    K: np.ndarray  # [3, 3]

    def to_camera(self, world: np.ndarray) -> np.ndarray:
        """World points [..., 3] (metres) in this camera's optical frame."""
        return (np.asarray(world, np.float64) - self.position) @ self.rotation.T


class InterHand:
    """The InterHand2.6M annotations of one split as ``Record``s (annotation order).

    ``dataset[i]`` loads the image (RGB); ``dataset.frames[i]`` (a ``FrameInfo``),
    ``dataset.hand_types[i]`` and ``dataset.ground_truth()`` need no image. With
    ``skip_unannotated`` the annotations without any valid hand are left out (for training).
    """

    dataset, title = "interhand", "InterHand2.6M"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        rootnet_output: str | Path | None = None,
        skip_unannotated: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"InterHand2.6M split must be one of {SPLITS}, got {split!r}")
        self.root, self.split = Path(root), split
        folder = self.root / "annotations" / split
        paths = {kind: folder / f"InterHand2.6M_{split}_{kind}.json" for kind in _FILES}
        rec.require_paths(
            self.title,
            self.root,
            {
                **{_FILES[kind]: path for kind, path in paths.items()},
                f"image folder of the {split} split": self.root / "images" / split,
            },
        )
        self.cameras = _cameras(rec.load_json(paths["camera"]), paths["camera"])
        world, frame_rows = _world_joints(rec.load_json(paths["joint_3d"]), paths["joint_3d"])
        self._world = world
        self._index(rec.load_json(paths["data"]), paths["data"], frame_rows, skip_unannotated)
        self.rootnet = {}
        if rootnet_output is not None:
            self.rootnet = _rootnet(rec.load_json(Path(rootnet_output)), Path(rootnet_output))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Record:
        return self.record(index)

    def camera(self, index: int) -> Camera:
        info = self.frames[index]
        return self.cameras[(info.capture, info.camera)]

    def joints_camera(self, index: int) -> np.ndarray:
        """The 42 joints of annotation ``index`` in its camera's frame (metres, our order)."""
        world = self._world[self._world_rows[index]].astype(np.float64) * MM_TO_M
        return self.camera(index).to_camera(world[OURS_FROM_INTERHAND_42])

    def record(self, index: int, load_image: bool = True) -> Record:
        """Annotation ``index``; with ``load_image=False`` the image and masks are empty
        (0 x 0): ground truth only."""
        info = self.frames[index]
        image = rec.load_rgb(info.image_path) if load_image else np.zeros((0, 0, 3), np.uint8)
        from_rootnet = info.annotation_id in self.rootnet
        box, depth = self.rootnet.get(info.annotation_id, (self._boxes[index], None))
        return rec.make_record(
            info,
            image,
            self.camera(index).K,
            self.joints_camera(index),
            self._joint_valid[index],
            hand_type=self.hand_types[index],
            hand_present=(
                rec.presence_of(self.hand_types[index]) if self._hand_type_valid[index] else None
            ),
            roi_box=box,
            roi_box_scale=1.0 if from_rootnet else DATASET_BOX_SCALE,
            root_depth_estimate=depth,
        )

    def ground_truth(self) -> dict[str, Any]:
        """The split's ground truth in the file format of ``occrobnet evaluate interhand --gt``:
        camera-frame joints (metres, our order), validity (IH's root rule) and hand types."""
        joints, valid = [], []
        for index in range(len(self)):
            sample = self.record(index, load_image=False)
            joints.append(np.nan_to_num(sample.joints_3d).tolist())
            valid.append(sample.joint_valid.astype(int).tolist())
        return {"joints": joints, "joint_valid": valid, "hand_type": list(self.hand_types)}

    def _index(
        self, data: Any, path: Path, frame_rows: dict[tuple[str, str], int], skip: bool
    ) -> None:
        images, annotations = _coco_lists(data, path)
        by_id = {image["id"]: image for image in images}
        self.frames, self.hand_types = [], []
        rows, valids, boxes, type_valid = [], [], [], []
        for annotation in annotations:
            image = by_id.get(annotation.get("image_id"))
            if image is None:
                raise rec.DatasetFormatError(
                    f"{path}: annotation {annotation.get('id')} names a missing image"
                )
            try:
                info = self._frame_info(image, annotation)
            except (KeyError, ValueError, TypeError) as error:
                raise rec.DatasetFormatError(
                    f"{path}: annotation {annotation.get('id')} or its image lacks {error}"
                ) from error
            valid = _joint_valid(annotation, path)
            if skip and not valid.any():
                continue
            key = (info.capture, info.frame_id)
            if key not in frame_rows:
                raise rec.DatasetFormatError(
                    f"{path}: annotation {info.annotation_id} refers to capture {key[0]} frame "
                    f"{key[1]}, which the joint_3d file does not have"
                )
            if (info.capture, info.camera) not in self.cameras:
                raise rec.DatasetFormatError(
                    f"{path}: annotation {info.annotation_id} uses camera {info.camera} of "
                    f"capture {info.capture}, which the camera file does not have"
                )
            self.frames.append(info)
            self.hand_types.append(_hand_type(annotation, path))
            rows.append(frame_rows[key])
            valids.append(valid)
            boxes.append(_xywh_to_box(annotation.get("bbox"), path))
            type_valid.append(bool(annotation.get("hand_type_valid", 0)))
        self._world_rows = np.asarray(rows, np.int64)
        self._joint_valid = np.asarray(valids, bool).reshape(-1, NUM_HANDS * NUM_JOINTS)
        self._boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self._hand_type_valid = np.asarray(type_valid, bool)

    def _frame_info(self, image: dict[str, Any], annotation: dict[str, Any]) -> FrameInfo:
        return FrameInfo(
            dataset=self.dataset,
            split=self.split,
            sequence=str(image.get("seq_name", "")),
            frame_id=str(image["frame_idx"]),
            image_path=self.root / "images" / self.split / str(image["file_name"]),
            capture=str(image["capture"]),
            camera=str(image["camera"]),
            annotation_id=int(annotation["id"]),
        )


_FILES = {
    "data": "COCO-like images and annotations (data.json)",
    "camera": "camera parameters per capture (camera.json)",
    "joint_3d": "3D joints per capture and frame (joint_3d.json)",
}


def _coco_lists(data: Any, path: Path) -> tuple[list, list]:
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), list) for key in ("images", "annotations")
    ):
        raise rec.DatasetFormatError(f"{path}: expected an object with 'images' and 'annotations'")
    return data["images"], data["annotations"]


def _cameras(data: Any, path: Path) -> dict[tuple[str, str], Camera]:
    """Every (capture, camera) of the camera file as a ``Camera``."""
    if not isinstance(data, dict):
        raise rec.DatasetFormatError(f"{path}: expected an object keyed by capture id")
    cameras = {}
    for capture, values in data.items():
        if not isinstance(values, dict) or not all(key in values for key in CAMERA_KEYS):
            raise rec.DatasetFormatError(f"{path}: capture {capture} lacks one of {CAMERA_KEYS}")
        for camera in values["campos"]:
            try:
                focal = np.asarray(values["focal"][camera], np.float64).reshape(2)
                centre = np.asarray(values["princpt"][camera], np.float64).reshape(2)
                rotation = np.asarray(values["camrot"][camera], np.float64).reshape(3, 3)
                position = np.asarray(values["campos"][camera], np.float64).reshape(3) * MM_TO_M
            except (KeyError, ValueError, TypeError) as error:
                raise rec.DatasetFormatError(
                    f"{path}: capture {capture} camera {camera}: bad parameters ({error})"
                ) from error
            K = np.array([[focal[0], 0, centre[0]], [0, focal[1], centre[1]], [0, 0, 1]])
            cameras[(str(capture), str(camera))] = Camera(rotation, position, K)
    return cameras


def _world_joints(data: Any, path: Path) -> tuple[np.ndarray, dict[tuple[str, str], int]]:
    """All frames' world joints [F, 42, 3] (mm, float32, InterHand order) and the row of each
    (capture, frame_idx): compact, so DataLoader workers do not copy a JSON tree."""
    if not isinstance(data, dict):
        raise rec.DatasetFormatError(f"{path}: expected an object keyed by capture id")
    rows, joints = {}, []
    for capture, frames in data.items():
        if not isinstance(frames, dict):
            raise rec.DatasetFormatError(f"{path}: capture {capture}: expected frames by id")
        for frame, values in frames.items():
            try:
                world = np.asarray(values["world_coord"], np.float32).reshape(-1, 3)
            except (KeyError, ValueError, TypeError) as error:
                raise rec.DatasetFormatError(
                    f"{path}: capture {capture} frame {frame}: bad world_coord ({error})"
                ) from error
            if world.shape[0] != NUM_HANDS * NUM_JOINTS:
                raise rec.DatasetFormatError(
                    f"{path}: capture {capture} frame {frame}: {world.shape[0]} joints, not 42"
                )
            rows[(str(capture), str(frame))] = len(joints)
            joints.append(world)
    return np.asarray(joints, np.float32).reshape(-1, NUM_HANDS * NUM_JOINTS, 3), rows


def _joint_valid(annotation: dict[str, Any], path: Path) -> np.ndarray:
    """The annotation's joint_valid [42] in our order (IH stores it as [42] or [42, 1])."""
    valid = np.asarray(annotation.get("joint_valid", []), np.float64).reshape(-1)
    if valid.size != NUM_HANDS * NUM_JOINTS:
        raise rec.DatasetFormatError(
            f"{path}: annotation {annotation.get('id')}: joint_valid has {valid.size} entries"
        )
    return valid[OURS_FROM_INTERHAND_42] > 0


def _hand_type(annotation: dict[str, Any], path: Path) -> str:
    hand_type = annotation.get("hand_type")
    if hand_type not in rec.HAND_TYPES:
        raise rec.DatasetFormatError(
            f"{path}: annotation {annotation.get('id')}: unknown hand_type {hand_type!r}"
        )
    return hand_type


def _xywh_to_box(bbox: Any, path: Path) -> np.ndarray:
    """A COCO box [x, y, w, h] as [x0, y0, x1, y1] (NaN when absent)."""
    if bbox is None:
        return np.full(4, np.nan)
    try:
        x, y, w, h = np.asarray(bbox, np.float64).reshape(4)
    except (ValueError, TypeError) as error:
        raise rec.DatasetFormatError(f"{path}: bad bbox {bbox!r}") from error
    return np.array([x, y, x + w, y + h])


def _rootnet(data: Any, path: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """RootNet's output per annotation id: (box [x0, y0, x1, y1], wrist depths [2] metres)."""
    try:
        return {
            int(entry["annot_id"]): (
                _xywh_to_box(entry["bbox"], path),
                np.asarray(entry["abs_depth"], np.float64).reshape(2) * MM_TO_M,
            )
            for entry in data
        }
    except (KeyError, ValueError, TypeError) as error:
        raise rec.DatasetFormatError(
            f"{path}: expected a list of {{annot_id, bbox, abs_depth}} ({error!r})"
        ) from error
