"""Tests of occrobnet_ros.geometry: projections, crops, rotations, translation solver."""

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from occrobnet_ros import geometry
from occrobnet_ros.skeleton import NUM_JOINTS

K = np.array([[615.0, 0.0, 320.0], [0.0, 612.0, 241.0], [0.0, 0.0, 1.0]])


def random_points(rng, n, z_range=(0.3, 0.8)):
    xy = rng.uniform(-0.2, 0.2, size=(n, 2))
    z = rng.uniform(*z_range, size=(n, 1))
    return np.concatenate([xy, z], axis=1)


def test_project_known_point():
    uv = geometry.project(np.array([0.1, -0.05, 0.5]), K)
    np.testing.assert_allclose(uv, [320 + 615 * 0.2, 241 - 612 * 0.1])


def test_backproject_round_trip():
    rng = np.random.default_rng(0)
    points = random_points(rng, 50).reshape(5, 10, 3)
    uv = geometry.project(points, K)
    np.testing.assert_allclose(geometry.backproject(uv, points[..., 2], K), points, atol=1e-12)


def test_crop_box_is_square_and_contains_points():
    points = np.array([[100.0, 50.0], [180.0, 90.0], [np.nan, np.nan]])
    x0, y0, x1, y1 = geometry.crop_box(points, margin=0.5)
    assert x1 - x0 == pytest.approx(120.0) and y1 - y0 == pytest.approx(120.0)
    assert (x0 + x1) / 2 == pytest.approx(140.0) and (y0 + y1) / 2 == pytest.approx(70.0)
    with pytest.raises(ValueError):
        geometry.crop_box(np.full((3, 2), np.nan))


def test_crop_transform_maps_box_edges_to_crop_edges_and_inverts():
    A = geometry.crop_transform(np.array([10.0, 20.0, 110.0, 120.0]), 256)
    corners = geometry.apply_affine(A, np.array([[10.0, 20.0], [110.0, 120.0]]))
    np.testing.assert_allclose(corners, [[-0.5, -0.5], [255.5, 255.5]])
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 640, size=(20, 2))
    back = geometry.apply_affine(geometry.invert_affine(A), geometry.apply_affine(A, points))
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_letterbox_matches_cv2_resize_and_centres_the_image():
    # A 64x32 image letterboxed to 32: the image becomes 32x16, vertically centred, and the
    # pixel values equal a plain cv2.resize (same pixel-centre convention).
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, size=(32, 64), dtype=np.uint8).astype(np.float32)
    A = geometry.letterbox_transform(64, 32, 32)
    warped = cv2.warpAffine(image, A, (32, 32), flags=cv2.INTER_LINEAR)
    resized = cv2.resize(image, (32, 16), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(warped[8:24, 1:31], resized[:, 1:31], atol=1e-3)
    assert np.all(warped[:7] == 0) and np.all(warped[25:] == 0)


def test_crop_intrinsics_project_like_the_warped_pixels():
    rng = np.random.default_rng(3)
    points = random_points(rng, 10)
    A = geometry.crop_transform(geometry.crop_box(geometry.project(points, K)), 128)
    np.testing.assert_allclose(
        geometry.project(points, geometry.crop_intrinsics(K, A)),
        geometry.apply_affine(A, geometry.project(points, K)),
        atol=1e-9,
    )


def test_quaternion_round_trip_and_ros_order():
    R = Rotation.from_euler("xyz", [0.3, -1.2, 2.5]).as_matrix()
    q = geometry.matrix_to_quaternion(R)
    assert q.shape == (4,) and q[3] >= 0
    np.testing.assert_allclose(geometry.quaternion_to_matrix(q), R, atol=1e-12)
    # 90 degrees about z is (0, 0, sin 45, cos 45) in x, y, z, w order.
    Rz = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    np.testing.assert_allclose(geometry.matrix_to_quaternion(Rz), [0, 0, 0.5**0.5, 0.5**0.5])
    batch = Rotation.random(6, random_state=4).as_matrix().reshape(2, 3, 3, 3)
    np.testing.assert_allclose(
        geometry.quaternion_to_matrix(geometry.matrix_to_quaternion(batch)), batch, atol=1e-12
    )
    rotvec = geometry.matrix_to_rotvec(batch)
    np.testing.assert_allclose(geometry.rotvec_to_matrix(rotvec), batch, atol=1e-12)


def test_solve_translation_recovers_exact_translation():
    rng = np.random.default_rng(5)
    points_rel = rng.uniform(-0.08, 0.08, size=(21, 3))
    t = np.array([0.07, -0.04, 0.55])
    uv = geometry.project(points_rel + t, K)
    np.testing.assert_allclose(geometry.solve_translation(uv, points_rel, K), t, atol=1e-10)
    # Two points are enough; zero-weight and NaN points are ignored.
    weights = np.zeros(21)
    weights[[3, 11]] = 1.0
    uv[0] = np.nan
    np.testing.assert_allclose(
        geometry.solve_translation(uv, points_rel, K, weights), t, atol=1e-10
    )


def test_solve_translation_weights_downweight_outliers():
    rng = np.random.default_rng(6)
    points_rel = rng.uniform(-0.08, 0.08, size=(21, 3))
    t = np.array([-0.1, 0.02, 0.4])
    uv = geometry.project(points_rel + t, K)
    uv[0] += 80.0  # one bad keypoint
    weights = np.ones(21)
    weights[0] = 1e-6
    unweighted = geometry.solve_translation(uv, points_rel, K)
    weighted = geometry.solve_translation(uv, points_rel, K, weights)
    assert np.linalg.norm(weighted - t) < 1e-4 < np.linalg.norm(unweighted - t)


def test_solve_translation_needs_two_points():
    points_rel = np.zeros((3, 3))
    uv = np.full((3, 2), np.nan)
    uv[0] = [320, 240]
    with pytest.raises(ValueError, match="at least 2"):
        geometry.solve_translation(uv, points_rel, K)
    with pytest.raises(ValueError, match="at least 2"):
        geometry.solve_translation(np.ones((2, 2)), np.ones((2, 3)), K, weights=[1, 0])


def left_hand_in_its_frame():
    """A flat left hand in its wrist frame: x to the middle MCP, y to the thumb, z palmar
    (a right-handed frame with the thumb at +y and the palm at +z is a left hand's)."""
    joints = np.zeros((NUM_JOINTS, 3))
    for finger, (y, x) in enumerate([(0.02, 0.088), (0.0, 0.09), (-0.02, 0.087), (-0.04, 0.08)]):
        for k in range(4):
            joints[5 + 4 * finger + k] = [x + 0.025 * k, y, 0.0]
    for k in range(4):
        joints[1 + k] = [0.03 + 0.02 * k, 0.03 + 0.02 * k, 0.01]
    return joints


def test_palm_orientation_recovers_wrist_rotation_for_both_hands():
    left = left_hand_in_its_frame()
    right = left * [1.0, -1.0, 1.0]  # a right hand is the mirror image: y to the little finger
    for R in Rotation.random(5, random_state=7).as_matrix():
        t = np.array([0.1, 0.0, 0.5])
        np.testing.assert_allclose(geometry.palm_orientation(right @ R.T + t), R, atol=1e-12)
        np.testing.assert_allclose(
            geometry.palm_orientation(left @ R.T + t, left=True), R, atol=1e-12
        )
    frame = geometry.palm_orientation(right)
    assert np.linalg.det(frame) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        geometry.palm_orientation(np.zeros((NUM_JOINTS, 3)))
