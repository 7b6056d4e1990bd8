"""HO-3D (v2 / v3) reader: one right hand and one YCB object per frame.

Layout (the official release; docs/datasets.md)::

    <root>/train.txt, <root>/evaluation.txt      one "<SEQ>/<frame>" per line: the split's
                                                 frames, in the official order
    <root>/<split>/<SEQ>/rgb/<frame>.jpg         (v3; v2: .png) 640x480
    <root>/<split>/<SEQ>/meta/<frame>.pkl        the annotation (a pickle, read with
                                                 safe_pickle.py)
    <root>/segr/<split>/<SEQ>/seg/<frame>.(jpg|png)   optional object masks (Keypoint
                                                 Transformer's rendered masks; the dataset's
                                                 own <split>/<SEQ>/seg/ is not read)

A meta pickle holds (metres, **OpenGL** camera frame: x right, y up, z backwards):
``handJoints3D`` [21, 3] in HO-3D order (MANO's 16 joints, then the tips), ``camMat`` [3, 3],
``objRot`` [3, 1] (Rodrigues, object -> camera), ``objTrans`` [3], ``objName`` (YCB name),
``objCorners3DRest`` [8, 3] (object frame). Evaluation frames hold only the wrist
(``handJoints3D`` [3]) and ``handBoundingBox`` [x0, y0, x1, y1] for the hand; unannotated
values are ``None``.

The reader converts to our conventions: OpenGL -> OpenCV by ``diag(1, -1, -1)`` (y and z
negated, for points and for the object's rotation and translation), HO-3D -> our joint order
(``skeleton.OURS_FROM_HO3D``), the hand in the right-hand slots 0-20. The object mask is the
segmentation's blue channel above 200 (Keypoint Transformer's ``dataset_ho3d.py``, for its own
``segr`` masks), else the projected box hull (record.py).
"""

from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from occrobnet_ros.data.readers import record as rec
from occrobnet_ros.data.readers.record import FrameInfo, ObjectAnnotation, Record
from occrobnet_ros.data.readers.safe_pickle import load_pickle
from occrobnet_ros.geometry import rotvec_to_matrix
from occrobnet_ros.skeleton import HO3D_FROM_OURS, NUM_JOINTS, OURS_FROM_HO3D, RIGHT, WRIST

SPLITS = ("train", "evaluation")
IMAGE_EXTENSIONS = (".jpg", ".png")  # v3, v2
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])  # its own inverse
MASK_CHANNEL = 2  # blue (RGB order)

# YCB object -> objects.py symmetry class (0 none, 1 half turn about z, 2 continuous about z).
# Keypoint Transformer's H2O-3D evaluation (model_reference.md 3.4): the mug, bowl and pitcher
# base turn freely about z; the boxes, cans and bottles repeat after half a turn about z. Its
# training loss uses the same half-turn set (ids 3, 4, 6, 10, 21).
YCB_SYMMETRY = {
    "019_pitcher_base": 2,
    "024_bowl": 2,
    "025_mug": 2,
    "003_cracker_box": 1,
    "004_sugar_box": 1,
    "006_mustard_bottle": 1,
    "010_potted_meat_can": 1,
    "021_bleach_cleanser": 1,
}


def ycb_symmetry(name: str) -> int:
    """The symmetry class of a YCB object name; 0 (none) for objects not in the table."""
    return YCB_SYMMETRY.get(str(name), 0)


class HO3D:
    """HO-3D frames of one split as ``Record``s, in the split file's order.

    ``dataset[i]`` reads the meta pickle and the image (RGB); ``dataset.frames[i]`` (a
    ``FrameInfo``) needs no file access. ``segmentation_dir`` overrides where object masks are
    looked for (a folder laid out as ``<SEQ>/<name>/<frame>.*``).
    """

    dataset, title = "ho3d", "HO-3D"
    # Mask folders inside <split>/<SEQ>/ whose colour coding is known. HO-3D's own seg/ is not
    # among them: no official code or document defines which channel is the hand and which
    # the object, and loaders disagree (docs/datasets.md); KT's segr/ (below) is known.
    mask_folders: tuple[str, ...] = ()
    mask_channel = MASK_CHANNEL
    required_joints = slice(RIGHT * NUM_JOINTS, (RIGHT + 1) * NUM_JOINTS)  # for ground_truth

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        segmentation_dir: str | Path | None = None,
        skip_unannotated: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"{self.title} split must be one of {SPLITS}, got {split!r}")
        self.root, self.split = Path(root), split
        self.segmentation_dir = None if segmentation_dir is None else Path(segmentation_dir)
        rec.require_paths(
            self.title,
            self.root,
            {
                f"split file listing the {split} frames": self.root / f"{split}.txt",
                f"folder of the {split} sequences": self.root / split,
            },
        )
        names = read_split_file(self.root / f"{split}.txt")
        extension = self._image_extension(names[0]) if names else IMAGE_EXTENSIONS[0]
        self.frames = [
            FrameInfo(
                self.dataset,
                split,
                sequence,
                frame,
                self.root / split / sequence / "rgb" / f"{frame}{extension}",
            )
            for sequence, frame in names
        ]
        if skip_unannotated:
            self.frames = [
                info
                for index, info in enumerate(tqdm(self.frames, desc=f"{self.title} annotations"))
                if self.annotated(index)
            ]

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Record:
        return self.record(index)

    def meta_path(self, index: int) -> Path:
        info = self.frames[index]
        return self.root / self.split / info.sequence / "meta" / f"{info.frame_id}.pkl"

    def meta(self, index: int) -> dict[str, Any]:
        """The frame's raw annotation dict, loaded with the restricted unpickler."""
        path = self.meta_path(index)
        if not path.is_file():
            raise FileNotFoundError(f"annotation not found: {path} (frame {index} of the split)")
        meta = load_pickle(path)
        if not isinstance(meta, dict):
            raise rec.DatasetFormatError(f"{path}: expected a dict, got {type(meta).__name__}")
        return meta

    def annotated(self, index: int) -> bool:
        """Whether frame ``index`` annotates its hand(s) and its object. Every HO-3D / H2O-3D
        frame shows both, but some training frames hold ``None`` for them (the official
        scripts test ``objRot is None``): as targets they would say "no hand, no object"."""
        meta, source = self.meta(index), str(self.meta_path(index))
        _, valid = self.hand_joints(meta, source)
        return bool(valid.any()) and object_annotation(meta, source) is not None

    def record(self, index: int, load_image: bool = True) -> Record:
        """Frame ``index``; with ``load_image=False`` the image is empty (0 x 0) and so are the
        masks: ground truth only, e.g. to write evaluation files."""
        info, meta, source = self.frames[index], self.meta(index), str(self.meta_path(index))
        image = rec.load_rgb(info.image_path) if load_image else np.zeros((0, 0, 3), np.uint8)
        joints, valid = self.hand_joints(meta, source)
        obj = object_annotation(meta, source)
        mask = self.object_mask(info, image.shape[:2]) if obj is not None and load_image else None
        return rec.make_record(
            info,
            image,
            camera_matrix(meta, source),
            joints,
            valid,
            obj=obj,
            object_mask=mask,
            roi_box=self.roi_box(meta, source),
        )

    def ground_truth(self) -> list[list[list[float]]]:
        """The split's hand joints in the official file format (``evaluation_xyz.json``, what
        ``occrobnet evaluate ho3d --gt-xyz`` reads): per frame 21 x 3, HO-3D order, OpenGL,
        metres. For a held-out set of training frames; every frame needs all 21 joints."""
        return [self.submission_entry(self._annotated(index)) for index in range(len(self))]

    def submission_entry(self, sample: Record) -> list[list[float]]:
        """One frame's joints as the split's prediction / ground-truth files hold them."""
        return submission_joints(sample.joints_3d[:NUM_JOINTS]).tolist()

    def _annotated(self, index: int) -> Record:
        sample = self.record(index, load_image=False)
        if not sample.joint_valid[self.required_joints].all():
            raise rec.DatasetFormatError(
                f"{self.meta_path(index)}: not every joint is annotated, so the frame has no "
                "full ground truth; leave it out of the split file"
            )
        return sample

    # --- per-dataset parts (H2O3D overrides them) ---------------------------------------------

    def hand_joints(self, meta: dict[str, Any], source: str) -> tuple[np.ndarray, np.ndarray]:
        """Two-hand joints [42, 3] and their validity [42]: the right hand from handJoints3D."""
        joints = np.full((2 * NUM_JOINTS, 3), np.nan)
        valid = np.zeros(2 * NUM_JOINTS, bool)
        hand = one_hand(meta, "handJoints3D", source)
        if hand is not None:
            rows = slice(RIGHT * NUM_JOINTS, (RIGHT + 1) * NUM_JOINTS)
            joints[rows], valid[rows] = hand
        return joints, valid

    def roi_box(self, meta: dict[str, Any], source: str) -> np.ndarray | None:
        return box_of(meta, "handBoundingBox", source)

    def mask_paths(self, info: FrameInfo) -> list[Path]:
        """Where the frame's object mask may be, in order of preference."""
        if self.segmentation_dir is not None:
            bases = [self.segmentation_dir / info.sequence / name for name in self.mask_folders]
        else:
            bases = [self.root / self.split / info.sequence / name for name in self.mask_folders]
            bases += [self.root / "segr" / self.split / info.sequence / "seg"]
        return [base / f"{info.frame_id}{ext}" for base in bases for ext in (".png", ".jpg")]

    def object_mask(self, info: FrameInfo, shape: tuple[int, int]) -> np.ndarray | None:
        for path in self.mask_paths(info):
            if path.is_file():
                return rec.load_mask(path, self.mask_channel, *shape)
        return None

    def _image_extension(self, name: tuple[str, str]) -> str:
        rgb = self.root / self.split / name[0] / "rgb"
        for extension in IMAGE_EXTENSIONS:
            if (rgb / f"{name[1]}{extension}").is_file():
                return extension
        return IMAGE_EXTENSIONS[0]


# --- meta parsing, shared with h2o3d.py --------------------------------------------------------


def read_split_file(path: Path) -> list[tuple[str, str]]:
    """(sequence, frame) pairs of a split file's ``<SEQ>/<frame>`` lines, in order."""
    names = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.split("/")
        if len(parts) != 2 or not all(parts):
            raise rec.DatasetFormatError(
                f"{path}:{number}: expected '<sequence>/<frame>', got {line!r}"
            )
        names.append((parts[0], parts[1]))
    return names


def opengl_to_opencv(points: np.ndarray) -> np.ndarray:
    """Points [..., 3] from HO-3D's OpenGL camera frame to the OpenCV optical frame."""
    return np.asarray(points, np.float64) @ OPENGL_TO_OPENCV


def camera_matrix(meta: dict[str, Any], source: str) -> np.ndarray:
    return array_field(meta, "camMat", (3, 3), source)


def one_hand(meta: dict[str, Any], key: str, source: str) -> tuple[np.ndarray, np.ndarray] | None:
    """One hand's joints [21, 3] (ours, OpenCV, metres) and validity [21] from ``meta[key]``:
    21 joints on training frames, the wrist alone ([3]) on evaluation frames; None if absent."""
    if meta.get(key) is None:
        return None
    value = np.asarray(meta[key], np.float64)
    joints, valid = np.full((NUM_JOINTS, 3), np.nan), np.zeros(NUM_JOINTS, bool)
    if value.size == 3:
        joints[WRIST], valid[WRIST] = opengl_to_opencv(value.reshape(3)), True
    elif value.shape == (NUM_JOINTS, 3):
        joints, valid = opengl_to_opencv(value)[OURS_FROM_HO3D], np.ones(NUM_JOINTS, bool)
    else:
        raise rec.DatasetFormatError(f"{source}: {key} has shape {value.shape}, expected (21, 3)")
    if not np.isfinite(joints[valid]).all():
        raise rec.DatasetFormatError(f"{source}: {key} holds non-finite values")
    return joints, valid


def object_annotation(meta: dict[str, Any], source: str) -> ObjectAnnotation | None:
    """The object's pose in the OpenCV frame, or None when the frame does not annotate it."""
    keys = ("objRot", "objTrans", "objName", "objCorners3DRest")
    if any(meta.get(key) is None for key in keys):
        return None
    rotation = rotvec_to_matrix(array_field(meta, "objRot", (3,), source))
    name = str(meta["objName"])
    return ObjectAnnotation(
        name=name,
        rotation=OPENGL_TO_OPENCV @ rotation,
        translation=OPENGL_TO_OPENCV @ array_field(meta, "objTrans", (3,), source),
        corners_rest=array_field(meta, "objCorners3DRest", (8, 3), source),
        symmetry=ycb_symmetry(name),
    )


def box_of(meta: dict[str, Any], key: str, source: str) -> np.ndarray | None:
    """``meta[key]`` as a box [x0, y0, x1, y1], or None when absent."""
    if meta.get(key) is None:
        return None
    return array_field(meta, key, (4,), source)


def array_field(meta: dict[str, Any], key: str, shape: tuple[int, ...], source: str) -> np.ndarray:
    """``meta[key]`` as a float array reshaped to ``shape``; errors name the file and key."""
    if key not in meta or meta[key] is None:
        raise rec.DatasetFormatError(f"{source}: the annotation has no {key!r}")
    value = np.asarray(meta[key], np.float64)
    if value.size != int(np.prod(shape)):
        raise rec.DatasetFormatError(f"{source}: {key} has shape {value.shape}, expected {shape}")
    return value.reshape(shape)


# --- submission ------------------------------------------------------------------------------


def submission_joints(joints: np.ndarray) -> np.ndarray:
    """One hand's joints [21, 3] (ours, OpenCV, metres) as the HO-3D submission wants them:
    HO-3D joint order, OpenGL frame (``pred.json``'s ``xyz`` entries, evaluation.txt order)."""
    return opengl_to_opencv(np.asarray(joints)[HO3D_FROM_OURS])
