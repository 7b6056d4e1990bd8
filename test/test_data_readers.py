"""Dataset readers against tiny datasets written here in the official on-disk layouts.

Each test writes 2-3 frames with synthetic joints and a small image that marks the right
wrist with a red dot where the test itself (cv2.projectPoints or plain K) projects it, then
checks what the reader returns: our units, frame, joint order, validity, and that the crop and
targets of data/targets.py put the wrist on that dot.
"""

import json
import os
import pickle

import cv2
import numpy as np
import pytest
import torch

from occrobnet_ros import cli, crop_policy, geometry
from occrobnet_ros.data import targets
from occrobnet_ros.data.augment import AugmentConfig, augment
from occrobnet_ros.data.readers import h2o3d, ho3d, interhand, record
from occrobnet_ros.data.readers.safe_pickle import UnsafePickleError
from occrobnet_ros.skeleton import HO3D_FROM_OURS, INTERHAND_FROM_OURS, two_hand_map

WIDTH, HEIGHT = 96, 72
K = np.array([[90.0, 0.0, 47.5], [0.0, 88.0, 35.5], [0.0, 0.0, 1.0]])
GL = np.diag([1.0, -1.0, -1.0])  # OpenCV <-> OpenGL
RED_BGR = (0, 0, 255)
BLUE_BGR, GREEN_BGR = (255, 0, 0), (0, 255, 0)
CROP = 64


def hand(rng: np.random.Generator, wrist) -> np.ndarray:
    """21 joints (our order, OpenCV camera frame, metres) within ~6 cm of ``wrist``."""
    return np.asarray(wrist, float) + np.vstack([np.zeros(3), rng.uniform(-0.06, 0.06, (20, 3))])


def write_image(path, red_dot_uv, colour=RED_BGR) -> None:
    """A grey image with a dot at pixel ``red_dot_uv``; JPEG at quality 100 or PNG."""
    image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    centre = tuple(int(round(c)) for c in red_dot_uv)
    cv2.circle(image, centre, 3, colour, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 100])


def is_red(rgb: np.ndarray) -> bool:
    r, g, b = (int(c) for c in rgb)
    return r > 170 and g < 90 and b < 90


def crop_of(sample):
    """The evaluation ROI crop of a record and its training example (image, targets)."""
    crop = targets.Crop(crop_policy.roi_transform(record.crop_points(sample), CROP))
    return targets.make_example(sample, crop, CROP)


def assert_wrist_on_red_dot(sample) -> None:
    """The record's 2D right wrist, and its image in the crop, show the dot the test drew."""
    u, v = np.round(sample.joints_2d[0]).astype(int)
    assert is_red(sample.image[v, u])
    image, example = crop_of(sample)
    cu, cv = np.round(example["joints_2d"][0].numpy()).astype(int)
    assert 0 <= cu < CROP and 0 <= cv < CROP
    assert is_red(np.round(image[:, cv, cu].numpy() * 255))


# --- InterHand2.6M ------------------------------------------------------------------------------

RVEC = np.array([0.1, -0.2, 0.05])
CAMPOS_MM = np.array([100.0, -50.0, -800.0])
IH_42 = two_hand_map(INTERHAND_FROM_OURS)  # our 42 joints -> InterHand's order


def ih_camera(rvec=RVEC, campos=CAMPOS_MM):
    return cv2.Rodrigues(np.asarray(rvec, float))[0], np.asarray(campos, float)


def write_interhand(root, split="train"):
    """Two captured frames seen by two cameras: three annotations. Returns the truth."""
    rng = np.random.default_rng(0)
    R1, c1 = ih_camera()
    R2, c2 = ih_camera([0.12, -0.15, 0.05], [120.0, -40.0, -770.0])
    cameras = {"400001": (R1, c1), "400002": (R2, c2)}
    # Frame 10: both hands; frame 11: the right hand only, left root invalid. Built in camera
    # 1's frame, stored in world mm.
    cam1_joints = {
        10: np.vstack([hand(rng, [0.03, 0.0, 0.55]), hand(rng, [-0.08, 0.02, 0.6])]),
        11: np.vstack([hand(rng, [0.0, 0.01, 0.5]), hand(rng, [-0.05, 0.0, 0.5])]),
    }
    world = {f: (j * 1000.0) @ R1 + c1 for f, j in cam1_joints.items()}  # R1^T x + c
    shots = [(10, "400001", "interacting"), (10, "400002", "interacting"), (11, "400001", "right")]
    images, annotations, truth = [], [], []
    for index, (frame, camera, hand_type) in enumerate(shots):
        R, c = cameras[camera]
        pixels = cv2.projectPoints(world[frame], cv2.Rodrigues(R)[0], -R @ c, K, None)[0][:, 0]
        valid = np.ones(42)
        valid[8] = 0  # our index tip of the right hand
        if hand_type == "right":
            valid[21] = 0  # the left wrist: IH's rule drops the whole left hand
        file_name = f"Capture0/ROM_seq/cam{camera}/image{frame:05d}.jpg"
        write_image(root / "images" / split / file_name, pixels[0])
        images.append(
            {
                "id": 100 + index,
                "file_name": file_name,
                "width": WIDTH,
                "height": HEIGHT,
                "capture": 0,
                "camera": camera,
                "frame_idx": frame,
                "seq_name": "ROM_seq",
            }
        )
        annotations.append(
            {
                "id": 7 + index,
                "image_id": 100 + index,
                "bbox": [5.0, 6.0, 40.0, 30.0],
                "joint_valid": [[v] for v in valid[IH_42]],
                "hand_type": hand_type,
                "hand_type_valid": 1,
            }
        )
        truth.append(
            {
                "camera_joints": (world[frame] - c) @ R.T / 1000.0,
                "pixels": pixels,
                "valid": valid.astype(bool),
                "hand_type": hand_type,
            }
        )
    folder = root / "annotations" / split
    folder.mkdir(parents=True)
    data = {"images": images, "annotations": annotations}
    camera_file = {"0": {key: {} for key in ("campos", "camrot", "focal", "princpt")}}
    for name, (R, c) in cameras.items():
        camera_file["0"]["campos"][name] = c.tolist()
        camera_file["0"]["camrot"][name] = R.tolist()
        camera_file["0"]["focal"][name] = [K[0, 0], K[1, 1]]
        camera_file["0"]["princpt"][name] = [K[0, 2], K[1, 2]]
    joints_file = {
        "0": {
            str(f): {
                "world_coord": w[IH_42].tolist(),
                "hand_type": "interacting",
                "joint_valid": [1] * 42,
            }
            for f, w in world.items()
        }
    }
    for kind, content in (("data", data), ("camera", camera_file), ("joint_3d", joints_file)):
        (folder / f"InterHand2.6M_{split}_{kind}.json").write_text(json.dumps(content))
    return truth


def test_interhand_world_to_camera_to_pixel(tmp_path):
    truth = write_interhand(tmp_path)
    dataset = interhand.InterHand(tmp_path, "train")
    assert len(dataset) == 3
    for index, expected in enumerate(truth):
        sample = dataset[index]
        valid_hands = expected["valid"][[0, 21]]
        rows = np.repeat(valid_hands, 21)
        assert np.allclose(sample.joints_3d[rows], expected["camera_joints"][rows], atol=1e-6)
        assert np.isnan(sample.joints_3d[~rows]).all()
        # The projection of the 3D ground truth lands on cv2's world -> pixel projection.
        assert np.allclose(sample.joints_2d[rows], expected["pixels"][rows], atol=1e-4)
        assert np.allclose(sample.K, K)
        assert sample.image.shape == (HEIGHT, WIDTH, 3)
        assert_wrist_on_red_dot(sample)


def test_interhand_hand_presence_comes_from_hand_type_not_the_wrist(tmp_path):
    """InterHand2.6M's official data/InterHand2.6M/dataset.py takes which hands exist from
    each annotation's ``hand_type`` (trusted where ``hand_type_valid`` is 1) and uses
    ``joint_valid`` (zeroed for a hand whose root is not annotated) only for the joints: a
    right hand with an unannotated wrist is still a right hand in the image."""
    write_interhand(tmp_path)
    path = tmp_path / "annotations/train/InterHand2.6M_train_data.json"
    data = json.loads(path.read_text())
    right_only = data["annotations"][2]  # hand_type "right", its left wrist unannotated
    valid = np.ones(42)
    valid[0] = 0  # the right wrist alone is not annotated
    valid[21] = 0
    right_only["joint_valid"] = [[v] for v in valid[IH_42]]
    data["annotations"][1]["hand_type_valid"] = 0  # "interacting", but not to be trusted
    path.write_text(json.dumps(data))
    dataset = interhand.InterHand(tmp_path, "train", skip_unannotated=True)
    assert len(dataset) == 3  # the right hand still has annotated joints: kept

    sample = dataset[2]
    assert sample.hand_valid.tolist() == [False, False]  # no root: no root-relative pose
    assert sample.hand_present.tolist() == [True, False]  # but the hand is there
    crop = targets.Crop(crop_policy.full_frame_transform(WIDTH, HEIGHT, CROP))
    example = targets.make_example(sample, crop, CROP)
    assert example[1]["hand_present"].tolist() == [True, False]
    assert not example[1]["joint_valid"].any()  # and no joint of it is supervised
    untrusted = dataset[1]
    assert untrusted.hand_present.tolist() == untrusted.hand_valid.tolist() == [True, True]


def test_interhand_order_validity_and_metadata(tmp_path):
    truth = write_interhand(tmp_path)
    dataset = interhand.InterHand(tmp_path, "train")
    both, right_only = dataset[0], dataset[2]
    R, c = ih_camera()
    world = json.loads(
        (tmp_path / "annotations/train/InterHand2.6M_train_joint_3d.json").read_text()
    )["0"]["10"]["world_coord"]
    in_camera = (np.asarray(world) - c) @ R.T / 1000.0
    # InterHand's wrists are its joints 20 and 41, its thumb tip joint 0: ours 0, 21 and 4.
    assert np.allclose(both.joints_3d[0], in_camera[20])
    assert np.allclose(both.joints_3d[21], in_camera[41])
    assert np.allclose(both.joints_3d[4], in_camera[0])
    assert both.joint_valid.sum() == 41 and not both.joint_valid[8]
    assert both.hand_valid.tolist() == [True, True] and both.hand_type == "interacting"
    assert right_only.hand_valid.tolist() == [True, False] and right_only.hand_type == "right"
    assert not right_only.joint_valid[21:].any()
    info = both.info
    assert (info.sequence, info.frame_id, info.capture, info.camera, info.annotation_id) == (
        "ROM_seq",
        "10",
        "0",
        "400001",
        7,
    )
    assert dataset.frames[2].frame_id == "11"
    assert np.allclose(both.roi_box, [5, 6, 45, 36])
    # The rel-root target is the left wrist minus the right wrist.
    _, example = crop_of(both)
    expected = truth[0]["camera_joints"][21] - truth[0]["camera_joints"][0]
    assert np.allclose(example["rel_root"].numpy(), expected, atol=1e-6)
    assert np.allclose(example["joints_3d"][0].numpy(), 0.0)


def test_interhand_ground_truth_file_and_rootnet(tmp_path):
    truth = write_interhand(tmp_path)
    rootnet = tmp_path / "rootnet.json"
    rootnet.write_text(
        json.dumps([{"annot_id": 8, "bbox": [1, 2, 10, 20], "abs_depth": [612.0, 655.0]}])
    )
    dataset = interhand.InterHand(tmp_path, "train", rootnet_output=rootnet)
    gt = dataset.ground_truth()
    assert gt["hand_type"] == ["interacting", "interacting", "right"]
    assert np.allclose(np.asarray(gt["joints"])[1, :21], truth[1]["camera_joints"][:21])
    assert np.asarray(gt["joint_valid"]).sum(axis=1).tolist() == [41, 41, 20]
    with_rootnet, without = dataset[1], dataset[0]
    assert np.allclose(with_rootnet.roi_box, [1, 2, 11, 22])
    # InterHand2.6M's official dataset.py crops RootNet's box as it is, and enlarges an
    # annotation box x1.25 (process_bbox): so does the evaluation crop.
    assert with_rootnet.roi_box_scale == 1.0 and without.roi_box_scale == 1.25
    tight = crop_policy.box_transform(with_rootnet.roi_box, CROP, with_rootnet.roi_box_scale)
    corners = geometry.apply_affine(tight, np.array([[1.0, 2.0], [11.0, 22.0]]))
    assert np.allclose(corners[:, 1], [-0.5, CROP - 0.5])  # the longer side fills the crop
    assert np.allclose(with_rootnet.root_depth_estimate, [0.612, 0.655])
    assert np.isnan(without.root_depth_estimate).all()


def test_interhand_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(record.DatasetLayoutError, match="InterHand2.6M_train_data.json"):
        interhand.InterHand(tmp_path, "train")
    write_interhand(tmp_path)
    data = tmp_path / "annotations/train/InterHand2.6M_train_data.json"
    text = data.read_text()
    data.write_text(text[:-5])
    with pytest.raises(record.DatasetFormatError, match="InterHand2.6M_train_data.json.*line"):
        interhand.InterHand(tmp_path, "train")
    data.write_text(text)
    dataset = interhand.InterHand(tmp_path, "train")
    os.remove(dataset.frames[0].image_path)
    with pytest.raises(FileNotFoundError, match="image00010.jpg"):
        dataset[0]


# --- HO-3D ------------------------------------------------------------------------------------

OBJ_ROT = cv2.Rodrigues(np.array([0.4, -0.3, 0.8]))[0]  # object -> OpenCV camera
OBJ_TRANS = np.array([0.02, 0.01, 0.56])
CORNERS_REST = np.array(
    [[x, y, z] for x in (-0.04, 0.04) for y in (-0.03, 0.03) for z in (-0.08, 0.08)]
)


def ho3d_meta(joints_cv, evaluation=False, name="006_mustard_bottle"):
    """A meta dict as HO-3D stores it: OpenGL frame, HO-3D joint order, Rodrigues rotation."""
    joints_gl = joints_cv @ GL
    meta = {
        "camMat": K.copy(),
        "objRot": cv2.Rodrigues(GL @ OBJ_ROT)[0],  # [3, 1]
        "objTrans": GL @ OBJ_TRANS,
        "objName": name,
        "objLabel": 6,
        "objCorners3DRest": CORNERS_REST.copy(),
        "objCorners3D": (CORNERS_REST @ OBJ_ROT.T + OBJ_TRANS) @ GL,
    }
    if evaluation:
        meta["handJoints3D"] = joints_gl[0]
        meta["handBoundingBox"] = [20.0, 15.0, 60.0, 50.0]
    else:
        meta["handJoints3D"] = joints_gl[HO3D_FROM_OURS]
        meta["handPose"], meta["handBeta"] = np.zeros(48), np.zeros(10)
    return meta


def write_frame(root, split, sequence, frame, meta, wrist_cv, extension=".jpg"):
    folder = root / split / sequence
    write_image(folder / "rgb" / f"{frame}{extension}", (K @ wrist_cv)[:2] / wrist_cv[2])
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    (folder / "meta" / f"{frame}.pkl").write_bytes(pickle.dumps(meta, protocol=2))


def write_ho3d(root, split="train"):
    """Two training frames, hand in front of the camera; frame 0000 has a segmentation."""
    rng = np.random.default_rng(1)
    frames = {"0000": hand(rng, [0.05, 0.02, 0.5]), "0001": hand(rng, [-0.02, 0.0, 0.45])}
    for frame, joints in frames.items():
        write_frame(
            root, split, "ABF10", frame, ho3d_meta(joints, split == "evaluation"), joints[0]
        )
    (root / f"{split}.txt").write_text("".join(f"ABF10/{f}\n" for f in frames))
    return frames


def write_seg(path, box, colour, scale=2):
    """A segmentation image at 1/scale resolution with ``box`` (full-res px) in ``colour``."""
    seg = np.zeros((HEIGHT // scale, WIDTH // scale, 3), np.uint8)
    x0, y0, x1, y1 = (v // scale for v in box)
    seg[y0:y1, x0:x1] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), seg)


def test_ho3d_opengl_to_opencv_order_and_projection(tmp_path):
    frames = write_ho3d(tmp_path)
    dataset = ho3d.HO3D(tmp_path, "train")
    assert [info.name for info in dataset.frames] == ["ABF10/0000", "ABF10/0001"]
    for index, joints in enumerate(frames.values()):
        sample = dataset[index]
        assert (sample.joints_3d[:21, 2] > 0).all()  # in front of the camera after reading
        assert np.allclose(sample.joints_3d[:21], joints)
        assert np.isnan(sample.joints_3d[21:]).all()
        assert sample.hand_valid.tolist() == [True, False] and sample.hand_type == "right"
        assert np.allclose(sample.joints_2d[:21], (joints @ K.T)[:, :2] / joints[:, 2:])
        assert_wrist_on_red_dot(sample)
    meta = dataset.meta(0)
    first = dataset[0].joints_3d
    # HO-3D's wrist is its joint 0, its thumb tip 16, its middle MCP 4: ours 0, 4, 9.
    for ours, theirs in ((0, 0), (4, 16), (9, 4)):
        assert np.allclose(first[ours], meta["handJoints3D"][theirs] * [1, -1, -1])
    assert np.allclose(ho3d.submission_joints(first[:21]), meta["handJoints3D"])


def test_ho3d_object_pose_symmetry_and_targets(tmp_path):
    write_ho3d(tmp_path)
    box = (30, 20, 60, 50)
    # Keypoint Transformer's rendered masks: object in the blue channel (its dataset_ho3d.py).
    write_seg(tmp_path / "segr/train/ABF10/seg/0000.png", box, BLUE_BGR)
    # The dataset's own seg/ folder has no documented colour coding (loaders disagree on
    # which channel is the hand and which the object): it is not read.
    write_seg(tmp_path / "train/ABF10/seg/0001.png", box, BLUE_BGR)
    dataset = ho3d.HO3D(tmp_path, "train")
    segmented, boxed = dataset[0], dataset[1]
    assert segmented.object_valid and segmented.object_name == "006_mustard_bottle"
    assert np.allclose(segmented.object_rotation, OBJ_ROT)
    assert np.allclose(segmented.object_translation, OBJ_TRANS)
    corners = CORNERS_REST @ OBJ_ROT.T + OBJ_TRANS
    assert np.allclose(segmented.object_corners_3d, corners)
    assert np.allclose(segmented.object_corners_2d, (corners @ K.T)[:, :2] / corners[:, 2:])
    assert np.allclose(segmented.object_size, [0.08, 0.06, 0.16])
    assert segmented.object_symmetry == 1
    assert segmented.object_mask_source == "segmentation"
    expected_mask = np.zeros((HEIGHT, WIDTH), bool)
    expected_mask[box[1] : box[3], box[0] : box[2]] = True
    assert (segmented.object_mask == expected_mask).all()
    assert boxed.object_mask_source == "box"
    centre = np.round((K @ OBJ_TRANS)[:2] / OBJ_TRANS[2]).astype(int)
    assert boxed.object_mask[centre[1], centre[0]]
    _, example = crop_of(segmented)
    wrist = segmented.joints_3d[0]
    assert np.allclose(example["object_translation"].numpy(), OBJ_TRANS - wrist, atol=1e-6)
    assert np.allclose(example["object_rotation"].numpy(), OBJ_ROT, atol=1e-6)
    assert int(example["object_symmetry"]) == 1 and bool(example["object_valid"])
    assert ho3d.ycb_symmetry("025_mug") == 2 and ho3d.ycb_symmetry("035_power_drill") == 0


def test_ho3d_evaluation_frames_root_box_and_order(tmp_path):
    write_ho3d(tmp_path, "evaluation")
    (tmp_path / "evaluation.txt").write_text("ABF10/0001\nABF10/0000\n")
    dataset = ho3d.HO3D(tmp_path, "evaluation")
    assert [info.frame_id for info in dataset.frames] == ["0001", "0000"]
    sample = dataset[1]
    assert sample.joint_valid.nonzero()[0].tolist() == [0]
    assert sample.joints_3d[0, 2] > 0 and np.isnan(sample.joints_3d[1:]).all()
    assert np.allclose(sample.roi_box, [20, 15, 60, 50])
    points = record.crop_points(sample)
    assert np.allclose(points[:4], [[20, 15], [60, 15], [20, 50], [60, 50]])
    assert np.allclose(points[4:], sample.object_corners_2d)


def test_ho3d_training_leaves_out_frames_whose_annotations_are_none(tmp_path):
    """HO-3D's official scripts (vis_HO3D.py, eval.py) handle meta values that are None, e.g.
    ``objRot``: such a frame says nothing of its hand or object, which are there all the same."""
    frames = write_ho3d(tmp_path)
    joints = frames["0001"]
    meta = ho3d_meta(joints)
    meta["objRot"] = None  # the object is not annotated in this frame
    write_frame(tmp_path, "train", "ABF10", "0001", meta, joints[0])
    everything = ho3d.HO3D(tmp_path, "train")
    assert len(everything) == 2 and not everything[1].object_valid  # as read: "no object"
    annotated = ho3d.HO3D(tmp_path, "train", skip_unannotated=True)
    assert [info.frame_id for info in annotated.frames] == ["0000"]
    # occrobnet train reads its frames this way.
    assert record.open_dataset("ho3d", tmp_path, "train", skip_unannotated=True).frames == (
        annotated.frames
    )


def test_ho3d_png_images_of_v2(tmp_path):
    rng = np.random.default_rng(2)
    joints = hand(rng, [0.0, 0.0, 0.5])
    write_frame(tmp_path, "train", "MC1", "0007", ho3d_meta(joints), joints[0], ".png")
    (tmp_path / "train.txt").write_text("MC1/0007\n")
    sample = ho3d.HO3D(tmp_path)[0]
    assert sample.info.image_path.suffix == ".png"
    assert_wrist_on_red_dot(sample)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_ho3d_refuses_a_malicious_meta_file(tmp_path):
    write_ho3d(tmp_path)
    marker = tmp_path / "pwned"
    meta = tmp_path / "train/ABF10/meta/0001.pkl"
    meta.write_bytes(pickle.dumps({"camMat": _Exploit(marker)}))
    dataset = ho3d.HO3D(tmp_path)
    assert dataset[0].hand_valid[0]  # the legitimate numpy-only meta still loads
    with pytest.raises(UnsafePickleError, match="0001.pkl.*system"):
        dataset[1]
    assert not marker.exists()


def test_ho3d_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(record.DatasetLayoutError, match="train.txt"):
        ho3d.HO3D(tmp_path, "train")
    with pytest.raises(record.DatasetLayoutError, match="not a directory"):
        ho3d.HO3D(tmp_path / "absent", "train")
    write_ho3d(tmp_path)
    os.remove(tmp_path / "train/ABF10/meta/0001.pkl")
    with pytest.raises(FileNotFoundError, match="meta/0001.pkl"):
        ho3d.HO3D(tmp_path)[1]
    (tmp_path / "train.txt").write_text("ABF10-0000\n")
    with pytest.raises(record.DatasetFormatError, match="train.txt:1"):
        ho3d.HO3D(tmp_path)
    with pytest.raises(ValueError, match="split"):
        ho3d.HO3D(tmp_path, "test")


# --- H2O-3D -----------------------------------------------------------------------------------


def h2o3d_meta(right, left, evaluation=False):
    meta = ho3d_meta(right, name="025_mug")
    del meta["handJoints3D"]
    if evaluation:
        meta["rightHandJoints3D"], meta["leftHandJoints3D"] = (right[0] @ GL), (left[0] @ GL)
        meta["rightHandBoundingBox"] = [30.0, 10.0, 50.0, 40.0]
        meta["leftHandBoundingBox"] = [5.0, 20.0, 35.0, 60.0]
    else:
        meta["rightHandJoints3D"] = (right @ GL)[HO3D_FROM_OURS]
        meta["leftHandJoints3D"] = (left @ GL)[HO3D_FROM_OURS]
    return meta


def write_h2o3d(root, split="train"):
    rng = np.random.default_rng(3)
    frames = {}
    for frame in ("000000", "000001"):
        right, left = hand(rng, [0.06, 0.0, 0.5]), hand(rng, [-0.07, 0.01, 0.55])
        write_frame(
            root,
            split,
            "subject1_h1",
            frame,
            h2o3d_meta(right, left, split == "evaluation"),
            right[0],
        )
        frames[frame] = np.vstack([right, left])
    (root / f"{split}.txt").write_text("".join(f"subject1_h1/{f}\n" for f in frames))
    return frames


def test_h2o3d_two_hands_object_and_submission(tmp_path):
    frames = write_h2o3d(tmp_path)
    box = (10, 10, 40, 30)
    write_seg(tmp_path / "train/subject1_h1/segr/000000.png", box, GREEN_BGR)
    dataset = h2o3d.H2O3D(tmp_path, "train")
    for index, joints in enumerate(frames.values()):
        sample = dataset[index]
        assert np.allclose(sample.joints_3d, joints)
        assert (sample.joints_3d[:, 2] > 0).all()
        assert sample.hand_valid.tolist() == [True, True] and sample.hand_type == "interacting"
        assert sample.joint_valid.all()
        assert_wrist_on_red_dot(sample)
    sample = dataset[0]
    assert sample.object_symmetry == 2 and sample.object_mask_source == "segmentation"
    assert sample.object_mask[box[1] : box[3], box[0] : box[2]].all()
    assert sample.object_mask.sum() == (box[2] - box[0]) * (box[3] - box[1])
    assert np.allclose(sample.object_rotation, OBJ_ROT)
    _, example = crop_of(sample)
    joints = frames["000000"]
    assert np.allclose(example["rel_root"].numpy(), joints[21] - joints[0], atol=1e-6)
    submission = h2o3d.submission_joints(sample.joints_3d)
    assert submission.shape == (21, 6)
    meta = dataset.meta(0)
    assert np.allclose(submission[:, :3], meta["rightHandJoints3D"] - meta["rightHandJoints3D"][0])
    assert np.allclose(submission[:, 3:], meta["leftHandJoints3D"] - meta["rightHandJoints3D"][0])


def test_h2o3d_evaluation_roots_and_union_box(tmp_path):
    frames = write_h2o3d(tmp_path, "evaluation")
    sample = h2o3d.H2O3D(tmp_path, "evaluation")[1]
    assert sample.joint_valid.nonzero()[0].tolist() == [0, 21]
    assert np.allclose(sample.joints_3d[[0, 21]], frames["000001"][[0, 21]])
    assert np.allclose(sample.roi_box, [5, 10, 50, 60])


def test_open_dataset_by_name(tmp_path):
    write_ho3d(tmp_path)
    dataset = record.open_dataset("ho3d", tmp_path, "train")
    assert isinstance(dataset, ho3d.HO3D) and len(dataset) == 2
    with pytest.raises(ValueError, match="unknown dataset"):
        record.open_dataset("freihand", tmp_path, "train")


# --- the training pipeline takes the records ----------------------------------------------------


@pytest.mark.parametrize("name", ["interhand", "ho3d", "h2o3d"])
def test_records_go_through_augmentation_and_targets(tmp_path, name):
    {"interhand": write_interhand, "ho3d": write_ho3d, "h2o3d": write_h2o3d}[name](tmp_path)
    dataset = record.open_dataset(name, tmp_path, "train")
    for index in range(len(dataset)):
        sample = dataset[index]
        for seed in range(4):
            rng = np.random.default_rng(seed)
            augmented, crop, _ = augment(rng, sample, CROP, AugmentConfig(flip_probability=0.5))
            image, example = targets.make_example(augmented, crop, CROP)
            assert image.shape == (3, CROP, CROP)
            for key, value in example.items():
                assert torch.isfinite(value.float()).all(), (name, index, seed, key)
            assert example["hand_valid"].tolist() == augmented.hand_valid.tolist()


# --- ground-truth files are what `occrobnet evaluate` reads ------------------------------------


def evaluate(capsys, *argv) -> dict:
    assert cli.main(["evaluate", *map(str, argv)]) == 0
    return json.loads(capsys.readouterr().out)


def test_ground_truth_files_score_zero_against_themselves(tmp_path, capsys):
    write_ho3d(tmp_path / "ho3d")
    ho3d_gt = tmp_path / "ho3d_xyz.json"
    ho3d_gt.write_text(json.dumps(ho3d.HO3D(tmp_path / "ho3d").ground_truth()))
    pred = tmp_path / "pred.json"
    xyz = json.loads(ho3d_gt.read_text())
    pred.write_text(json.dumps([xyz, [[] for _ in xyz]]))
    report = evaluate(capsys, "ho3d", "--pred", pred, "--gt-xyz", ho3d_gt)
    assert report["num_frames"] == 2 and report["joint_error_cm"] == pytest.approx(0, abs=1e-9)

    write_h2o3d(tmp_path / "h2o3d")
    h2o3d_gt = tmp_path / "h2o3d_gt.json"
    h2o3d_gt.write_text(json.dumps(h2o3d.H2O3D(tmp_path / "h2o3d").ground_truth()))
    pred.write_text(json.dumps([json.loads(h2o3d_gt.read_text())]))
    report = evaluate(capsys, "h2o3d", "--pred", pred, "--gt", h2o3d_gt)
    assert report["mpjpe_cm"] == pytest.approx(0, abs=1e-9)
    assert report["mrrpe_cm"] == pytest.approx(0, abs=1e-9)

    write_interhand(tmp_path / "ih")
    ih_gt = tmp_path / "ih_gt.json"
    ground_truth = interhand.InterHand(tmp_path / "ih").ground_truth()
    ih_gt.write_text(json.dumps(ground_truth))
    pred.write_text(json.dumps({"joints": ground_truth["joints"]}))
    report = evaluate(capsys, "interhand", "--pred", pred, "--gt", ih_gt)
    assert report["mpjpe_all_mm"] == pytest.approx(0, abs=1e-9)


def test_ground_truth_needs_full_annotations(tmp_path):
    write_ho3d(tmp_path, "evaluation")
    with pytest.raises(record.DatasetFormatError, match="not every joint"):
        ho3d.HO3D(tmp_path, "evaluation").ground_truth()
