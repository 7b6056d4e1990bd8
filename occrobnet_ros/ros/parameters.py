"""The occrobnet_pose node's parameters: one table of defaults, descriptions, ranges, checks.

config/pose.yaml holds the same defaults for users to copy (a test keeps the two equal).

Two kinds of parameter (``ros2 param describe`` shows which in ``additional_constraints``):

- *live*: applied to the next frame (thresholds, smoothing, TF and marker switches, ...).
- *on configure*: they shape what configure builds (the model, the subscriptions). They can be
  changed only while the node is unconfigured (``ros2 lifecycle set <node> cleanup``, set,
  ``configure``). They are deliberately not ``read_only``: a node whose checkpoint failed to
  load must be able to take a good one without a restart. Only ``autostart``, which means
  something at start-up alone, is ``read_only``.

Invalid values are rejected with a reason by :func:`check_parameter`, which the node calls from
its set-parameters callback and, for values from a params file, on configure.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from occrobnet_ros.ros.camera_info import CameraInfoError, intrinsics_from_parameter

LIVE = "live: applied to the next frame"
ON_CONFIGURE = "applied on configure: set it while the node is unconfigured"


@dataclass(frozen=True)
class Spec:
    """One parameter: default (its type is the parameter's type) and how it may be set."""

    default: Any
    description: str
    live: bool = True
    read_only: bool = False
    bounds: tuple[float, float] | None = None  # inclusive; ints get an IntegerRange
    choices: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None  # returns why a value is invalid


def _check_device(value: str) -> str | None:
    if value in ("auto", "cpu", "cuda"):
        return None
    return f"device must be auto, cpu or cuda, not '{value}'"


def _check_tf_prefix(value: str) -> str | None:
    # tf2 rejects frame ids with a leading '/', and names are ROS-name-like; a leading '~/'
    # stands for the node's own name (tf.expand_prefix).
    rest = value[2:] if value.startswith("~/") else value
    if rest == "" or re.fullmatch(r"[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*[/_]?", rest):
        return None
    return (
        f"tf_prefix '{value}' must be letters, digits, '_' and inner '/' (no leading '/'), "
        "optionally after '~/' (the node's name)"
    )


def _check_intrinsics(value: list[float]) -> str | None:
    values = list(value)
    if not values or not any(values):
        return None  # no fallback
    try:
        intrinsics_from_parameter(values)
    except CameraInfoError as error:
        return f"fallback_intrinsics [fx, fy, cx, cy]: {error}"
    return None


SPECS: dict[str, Spec] = {
    "autostart": Spec(
        True,
        "Configure and activate at start-up (false: wait for lifecycle transitions).",
        read_only=True,
    ),
    "checkpoint": Spec(
        "", "Model .safetensors file; empty = the embedded default weights.", live=False
    ),
    "device": Spec(
        "auto", "auto (CUDA when present), cpu or cuda.", live=False, check=_check_device
    ),
    "precision": Spec(
        "fp32",
        "Inference precision (bf16 and fp16 need CUDA).",
        live=False,
        choices=("fp32", "bf16", "fp16"),
    ),
    "compile_model": Spec(
        False,
        "torch.compile the network (CUDA: CUDA graphs); the first frames wait for it.",
        live=False,
    ),
    "use_compressed": Spec(
        False, "Subscribe to image/compressed (CompressedImage) instead of image.", live=False
    ),
    "image_qos": Spec(
        "sensor_data",
        "Input QoS: sensor_data (best effort; matches every camera) or reliable.",
        live=False,
        choices=("sensor_data", "reliable"),
    ),
    "use_projection_matrix": Spec(
        False, "Take intrinsics from CameraInfo.p (rectified image_rect topics) instead of k."
    ),
    "fallback_intrinsics": Spec(
        [0.0, 0.0, 0.0, 0.0],
        "[fx, fy, cx, cy] in pixels for cameras without CameraInfo; all zero = none.",
        check=_check_intrinsics,
    ),
    "sync_slop": Spec(
        0.0,
        "Seconds an image and its CameraInfo stamps may differ (0 = equal stamps).",
        live=False,
        bounds=(0.0, 1.0),
    ),
    "sync_queue_size": Spec(
        10,
        "Images and CameraInfos each kept while waiting for a partner.",
        live=False,
        bounds=(1, 100),
    ),
    "max_frame_age": Spec(
        0.5,
        "Seconds (node clock, sim time aware): older frames are dropped; 0 = never.",
        bounds=(0.0, 3600.0),
    ),
    "hand_threshold": Spec(
        0.5, "Hand presence probability for detected = true.", bounds=(0.0, 1.0)
    ),
    "object_threshold": Spec(
        0.5, "Object presence probability for detected = true.", bounds=(0.0, 1.0)
    ),
    "roi_tracking": Spec(True, "Crop around the previous frame's hands and object.", live=False),
    "hand_detector": Spec(
        "palm_full",
        "MediaPipe's palm detector (palm_full | palm_lite) chooses the crop when nothing is "
        "tracked and confirms each new hand; none = the network's presence alone (synthetic "
        "capsule hands, which the palm detector does not know).",
        live=False,
        choices=("palm_full", "palm_lite", "none"),
    ),
    "smoothing": Spec(False, "One-Euro filter on joints and object pose."),
    "smoothing_min_cutoff": Spec(
        1.0,
        "One-Euro minimum cutoff frequency, Hz (lower = smoother when still).",
        bounds=(0.001, 100.0),
    ),
    "smoothing_beta": Spec(
        0.05,
        "One-Euro speed coefficient (higher = less lag when moving).",
        bounds=(0.0, 100.0),
    ),
    "publish_tf": Spec(True, "Broadcast <prefix>left_hand, right_hand and object frames."),
    "publish_joint_tf": Spec(False, "Also one TF frame per joint (<prefix>left_hand_index_tip)."),
    "tf_prefix": Spec(
        "~/",
        "Prefix of every TF frame this node publishes; '~/' = the node's namespace and name "
        "(cam1/occrobnet_pose/left_hand), so two cameras' nodes never collide; '' = none.",
        check=_check_tf_prefix,
    ),
    "publish_markers": Spec(True, "Publish RViz markers (hand skeletons, object box)."),
    "publish_debug_image": Spec(False, "Publish the image with the estimate drawn on it."),
    "diagnostics_period": Spec(1.0, "Seconds between /diagnostics messages.", bounds=(0.1, 60.0)),
    "watchdog_timeout": Spec(
        3.0,
        "Seconds of frames arriving with nothing published before /diagnostics says ERROR; "
        "0 = off.",
        bounds=(0.0, 3600.0),
    ),
}


@dataclass(frozen=True)
class Settings:
    """A snapshot of every parameter, read once per change (the worker reads no parameters)."""

    autostart: bool
    checkpoint: str
    device: str
    precision: str
    compile_model: bool
    use_compressed: bool
    image_qos: str
    use_projection_matrix: bool
    fallback_intrinsics: tuple[float, ...]
    sync_slop: float
    sync_queue_size: int
    max_frame_age: float
    hand_threshold: float
    object_threshold: float
    roi_tracking: bool
    hand_detector: str
    smoothing: bool
    smoothing_min_cutoff: float
    smoothing_beta: float
    publish_tf: bool
    publish_joint_tf: bool
    tf_prefix: str
    publish_markers: bool
    publish_debug_image: bool
    diagnostics_period: float
    watchdog_timeout: float

    @property
    def fallback_K(self) -> np.ndarray | None:
        """The fallback intrinsics matrix, or None when the parameter is unset (all zero)."""
        if not any(self.fallback_intrinsics):
            return None
        return intrinsics_from_parameter(self.fallback_intrinsics)

    def replace(self, values: dict[str, Any]) -> "Settings":
        """A copy with ``values`` (parameter name -> value) applied."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update({name: _coerce(name, value) for name, value in values.items()})
        return Settings(**current)


def descriptor(name: str) -> ParameterDescriptor:
    """The ParameterDescriptor ``ros2 param describe`` shows for ``name``."""
    spec = SPECS[name]
    constraints = [LIVE if spec.live else ON_CONFIGURE]
    if spec.choices:
        constraints.append("one of: " + ", ".join(spec.choices))
    result = ParameterDescriptor(
        name=name,
        description=spec.description,
        read_only=spec.read_only,
        additional_constraints="; ".join(constraints) if not spec.read_only else "",
    )
    if spec.bounds is not None and isinstance(spec.default, int):
        low, high = spec.bounds
        result.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    elif spec.bounds is not None:
        low, high = spec.bounds
        result.floating_point_range = [
            FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)
        ]
    return result


def declare_parameters(node) -> Settings:
    """Declare every parameter on ``node`` (values from --params-file override the defaults)."""
    for name, spec in SPECS.items():
        node.declare_parameter(name, spec.default, descriptor(name))
    return read_settings(node)


def read_settings(node) -> Settings:
    return Settings(**{name: _coerce(name, node.get_parameter(name).value) for name in SPECS})


def check_parameter(name: str, value: Any, configured: bool) -> str | None:
    """Why ``value`` cannot be set now (None when it can). rclpy checks types and ranges."""
    spec = SPECS.get(name)
    if spec is None:
        return None  # use_sim_time and rclpy's own parameters
    if spec.bounds is not None and not _within(value, spec.bounds):
        return f"{name} must be in [{spec.bounds[0]}, {spec.bounds[1]}], not {value}"
    if spec.choices and value not in spec.choices:
        return f"{name} must be one of {', '.join(spec.choices)}, not '{value}'"
    if spec.check is not None and (reason := spec.check(value)) is not None:
        return reason
    if configured and not spec.live:
        return f"{name} is {ON_CONFIGURE} (lifecycle cleanup, set, configure)"
    return None


def check_settings(settings: Settings) -> list[str]:
    """Every reason the current values are invalid (values from a params file skip the
    set-parameters callback, so configure checks them again)."""
    reasons = (check_parameter(name, getattr(settings, name), False) for name in SPECS)
    return [reason for reason in reasons if reason is not None]


def _within(value: Any, bounds: tuple[float, float]) -> bool:
    return (
        isinstance(value, (int, float))
        and math.isfinite(value)
        and (bounds[0] <= value <= bounds[1])
    )


def _coerce(name: str, value: Any) -> Any:
    # Arrays come back from rclpy as array.array or lists; keep an immutable tuple.
    return tuple(float(v) for v in value) if name == "fallback_intrinsics" else value
