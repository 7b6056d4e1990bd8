"""An occrobnet_pose node process, and a camera in this process that drives it.

The node runs as its own OS process (ros/child_node.py ``running``; its RSS is then the node's
alone) and :class:`Camera` is an rclpy node here that publishes frames to it and collects what it
answers: HandObjectPose stamps with their arrival times, and the node's /diagnostics counters.
"""

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from occrobnet_ros.msg import HandObjectPose
from occrobnet_ros.ros import child_node
from occrobnet_ros.tools.reliability.accounting import Counters

SOURCE = Path(__file__).resolve().parents[3]
FAKE_NODE = SOURCE / "test" / "node_with_fake_estimator.py"
FASTDDS_PROFILE = SOURCE / "config" / "fastdds_shm.xml"


def node_command(parameters: dict, fake: bool) -> list[str]:
    """The node's command line; ``fake`` runs it with the test suite's fake estimator (fixed
    answers, no model: needs a source checkout)."""
    if fake and not FAKE_NODE.is_file():
        raise FileNotFoundError(f"the fake-estimator node needs a source checkout: {FAKE_NODE}")
    program = [str(FAKE_NODE)] if fake else child_node.NODE_MODULE
    return child_node.node_command(parameters, program=program)


def add_node_options(parser: argparse.ArgumentParser) -> None:
    """The options of `occrobnet fuzz` and `occrobnet soak` that choose the node under test."""
    parser.add_argument(
        "--estimator",
        choices=["fake", "real"],
        default="fake",
        help="the node's estimator: the test suite's fake (fixed answers) or the model",
    )
    parser.add_argument(
        "--checkpoint", help="with --estimator real (default: a random occrobnet_tiny)"
    )
    parser.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID to use")


def ros_environment(domain_id: int | None = None) -> dict[str, str]:
    """This process's environment for a node on this machine only (and the Fast DDS profile
    whose shared-memory segment fits big images)."""
    env = dict(os.environ)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if FASTDDS_PROFILE.is_file():
        env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(FASTDDS_PROFILE))
    return env


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB (VmRSS in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def random_checkpoint(path: Path, config: Path | None = None) -> Path:
    """A randomly initialised occrobnet_tiny at 128 px: the real estimator runs it end to end
    (it detects nothing, and costs what the real model costs per frame)."""
    from occrobnet_ros.model.checkpoint import save_random_model
    from occrobnet_ros.model.config import OccRobNetConfig

    config = config or SOURCE / "config" / "model" / "occrobnet_tiny.yaml"
    model_config = OccRobNetConfig.from_yaml(config)
    model_config.input_size, model_config.heatmap_size = 128, 16
    return save_random_model(model_config, path)


class Camera:
    """The driving side: publishes frames, records answers and the node's counters."""

    def __init__(
        self, node_name: str = "occrobnet_reliability_camera", context: rclpy.Context | None = None
    ) -> None:
        self.node = rclpy.create_node(node_name, context=context)
        self._executor = SingleThreadedExecutor(context=self.node.context)
        self._executor.add_node(self.node)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, "image", qos_profile_sensor_data)
        self.compressed_pub = self.node.create_publisher(
            CompressedImage, "image/compressed", qos_profile_sensor_data
        )
        self.info_pub = self.node.create_publisher(CameraInfo, "camera_info", reliable)
        self.answers: list[tuple[int, float]] = []  # (stamp ns, arrival ns), node clock
        self.statuses: list[dict[str, str]] = []
        self.node.create_subscription(HandObjectPose, "hand_object_pose", self._on_pose, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_status, 10)

    def _on_pose(self, msg: HandObjectPose) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.answers.append((stamp, self.node.get_clock().now().nanoseconds))

    def _on_status(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("occrobnet_pose"):
                self.statuses.append({kv.key: kv.value for kv in status.values})

    def now(self) -> Time:
        return self.node.get_clock().now().to_msg()

    def publish(self, image: Image | CompressedImage, info: CameraInfo | None) -> None:
        """The CameraInfo first (as drivers do), then the image."""
        if info is not None:
            self.info_pub.publish(info)
        if isinstance(image, CompressedImage):
            self.compressed_pub.publish(image)
        else:
            self.image_pub.publish(image)

    def spin_once(self, timeout: float) -> None:
        """Handle at most one incoming message, waiting up to ``timeout`` s."""
        self._executor.spin_once(timeout_sec=timeout)

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._executor.spin_once(timeout_sec=min(left, 0.05))

    def spin_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            self._executor.spin_once(timeout_sec=0.05)

    def wait_until_subscribed(self, compressed: bool = False, timeout: float = 60.0) -> None:
        image_pub = self.compressed_pub if compressed else self.image_pub
        self.spin_until(
            lambda: image_pub.get_subscription_count() > 0
            and self.info_pub.get_subscription_count() > 0,
            timeout,
            "the node to subscribe to the camera",
        )

    def counters(self) -> Counters | None:
        """The node's latest counters (None before its first /diagnostics)."""
        return Counters.from_values(self.statuses[-1]) if self.statuses else None

    def settled_counters(self, timeout: float = 30.0) -> Counters:
        """The counters once two /diagnostics in a row agree: the node has gone idle."""
        previous: Counters | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = len(self.statuses)
            self.spin_until(lambda: len(self.statuses) > count, timeout, "/diagnostics")
            current = self.counters()
            if previous is not None and current.totals() == previous.totals():
                return current
            previous = current
        raise TimeoutError(f"the node's counters kept changing for {timeout} s")

    def destroy(self) -> None:
        self._executor.shutdown()
        self.node.destroy_node()
