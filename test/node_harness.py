"""Drive an occrobnet_pose node process from a test: a camera, listeners and service clients.

The node runs as its own OS process (ros/child_node.py ``running``, in the test's own DDS
domain, killed on exit); this side is an rclpy node in the test process that publishes frames
and collects everything the node publishes, so a test reads like a user's session: publish,
wait, look at the outputs.
"""

import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import SetBool
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from occrobnet_ros.msg import HandObjectPose
from occrobnet_ros.ros import child_node
from occrobnet_ros.ros.image_conversion import rgb_to_compressed_msg, rgb_to_image_msg

from ros_process import REPO, isolated_ros_env

HERE = Path(__file__).resolve().parent
NODE = "/occrobnet_pose"
FRAME_ID = "camera_optical_frame"
WIDTH, HEIGHT = 160, 120
K = (150.0, 0.0, 79.5, 0.0, 150.0, 59.5, 0.0, 0.0, 1.0)
TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
    "cleanup": Transition.TRANSITION_CLEANUP,
}


def real_estimator_available() -> bool:
    """Whether occrobnet_ros.inference.estimator exists and its embedded default weights load."""
    try:
        from occrobnet_ros.inference.estimator import Estimator
    except ImportError:
        return False
    try:
        Estimator(device="cpu").close()
    except Exception:  # noqa: BLE001 - no usable default weights yet
        return False
    return True


def node_command(parameters: dict, fake: bool) -> list[str]:
    """The node's command line: config/pose.yaml, then ``parameters`` as ``-p`` overrides."""
    program = [str(HERE / "node_with_fake_estimator.py")] if fake else child_node.NODE_MODULE
    return child_node.node_command(
        parameters, params_file=REPO / "config" / "pose.yaml", program=program
    )


def rgb_frame(seed: int = 0, fill: tuple[int, int, int] | None = None) -> np.ndarray:
    """A small deterministic RGB image (noise, or one colour)."""
    if fill is not None:
        return np.full((HEIGHT, WIDTH, 3), fill, dtype=np.uint8)
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def camera_info(stamp, k=K) -> CameraInfo:
    info = CameraInfo(width=WIDTH, height=HEIGHT, distortion_model="plumb_bob")
    info.header.stamp, info.header.frame_id = stamp, FRAME_ID
    info.k = [float(v) for v in k]
    return info


class Session:
    """The test's side of a running node (see the module docstring)."""

    def __init__(self, node, process, log: Path) -> None:
        self.node, self.process, self.log = node, process, log
        self.poses: list[HandObjectPose] = []
        self.tf: list[TFMessage] = []
        self.markers: list[MarkerArray] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.debug_images: list[Image] = []
        node.create_subscription(HandObjectPose, "hand_object_pose", self.poses.append, 50)
        node.create_subscription(TFMessage, "/tf", self.tf.append, 100)
        node.create_subscription(MarkerArray, "markers", self.markers.append, 50)
        node.create_subscription(Image, "debug_image", self.debug_images.append, 5)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        sensor = qos_profile_sensor_data
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = {
            "best_effort": node.create_publisher(Image, "image", sensor),
            "reliable": node.create_publisher(Image, "image", reliable),
        }
        self.info_pub = node.create_publisher(CameraInfo, "camera_info", reliable)
        self.compressed_pub = node.create_publisher(CompressedImage, "image/compressed", sensor)
        self.clock_pub = node.create_publisher(Clock, "/clock", 10)
        self.clients = {
            "change_state": node.create_client(ChangeState, f"{NODE}/change_state"),
            "get_state": node.create_client(GetState, f"{NODE}/get_state"),
            "set_parameters": node.create_client(SetParameters, f"{NODE}/set_parameters"),
            "enable": node.create_client(SetBool, f"{NODE}/enable"),
        }

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        if any(status.name.startswith("occrobnet_pose") for status in msg.status):
            self.diagnostics.append(msg)

    # --- waiting ------------------------------------------------------------------------------

    def spin_until(self, condition, timeout: float = 20.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the node exited ({self.process.returncode}):\n{self.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; node output:\n{self.output()}"
                )
            rclpy.spin_once(self.node, timeout_sec=0.02)

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.02)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    # --- the camera ---------------------------------------------------------------------------

    def now(self):
        return self.node.get_clock().now().to_msg()

    def publish_frame(
        self,
        rgb: np.ndarray | None = None,
        stamp=None,
        *,
        info: bool = True,
        k=K,
        qos: str = "best_effort",
        image: Image | CompressedImage | None = None,
        compressed: bool = False,
        frame_id: str = FRAME_ID,
    ):
        """Publish one image (and, with ``info``, its CameraInfo); returns the stamp used."""
        stamp = stamp if stamp is not None else self.now()
        if image is None:
            rgb = rgb if rgb is not None else rgb_frame()
            image = rgb_to_compressed_msg(rgb, fmt="png") if compressed else rgb_to_image_msg(rgb)
        image.header.stamp, image.header.frame_id = stamp, frame_id
        if info:
            self.info_pub.publish(camera_info(stamp, k))
        if isinstance(image, CompressedImage):
            self.compressed_pub.publish(image)
        else:
            self.image_pub[qos].publish(image)
        return stamp

    def publish_clock(self, seconds: float) -> None:
        self.clock_pub.publish(Clock(clock=Time(seconds=seconds).to_msg()))

    def wait_for_subscribers(self, timeout: float = 20.0) -> None:
        """Until the node's image and camera_info subscriptions are matched."""
        self.spin_until(
            lambda: self.image_pub["best_effort"].get_subscription_count() > 0
            and self.info_pub.get_subscription_count() > 0,
            timeout,
            "the node to subscribe to image and camera_info",
        )

    def publish_until_pose(self, rgb=None, timeout: float = 20.0, **frame):
        """Publish frames (``publish_frame`` arguments) every 50 ms until a HandObjectPose
        with one of their stamps arrives; returns that message."""
        sent = []

        def answer():
            return next((p for p in self.poses for s in sent if p.header.stamp == s), None)

        deadline = time.monotonic() + timeout
        while answer() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no HandObjectPose for {len(sent)} frames:\n{self.output()}")
            sent.append(self.publish_frame(rgb, **frame))
            self.spin_for(0.05)
        return answer()

    def publish_for(self, seconds: float, **frame) -> list:
        """Publish frames every 50 ms for ``seconds``; returns their stamps."""
        sent = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent.append(self.publish_frame(**frame))
            self.spin_for(0.05)
        return sent

    # --- services -----------------------------------------------------------------------------

    def call(self, service: str, request, timeout: float = 20.0):
        client = self.clients[service]
        self.spin_until(lambda: client.service_is_ready(), timeout, f"service {service}")
        future = client.call_async(request)
        self.spin_until(future.done, timeout, f"a reply from {service}")
        return future.result()

    def change_state(self, transition: str) -> bool:
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[transition]
        return self.call("change_state", request).success

    def state(self) -> str:
        return self.call("get_state", GetState.Request()).current_state.label

    def set_parameter(self, name: str, value):
        """Set one parameter; returns the SetParametersResult."""
        request = SetParameters.Request(parameters=[Parameter(name=name, value=_value(value))])
        return self.call("set_parameters", request).results[0]

    def enable(self, on: bool) -> None:
        assert self.call("enable", SetBool.Request(data=on)).success

    # --- diagnostics --------------------------------------------------------------------------

    def latest_status(self, after: float | None = None, timeout: float = 20.0):
        """The node's next DiagnosticStatus, as (level, message, {key: value})."""
        count = len(self.diagnostics)
        self.spin_until(lambda: len(self.diagnostics) > count, timeout, "/diagnostics")
        status = next(s for s in self.diagnostics[-1].status if s.name.startswith("occrobnet"))
        return status.level, status.message, {kv.key: kv.value for kv in status.values}

    def wait_for_status(self, predicate, timeout: float = 20.0):
        """Diagnostics until ``predicate(level, message, values)`` holds; returns that one."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.latest_status(timeout=timeout)
            if predicate(*status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"diagnostics never matched; last {status}\n{self.output()}")


def _value(value) -> ParameterValue:
    if isinstance(value, bool):
        return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    if isinstance(value, int):
        return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    if isinstance(value, float):
        return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    if isinstance(value, (list, tuple)):
        return ParameterValue(
            type=ParameterType.PARAMETER_DOUBLE_ARRAY, double_array_value=[float(v) for v in value]
        )
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(value))


@contextlib.contextmanager
def running_node(tmp_path: Path, parameters: dict | None = None, fake: bool = True, env=None):
    """Start the node process and a test-side rclpy node; stop both on exit."""
    log = tmp_path / "node.log"
    rclpy.init()
    node = rclpy.create_node("node_test_driver")
    try:
        command = node_command(parameters or {}, fake)
        with child_node.running(command, env or isolated_ros_env(), log, cwd=HERE) as process:
            yield Session(node, process, log)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        sys.stdout.flush()
