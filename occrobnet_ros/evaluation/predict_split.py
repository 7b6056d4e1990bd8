"""Run a checkpoint over a dataset split and write the official submission files.

``occrobnet evaluate <dataset> --checkpoint CKPT --data-root DIR --out DIR`` uses this module;
no ROS here. Every frame of the split (or the first ``count``), in the reader's order, which
is the official order (``evaluation.txt`` / ``train.txt``, the InterHand2.6M annotation
file), goes through ``Estimator.predict_batch`` in batches: each frame on its own, with no
tracking and no smoothing, so a rerun writes the same numbers.

The crop is Keypoint Transformer's evaluation crop: the dataset's box, ``Record.roi_box``
(HO-3D's / H2O-3D's ``handBoundingBox``, InterHand2.6M's annotation box), squared and enlarged
x1.25 as ``process_bbox`` does, or RootNet's box as it is (``Record.roi_box_scale`` 1: RootNet's
output is already a crop); never around ground-truth joints. A frame without a box is
letterboxed whole.

Every hand slot and the object are decoded whatever their presence scores (thresholds 0): the
benchmarks score each annotated hand, so no slot may be left empty. A hand or object the
estimator cannot place (degenerate least squares, behind the camera) is written as zeros.

Files written into the output directory, named by the ``occrobnet evaluate`` option that
reads each one (``SplitFiles.files``; formats in docs/metrics.md):

========== ================================ =================================================
dataset    predictions                      ground truth (when the split has it)
========== ================================ =================================================
ho3d       ``pred.json`` [xyz_list,         ``gt_xyz.json``
           verts_list]; pred_obj.json
h2o3d      ``pred.json`` [xyz_list]         ``gt.json``
interhand  ``pred.json`` {"joints": ...}    ``gt.json``
objects    ``pred_obj.json`` [pose_list]    ``gt_obj_pose.json``, ``gt_obj_names.json``,
           (models with an object head)     ``gt_obj_verts.json``
========== ================================ =================================================

- HO-3D ``xyz``: the right hand's camera-frame joints, HO-3D order, OpenGL, metres.
  ``verts``: 778 x 3 zeros per frame. OccRobNet predicts no MANO mesh; the official scorer
  needs 778 vertices per frame and scores zeros as a (meaningless) mesh, as Keypoint
  Transformer's submissions do, while ``occrobnet evaluate`` only counts them. The zeros make
  the file large (about 220 MB for HO-3D v3's 20,137 frames; it zips to a small fraction).
- H2O-3D: Keypoint Transformer's challenge layout, 21 x 6 per frame (``data/readers/h2o3d.py``).
- InterHand2.6M: camera-frame joints, our order, metres.
- Objects (HANDS'22 ``[pose_list]``): a Rodrigues rotation and the translation of the object
  model's origin, OpenGL, metres. The estimator gives the centre of the box; the origin is that
  centre minus the rotated centre of the frame's rest-pose box (``objCorners3DRest``, the known
  object model, as HANDS'22 gives the object to every method), or the centre itself where the
  frame has no box. MSSD is scored on the 8 corners of that box (``gt_obj_verts.json``), as
  the datasets ship no YCB meshes; for the official number pass the mesh vertices to
  ``occrobnet evaluate ... --pred-obj pred_obj.json --obj-verts``.

Ground truth: a split has it when every frame is fully annotated (HO-3D / H2O-3D training
frames; every InterHand2.6M split), or, for HO-3D's ``evaluation`` split, when the official
``evaluation_xyz.json`` lies in the data root (its first ``count`` entries are copied).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from occrobnet_ros.data.readers import h2o3d, ho3d
from occrobnet_ros.data.readers.record import Record, open_dataset
from occrobnet_ros.geometry import matrix_to_rotvec
from occrobnet_ros.inference.estimator import Estimator
from occrobnet_ros.prediction import Prediction
from occrobnet_ros.skeleton import NUM_JOINTS, RIGHT, hand_slice

DATASETS = ("ho3d", "h2o3d", "interhand")
DEFAULT_SPLITS = {"ho3d": "evaluation", "h2o3d": "evaluation", "interhand": "test"}
MANO_VERTICES = 778
OPENGL = ho3d.OPENGL_TO_OPENCV  # diag(1, -1, -1), its own inverse
# HO-3D's official evaluation ground truth, in the data root of v3 (released in 2026).
OFFICIAL_HO3D_GT = "evaluation_xyz.json"
_EMPTY_IMAGE = np.zeros((0, 0, 3), np.uint8)
_EMPTY_MASK = np.zeros((0, 0), np.uint8)


@dataclass
class SplitPredictions:
    """The estimator's output for the frames of a split, in the split's order."""

    dataset: str
    joints: np.ndarray  # [N, 42, 3] ours, OpenCV camera frame, metres; zeros where not placed
    object_rotations: np.ndarray | None  # [N, 3, 3] model -> camera (None: no object head)
    object_translations: np.ndarray | None  # [N, 3] the object model's origin, metres
    records: list[Record]  # the frames' annotations, without pixels


@dataclass
class SplitFiles:
    """What ``write_split_files`` wrote: files by the ``occrobnet evaluate`` option that reads
    them (``pred``, ``gt_xyz`` / ``gt``, ``pred_obj``, ``gt_obj_pose``, ``obj_names``,
    ``obj_verts``)."""

    num_frames: int
    files: dict[str, Path]

    @property
    def has_ground_truth(self) -> bool:
        return "gt" in self.files or "gt_xyz" in self.files


# --- running the checkpoint


def evaluation_estimator(checkpoint: str | Path, device: str = "auto") -> Estimator:
    """An estimator for benchmark frames: every hand slot and the object decoded."""
    return Estimator(
        checkpoint, device=device, roi_tracking=False, hand_threshold=0.0, object_threshold=0.0
    )


def predict_split(
    reader: Any,
    estimator: Estimator,
    batch_size: int = 8,
    count: int | None = None,
    workers: int = 0,
    progress: bool = True,
) -> SplitPredictions:
    """Run ``estimator`` over the first ``count`` frames (default all) of ``reader`` (one of
    data/readers/record.py's ``open_dataset`` readers); ``workers`` DataLoader processes read
    ahead."""
    frames = _Frames(reader, len(reader) if count is None else min(count, len(reader)))
    with_object = bool(estimator.config.with_object)
    joints, rotations, translations, records = [], [], [], []
    for record, prediction in tqdm(
        _predictions(estimator, frames, batch_size, workers),
        total=len(frames),
        desc=f"{reader.title} {reader.split}",
        unit="frame",
        disable=not progress,
    ):
        joints.append(frame_joints(prediction))
        if with_object:
            rotation, translation = object_model_pose(prediction, record)
            rotations.append(rotation)
            translations.append(translation)
        records.append(record)
    return SplitPredictions(
        reader.dataset,
        np.asarray(joints, np.float64).reshape(-1, 2 * NUM_JOINTS, 3),
        np.asarray(rotations).reshape(-1, 3, 3) if with_object else None,
        np.asarray(translations).reshape(-1, 3) if with_object else None,
        records,
    )


class _Frames(Dataset):
    """(image, K, the record without pixels) of a reader's first ``count`` frames."""

    def __init__(self, reader: Any, count: int) -> None:
        self.reader, self.count = reader, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, Record]:
        record = self.reader.record(index)
        return record.image, record.K, without_pixels(record)


def _predictions(
    estimator: Estimator, frames: _Frames, batch_size: int, workers: int
) -> Iterator[tuple[Record, Prediction]]:
    """(record, prediction) per frame, in order; batches decoded by the loader's workers."""
    loader = DataLoader(
        frames,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=list,
        shuffle=False,
        # Clean worker processes, not forks of this one (see training/trainer.py, Trainer.loader).
        multiprocessing_context="forkserver" if workers else None,
    )
    for batch in loader:
        images, Ks, records = zip(*batch)
        boxes = [record.roi_box for record in records]
        scales = [record.roi_box_scale for record in records]
        predictions = estimator.predict_batch(list(images), list(Ks), boxes, box_scales=scales)
        yield from zip(records, predictions)


def without_pixels(record: Record) -> Record:
    """The record's annotations only: 20,000 frames of images and masks would not fit."""
    return replace(
        record,
        image=_EMPTY_IMAGE,
        hand_mask=_EMPTY_MASK,
        object_mask=_EMPTY_MASK.astype(bool),
        depth=_EMPTY_MASK.astype(np.float32),
    )


def frame_joints(prediction: Prediction) -> np.ndarray:
    """Both hands' joints [42, 3]: right then left, zeros for a hand that was not placed."""
    return np.concatenate([hand.joints for hand in prediction.hands]).astype(np.float64)


def object_model_pose(prediction: Prediction, record: Record) -> tuple[np.ndarray, np.ndarray]:
    """(rotation, origin) of the object model in the camera frame, from the predicted box:
    origin = box centre - R @ (centre of the frame's rest-pose box). Identity and zeros when
    the estimator could not place the object."""
    estimate = prediction.object
    if not estimate.detected:
        return np.eye(3), np.zeros(3)
    rest_centre = record.object_corners_rest.mean(axis=0)
    if not np.isfinite(rest_centre).all():
        rest_centre = np.zeros(3)  # no model box: the box centre stands for the origin
    return estimate.rotation, estimate.translation - estimate.rotation @ rest_centre


# --- the official file formats


def submission_entry(dataset: str, joints: np.ndarray) -> Any:
    """One frame's two-hand joints [42, 3] (ours, OpenCV, metres) as the dataset's prediction
    and ground-truth files hold them (nested lists)."""
    if dataset == "ho3d":
        return ho3d.submission_joints(joints[hand_slice(RIGHT)]).tolist()
    if dataset == "h2o3d":
        return h2o3d.submission_joints(joints).tolist()
    if dataset == "interhand":
        return np.nan_to_num(joints).tolist()
    raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")


def hands22_pose(rotation: np.ndarray, translation: np.ndarray) -> list[float]:
    """An object pose (model -> OpenCV camera) as a HANDS'22 entry: Rodrigues vector and
    translation, both in the OpenGL camera frame."""
    return [*matrix_to_rotvec(OPENGL @ rotation).tolist(), *(OPENGL @ translation).tolist()]


def write_predictions(
    dataset: str,
    joints: np.ndarray,
    directory: Path,
    object_poses: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write ``pred.json`` (and ``pred_obj.json`` given (rotations [N, 3, 3], model origins
    [N, 3])) for frames of joints [N, 42, 3]; ours, OpenCV camera frame, metres."""
    xyz = [submission_entry(dataset, frame) for frame in joints]
    files = {"pred": directory / "pred.json"}
    if dataset == "ho3d":
        _write_ho3d_submission(files["pred"], xyz)
    elif dataset == "h2o3d":
        _write_json(files["pred"], [xyz])
    else:
        _write_json(files["pred"], {"joints": xyz, "joint_order": "ours"})
    if object_poses is not None:
        files["pred_obj"] = directory / "pred_obj.json"
        _write_json(files["pred_obj"], [[hands22_pose(*pose) for pose in zip(*object_poses)]])
    return files


def write_ground_truth(
    dataset: str, records: list[Record], directory: Path, official_xyz: Path | None = None
) -> dict[str, Path]:
    """The ground-truth files of the frames ``records`` in the formats ``occrobnet evaluate``
    reads, or nothing when some frame is not fully annotated (and no ``official_xyz``)."""
    files: dict[str, Path] = {}
    if dataset == "interhand":
        files["gt"] = directory / "gt.json"
        _write_json(files["gt"], _interhand_ground_truth(records))
    elif official_xyz is not None:
        files["gt_xyz"] = directory / "gt_xyz.json"
        _write_json(files["gt_xyz"], _first(json.loads(official_xyz.read_text()), len(records)))
    elif all(_fully_annotated(dataset, record) for record in records):
        option = "gt_xyz" if dataset == "ho3d" else "gt"
        files[option] = directory / f"{option}.json"
        _write_json(files[option], [submission_entry(dataset, r.joints_3d) for r in records])
    if files and dataset != "interhand" and all(record.object_valid for record in records):
        files.update(_write_object_ground_truth(records, directory))
    return files


def _fully_annotated(dataset: str, record: Record) -> bool:
    hands = slice(0, 2 * NUM_JOINTS) if dataset == "h2o3d" else hand_slice(RIGHT)
    return bool(record.joint_valid[hands].all())


def _interhand_ground_truth(records: list[Record]) -> dict[str, Any]:
    """As ``InterHand.ground_truth()``, for the frames given."""
    return {
        "joints": [submission_entry("interhand", record.joints_3d) for record in records],
        "joint_valid": [record.joint_valid.astype(int).tolist() for record in records],
        "hand_type": [record.hand_type for record in records],
        "joint_order": "ours",
    }


def _write_object_ground_truth(records: list[Record], directory: Path) -> dict[str, Path]:
    """HANDS'22 object files: GT poses, names, and each object's rest-pose box corners."""
    files = {
        "gt_obj_pose": directory / "gt_obj_pose.json",
        "obj_names": directory / "gt_obj_names.json",
        "obj_verts": directory / "gt_obj_verts.json",
    }
    poses = [hands22_pose(r.object_rotation, r.object_translation) for r in records]
    corners = {r.object_name: r.object_corners_rest.tolist() for r in records}
    _write_json(files["gt_obj_pose"], poses)
    _write_json(files["obj_names"], [record.object_name for record in records])
    _write_json(files["obj_verts"], corners)
    return files


def _first(entries: Any, count: int) -> list:
    if not isinstance(entries, list) or len(entries) < count:
        raise ValueError(f"{OFFICIAL_HO3D_GT}: expected a list of at least {count} frames")
    return entries[:count]


def _write_json(path: Path, value: Any) -> None:
    with open(path, "w") as file:
        json.dump(value, file)


def _write_ho3d_submission(path: Path, xyz: list) -> None:
    """``[xyz_list, verts_list]`` with 778 x 3 zeros per frame, written frame by frame (the
    vertices of HO-3D v3 would take gigabytes as Python lists)."""
    zeros = json.dumps([[0.0, 0.0, 0.0]] * MANO_VERTICES, separators=(",", ":"))
    with open(path, "w") as file:
        file.write("[")
        json.dump(xyz, file)
        file.write(",[")
        for index in range(len(xyz)):
            file.write(zeros if index == 0 else "," + zeros)
        file.write("]]")


# --- all together


def write_split_files(
    dataset: str,
    data_root: str | Path,
    out: str | Path,
    checkpoint: str | Path,
    split: str | None = None,
    device: str = "auto",
    batch_size: int = 8,
    count: int | None = None,
    workers: int = 0,
    progress: bool = True,
) -> SplitFiles:
    """Predict a split with ``checkpoint`` and write its submission (and ground-truth) files
    into ``out``. Errors: ``OSError`` (a missing root, file or folder; the layout errors of
    data/readers/record.py), ``ValueError`` (a bad split, annotation or checkpoint) and
    ``EstimatorError``, each with a message that names the problem."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    if batch_size < 1 or (count is not None and count < 1):
        raise ValueError("the batch size and the frame count must be >= 1")
    split = split or DEFAULT_SPLITS[dataset]
    reader = open_dataset(dataset, data_root, split)
    if len(reader) == 0:
        raise ValueError(f"{reader.title} {split} split has no frames")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    predicted = predict_split(
        reader, evaluation_estimator(checkpoint, device), batch_size, count, workers, progress
    )
    poses = None
    if predicted.object_rotations is not None and dataset != "interhand":
        poses = (predicted.object_rotations, predicted.object_translations)
    files = write_predictions(dataset, predicted.joints, out, poses)
    official = Path(data_root) / OFFICIAL_HO3D_GT
    use_official = dataset == "ho3d" and split == "evaluation" and official.is_file()
    files.update(
        write_ground_truth(dataset, predicted.records, out, official if use_official else None)
    )
    return SplitFiles(len(predicted.records), files)
