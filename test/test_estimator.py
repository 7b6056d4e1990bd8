"""The inference core: decoding to metres in the camera frame, input checks, checkpoints."""

import numpy as np
import pytest
import torch

from occrobnet_ros import crop_policy, geometry
from occrobnet_ros.inference.decode import decode_prediction
from occrobnet_ros.inference.estimator import Estimator, EstimatorError
from occrobnet_ros.inference.smoothing import OneEuroFilter
from occrobnet_ros.model.checkpoint import CheckpointError, save_random_model
from occrobnet_ros.model.config import OccRobNetConfig
from occrobnet_ros.prediction import box_corners
from occrobnet_ros.skeleton import NUM_JOINTS, hand_slice

K = np.array([[615.0, 0.0, 320.0], [0.0, 615.0, 240.0], [0.0, 0.0, 1.0]])
WIDTH, HEIGHT = 640, 480


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    """A randomly initialised, reduced tiny model: exercises the real code paths quickly."""
    config = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml")
    config.input_size = 128
    config.heatmap_size = 16
    path = tmp_path_factory.mktemp("ckpt") / "tiny_random.safetensors"
    return save_random_model(config, path)


def _hand(rng, wrist):
    # A plausible root-relative hand: joints within ~10 cm of the wrist.
    rel = np.concatenate([np.zeros((1, 3)), rng.uniform(-0.09, 0.09, (NUM_JOINTS - 1, 3))])
    return rel, rel + wrist


def _two_hands_and_an_object():
    """Both hands (root-relative and absolute joints) and an object (R, origin, box centre,
    half extent) in front of the camera."""
    rng = np.random.default_rng(1)
    right_rel, right_abs = _hand(rng, np.array([0.10, 0.05, 0.55]))
    left_rel, left_abs = _hand(rng, np.array([-0.12, 0.02, 0.60]))
    R = geometry.rotvec_to_matrix(np.array([0.3, -0.2, 0.9]))
    obj = (R, np.array([0.0, 0.1, 0.5]), np.array([0.0, 0.0, 0.01]), np.array([0.03, 0.04, 0.08]))
    return right_rel, right_abs, left_rel, left_abs, obj


def _outputs_for(right_abs, right_rel, left_abs, left_rel, obj, transform):
    """Network outputs that are exactly consistent with a known scene, in crop pixels."""
    R, t_origin, centre_obj, half = obj
    corners_obj = box_corners(2 * half) + centre_obj
    uv_image = geometry.project(np.concatenate([right_abs, left_abs]), K)
    corners_cam = corners_obj @ R.T + t_origin
    return {
        "joints_2d": geometry.apply_affine(transform, uv_image)[None],
        "joints_3d": np.concatenate([right_rel, left_rel])[None],
        "hand_presence": np.array([[5.0, 5.0]]),
        "joint_confidence": np.ones((1, 2 * NUM_JOINTS)),
        "object_presence": np.array([5.0]),
        "object_rotation": R[None],
        "object_corners_2d": geometry.apply_affine(transform, geometry.project(corners_cam, K))[
            None
        ],
        "object_corners_rel": (corners_obj @ R.T)[None],
        "object_box_centre": centre_obj[None],
        "object_box_half_extent": half[None],
    }


def test_decode_recovers_metric_poses_in_the_camera_frame():
    right_rel, right_abs, left_rel, left_abs, obj = _two_hands_and_an_object()
    R = obj[0]
    transform = crop_policy.roi_transform(geometry.project(right_abs, K), 256)
    outputs = _outputs_for(right_abs, right_rel, left_abs, left_rel, obj, transform)

    prediction = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5)

    assert prediction.right_hand.detected and prediction.left_hand.detected
    np.testing.assert_allclose(prediction.right_hand.joints, right_abs, atol=1e-9)
    np.testing.assert_allclose(prediction.left_hand.joints, left_abs, atol=1e-9)
    np.testing.assert_allclose(prediction.right_hand.keypoints_2d, geometry.project(right_abs, K))
    assert prediction.object.detected
    np.testing.assert_allclose(prediction.object.translation, R @ obj[2] + obj[1], atol=1e-9)
    np.testing.assert_allclose(prediction.object.box_size, 2 * obj[3])
    wrist_rotation = prediction.right_hand.wrist_rotation
    np.testing.assert_allclose(wrist_rotation @ wrist_rotation.T, np.eye(3), atol=1e-9)


@pytest.mark.parametrize("roll", [0.7, -2.0])
def test_a_rolled_crop_decodes_to_the_camera_frame_poses(roll):
    """An upright crop is rolled (crop_policy): the network sees its 3D turned by the roll,
    as training's roll augmentation shows it, and the decoder turns it back."""
    right_rel, right_abs, left_rel, left_abs, obj = _two_hands_and_an_object()
    R = obj[0]
    plain = crop_policy.roi_transform(geometry.project(right_abs, K), 256)
    transform = crop_policy.rolled(plain, roll, 256)
    assert crop_policy.crop_roll(transform) == pytest.approx(roll)
    outputs = _outputs_for(right_abs, right_rel, left_abs, left_rel, obj, transform)
    turn = crop_policy.roll_matrix(roll)  # what the network sees: every 3D quantity turned
    outputs["joints_3d"] = outputs["joints_3d"] @ turn.T
    outputs["object_rotation"] = turn @ outputs["object_rotation"]
    outputs["object_corners_rel"] = outputs["object_corners_rel"] @ turn.T
    outputs["object_translation"] = ((obj[1] - right_abs[0]) @ turn.T)[None]

    prediction = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5)

    np.testing.assert_allclose(prediction.right_hand.joints, right_abs, atol=1e-9)
    np.testing.assert_allclose(prediction.left_hand.joints, left_abs, atol=1e-9)
    np.testing.assert_allclose(prediction.right_hand.keypoints_2d, geometry.project(right_abs, K))
    np.testing.assert_allclose(prediction.object.rotation, R, atol=1e-9)
    np.testing.assert_allclose(prediction.object.translation, R @ obj[2] + obj[1], atol=1e-9)
    outputs["hand_presence"] = np.array([[-5.0, -5.0]])  # no hand: from the box corners
    alone = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5)
    np.testing.assert_allclose(alone.object.translation, R @ obj[2] + obj[1], atol=1e-6)


def test_an_upright_detection_crop_turns_the_hand_up():
    """One palm region (MediaPipe's square: its offsets (u, v) at R(rotation) (u, v) in the
    image, fingers towards -v): the crop shows that square with the fingers up."""
    centre, side, rotation = np.array([300.0, 200.0]), 180.0, 1.1
    transform = crop_policy.detection_transform([(centre, side, rotation)], 128, upright=True)
    assert crop_policy.crop_roll(transform) == pytest.approx(-rotation)
    c, s = np.cos(rotation), np.sin(rotation)
    fingers = centre + np.array([[c, -s], [s, c]]) @ np.array([0.0, -side / 2])
    np.testing.assert_allclose(geometry.apply_affine(transform, fingers[None])[0], [63.5, -0.5])
    corners = crop_policy.rotated_square_corners(centre, side, rotation)
    in_crop = np.sort(geometry.apply_affine(transform, corners), axis=0)
    np.testing.assert_allclose(in_crop[[0, -1]], [[-0.5, -0.5], [127.5, 127.5]], atol=1e-9)
    # Two regions, or upright off: the axis-aligned square around them, as before.
    level = crop_policy.detection_transform([(centre, side, rotation)], 128)
    assert crop_policy.crop_roll(level) == 0.0


def test_a_distorted_raw_image_gives_the_3d_of_the_rectified_one():
    # A RealSense-like plumb_bob lens; hands and object near the image corner, where it bends
    # pixels most. The network sees the raw image: its 2D outputs are the raw projections.
    lens = geometry.LensDistortion("plumb_bob", (-0.28, 0.09, 0.001, -0.001, 0.0))
    rng = np.random.default_rng(3)
    right_rel, right_abs = _hand(rng, np.array([0.20, 0.12, 0.50]))
    left_rel, left_abs = _hand(rng, np.array([-0.18, -0.10, 0.55]))
    R = geometry.rotvec_to_matrix(np.array([0.1, 0.4, -0.3]))
    obj = (R, np.array([0.15, 0.10, 0.45]), np.zeros(3), np.array([0.03, 0.04, 0.06]))
    transform = crop_policy.full_frame_transform(WIDTH, HEIGHT, 256)
    rectified = _outputs_for(right_abs, right_rel, left_abs, left_rel, obj, transform)
    raw = dict(rectified)
    raw["joints_2d"] = geometry.apply_affine(
        transform, lens.project(np.concatenate([right_abs, left_abs]), K)
    )[None]
    corners_cam = (box_corners(2 * obj[3]) + obj[2]) @ R.T + obj[1]
    raw["object_corners_2d"] = geometry.apply_affine(transform, lens.project(corners_cam, K))[None]
    bent = np.abs(raw["joints_2d"] - rectified["joints_2d"]).max() / transform[0, 0]
    assert bent > 10.0  # px in the image: the lens matters here

    from_rectified = decode_prediction(rectified, 0, transform, K, None, 0.5, 0.5)
    from_raw = decode_prediction(raw, 0, transform, K, lens, 0.5, 0.5)
    ignoring_lens = decode_prediction(raw, 0, transform, K, None, 0.5, 0.5)

    for hand in ("right_hand", "left_hand"):
        rect_joints = getattr(from_rectified, hand).joints
        np.testing.assert_allclose(getattr(from_raw, hand).joints, rect_joints, atol=1e-6)
        assert np.abs(getattr(ignoring_lens, hand).joints - rect_joints).max() > 0.01
    # The 2D keypoints stay where they are in the image the node received.
    np.testing.assert_allclose(
        from_raw.right_hand.keypoints_2d, lens.project(right_abs, K), atol=1e-6
    )


def test_decode_applies_presence_thresholds():
    rng = np.random.default_rng(2)
    right_rel, right_abs = _hand(rng, np.array([0.0, 0.0, 0.5]))
    obj = (np.eye(3), np.array([0.0, 0.0, 0.5]), np.zeros(3), np.full(3, 0.03))
    transform = crop_policy.full_frame_transform(WIDTH, HEIGHT, 256)
    outputs = _outputs_for(right_abs, right_rel, right_abs, right_rel, obj, transform)
    outputs["hand_presence"] = np.array([[2.0, -2.0]])  # p = 0.88, 0.12
    outputs["object_presence"] = np.array([-1.0])  # p = 0.27

    prediction = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5)

    assert prediction.right_hand.detected and prediction.right_hand.confidence == pytest.approx(
        0.8808, abs=1e-4
    )
    assert not prediction.left_hand.detected and not prediction.object.detected
    assert np.all(prediction.left_hand.joints == 0)


def test_predict_runs_the_checkpoint_on_a_frame(random_checkpoint):
    estimator = Estimator(random_checkpoint, device="cpu", hand_threshold=0.0)
    rgb = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    prediction = estimator.predict(rgb, K)
    assert estimator.model_name == "occrobnet_tiny"
    assert estimator.model_version.startswith("tiny_random.safetensors@")
    assert prediction.inference_time > 0
    assert set(prediction.timings) == {"preprocess", "model", "decode"}
    for hand in prediction.hands:
        if hand.detected:
            assert hand.joints.shape == (21, 3) and np.isfinite(hand.joints).all()
            assert hand.joints[0, 2] > 0  # in front of the camera
            assert ((hand.joint_confidence >= 0) & (hand.joint_confidence <= 1)).all()


def test_predict_batch_is_deterministic_and_matches_single_frames(random_checkpoint):
    estimator = Estimator(random_checkpoint, device="cpu", roi_tracking=False, hand_threshold=0.0)
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(2)]
    batch = estimator.predict_batch(frames, [K, K])
    again = estimator.predict_batch(frames, [K, K])
    single = estimator.predict(frames[1], K)
    for a, b in zip(batch, again):
        np.testing.assert_array_equal(a.right_hand.joints, b.right_hand.joints)
    np.testing.assert_allclose(batch[1].right_hand.joints, single.right_hand.joints, atol=1e-5)


def test_a_flat_frame_reports_nothing(random_checkpoint, monkeypatch):
    """A lens cap, a dark or a saturated frame: no hand and no object, whatever the network
    decodes (here a decoder that always finds the object, as real weights did on black)."""
    from occrobnet_ros.inference import estimator as estimator_module
    from occrobnet_ros.prediction import ObjectEstimate, Prediction

    def always_an_object(*args):
        return Prediction(object=ObjectEstimate(detected=True, confidence=0.99))

    monkeypatch.setattr(estimator_module, "decode_prediction", always_an_object)
    estimator = Estimator(random_checkpoint, device="cpu")
    rng = np.random.default_rng(5)
    textured = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    assert estimator.predict_batch([textured], [K])[0].object.detected
    flat = [
        np.zeros((HEIGHT, WIDTH, 3), np.uint8),
        np.full((HEIGHT, WIDTH, 3), 255, np.uint8),
        np.full((HEIGHT, WIDTH, 3), (200, 30, 30), np.uint8),  # one colour, not grey
        rng.integers(0, 7, (HEIGHT, WIDTH, 3), dtype=np.uint8),  # a capped sensor's noise
    ]
    for prediction in [*estimator.predict_batch(flat, [K] * 4), estimator.predict(flat[0], K)]:
        assert not prediction.object.detected
        assert prediction.inference_time > 0 and prediction.timings


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((480, 640), np.uint8),  # mono
        np.zeros((480, 640, 3), np.float32),  # not uint8
        np.zeros((4, 4, 3), np.uint8),  # too small
    ],
)
def test_bad_images_are_refused(random_checkpoint, image):
    estimator = Estimator(random_checkpoint, device="cpu")
    with pytest.raises(EstimatorError):
        estimator.predict(image, K)


@pytest.mark.parametrize("bad_K", [np.full((3, 3), np.nan), np.zeros((3, 3)), np.eye(2)])
def test_bad_intrinsics_are_refused(random_checkpoint, bad_K):
    estimator = Estimator(random_checkpoint, device="cpu")
    with pytest.raises(EstimatorError):
        estimator.predict(np.zeros((48, 64, 3), np.uint8), bad_K)


def test_bad_settings_and_checkpoints_are_refused(tmp_path, random_checkpoint):
    with pytest.raises(EstimatorError, match="device"):
        Estimator(random_checkpoint, device="tpu")
    with pytest.raises(EstimatorError, match="precision"):
        Estimator(random_checkpoint, precision="int8")
    with pytest.raises(CheckpointError):
        Estimator(tmp_path / "missing.safetensors")
    pickle_file = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(1)}, pickle_file)
    with pytest.raises(CheckpointError, match="pickle"):
        Estimator(pickle_file)


def test_cuda_request_without_cuda_falls_back_to_cpu(random_checkpoint, caplog):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    estimator = Estimator(random_checkpoint, device="cuda", precision="bf16")
    assert estimator.device.type == "cpu" and estimator.precision == "fp32"
    assert "CUDA is not available" in caplog.text


def test_one_euro_filter_smooths_noise_and_follows_motion():
    rng = np.random.default_rng(4)
    still = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    times = np.arange(200) / 30.0
    noisy = 0.5 + rng.normal(0, 0.01, size=(200, 3))
    smoothed = np.array([still.filter(x, t) for x, t in zip(noisy, times)])
    assert smoothed[50:].std(axis=0).max() < 0.5 * noisy[50:].std(axis=0).min()
    moving = OneEuroFilter(min_cutoff=1.0, beta=5.0)
    ramp = np.array([moving.filter(np.array([t]), t) for t in times])
    assert abs(ramp[-1, 0] - times[-1]) < 0.05  # fast motion: little lag
    moving.reset()
    np.testing.assert_array_equal(moving.filter(np.array([7.0]), 100.0), [7.0])


def test_predict_batch_crops_around_a_given_box():
    """A dataset's hand box (KT's evaluation crop): the hand's keypoints land around it."""
    from occrobnet_ros.data.synthetic import generate_sample

    estimator = Estimator(device="cpu", hand_threshold=0.0)  # the embedded checkpoint
    sample = generate_sample(2)  # benchmark frame with one hand
    (hand,) = np.flatnonzero(sample.hand_valid)
    keypoints = sample.joints_2d[hand_slice(hand)]
    box = np.concatenate([keypoints.min(0), keypoints.max(0)])
    boxed, no_box, whole = (
        estimator.predict_batch([sample.image], [sample.K], boxes)[0].hands[hand]
        for boxes in ([box], [np.full(4, np.nan)], None)
    )
    np.testing.assert_array_equal(no_box.joints, whole.joints)
    assert boxed.detected  # and seen through another crop than the whole frame:
    assert not np.array_equal(boxed.joints, whole.joints)
    centre, side = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]).max()
    distance = np.abs(boxed.keypoints_2d - centre).max(axis=1)
    assert np.median(distance) < side  # in the ROI crop around the box, not elsewhere
    with pytest.raises(EstimatorError):
        estimator.predict_batch([sample.image], [sample.K], [None, None])


def test_confident_heatmap_peaks_replace_the_2d_head():
    """The right hand's 2D head is off by 30 px; its heatmaps peak at the true joints for 15
    joints: the solve uses those peaks, so the hand lands near its true position."""
    rng = np.random.default_rng(4)
    right_rel, right_abs = _hand(rng, np.array([0.05, 0.0, 0.5]))
    obj = (np.eye(3), np.array([0.0, 0.0, 0.5]), np.zeros(3), np.full(3, 0.03))
    transform = crop_policy.roi_transform(geometry.project(right_abs, K), 256)
    outputs = _outputs_for(right_abs, right_rel, right_abs, right_rel, obj, transform)
    true_uv = outputs["joints_2d"].copy()
    outputs["joints_2d"] = true_uv + 30.0
    outputs["joint_peaks"] = true_uv
    outputs["joint_confidence"][0, 15:NUM_JOINTS] = 0.05  # flat maps: the head's 2D is kept

    prediction = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5)

    uv = prediction.right_hand.keypoints_2d
    image_uv = geometry.project(right_abs, K)
    np.testing.assert_allclose(uv[:15], image_uv[:15], atol=1e-9)
    assert (np.abs(uv[15:] - image_uv[15:]) > 1.0).all()
    error = np.linalg.norm(prediction.right_hand.joints[0] - right_abs[0])
    assert error < 0.01  # metres; the head's 2D alone puts it centimetres off


def test_joint_peaks_find_each_maximum_within_a_quarter_cell():
    from occrobnet_ros.model.postprocess import joint_peaks

    grid = torch.arange(16.0)
    centres = torch.tensor([[3.3, 7.8], [12.6, 1.2]])  # heatmap cells (x, y)
    maps = torch.exp(
        -((grid.view(1, 1, -1) - centres[:, 0, None, None]) ** 2
          + (grid.view(1, -1, 1) - centres[:, 1, None, None]) ** 2) / 2
    )[None]  # fmt: skip
    stride = 4.0
    peaks = joint_peaks(maps, stride)[0]
    expected = (centres + 0.5) * stride - 0.5
    assert (peaks - expected).abs().max() <= 0.25 * stride + 1e-6


def test_object_is_placed_from_the_wrist_and_the_relative_translation():
    """With a placed hand, the object origin is that wrist plus the translation head's offset
    (the 2D corners are ignored: here they are 40 px off); without one, the corner solve."""
    rng = np.random.default_rng(5)
    right_rel, right_abs = _hand(rng, np.array([0.05, 0.0, 0.5]))
    R = geometry.rotvec_to_matrix(np.array([0.1, 0.4, -0.3]))
    obj = (R, np.array([0.1, 0.05, 0.55]), np.array([0.0, 0.0, 0.01]), np.full(3, 0.04))
    transform = crop_policy.roi_transform(geometry.project(right_abs, K), 256)
    outputs = _outputs_for(right_abs, right_rel, right_abs, right_rel, obj, transform)
    outputs["object_translation"] = (obj[1] - right_abs[0])[None]
    outputs["object_corners_2d"] = outputs["object_corners_2d"] + 40.0
    expected = R @ obj[2] + obj[1]

    prediction = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5)
    assert prediction.right_hand.detected
    np.testing.assert_allclose(prediction.object.translation, expected, atol=1e-9)

    outputs["hand_presence"] = np.array([[-5.0, -5.0]])  # no hand: the corner solve
    alone = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5)
    assert alone.object.detected
    assert np.linalg.norm(alone.object.translation - expected) > 0.01


def test_the_object_offset_starts_at_the_wrist_the_config_names():
    """A network whose hands were exchanged (model/hand_sides.py) learned its object offsets
    from the wrist now called left: with both hands placed, the decoder starts there."""
    rng = np.random.default_rng(6)
    right_rel, right_abs = _hand(rng, np.array([0.05, 0.0, 0.5]))
    left_rel, left_abs = _hand(rng, np.array([-0.12, 0.02, 0.55]))
    obj = (np.eye(3), np.array([0.0, 0.05, 0.5]), np.zeros(3), np.full(3, 0.04))
    both = np.concatenate([right_abs, left_abs])
    transform = crop_policy.roi_transform(geometry.project(both, K), 256)
    outputs = _outputs_for(right_abs, right_rel, left_abs, left_rel, obj, transform)
    outputs["object_corners_2d"] = outputs["object_corners_2d"] + 40.0  # not used: a hand is
    for reference, wrist in (("right", right_abs[0]), ("left", left_abs[0])):
        outputs["object_translation"] = (obj[1] - wrist)[None]
        prediction = decode_prediction(outputs, 0, transform, K, None, 0.5, 0.5, 12.0, reference)
        assert prediction.right_hand.detected and prediction.left_hand.detected
        np.testing.assert_allclose(prediction.object.translation, obj[1], atol=1e-6)
