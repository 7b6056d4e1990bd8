"""H2O-3D (v1) reader: two hands and one YCB object per frame.

H2O-3D follows HO-3D's layout and meta format (``ho3d.py``; the HO-3D scripts' README says so),
with one annotation per hand. Layout (docs/datasets.md)::

    <root>/train.txt, <root>/evaluation.txt      "<SEQ>/<frame>" per line, official order
    <root>/<split>/<SEQ>/rgb/<frame>.(jpg|png)
    <root>/<split>/<SEQ>/meta/<frame>.pkl
    <root>/<split>/<SEQ>/segr/<frame>.png        optional object segmentation

Meta keys (metres, OpenGL camera frame, HO-3D joint order): ``rightHandJoints3D`` and
``leftHandJoints3D`` [21, 3] on training frames, each the wrist alone [3] on evaluation frames
(with ``rightHandBoundingBox`` / ``leftHandBoundingBox``); ``camMat``, ``objRot``, ``objTrans``,
``objName``, ``objCorners3DRest`` as in HO-3D. Sources: Keypoint Transformer's
``data/dataset_h2o3d.py`` and the HO-3D repository's ``vis_H2O3D.py``
(model_reference.md 3.5).

Assumptions where those sources are silent: a hand whose key is missing or ``None`` is absent
(Keypoint Transformer marks both hands valid on every frame); the object mask is the green
channel of ``segr`` above 200 (Keypoint Transformer's ``dataset_h2o3d.py``); the evaluation
``roi_box`` is the union of the two hand boxes.
"""

from typing import Any

import numpy as np

from occrobnet_ros.data.readers.ho3d import HO3D, box_of, one_hand
from occrobnet_ros.data.readers.ho3d import submission_joints as one_hand_submission
from occrobnet_ros.data.readers.record import Record
from occrobnet_ros.skeleton import LEFT, NUM_HANDS, NUM_JOINTS, RIGHT, WRIST

HAND_KEYS = {RIGHT: "rightHandJoints3D", LEFT: "leftHandJoints3D"}
BOX_KEYS = {RIGHT: "rightHandBoundingBox", LEFT: "leftHandBoundingBox"}


class H2O3D(HO3D):
    """H2O-3D frames of one split as ``Record``s (see ``HO3D`` for the API). ``ground_truth``
    gives 21 x 6 per frame (``submission_joints``), what ``occrobnet evaluate h2o3d --gt``
    reads; it needs both hands fully annotated, so it is for held-out training frames."""

    dataset, title = "h2o3d", "H2O-3D"
    mask_folders = ("segr",)
    mask_channel = 1  # green (RGB order)
    required_joints = slice(0, NUM_HANDS * NUM_JOINTS)

    def submission_entry(self, sample: Record) -> list[list[float]]:
        return submission_joints(sample.joints_3d).tolist()

    def hand_joints(self, meta: dict[str, Any], source: str) -> tuple[np.ndarray, np.ndarray]:
        joints = np.full((NUM_HANDS * NUM_JOINTS, 3), np.nan)
        valid = np.zeros(NUM_HANDS * NUM_JOINTS, bool)
        for hand, key in HAND_KEYS.items():
            parsed = one_hand(meta, key, source)
            if parsed is not None:
                rows = slice(hand * NUM_JOINTS, (hand + 1) * NUM_JOINTS)
                joints[rows], valid[rows] = parsed
        return joints, valid

    def roi_box(self, meta: dict[str, Any], source: str) -> np.ndarray | None:
        boxes = [box_of(meta, key, source) for key in BOX_KEYS.values()]
        boxes = [box for box in boxes if box is not None]
        if not boxes:
            return None
        stacked = np.stack(boxes)
        return np.concatenate([stacked[:, :2].min(0), stacked[:, 2:].max(0)])


def submission_joints(joints: np.ndarray) -> np.ndarray:
    """Two-hand joints [42, 3] (ours, OpenCV, metres) as Keypoint Transformer's H2O-3D
    challenge file holds them: [21, 6], columns 0-2 the right hand minus its wrist, 3-5 the left
    hand minus the right wrist, both in HO-3D order and the OpenGL frame."""
    joints = np.asarray(joints, np.float64)
    right_wrist = joints[RIGHT * NUM_JOINTS + WRIST]
    right = joints[RIGHT * NUM_JOINTS : (RIGHT + 1) * NUM_JOINTS] - right_wrist
    left = joints[LEFT * NUM_JOINTS : (LEFT + 1) * NUM_JOINTS] - right_wrist
    return np.concatenate([one_hand_submission(right), one_hand_submission(left)], axis=1)
