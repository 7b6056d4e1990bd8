"""The node's parameter table: config/pose.yaml, descriptors, and what is rejected and why."""

from pathlib import Path

import pytest
import yaml

from occrobnet_ros.ros.parameters import (
    ON_CONFIGURE,
    SPECS,
    Settings,
    check_parameter,
    check_settings,
    descriptor,
)

REPO = Path(__file__).resolve().parents[1]


def defaults() -> Settings:
    return Settings(**{name: spec.default for name, spec in SPECS.items()}).replace({})


def test_pose_yaml_lists_every_parameter_with_its_default():
    yaml_values = yaml.safe_load((REPO / "config" / "pose.yaml").read_text())["/**"][
        "ros__parameters"
    ]
    assert set(yaml_values) == set(SPECS)
    for name, spec in SPECS.items():
        assert yaml_values[name] == spec.default, name
        assert type(yaml_values[name]) is type(spec.default), name  # ROS types are strict


def test_descriptors_carry_descriptions_ranges_and_read_only():
    for name, spec in SPECS.items():
        assert descriptor(name).description, name
    threshold = descriptor("hand_threshold")
    assert threshold.floating_point_range[0].from_value == 0.0
    assert threshold.floating_point_range[0].to_value == 1.0
    assert descriptor("sync_queue_size").integer_range[0].from_value == 1
    assert descriptor("autostart").read_only
    assert ON_CONFIGURE in descriptor("checkpoint").additional_constraints
    assert "fp16" in descriptor("precision").additional_constraints


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("hand_threshold", 1.5, "[0.0, 1.0]"),
        ("max_frame_age", -0.1, "max_frame_age"),
        ("max_frame_age", float("nan"), "max_frame_age"),
        ("precision", "fp8", "one of"),
        ("image_qos", "fast", "one of"),
        ("device", "gpu", "device"),
        ("tf_prefix", "/robot/", "leading '/'"),
        ("tf_prefix", "a b", "tf_prefix"),
        ("fallback_intrinsics", [500.0, 500.0, 320.0], "fx, fy, cx, cy"),
        ("fallback_intrinsics", [float("nan"), 500.0, 320.0, 240.0], "NaN"),
        ("fallback_intrinsics", [-500.0, 500.0, 320.0, 240.0], "focal"),
    ],
)
def test_invalid_values_are_rejected_with_a_reason(name, value, words):
    reason = check_parameter(name, value, configured=False)
    assert reason is not None and words in reason


def test_on_configure_parameters_change_only_while_unconfigured():
    assert check_parameter("checkpoint", "/models/good.safetensors", configured=False) is None
    reason = check_parameter("checkpoint", "/models/good.safetensors", configured=True)
    assert reason is not None and "cleanup" in reason
    assert check_parameter("use_compressed", True, configured=True) is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hand_threshold", 0.8),
        ("publish_tf", False),
        ("tf_prefix", "person1/"),
        ("tf_prefix", "robot/cam_"),
        ("tf_prefix", "~/"),
        ("tf_prefix", "~/arm_"),
        ("tf_prefix", ""),
        ("fallback_intrinsics", [500.0, 500.0, 319.5, 239.5]),
        ("fallback_intrinsics", [0.0, 0.0, 0.0, 0.0]),
        ("max_frame_age", 0.0),
        ("use_sim_time", True),  # rclpy's own: not ours to judge
    ],
)
def test_live_values_are_accepted_while_active(name, value):
    assert check_parameter(name, value, configured=True) is None


def test_settings_snapshot_and_fallback_intrinsics():
    settings = defaults()
    assert check_settings(settings) == []
    assert settings.fallback_K is None
    changed = settings.replace({"fallback_intrinsics": [500.0, 400.0, 319.5, 239.5]})
    assert changed.fallback_K.tolist() == [[500.0, 0, 319.5], [0, 400.0, 239.5], [0, 0, 1]]
    assert settings.fallback_K is None  # a snapshot: replace() made a new one
    bad = settings.replace({"hand_threshold": 2.0, "device": "tpu"})
    assert len(check_settings(bad)) == 2
