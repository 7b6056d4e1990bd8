"""Tests of the synthetic hand-object generator (occrobnet_ros.data.synthetic)."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from occrobnet_ros import geometry
from occrobnet_ros.data.synthetic import SyntheticConfig, generate_sample, generator
from occrobnet_ros.skeleton import NUM_JOINTS

# Small frames keep the suite fast; the scenes are the same at any resolution.
SMALL = SyntheticConfig().scaled(0.5)
SEEDS = range(1_000_000, 1_000_040)


@pytest.fixture(scope="module")
def samples():
    return list(generator.iterate(SEEDS, SMALL))


def test_fields_have_documented_shapes_and_types(samples):
    s = samples[0]
    h, w = SMALL.height, SMALL.width
    assert s.image.shape == (h, w, 3) and s.image.dtype == np.uint8
    assert s.K.shape == (3, 3) and s.K[0, 0] == pytest.approx(615.0 * 0.5)
    assert s.joints_3d.shape == (42, 3) and s.joints_2d.shape == (42, 2)
    assert s.joint_visible.shape == (42,) and s.joint_visible.dtype == bool
    assert s.hand_valid.shape == (2,) and s.hand_mask.shape == (h, w)
    assert s.hand_mask.dtype == np.uint8 and s.object_mask.dtype == bool
    assert s.object_corners_rest.shape == (8, 3) and s.object_corners_2d.shape == (8, 2)
    assert s.occlusion_bucket in ("low", "medium", "high")


def test_2d_ground_truth_is_the_projection_of_3d(samples):
    for s in samples:
        valid = np.repeat(s.hand_valid, NUM_JOINTS)
        np.testing.assert_allclose(
            s.joints_2d[valid], geometry.project(s.joints_3d[valid], s.K), atol=1e-6
        )
        assert np.isnan(s.joints_3d[~valid]).all() and not s.joint_visible[~valid].any()
        if s.object_valid:
            np.testing.assert_allclose(
                s.object_corners_2d, geometry.project(s.object_corners_3d, s.K), atol=1e-6
            )
            corners = s.object_corners_rest @ s.object_rotation.T + s.object_translation
            np.testing.assert_allclose(s.object_corners_3d, corners, atol=1e-12)


def test_visibility_agrees_with_rendered_masks_and_depth(samples):
    checked_visible = checked_hidden = 0
    for s in samples:
        h, w = s.hand_mask.shape
        for joint in range(2 * NUM_JOINTS):
            if not s.hand_valid[joint // NUM_JOINTS]:
                continue
            col, row = np.round(s.joints_2d[joint]).astype(int)
            if not (0 <= col < w and 0 <= row < h):
                assert not s.joint_visible[joint]  # outside the image: never visible
                continue
            if s.joint_visible[joint]:
                assert s.hand_mask[row, col] == joint // NUM_JOINTS + 1
                checked_visible += 1
            else:
                # Something is drawn in front of the joint: the depth there is nearer.
                assert s.depth[row, col] < s.joints_3d[joint, 2]
                checked_hidden += 1
    assert checked_visible > 200 and checked_hidden > 50


def test_masks_match_validity(samples):
    shown = 0
    for s in samples:
        for hand in range(2):
            drawn = (s.hand_mask == hand + 1).any()
            assert s.hand_valid[hand] or not drawn  # an absent hand is never drawn
            shown += drawn
        assert s.object_mask.any() <= s.object_valid
        assert not (s.object_mask & (s.hand_mask > 0)).any()
        assert np.isinf(s.depth[(s.hand_mask == 0) & ~s.object_mask]).all()
    assert shown >= 0.95 * sum(s.hand_valid.sum() for s in samples)  # present hands are seen


def test_objects_occlude_fingers_and_all_buckets_occur(samples):
    occluded_by_object = 0
    for s in samples:
        for joint in np.flatnonzero(~s.joint_visible & np.repeat(s.hand_valid, NUM_JOINTS)):
            col, row = np.round(s.joints_2d[joint]).astype(int)
            if 0 <= row < s.object_mask.shape[0] and 0 <= col < s.object_mask.shape[1]:
                occluded_by_object += bool(s.object_mask[row, col])
    assert occluded_by_object >= 20
    assert {s.occlusion_bucket for s in samples} == {"low", "medium", "high"}
    assert {s.scene for s in samples} == set(generator.SCENES)
    assert any(not s.hand_valid.all() for s in samples)  # some single-hand frames


def test_object_pose_is_a_proper_rotation_with_documented_symmetry(samples):
    objects = [s for s in samples if s.object_valid]
    assert len(objects) > 20
    for s in objects:
        R = s.object_rotation
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(R) == pytest.approx(1.0)
        assert s.object_symmetry in (0, 1, 2)
        np.testing.assert_allclose(np.abs(s.object_corners_rest).max(0), s.object_size / 2)
    assert {s.object_symmetry for s in objects} == {0, 1, 2}


def test_hands_are_in_front_of_the_camera_at_working_distance(samples):
    for s in samples:
        for hand in np.flatnonzero(s.hand_valid):
            wrist = s.joints_3d[hand * NUM_JOINTS]
            assert 0.15 < wrist[2] < 1.0
            chain = s.joints_3d[hand * NUM_JOINTS + np.array([0, 9, 10, 11, 12])]
            length = np.linalg.norm(np.diff(chain, axis=0), axis=1).sum()
            assert 0.15 < length < 0.23  # wrist to middle fingertip along the bones


def test_same_seed_same_frame_and_different_seeds_differ():
    a, b = generate_sample(123, SMALL), generate_sample(123, SMALL)
    for name in ("image", "joints_3d", "joint_visible", "hand_mask", "object_mask", "depth"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.object_rotation, b.object_rotation)
    c = generate_sample(124, SMALL)
    assert not np.array_equal(a.image, c.image)


def test_opencv_thread_count_does_not_change_the_frame():
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        single = generate_sample(321, SMALL)
        cv2.setNumThreads(4)
        multi = generate_sample(321, SMALL)
    finally:
        cv2.setNumThreads(threads)
    np.testing.assert_array_equal(single.image, multi.image)
    np.testing.assert_array_equal(single.depth, multi.depth)


def test_scaled_config_renders_the_same_scene():
    full, half = generate_sample(7), generate_sample(7, SMALL)
    np.testing.assert_allclose(full.joints_3d, half.joints_3d)
    np.testing.assert_allclose(full.joints_2d, (half.joints_2d + 0.0) * 2.0, atol=1e-9)


def test_benchmark_split_is_fixed_and_disjoint_from_training():
    seeds = generator.benchmark_seeds()
    assert len(seeds) == 500 and len(np.unique(seeds)) == 500
    np.testing.assert_array_equal(seeds, generator.benchmark_seeds())
    train = generator.training_seeds(1000)
    assert min(train) >= generator.TRAIN_SEED_START > seeds.max()
    with pytest.raises(ValueError):
        generator.training_seeds(10, start=0)
    assert generator.occlusion_bucket(0.0) == "low" and generator.occlusion_bucket(1.0) == "high"


def test_empty_frames_have_no_hand_and_no_object_and_train_on_the_full_frame():
    from occrobnet_ros.data.augment import AugmentConfig, augment
    from occrobnet_ros.data.targets import make_example

    empty = generate_sample(11, replace(SMALL, empty_probability=1.0))
    assert empty.scene == generator.EMPTY_SCENE
    assert not empty.hand_valid.any() and not empty.object_valid
    assert not empty.hand_mask.any() and not empty.object_mask.any()
    assert not empty.joint_visible.any() and empty.image.std() > 0  # not a black frame
    sample, crop, _ = augment(np.random.default_rng(0), empty, 64, AugmentConfig())
    image, targets = make_example(sample, crop, 64)
    assert not targets["hand_valid"].any() and not targets["joint_valid"].any()
    assert not bool(targets["object_valid"])
    assert all(bool(value.float().isfinite().all()) for value in targets.values())
    assert image.shape == (3, 64, 64)


def test_some_empty_frames_are_raw_noise_or_flat_like_a_broken_or_capped_camera():
    """Presence negatives that no cluttered scene resembles: uniform noise (its neighbouring
    pixels differ by ~85 grey levels on average) and flat colours (by 0)."""
    config = replace(SMALL, empty_probability=1.0, degenerate_probability=1.0)
    roughness = []
    for seed in range(12):
        sample = generate_sample(seed, config)
        assert sample.scene == generator.EMPTY_SCENE and not sample.hand_valid.any()
        assert sample.image.shape == (SMALL.height, SMALL.width, 3)
        assert sample.image.dtype == np.uint8
        assert generate_sample(seed, config).image.tobytes() == sample.image.tobytes()
        roughness.append(np.abs(np.diff(sample.image.astype(float), axis=1)).mean())
    assert max(roughness) > 60 and min(roughness) < 1
    cluttered = replace(config, degenerate_probability=0.0)
    for seed in range(12):
        image = generate_sample(seed, cluttered).image.astype(float)
        assert 1 < np.abs(np.diff(image, axis=1)).mean() < 30


def test_empty_frames_off_leave_the_layout_draws_of_every_seed_unchanged():
    """The benchmark split uses the default config (no empty frames): its layout must be the
    first thing each seed's generator draws, as before the option existed."""
    for seed in (5, 6):
        kind, hands, _ = generator._layout(np.random.Generator(np.random.PCG64(seed)), SMALL)
        sample = generate_sample(seed, SMALL)
        assert sample.scene == kind
        for side, hand in enumerate(hands):
            if hand is not None:
                rows = slice(side * NUM_JOINTS, (side + 1) * NUM_JOINTS)
                np.testing.assert_array_equal(sample.joints_3d[rows], hand.joints)
    mixed = [generate_sample(s, replace(SMALL, empty_probability=0.3)) for s in range(20)]
    scenes = {sample.scene for sample in mixed}
    assert generator.EMPTY_SCENE in scenes and len(scenes) > 1
