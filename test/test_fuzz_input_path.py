"""Hostile Image / CompressedImage / CameraInfo messages through the node's input path
in-process (conversion, then intrinsics): each one processed or rejected with a documented
reason, never a crash, and nothing the estimator would refuse gets through."""

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo

from occrobnet_ros.ros.image_conversion import rgb_to_image_msg
from occrobnet_ros.ros.node import _Intrinsics
from occrobnet_ros.tools.reliability.fuzz import fuzz_input_path, node_settings, run_input_path
from occrobnet_ros.tools.reliability.hostile_messages import HostileFrame


def test_hundreds_of_hostile_frames_are_each_processed_or_rejected():
    report = fuzz_input_path(examples=300, seed=0)
    assert report.failures == [] and report.failure_count == 0
    assert report.messages == 300
    assert report.processed + sum(report.rejected.values()) == report.messages
    assert report.accounted
    # Both paths ran, and the refusals cover images and intrinsics alike.
    assert report.processed >= 20
    assert any(r.startswith("image_") for r in report.rejected)
    assert any(r.startswith("camera_info_") for r in report.rejected)
    assert len(report.rejected) >= 8, report.rejected


def _frame(info_size: tuple[int, int], image_size: tuple[int, int], focal: float):
    width, height = image_size
    rgb = np.zeros((height, width, 3), np.uint8)
    info = CameraInfo(width=info_size[0], height=info_size[1])
    info.k = [focal, 0.0, 3.5, 0.0, focal, 2.5, 0.0, 0.0, 1.0]
    image = rgb_to_image_msg(rgb)
    image.header.frame_id = "camera_optical_frame"
    return HostileFrame(image=image, info=info)


@pytest.mark.parametrize(
    ("info_size", "image_size", "focal", "outcome"),
    [
        ((8, 6), (8, 6), 1e308, "processed"),  # huge, but usable as given
        ((8, 6), (16, 12), 1e308, "rejected: camera_info_not_finite"),  # x2 overflows
        ((16, 12), (8, 6), 5e-324, "rejected: camera_info_bad_focal"),  # x0.5 underflows
        ((8, 6), (16, 12), 100.0, "processed"),  # the same view at double resolution
    ],
)
def test_intrinsics_that_overflow_or_underflow_when_rescaled_are_rejected(
    info_size, image_size, focal, outcome
):
    frame = _frame(info_size, image_size, focal)
    assert run_input_path(frame, node_settings(), _Intrinsics()) == outcome
