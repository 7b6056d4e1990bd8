"""MSSD of object poses with the HANDS'22 and Keypoint Transformer symmetry sets."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from occrobnet_ros import metrics

# A box-like object (half sizes 4 x 3 x 8 cm), its 8 corners in the object frame.
BOX = np.array([[x, y, z] for x in (-0.04, 0.04) for y in (-0.03, 0.03) for z in (-0.08, 0.08)])
# A cylinder-like object: 36 points on two circles about z.
_ANGLES = np.linspace(0, 2 * np.pi, 18, endpoint=False)
CYLINDER = np.concatenate(
    [np.stack([0.04 * np.cos(_ANGLES), 0.04 * np.sin(_ANGLES), np.full(18, z)], 1)
     for z in (-0.05, 0.05)]
)  # fmt: skip
R_GT = Rotation.from_euler("xyz", [20, -35, 60], degrees=True).as_matrix()
T_GT = np.array([0.05, -0.02, 0.6])


def about_object_axis(axis: np.ndarray, angle: float) -> np.ndarray:
    """GT rotation turned about one of the GT object's own axes (as H22 builds it)."""
    world_axis = R_GT @ np.asarray(axis, float)
    return Rotation.from_rotvec(angle * world_axis / np.linalg.norm(world_axis)).as_matrix() @ R_GT


def test_exact_pose_has_zero_mssd_and_translation_error_is_exact():
    assert metrics.mssd(R_GT, T_GT, R_GT, T_GT, BOX) == 0.0
    offset = np.array([0.0, 0.03, 0.04])  # 5 cm
    assert metrics.mssd(R_GT, T_GT + offset, R_GT, T_GT, BOX) == pytest.approx(0.05)


def test_symmetric_box_flipped_about_z_has_zero_mssd_and_plain_does_not():
    flipped = about_object_axis(metrics.Z_AXIS, np.pi)
    symmetry = metrics.object_symmetries("006_mustard_bottle")
    assert metrics.mssd(flipped, T_GT, R_GT, T_GT, BOX, symmetry) == pytest.approx(0.0, abs=1e-12)
    no_symmetry = metrics.object_symmetries("035_power_drill")
    # a z half-turn moves the box corners by 2 * sqrt(4^2 + 3^2) cm = 10 cm
    assert metrics.mssd(flipped, T_GT, R_GT, T_GT, BOX, no_symmetry) == pytest.approx(0.10)
    assert metrics.mssd(flipped, T_GT, R_GT, T_GT, BOX) == pytest.approx(0.10)


@pytest.mark.parametrize("axis", [metrics.X_AXIS, metrics.Y_AXIS, metrics.Z_AXIS])
def test_cuboid_objects_accept_x_y_z_half_turns(axis):
    flipped = about_object_axis(axis, np.pi)
    symmetry = metrics.object_symmetries("003_cracker_box")
    assert len(symmetry) == 4
    assert metrics.mssd(flipped, T_GT, R_GT, T_GT, BOX, symmetry) == pytest.approx(0.0, abs=1e-12)
    # the mustard bottle only has the z half-turn
    mustard = metrics.object_symmetries("006_mustard_bottle")
    error = metrics.mssd(flipped, T_GT, R_GT, T_GT, BOX, mustard)
    assert (error < 1e-12) == (axis is metrics.Z_AXIS)


def test_continuous_symmetry_is_sampled_every_5_degrees():
    symmetry = metrics.object_symmetries("025_mug")
    assert len(symmetry) == 72  # np.arange(-pi, pi, 5 deg)
    on_grid = about_object_axis(metrics.Z_AXIS, np.deg2rad(35.0))
    assert metrics.mssd(on_grid, T_GT, R_GT, T_GT, CYLINDER, symmetry) < 1e-9
    # 2.5 deg off the grid: the points on the 4 cm circle are 2 * 4 * sin(1.25 deg) cm away
    off_grid = about_object_axis(metrics.Z_AXIS, np.deg2rad(37.5))
    error = metrics.mssd(off_grid, T_GT, R_GT, T_GT, CYLINDER, symmetry)
    assert error == pytest.approx(2 * 0.04 * np.sin(np.deg2rad(1.25)), rel=1e-6)
    # a rotation about x is no symmetry of the mug
    tilted = about_object_axis(metrics.X_AXIS, np.deg2rad(30.0))
    assert metrics.mssd(tilted, T_GT, R_GT, T_GT, CYLINDER, symmetry) > 0.02


def test_scissors_axis_and_the_world_axis_construction_agree():
    axis = 0.0366 * metrics.X_AXIS + 0.1271 * metrics.Y_AXIS
    flipped = about_object_axis(axis, np.pi)
    symmetry = metrics.object_symmetries("037_scissors")
    assert metrics.mssd(flipped, T_GT, R_GT, T_GT, BOX, symmetry) == pytest.approx(0, abs=1e-12)
    # R_gt @ S (object frame) equals Rodrigues(angle * R_gt[:, axis]) @ R_gt (H22), e.g. z-y
    world = (
        about_object_axis(metrics.Z_AXIS, np.pi)
        @ R_GT.T
        @ about_object_axis(metrics.Y_AXIS, np.pi)
    )
    np.testing.assert_allclose(R_GT @ metrics.HANDS22_SYMMETRIES["004_sugar_box"][3], world)


def test_protocols_differ_where_the_official_code_differs():
    assert len(metrics.object_symmetries("011_banana", "hands22")) == 72
    assert len(metrics.object_symmetries("011_banana", "kt-h2o3d")) == 1
    assert len(metrics.object_symmetries("024_bowl", "kt-h2o3d")) == 72
    assert len(metrics.object_symmetries("004_sugar_box", "kt-h2o3d")) == 2
    assert len(metrics.object_symmetries("004_sugar_box", "kt-ho3d")) == 1
    assert len(metrics.object_symmetries("010_potted_meat_can", "kt-ho3d")) == 2
    with pytest.raises(KeyError, match="024_bowl"):
        metrics.object_symmetries("024_bowl", "hands22")


def test_mssd_report_pools_samples_and_means_per_object_in_cm():
    report = metrics.mssd_report([0.01, 0.03, 0.08], ["025_mug", "025_mug", "011_banana"])
    assert report["mssd_cm"] == pytest.approx(4.0)
    assert report["mssd_per_object_cm"] == pytest.approx({"025_mug": 2.0, "011_banana": 8.0})
