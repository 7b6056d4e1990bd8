"""``occrobnet evaluate <dataset> --checkpoint``: a model over a dataset split, the official
submission files it writes, and their scores.

The datasets are test_data_readers.py's tiny official-layout fixtures; the model is a random
occrobnet_tiny_cpu (its numbers are meaningless, its files are not). The conversions (joint
order, OpenGL axes, the H2O-3D layout, object poses) are checked by writing the ground truth
through the prediction writer and scoring it against ground-truth files built here from the raw
annotations the fixtures wrote: any flip or reordering would show as an error above zero.
"""

import json

import numpy as np
import pytest
from test_data_readers import write_h2o3d, write_ho3d, write_interhand

from occrobnet_ros import cli
from occrobnet_ros.data.readers.record import open_dataset
from occrobnet_ros.evaluation import predict_split
from occrobnet_ros.model import OccRobNetConfig
from occrobnet_ros.model.checkpoint import save_random_model
from occrobnet_ros.prediction import ObjectEstimate, Prediction

WRITERS = {"ho3d": write_ho3d, "h2o3d": write_h2o3d, "interhand": write_interhand}
HO3D_METRICS = ("joint_error_cm", "joint_error_sc_tr_cm", "joint_error_procrustes_cm")
METRICS = {"ho3d": HO3D_METRICS, "h2o3d": ("mpjpe_cm", "mrrpe_cm"), "interhand": ("mpjpe_all_mm",)}
GT_FILE = {"ho3d": "gt_xyz.json", "h2o3d": "gt.json", "interhand": "gt.json"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random occrobnet_tiny_cpu (128 px, with the object head), seeded."""
    config = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny_cpu.yaml")
    path = tmp_path_factory.mktemp("ckpt") / "tiny_random.safetensors"
    return save_random_model(config, path)


def evaluate(capsys, *argv) -> tuple[int, dict | None, str]:
    """(exit code, the stdout JSON or None, stderr) of ``occrobnet evaluate ...``."""
    code = cli.main(["evaluate", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def write_dataset(name, root, split="train"):
    """The fixture of dataset ``name`` (InterHand2.6M: the test split) under ``root``."""
    return WRITERS[name](root, "test" if name == "interhand" else split)


def load(path):
    return json.loads(path.read_text())


# --- the command


@pytest.mark.parametrize("name", ["ho3d", "h2o3d", "interhand"])
def test_checkpoint_writes_official_files_and_prints_their_metrics(
    tmp_path, capsys, checkpoint, name
):
    write_dataset(name, tmp_path / "data")
    split = "test" if name == "interhand" else "train"
    out = tmp_path / "out"
    code, report, _ = evaluate(
        capsys,
        name,
        "--checkpoint",
        checkpoint,
        "--data-root",
        tmp_path / "data",
        "--split",
        split,
        "--out",
        out,
        "--device",
        "cpu",
        "--batch-size",
        2,
        "--no-progress",
    )
    assert code == 0
    frames = 3 if name == "interhand" else 2
    assert report["num_frames"] == frames
    assert all(isinstance(report[key], float) for key in METRICS[name])
    pred = load(out / "pred.json")
    if name == "ho3d":  # [xyz_list, verts_list]: 21 x 3 joints, 778 x 3 zero vertices
        assert len(pred) == 2 and len(pred[0]) == len(pred[1]) == frames
        assert np.asarray(pred[0]).shape == (frames, 21, 3)
        assert not np.asarray(pred[1]).any() and np.asarray(pred[1]).shape == (frames, 778, 3)
        assert (np.asarray(pred[0])[..., 2] <= 0).all()  # OpenGL: the hand at negative z
    elif name == "h2o3d":  # [xyz_list], 21 x 6, right wrist at the origin
        assert len(pred) == 1 and np.asarray(pred[0]).shape == (frames, 21, 6)
        assert np.allclose(np.asarray(pred[0])[:, 0, :3], 0.0)
    else:
        assert np.asarray(pred["joints"]).shape == (frames, 42, 3)
    if name != "interhand":  # the object head's HANDS'22 poses, scored on the fixture's boxes
        assert np.asarray(load(out / "pred_obj.json")).shape == (1, frames, 6)
        assert isinstance(report["mssd_cm"], float)
    # The same numbers as scoring the written files with --pred.
    gt = "--gt-xyz" if name == "ho3d" else "--gt"
    objects = []
    if name != "interhand":
        objects = [
            "--pred-obj",
            out / "pred_obj.json",
            "--gt-obj-pose",
            out / "gt_obj_pose.json",
            "--obj-names",
            out / "gt_obj_names.json",
            "--obj-verts",
            out / "gt_obj_verts.json",
        ]
    code, rescored, _ = evaluate(
        capsys, name, "--pred", out / "pred.json", gt, out / GT_FILE[name], *objects
    )
    assert code == 0
    assert rescored == {key: value for key, value in report.items() if key != "files"}


def test_predictions_are_deterministic_and_in_split_order(tmp_path, checkpoint):
    write_ho3d(tmp_path / "data")
    first, again = tmp_path / "a", tmp_path / "b"
    options = dict(split="train", device="cpu", progress=False)
    one = predict_split.write_split_files(
        "ho3d", tmp_path / "data", first, checkpoint, batch_size=2, **options
    )
    # Another batch size, the frames in the other order and read by 2 worker processes: each
    # frame's prediction is its own, in split order.
    (tmp_path / "data" / "train.txt").write_text("ABF10/0001\nABF10/0000\n")
    predict_split.write_split_files(
        "ho3d", tmp_path / "data", again, checkpoint, batch_size=1, workers=2, **options
    )
    assert one.num_frames == 2 and one.has_ground_truth
    xyz, reordered = load(first / "pred.json")[0], load(again / "pred.json")[0]
    assert np.allclose(xyz, reordered[::-1], atol=1e-5)
    assert np.allclose(load(first / "gt_xyz.json"), load(again / "gt_xyz.json")[::-1])


def test_evaluation_split_is_written_and_scored_only_with_official_gt(
    tmp_path, capsys, checkpoint
):
    frames = write_ho3d(tmp_path, "evaluation")  # wrists only: no ground truth in the metas
    argv = [
        "ho3d",
        "--checkpoint",
        checkpoint,
        "--data-root",
        tmp_path,
        "--out",
        tmp_path / "out",
        "--device",
        "cpu",
        "--count",
        1,
        "--no-progress",
    ]
    code, report, err = evaluate(capsys, *argv)
    assert code == 0 and "no ground truth" in err
    assert report["num_frames"] == 1 and set(report["files"]) == {"pred", "pred_obj"}
    assert len(load(tmp_path / "out" / "pred.json")[0]) == 1
    # HO-3D v3's released evaluation_xyz.json in the root: the first --count frames are scored.
    official = [predict_split.submission_entry("ho3d", j) for j in frames.values()]
    (tmp_path / "evaluation_xyz.json").write_text(json.dumps(official))
    code, report, _ = evaluate(capsys, *argv)
    assert code == 0 and report["num_frames"] == 1
    assert isinstance(report["joint_error_cm"], float)
    assert load(tmp_path / "out" / "gt_xyz.json") == official[:1]


def test_bad_options_and_inputs_exit_2_with_a_message(tmp_path, capsys, checkpoint):
    write_ho3d(tmp_path / "data")
    run = ["ho3d", "--checkpoint", checkpoint, "--out", tmp_path / "out", "--device", "cpu"]
    cases = [
        ([*run, "--data-root", tmp_path / "absent"], "absent is not a directory"),
        ([*run, "--data-root", tmp_path], "train.txt|evaluation.txt"),
        ([*run, "--data-root", tmp_path / "data", "--split", "val"], "split"),
        ([*run], "--checkpoint needs --data-root"),
        ([*run, "--data-root", tmp_path / "data", "--gt-xyz", "gt.json"], "--gt-xyz cannot"),
        ([*run, "--data-root", tmp_path / "data", "--batch-size", 0], "--batch-size must be"),
        (["ho3d", "--pred", "pred.json"], "--pred needs --gt-xyz"),
        (["ho3d", "--pred", "p.json", "--gt-xyz", "g.json", "--out", "o"], "--out cannot"),
    ]
    for argv, words in cases:
        code, _, err = evaluate(capsys, *argv)
        assert code == 2, argv
        assert len(err.strip().splitlines()) >= 1 and any(
            word in err for word in words.split("|")
        ), err
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    code, _, err = evaluate(
        capsys,
        "ho3d",
        "--checkpoint",
        bad,
        "--data-root",
        tmp_path / "data",
        "--out",
        tmp_path / "out",
        "--split",
        "train",
    )
    assert code == 2 and "model.pt" in err
    assert not (tmp_path / "out" / "pred.json").exists()


# --- the conversions: ground truth through the prediction writer scores zero


def records_of(name, root, split="train"):
    reader = open_dataset(name, root, split)
    return reader, [reader.record(i, load_image=False) for i in range(len(reader))]


def raw_metas(reader):
    """The meta pickles' dicts as the fixture wrote them (HO-3D order, OpenGL)."""
    return [reader.meta(i) for i in range(len(reader))]


def write_truth_as_prediction(name, records, directory):
    """The records' ground truth written as a prediction, objects included."""
    joints = np.stack([record.joints_3d for record in records])
    poses = None
    if name != "interhand":
        poses = (
            np.stack([r.object_rotation for r in records]),
            np.stack([r.object_translation for r in records]),
        )
    directory.mkdir()
    return predict_split.write_predictions(name, joints, directory, poses)


def object_files(metas, directory):
    """HANDS'22 ground truth straight from the metas: Rodrigues objRot and objTrans (OpenGL)."""
    poses = [[*np.ravel(m["objRot"]), *np.ravel(m["objTrans"])] for m in metas]
    files = {
        "--gt-obj-pose": (directory / "raw_pose.json", poses),
        "--obj-names": (directory / "raw_names.json", [m["objName"] for m in metas]),
        "--obj-verts": (
            directory / "raw_verts.json",
            {m["objName"]: m["objCorners3DRest"].tolist() for m in metas},
        ),
    }
    argv = []
    for flag, (path, content) in files.items():
        path.write_text(json.dumps(content))
        argv += [flag, path]
    return argv


def test_ho3d_ground_truth_round_trip_scores_zero(tmp_path, capsys):
    write_ho3d(tmp_path / "data")
    reader, records = records_of("ho3d", tmp_path / "data")
    metas = raw_metas(reader)
    files = write_truth_as_prediction("ho3d", records, tmp_path / "out")
    raw = tmp_path / "raw_xyz.json"  # HO-3D's own order and axes, as the pickles hold them
    raw.write_text(json.dumps([m["handJoints3D"].tolist() for m in metas]))
    code, report, _ = evaluate(
        capsys,
        "ho3d",
        "--pred",
        files["pred"],
        "--gt-xyz",
        raw,
        "--pred-obj",
        files["pred_obj"],
        *object_files(metas, tmp_path),
    )
    assert code == 0 and report["num_frames"] == 2
    for key in HO3D_METRICS:
        assert report[key] == pytest.approx(0.0, abs=1e-6), key
    assert report["joint_auc"] == pytest.approx(1.0)
    assert report["mssd_cm"] == pytest.approx(0.0, abs=1e-6)
    # The ground-truth writer gives the same files as the raw annotations.
    truth = predict_split.write_ground_truth("ho3d", records, tmp_path / "out")
    assert np.allclose(load(truth["gt_xyz"]), load(raw))
    assert np.allclose(load(truth["gt_obj_pose"]), load(tmp_path / "raw_pose.json"))


def test_h2o3d_ground_truth_round_trip_scores_zero(tmp_path, capsys):
    write_h2o3d(tmp_path / "data")
    reader, records = records_of("h2o3d", tmp_path / "data")
    metas = raw_metas(reader)
    files = write_truth_as_prediction("h2o3d", records, tmp_path / "out")
    raw = tmp_path / "raw_gt.json"  # 21 x 6: both hands minus the right wrist, OpenGL
    wrists = [m["rightHandJoints3D"][0] for m in metas]
    raw.write_text(
        json.dumps(
            [
                np.hstack([m["rightHandJoints3D"] - w, m["leftHandJoints3D"] - w]).tolist()
                for m, w in zip(metas, wrists)
            ]
        )
    )
    code, report, _ = evaluate(
        capsys,
        "h2o3d",
        "--pred",
        files["pred"],
        "--gt",
        raw,
        "--pred-obj",
        files["pred_obj"],
        *object_files(metas, tmp_path),
    )
    assert code == 0
    for key in ("mpjpe_cm", "mpjpe_right_cm", "mpjpe_left_cm", "mrrpe_cm", "mssd_cm"):
        assert report[key] == pytest.approx(0.0, abs=1e-6), key


def test_interhand_ground_truth_round_trip_scores_zero(tmp_path, capsys):
    truth = write_interhand(tmp_path / "data", "test")
    _, records = records_of("interhand", tmp_path / "data", "test")
    files = write_truth_as_prediction("interhand", records, tmp_path / "out")
    raw = tmp_path / "raw_gt.json"  # the fixture's own camera-frame joints, our order
    raw.write_text(
        json.dumps(
            {
                "joints": [t["camera_joints"].tolist() for t in truth],
                "joint_valid": [t["valid"].astype(int).tolist() for t in truth],
                "hand_type": [t["hand_type"] for t in truth],
            }
        )
    )
    code, report, _ = evaluate(capsys, "interhand", "--pred", files["pred"], "--gt", raw)
    assert code == 0 and report["num_frames"] == 3
    # The reader keeps world joints in float32: 1e-5 mm of rounding; a wrong joint is ~cm off.
    assert report["mpjpe_all_mm"] == pytest.approx(0.0, abs=1e-3)
    assert report["mrrpe_mm"] == pytest.approx(0.0, abs=1e-3)


def test_object_pose_is_the_model_origin_of_the_predicted_box(tmp_path):
    """The estimator reports the box centre; HANDS'22 wants the object model's origin."""
    write_ho3d(tmp_path)
    _, records = records_of("ho3d", tmp_path)
    record = records[0]
    centre_rest = record.object_corners_rest.mean(axis=0)
    centre = record.object_translation + record.object_rotation @ centre_rest
    prediction = Prediction(object=ObjectEstimate(True, 0.9, record.object_rotation, centre))
    rotation, origin = predict_split.object_model_pose(prediction, record)
    assert np.allclose(rotation, record.object_rotation)
    assert np.allclose(origin, record.object_translation)
    rotation, origin = predict_split.object_model_pose(Prediction(), record)
    assert np.allclose(rotation, np.eye(3)) and not origin.any()  # not placed: zeros
