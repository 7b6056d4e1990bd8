"""``occrobnet predict``: image files in, JSON keyed by path and annotated images out."""

import json

import cv2
import numpy as np
import pytest

from occrobnet_ros.cli import main
from occrobnet_ros.data.synthetic import generate_sample
from occrobnet_ros.geometry import intrinsics_from_fov
from occrobnet_ros.tools.predict import DEFAULT_FOV_DEG

CALIBRATION = """\
image_width: {width}
image_height: {height}
camera_name: test_camera
camera_matrix:
  rows: 3
  cols: 3
  data: [{fx}, 0, {cx}, 0, {fy}, {cy}, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0, 0, 0, 0, 0]
"""


@pytest.fixture(scope="module")
def hand_photo(tmp_path_factory):
    """A synthetic frame with one clearly visible hand, written as a PNG, and its sample."""
    folder = tmp_path_factory.mktemp("photos")
    for seed in range(40):
        sample = generate_sample(seed)
        if sample.scene == "one_hand" and sample.occlusion_bucket == "low":
            path = folder / f"hand_{seed}.png"
            cv2.imwrite(str(path), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
            return path, sample
    pytest.fail("no unoccluded one-hand frame among the first 40 seeds")


def _predict(*argv) -> int:
    return main(["predict", *map(str, argv)])


def test_json_keyed_by_path_as_given_with_the_hand_found(hand_photo, tmp_path, capsys):
    path, sample = hand_photo
    out = tmp_path / "pred.json"
    K = sample.K
    calibration = tmp_path / "camera.yaml"
    calibration.write_text(
        CALIBRATION.format(
            width=sample.image.shape[1], height=sample.image.shape[0],
            fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2],
        )
    )  # fmt: skip
    assert _predict(path, "--camera-info", calibration, "--json", out, "--draw", tmp_path) == 0
    results = json.loads(out.read_text())
    assert list(results) == [str(path)]
    result = results[str(path)]
    np.testing.assert_allclose(result["K"], K)
    assert result["image_size"] == [sample.image.shape[1], sample.image.shape[0]]
    side = 0 if sample.hand_valid[0] else 1
    hand = result[("right_hand", "left_hand")[side]]
    assert hand["detected"], result
    keypoints, joints = np.array(hand["keypoints_2d"]), np.array(hand["joints"])
    assert keypoints.shape == (21, 2) and joints.shape == (21, 3)
    truth = sample.joints_2d[21 * side : 21 * (side + 1)]
    assert np.median(np.linalg.norm(keypoints - truth, axis=1)) < 25.0  # px, 640x480 frame
    assert 0.1 < np.median(joints[:, 2]) < 2.0  # metres in front of the camera
    assert set(result["object"]) >= {"detected", "confidence"}
    assert (tmp_path / f"{path.stem}_pose.jpg").is_file()
    assert "found" in capsys.readouterr().out


def test_fov_sets_the_focal_length_and_the_default_is_announced(hand_photo, tmp_path, capsys):
    path, sample = hand_photo
    height, width = sample.image.shape[:2]
    out = tmp_path / "pred.json"
    assert _predict(path, "--fov", 90, "--json", out) == 0
    np.testing.assert_allclose(json.loads(out.read_text())[str(path)]["K"][0][0], width / 2.0)
    assert _predict(path, "--json", out) == 0
    K = json.loads(out.read_text())[str(path)]["K"]
    np.testing.assert_allclose(K, intrinsics_from_fov(width, height, DEFAULT_FOV_DEG))
    assert f"assuming a {DEFAULT_FOV_DEG:g} deg" in capsys.readouterr().out


def test_bad_files_are_reported_and_the_others_still_predicted(hand_photo, tmp_path, capsys):
    path, _ = hand_photo
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("hello")
    missing = tmp_path / "missing.png"
    out = tmp_path / "pred.json"
    assert _predict(not_an_image, path, missing, "--json", out) == 1
    results = json.loads(out.read_text())
    assert "not an image" in results[str(not_an_image)]["error"]
    assert "no such file" in results[str(missing)]["error"]
    assert "right_hand" in results[str(path)]
    assert "ERROR" in capsys.readouterr().out


def test_a_calibration_for_another_image_size_is_refused_per_image(hand_photo, tmp_path):
    path, _ = hand_photo
    calibration = tmp_path / "camera.yaml"
    calibration.write_text(
        CALIBRATION.format(width=1280, height=720, fx=900, fy=900, cx=640, cy=360)
    )
    out = tmp_path / "pred.json"
    assert _predict(path, "--camera-info", calibration, "--json", out) == 1
    assert "calibration is for 1280x720" in json.loads(out.read_text())[str(path)]["error"]


@pytest.mark.parametrize(
    "content, message",
    [("just text", "expected a YAML mapping"), ("image_width: 640\n", "not a camera calibration")],
)
def test_a_broken_calibration_file_stops_with_why(hand_photo, tmp_path, capsys, content, message):
    path, _ = hand_photo
    calibration = tmp_path / "camera.yaml"
    calibration.write_text(content)
    assert _predict(path, "--camera-info", calibration) == 2
    assert message in capsys.readouterr().err


def test_a_missing_checkpoint_stops_with_why(hand_photo, tmp_path, capsys):
    path, _ = hand_photo
    assert _predict(path, "--checkpoint", tmp_path / "none.safetensors") == 2
    assert "none.safetensors" in capsys.readouterr().err
