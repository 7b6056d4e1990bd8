"""``occrobnet evaluate`` on small files written here: good files give the metrics as JSON,
bad files exit with code 2 and a message that names the file and the problem."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from occrobnet_ros import metrics
from occrobnet_ros.cli import main
from occrobnet_ros.skeleton import HO3D_FROM_OURS, INTERHAND_FROM_OURS, two_hand_map

REPO = Path(__file__).resolve().parents[1]
NUM_FRAMES = 4
OPENGL = np.diag([1.0, -1.0, -1.0])


def ho3d_gt(seed: int = 0) -> np.ndarray:
    """HO-3D-like GT: (N, 21, 3) hand joints, metres, OpenGL frame (hand at negative z)."""
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.04, size=(NUM_FRAMES, 21, 3)) + [0.0, 0.0, -0.5]


def write(path: Path, value) -> Path:
    path.write_text(json.dumps(value))
    return path


def evaluate(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["evaluate", *[str(a) for a in argv]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- HO-3D


def test_ho3d_good_file_prints_the_metrics_and_plots(tmp_path, capsys):
    gt = ho3d_gt()
    rotation = Rotation.from_euler("y", 40, degrees=True).as_matrix()
    pred = 1.3 * gt @ rotation.T + [0.01, 0.0, 0.02]  # exact up to a similarity transform
    gt_path = write(tmp_path / "evaluation_xyz.json", gt.tolist())
    pred_path = write(tmp_path / "pred.json", [pred.tolist(), np.zeros((4, 778, 3)).tolist()])
    code, out, err = evaluate(
        capsys, "ho3d", "--pred", pred_path, "--gt-xyz", gt_path, "--plot", tmp_path / "plots"
    )
    assert code == 0, err
    report = json.loads(out)
    keys = ["joint_error_sc_tr_cm", "joint_auc_sc_tr", "joint_error_procrustes_cm"]
    assert set(keys + ["joint_auc_procrustes"]) <= set(report)
    assert report["num_frames"] == NUM_FRAMES
    assert report["joint_error_procrustes_cm"] < 1e-5
    assert report["joint_error_sc_tr_cm"] > 0.5  # the rotation is not aligned away
    expected = metrics.ho3d_hand_metrics(pred, gt)  # same numbers in either joint order
    assert report["joint_auc_sc_tr"] == pytest.approx(expected["joint_auc_sc_tr"])
    for path in report["plots"]:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(report["plots"]) == 3


def test_ho3d_reads_ho3d_joint_order(tmp_path, capsys):
    # A 1 cm error on HO-3D joint 4 (the middle MCP, the sc-tr scale bone) and nowhere else.
    gt = ho3d_gt()
    pred = gt.copy()
    pred[:, 4] += [0.01, 0.0, 0.0]
    gt_path = write(tmp_path / "gt.json", gt.tolist())
    pred_path = write(tmp_path / "pred.json", [pred.tolist(), [[]] * NUM_FRAMES])
    code, out, err = evaluate(capsys, "ho3d", "--pred", pred_path, "--gt-xyz", gt_path)
    assert code == 0, err
    report = json.loads(out)
    assert report["joint_error_cm"] == pytest.approx(1.0 / 21)
    # Read in the wrong order the scale bone would be untouched and sc-tr would equal it.
    assert report["joint_error_sc_tr_cm"] != pytest.approx(report["joint_error_cm"])


def bad_ho3d_cases(gt: np.ndarray) -> dict[str, tuple[object, str]]:
    """name -> (prediction file content, words the message must contain)."""
    verts = [[]] * NUM_FRAMES
    nan = gt.copy()
    nan[2, 5, 1] = np.nan
    return {
        "wrong_length": ([gt[:3].tolist(), verts[:3]], "3 frames, the ground truth has 4"),
        "nan": ([nan.tolist(), verts], "NaN"),
        "wrong_shape": ([gt[:, :20].tolist(), verts], "N x 21 x 3"),
        "ragged": ([[gt[0].tolist(), [1.0, 2.0]] + gt[2:].tolist(), verts], "ragged"),
        "not_submission": ({"xyz": gt.tolist()}, "[xyz_list, verts_list]"),
    }


@pytest.mark.parametrize("case", list(bad_ho3d_cases(ho3d_gt())))
def test_ho3d_bad_prediction_exits_2_naming_file_and_problem(tmp_path, capsys, case):
    gt = ho3d_gt()
    content, words = bad_ho3d_cases(gt)[case]
    gt_path = write(tmp_path / "gt.json", gt.tolist())
    pred_path = tmp_path / f"{case}.json"
    pred_path.write_text(json.dumps(content))  # json writes NaN as NaN, as Python users would
    code, out, err = evaluate(capsys, "ho3d", "--pred", pred_path, "--gt-xyz", gt_path)
    assert code == 2 and out == ""
    assert str(pred_path) in err and words in err


def test_unreadable_files_exit_2(tmp_path, capsys):
    gt_path = write(tmp_path / "gt.json", ho3d_gt().tolist())
    missing = tmp_path / "missing.json"
    code, _, err = evaluate(capsys, "ho3d", "--pred", missing, "--gt-xyz", gt_path)
    assert code == 2 and str(missing) in err and "cannot read" in err
    broken = tmp_path / "broken.json"
    broken.write_text("[[1, 2,")
    code, _, err = evaluate(capsys, "ho3d", "--pred", broken, "--gt-xyz", gt_path)
    assert code == 2 and str(broken) in err and "not valid JSON" in err


def test_bad_file_in_a_subprocess_has_no_traceback(tmp_path):
    gt_path = write(tmp_path / "gt.json", ho3d_gt().tolist())
    pred_path = write(tmp_path / "pred.json", [ho3d_gt()[:2].tolist(), [[]] * 2])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "occrobnet_ros.cli", "evaluate", "ho3d"]
    result = subprocess.run(
        [*command, "--pred", str(pred_path), "--gt-xyz", str(gt_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(pred_path) in result.stderr and "2 frames" in result.stderr


# --- InterHand2.6M


def interhand_gt() -> tuple[np.ndarray, list, list]:
    rng = np.random.default_rng(1)
    joints = rng.normal(scale=0.04, size=(NUM_FRAMES, 42, 3)) + [0.0, 0.0, 0.8]
    joints[:, 21:] += [0.15, 0.0, 0.0]
    valid = np.ones((NUM_FRAMES, 42))
    valid[0, 21:] = 0  # frame 0 shows the right hand only
    return joints, valid.tolist(), ["right", "interacting", "interacting", "interacting"]


def test_interhand_good_files_in_either_joint_order(tmp_path, capsys):
    gt, valid, hand_type = interhand_gt()
    pred = gt.copy()
    pred[:, 22:] += [0.0, 0.004, 0.003]  # left non-root joints 5 mm off
    pred[:, 21:] += [0.01, 0.0, 0.0]  # and the whole left hand 10 mm off
    gt_path = write(tmp_path / "gt.json", {"joints": gt.tolist(), "joint_valid": valid,
                                           "hand_type": hand_type})  # fmt: skip
    # the prediction in InterHand2.6M's order, saying so
    pred_ih = pred[:, two_hand_map(INTERHAND_FROM_OURS)]
    pred_path = write(tmp_path / "pred.json", {"joints": pred_ih.tolist(),
                                               "joint_order": "interhand"})  # fmt: skip
    code, out, err = evaluate(capsys, "interhand", "--pred", pred_path, "--gt", gt_path)
    assert code == 0, err
    report = json.loads(out)
    assert report["mpjpe_interacting_mm"] == pytest.approx(5.0 * 20 / 42)
    assert report["mpjpe_single_mm"] == pytest.approx(0.0, abs=1e-9)
    assert report["mrrpe_mm"] == pytest.approx(10.0)
    assert report["num_frames"] == NUM_FRAMES


@pytest.mark.parametrize(
    "gt_change, words",
    [
        ({"hand_type": ["right", "both", "left", "right"]}, "unknown hand_type"),
        ({"joint_valid": [[1] * 42] * 3}, "3 frames"),
        ({"joint_order": "mano"}, "joint_order"),
        ({"joints": None}, "joints must be a list"),
    ],
)
def test_interhand_bad_gt_exits_2(tmp_path, capsys, gt_change, words):
    gt, valid, hand_type = interhand_gt()
    content = {"joints": gt.tolist(), "joint_valid": valid, "hand_type": hand_type}
    gt_path = write(tmp_path / "gt.json", {**content, **gt_change})
    pred_path = write(tmp_path / "pred.json", {"joints": gt.tolist()})
    code, _, err = evaluate(capsys, "interhand", "--pred", pred_path, "--gt", gt_path)
    assert code == 2 and str(gt_path) in err and words in err


# --- H2O-3D with objects


def h2o3d_layout(joints: np.ndarray) -> np.ndarray:
    """(N, 42, 3) ours -> KT's (N, 21, 6) HO-3D-ordered right | left, OpenGL."""
    joints = joints @ OPENGL
    return np.concatenate([joints[:, HO3D_FROM_OURS], joints[:, 21:][:, HO3D_FROM_OURS]], axis=2)


def test_h2o3d_hands_and_objects(tmp_path, capsys):
    gt, _, _ = interhand_gt()
    # KT's submission: right root-relative, left relative to the right wrist (+2 cm error)
    pred = gt - gt[:, :1]
    pred[:, 21:] += [0.0, 0.02, 0.0]
    gt_path = write(tmp_path / "gt.json", h2o3d_layout(gt).tolist())
    pred_path = write(tmp_path / "pred.json", [h2o3d_layout(pred).tolist()])
    # objects: a mug off its GT by a 45 deg turn about its axis (a symmetry), a drill 1 cm off
    names = ["025_mug", "035_power_drill", "025_mug", "035_power_drill"]
    gt_pose = [[0.1, 0.2, 0.3, 0.0, 0.0, 0.5]] * NUM_FRAMES
    r_gt = Rotation.from_rotvec([0.1, 0.2, 0.3]).as_matrix()
    mug_turn = Rotation.from_rotvec(np.pi / 4 * r_gt[:, 2]) * Rotation.from_matrix(r_gt)
    mug = [*mug_turn.as_rotvec(), 0.0, 0.0, 0.5]
    drill = [0.1, 0.2, 0.3, 0.01, 0.0, 0.5]
    pred_obj = write(tmp_path / "pred_obj.json", [[mug, drill, mug, drill]])
    box = [[x, y, z] for x in (-0.04, 0.04) for y in (-0.04, 0.04) for z in (-0.05, 0.05)]
    files = {
        "--gt-obj-pose": write(tmp_path / "evaluation_pose.json", gt_pose),
        "--obj-names": write(tmp_path / "evaluation_obj_names.json", names),
        "--obj-verts": write(tmp_path / "verts.json", {"025_mug": box, "035_power_drill": box}),
    }
    argv = ["h2o3d", "--pred", pred_path, "--gt", gt_path, "--pred-obj", pred_obj]
    argv += [item for pair in files.items() for item in pair]
    code, out, err = evaluate(capsys, *argv, "--plot", tmp_path / "plots")
    assert code == 0, err
    report = json.loads(out)
    assert report["mpjpe_cm"] == pytest.approx(0.0, abs=1e-9)
    assert report["mrrpe_cm"] == pytest.approx(2.0)
    assert report["mssd_per_object_cm"]["025_mug"] == pytest.approx(0.0, abs=1e-9)
    assert report["mssd_per_object_cm"]["035_power_drill"] == pytest.approx(1.0)
    assert report["mssd_cm"] == pytest.approx(0.5)
    assert Path(report["plots"][0]).exists()
    # an object the HANDS'22 protocol does not know is an error, naming the names file
    write(files["--obj-names"], ["024_bowl"] * NUM_FRAMES)
    code, _, err = evaluate(capsys, *argv)
    assert code == 2 and "024_bowl" in err and str(files["--obj-names"]) in err


def test_object_files_go_together(tmp_path, capsys):
    gt, _, _ = interhand_gt()
    gt_path = write(tmp_path / "gt.json", h2o3d_layout(gt).tolist())
    pred_path = write(tmp_path / "pred.json", [h2o3d_layout(gt).tolist()])
    argv = ["h2o3d", "--pred", pred_path, "--gt", gt_path, "--pred-obj", gt_path]
    code, _, err = evaluate(capsys, *argv)
    assert code == 2 and "go together" in err
