"""Training targets in the crop agree with the full-frame ground truth (data/targets.py,
data/augment.py)."""

import numpy as np
import pytest
import torch

from occrobnet_ros import geometry
from occrobnet_ros.crop_policy import crop_roll, roll_matrix, rolled, upright_roll
from occrobnet_ros.data.augment import (
    UPRIGHT_ROLL_JITTER_DEGREES,
    AugmentConfig,
    augment,
    flip_sample,
)
from occrobnet_ros.data.synthetic import SyntheticConfig, generate_sample, training_seeds
from occrobnet_ros.data.targets import (
    BOX_CORNER_SIGNS,
    ROOTS,
    Crop,
    collate,
    make_example,
    object_reference,
)
from occrobnet_ros.model import render_heatmaps
from occrobnet_ros.model.tokens import input_to_heatmap

SIZE = 128
CONFIG = SyntheticConfig().scaled(0.5)  # 320x240: the same scenes, faster


@pytest.fixture(scope="module")
def samples():
    return [generate_sample(int(seed), CONFIG) for seed in training_seeds(12)]


def with_object(samples):
    return next(s for s in samples if s.object_valid and s.hand_valid.all())


def test_crop_joints_are_the_affine_of_the_image_joints(samples):
    rng = np.random.default_rng(0)
    for sample in samples:
        _, crop, _ = augment(rng, sample, SIZE, AugmentConfig(flip_probability=0.0))
        _, targets = make_example(sample, crop, SIZE)
        valid = targets["joint_valid"].numpy()
        expected = geometry.apply_affine(crop.affine, sample.joints_2d[valid])
        np.testing.assert_allclose(targets["joints_2d"].numpy()[valid], expected, atol=1e-3)
        assert (targets["joints_2d"].numpy()[~valid] == 0).all()


def test_unrolled_3d_targets_project_onto_the_2d_targets(samples):
    """Root-relative joints plus the wrist, projected by the crop camera, land on joints_2d;
    the object's rest corners posed by its rotation and wrist-relative translation on
    object_corners_2d."""
    for sample in samples:
        crop = Crop(geometry.crop_transform(geometry.crop_box(sample.joints_2d), SIZE))
        _, targets = make_example(sample, crop, SIZE)
        camera = geometry.crop_intrinsics(sample.K, crop.affine)
        for hand in np.flatnonzero(sample.hand_valid):
            rows = slice(21 * hand, 21 * hand + 21)
            joints = targets["joints_3d"].numpy()[rows] + sample.joints_3d[ROOTS[hand]]
            projected = geometry.project(joints, camera)
            np.testing.assert_allclose(projected, targets["joints_2d"].numpy()[rows], atol=1e-2)
        if targets["object_valid"]:
            rest = targets["object_corners_rest"].numpy()
            posed = rest @ targets["object_rotation"].numpy().T
            posed += targets["object_translation"].numpy() + object_reference(sample)
            np.testing.assert_allclose(
                geometry.project(posed, camera), targets["object_corners_2d"], atol=1e-2
            )
            centre = (rest.max(0) + rest.min(0)) / 2
            assert (np.sign(rest - centre) == BOX_CORNER_SIGNS).all()


def test_roll_rotates_2d_and_3d_alike(samples):
    """A rolled crop rotates every 2D joint offset by the roll, and the 3D targets rotate
    about the optical axis by the same angle (directions compared in the image plane)."""
    sample = samples[0]
    hand = int(np.flatnonzero(sample.hand_valid)[0])
    rows = slice(21 * hand, 21 * hand + 21)
    plain = geometry.crop_transform(geometry.crop_box(sample.joints_2d[rows]), SIZE)
    roll = 0.7
    _, targets = make_example(sample, Crop(rolled(plain, roll, SIZE), roll), SIZE)
    joints_2d = targets["joints_2d"].numpy()[rows]
    offset_2d = joints_2d[12] - joints_2d[0]
    rotated = sample.joints_3d[rows] @ roll_matrix(roll).T
    projected = geometry.project(rotated, sample.K)
    expected = projected[12] - projected[0]
    angle = np.arctan2(offset_2d[1], offset_2d[0])
    assert angle == pytest.approx(np.arctan2(expected[1], expected[0]), abs=1e-4)
    root_relative = sample.joints_3d[rows] - sample.joints_3d[ROOTS[hand]]
    np.testing.assert_allclose(
        targets["joints_3d"][rows].numpy(), root_relative @ roll_matrix(roll).T, atol=1e-6
    )


def test_upright_crops_turn_a_hand_fingers_up_as_the_palm_detector_does(samples):
    """With upright_fraction 1 every crop holds one hand with its wrist -> middle MCP vector
    pointing up (within the roll jitter's 2 sigma) and its joints in the crop (give or take the
    shift and scale jitter), and has a roll the 3D targets follow (the affine's own
    rotation)."""
    rng = np.random.default_rng(0)
    config = AugmentConfig(flip_probability=0.0, upright_fraction=1.0)
    for sample in [s for s in samples if s.hand_valid.any()]:
        _, crop, _ = augment(rng, sample, SIZE, config)
        assert crop_roll(crop.affine) == pytest.approx(
            np.arctan2(np.sin(crop.roll), np.cos(crop.roll)), abs=1e-9
        )
        _, targets = make_example(sample, crop, SIZE)
        joints = targets["joints_2d"].numpy()

        def upright_and_framed(hand: int) -> bool:
            rows = joints[21 * hand : 21 * hand + 21]
            dx, dy = rows[9] - rows[0]
            tilt = abs(np.degrees(np.arctan2(dx, -dy)))
            upright = tilt <= 2 * UPRIGHT_ROLL_JITTER_DEGREES + 1e-6
            return upright and bool(((rows > -0.25 * SIZE) & (rows < 1.25 * SIZE)).all())

        assert any(upright_and_framed(hand) for hand in np.flatnonzero(sample.hand_valid))


def test_the_upright_roll_is_the_palm_detectors_rotation_undone():
    """Training's upright crops turn a hand as the palm detector's first look does."""
    from occrobnet_ros.inference.hand_detection import palm_rotation

    rng = np.random.default_rng(1)
    for _ in range(200):
        keypoints = rng.uniform(0, 640, (7, 2))
        roll = upright_roll(keypoints[0], keypoints[2])  # the palm's wrist and middle MCP
        difference = roll + palm_rotation(keypoints)
        assert np.sin(difference) == pytest.approx(0.0, abs=1e-9)
        assert np.cos(difference) == pytest.approx(1.0)


def test_heatmap_peaks_land_on_the_joints(samples):
    sample = samples[1]
    crop = Crop(geometry.crop_transform(geometry.crop_box(sample.joints_2d), SIZE))
    _, targets = make_example(sample, crop, SIZE)
    batch = collate([(torch.zeros(3, SIZE, SIZE), targets)])[1]
    heatmap_size = 32
    maps = render_heatmaps(batch["joints_2d"], batch["joint_valid"], heatmap_size, SIZE, 1.0)
    cells = input_to_heatmap(batch["joints_2d"][0], SIZE / heatmap_size)
    for joint in np.flatnonzero(targets["joint_valid"].numpy()):
        row, col = divmod(int(maps[0, joint].argmax()), heatmap_size)
        assert abs(col - cells[joint, 0].item()) <= 0.5 + 1e-6
        assert abs(row - cells[joint, 1].item()) <= 0.5 + 1e-6


def test_image_and_object_mask_are_warped_alike(samples):
    """A crop that is a whole-pixel shift shows exactly the image's pixels and mask."""
    sample = with_object(samples)
    rows, cols = np.nonzero(sample.object_mask)
    height, width = sample.object_mask.shape
    x0 = int(np.clip(cols.mean() - SIZE // 2, 0, width - SIZE))
    y0 = int(np.clip(rows.mean() - SIZE // 2, 0, height - SIZE))
    crop = Crop(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]))
    image, targets = make_example(sample, crop, SIZE)
    expected = sample.image[y0 : y0 + SIZE, x0 : x0 + SIZE]
    np.testing.assert_allclose(image.permute(1, 2, 0).numpy() * 255, expected, atol=1e-3)
    mask = sample.object_mask[y0 : y0 + SIZE, x0 : x0 + SIZE]
    np.testing.assert_array_equal(targets["object_mask"][0].numpy(), mask)
    assert mask.any()


def test_flip_swaps_hands_and_keeps_the_geometry_exact(samples):
    sample = with_object(samples)
    flipped = flip_sample(sample)
    np.testing.assert_array_equal(flipped.hand_valid, sample.hand_valid[::-1])
    valid = np.repeat(flipped.hand_valid, 21)
    projected = geometry.project(flipped.joints_3d[valid], flipped.K)
    np.testing.assert_allclose(projected, flipped.joints_2d[valid], atol=1e-6)
    corners = flipped.object_corners_rest @ flipped.object_rotation.T
    corners += flipped.object_translation
    np.testing.assert_allclose(geometry.project(corners, flipped.K), flipped.object_corners_2d)
    assert np.linalg.det(flipped.object_rotation) == pytest.approx(1.0)
    # The right wrist of the flipped image is the left wrist of the original, mirrored.
    width = sample.image.shape[1]
    assert flipped.joints_2d[0, 0] == pytest.approx(width - 1 - sample.joints_2d[21, 0])
    twice = flip_sample(flipped)
    np.testing.assert_array_equal(twice.image, sample.image)
    np.testing.assert_allclose(twice.joints_3d, sample.joints_3d)
    np.testing.assert_allclose(twice.object_rotation, sample.object_rotation)


def test_absent_hand_and_object_give_zeros_not_nan():
    sample = next(
        s
        for s in (generate_sample(int(seed), CONFIG) for seed in training_seeds(60))
        if not s.hand_valid.all() and not s.object_valid
    )
    crop = Crop(geometry.crop_transform(geometry.crop_box(sample.joints_2d), SIZE))
    _, targets = make_example(sample, crop, SIZE)
    for key, value in targets.items():
        assert torch.isfinite(value.float()).all(), key
    assert not targets["object_valid"]
    assert targets["joint_valid"].sum() == 21
