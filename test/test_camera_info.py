"""Intrinsics from CameraInfo and from the fallback parameter: validation, ROI, binning, resize."""

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, RegionOfInterest

from occrobnet_ros.ros.camera_info import (
    REASONS,
    CameraInfoError,
    camera_info_image_size,
    check_image_matches,
    distortion_from_camera_info,
    intrinsics_from_camera_info,
    intrinsics_from_parameter,
)

FX, FY, CX, CY = 600.0, 610.0, 321.5, 242.25
K_FULL = np.array([[FX, 0.0, CX], [0.0, FY, CY], [0.0, 0.0, 1.0]])


def _info(k=K_FULL, width: int = 640, height: int = 480, **fields) -> CameraInfo:
    msg = CameraInfo(width=width, height=height, **fields)
    msg.k = np.asarray(k, dtype=float).reshape(-1)
    msg.p = np.hstack([np.asarray(k, dtype=float), np.zeros((3, 1))]).reshape(-1)
    return msg


def _reason(call, *args, **kwargs) -> str:
    with pytest.raises(CameraInfoError) as caught:
        call(*args, **kwargs)
    assert caught.value.reason in REASONS and str(caught.value)
    return caught.value.reason


def _project(K: np.ndarray, point: np.ndarray) -> np.ndarray:
    uvw = K @ point
    return uvw[:2] / uvw[2]


def test_k_is_read_row_major():
    K = intrinsics_from_camera_info(_info())
    assert K.shape == (3, 3) and K.dtype == np.float64
    np.testing.assert_array_equal(K, K_FULL)
    assert camera_info_image_size(_info()) == (640, 480)


def test_use_projection_takes_the_left_block_of_p():
    msg = _info()
    rectified = np.array([[500.0, 0.0, 300.0, -30.0], [0.0, 505.0, 250.0, 0.0], [0, 0, 1, 0]])
    msg.p = rectified.reshape(-1)  # Tx = -30 (a right stereo camera) must not leak into K
    K = intrinsics_from_camera_info(msg, use_projection=True)
    np.testing.assert_array_equal(K, rectified[:, :3])
    np.testing.assert_array_equal(intrinsics_from_camera_info(msg), K_FULL)


@pytest.mark.parametrize(
    "index, value, reason",
    [
        ((0, 0), np.nan, "not_finite"),
        ((1, 2), np.inf, "not_finite"),
        ((0, 0), 0.0, "bad_focal"),
        ((1, 1), -5.0, "bad_focal"),
        ((2, 2), 2.0, "bad_matrix"),
        ((1, 0), 3.0, "bad_matrix"),
        ((2, 0), 0.1, "bad_matrix"),
    ],
)
def test_invalid_matrices_are_refused(index, value, reason):
    bad = K_FULL.copy()
    bad[index] = value
    assert _reason(intrinsics_from_camera_info, _info(bad)) == reason
    assert _reason(intrinsics_from_camera_info, _info(bad), use_projection=True) == reason


def test_uncalibrated_camera_is_refused():
    assert _reason(intrinsics_from_camera_info, CameraInfo()) == "uncalibrated"


def test_skew_is_kept():
    skewed = K_FULL.copy()
    skewed[0, 1] = 1.5
    np.testing.assert_array_equal(intrinsics_from_camera_info(_info(skewed)), skewed)


def test_roi_shifts_the_principal_point_and_sets_the_size():
    roi = RegionOfInterest(x_offset=100, y_offset=40, width=320, height=240)
    msg = _info(roi=roi)
    K = intrinsics_from_camera_info(msg)
    np.testing.assert_allclose(K, [[FX, 0, CX - 100], [0, FY, CY - 40], [0, 0, 1]])
    assert camera_info_image_size(msg) == (320, 240)


def test_binning_maps_full_resolution_pixels_onto_binned_pixel_centres():
    msg = _info(binning_x=2, binning_y=4)
    K = intrinsics_from_camera_info(msg)
    assert camera_info_image_size(msg) == (320, 120)
    np.testing.assert_allclose([K[0, 0], K[1, 1]], [FX / 2, FY / 4])
    # Binned pixel (j, i) averages full pixels 2j..2j+1 and 4i..4i+3, centred on
    # (2j + 0.5, 4i + 1.5): a ray through that full-resolution point hits (j, i).
    j, i = 37, 11
    ray = np.linalg.solve(K_FULL, [2 * j + 0.5, 4 * i + 1.5, 1.0])
    np.testing.assert_allclose(_project(K, ray), [j, i], atol=1e-9)


def test_zero_binning_means_none():
    np.testing.assert_array_equal(
        intrinsics_from_camera_info(_info(binning_x=0, binning_y=1)), K_FULL
    )


def test_roi_and_binning_combine_roi_first():
    roi = RegionOfInterest(x_offset=64, y_offset=32, width=256, height=192)
    msg = _info(roi=roi, binning_x=2, binning_y=2)
    assert camera_info_image_size(msg) == (128, 96)
    K = intrinsics_from_camera_info(msg)
    j, i = 10, 20
    ray = np.linalg.solve(K_FULL, [64 + 2 * j + 0.5, 32 + 2 * i + 0.5, 1.0])
    np.testing.assert_allclose(_project(K, ray), [j, i], atol=1e-9)


def test_roi_outside_the_sensor_is_refused():
    roi = RegionOfInterest(x_offset=600, y_offset=0, width=100, height=100)
    assert _reason(intrinsics_from_camera_info, _info(roi=roi)) == "bad_roi"


def test_distortion_comes_from_d_and_the_model():
    assert distortion_from_camera_info(_info()) is None
    assert distortion_from_camera_info(_info(d=[0.0] * 5, distortion_model="plumb_bob")) is None
    lens = distortion_from_camera_info(
        _info(d=[-0.1, 0.02, 0.0, 0.0, 0.0], distortion_model="plumb_bob")
    )
    assert lens.model == "plumb_bob" and lens.coefficients == (-0.1, 0.02, 0.0, 0.0, 0.0)
    fisheye = _info(d=[0.1, -0.02, 0.003, 0.0], distortion_model="equidistant")
    assert distortion_from_camera_info(fisheye).model == "equidistant"
    for model, d in (("plumb_bob", [0.1] * 4), ("kannala", [0.1] * 4), ("", [0.1] * 5)):
        bad = _info(d=d, distortion_model=model)
        assert _reason(distortion_from_camera_info, bad) == "bad_distortion", model


def test_parameter_gives_k():
    np.testing.assert_array_equal(intrinsics_from_parameter([FX, FY, CX, CY]), K_FULL)


@pytest.mark.parametrize(
    "values, reason",
    [
        ([], "not_set"),
        ([0.0, 0.0, 0.0, 0.0], "not_set"),
        ([FX, FY, CX], "bad_length"),
        ([FX, FY, CX, CY, 1.0], "bad_length"),
        ([FX, np.nan, CX, CY], "not_finite"),
        ([-FX, FY, CX, CY], "bad_focal"),
        ([FX, 0.0, CX, CY], "bad_focal"),
        (["fx", FY, CX, CY], "bad_matrix"),
    ],
)
def test_bad_parameters_are_refused(values, reason):
    assert _reason(intrinsics_from_parameter, values) == reason


def test_same_size_or_unknown_size_keeps_k():
    assert check_image_matches(K_FULL, 640, 480, 640, 480) is K_FULL
    assert check_image_matches(K_FULL, 320, 240, 0, 0) is K_FULL


def test_resized_image_rescales_k_edge_to_edge():
    K = check_image_matches(K_FULL, 320, 240, 640, 480)
    np.testing.assert_allclose([K[0, 0], K[1, 1]], [FX / 2, FY / 2])
    # The image edges (-0.5 and W - 0.5) map onto each other, so does any pixel between them.
    ray = np.linalg.solve(K_FULL, [123.0, 456.0, 1.0])
    np.testing.assert_allclose(_project(K, ray), (np.array([123.0, 456.0]) + 0.5) / 2 - 0.5)


def test_slightly_different_aspect_is_still_a_resize():
    K = check_image_matches(K_FULL, 854, 480, 1280, 720)
    np.testing.assert_allclose(K[0, 0], FX * 854 / 1280)


def test_other_sizes_are_refused():
    assert _reason(check_image_matches, K_FULL, 640, 360, 640, 480) == "size_mismatch"
    assert _reason(check_image_matches, K_FULL, 320, 240, 640, 480, rescale=False) == (
        "size_mismatch"
    )


def test_the_node_takes_the_lens_from_raw_cameras_and_none_from_rectified_ones():
    from occrobnet_ros.ros.node import _Intrinsics
    from occrobnet_ros.tools.reliability.fuzz import node_settings

    raw = _info(d=[-0.1, 0.02, 0.0, 0.0, 0.0], distortion_model="plumb_bob")
    K, lens = _Intrinsics()(raw, 640, 480, node_settings())
    np.testing.assert_array_equal(K, K_FULL)
    assert lens.coefficients == (-0.1, 0.02, 0.0, 0.0, 0.0)
    K, lens = _Intrinsics()(raw, 640, 480, node_settings(use_projection_matrix=True))
    assert lens is None  # image_rect: p describes it, and it has no distortion left
    K, lens = _Intrinsics()(None, 640, 480, node_settings(fallback_intrinsics=(FX, FY, CX, CY)))
    assert lens is None
