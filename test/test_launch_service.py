"""pose.launch.py through the real launch.LaunchService and launch_ros, as `ros2 launch` runs it.

The launch process (launch_driver.py) starts the installed node executable with the launch
arguments a user gives; the test then talks to that node like a camera would, reads its
parameters back, and stops everything with SIGINT, the way Ctrl-C does.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from node_harness import HERE, K, camera_info
from rcl_interfaces.srv import GetParameters
from real_ros_python import installed, pythonpath, source_folder, why_absent
from sensor_msgs.msg import CameraInfo, Image

from occrobnet_ros.msg import HandObjectPose
from occrobnet_ros.ros.image_conversion import rgb_to_image_msg

from ros_process import REPO, isolated_ros_env, ros_process

WEIGHTS = REPO / "weights" / "occrobnet_tiny_synthetic.safetensors"
NAMESPACE = "cam1"
IMAGE, INFO = "/cam1_rgb/image_raw", "/cam1_rgb/camera_info"


def _launch_path() -> list[Path] | None:
    """PYTHONPATH folders for the real launch and launch_ros (None when there are none)."""
    folders = []
    for module in ("launch", "launch_ros", "message_filters"):  # all three on a ROS install
        if installed(module):
            continue
        if (folder := source_folder(module, "jazzy")) is None:
            return None
        folders.append(folder)
    return folders


def _missing() -> str | None:
    if _launch_path() is None:
        return why_absent("launch / launch_ros")
    if not installed("composition_interfaces"):
        return "composition_interfaces (launch_ros needs it) is not built: run scripts/setup.sh"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (zombies excluded)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _node_environment(pgid: int) -> dict:
    """The environment of the node process that the launch started."""
    for pid in _group_members(pgid):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(part.endswith(b"occrobnet_pose") for part in cmdline):
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            return dict(item.decode().split("=", 1) for item in raw if b"=" in item)
    raise AssertionError("no occrobnet_pose process in the launch's process group")


class Launch:
    """A running launch process and the test's rclpy node."""

    def __init__(self, process: subprocess.Popen, log: Path, node) -> None:
        self.process, self.log, self.node = process, log, node

    def spin_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what}: launch output:\n{self.log.read_text()[-5000:]}")
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT to the launch process, as Ctrl-C; returns its exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)


def _start(tmp_path: Path, arguments: dict, env: dict):
    log = tmp_path / "launch.log"
    out = log.open("w")
    command = [str(HERE / "launch_driver.py"), *(f"{k}:={v}" for k, v in arguments.items())]
    return log, out, ros_process(command, env=pythonpath(_launch_path(), env), stdout=out)


def test_the_launch_file_starts_the_node_with_its_arguments_and_sigint_stops_it(tmp_path):
    """namespace, image / camera_info remaps, device, params_file and checkpoint all reach the
    node; it answers a frame; Ctrl-C stops it cleanly."""
    params = tmp_path / "my_pose.yaml"
    params.write_text("/**:\n  ros__parameters:\n    hand_threshold: 0.35\n")
    checkpoint = tmp_path / "my_model.safetensors"
    shutil.copy(WEIGHTS, checkpoint)
    users_profile = tmp_path / "my_fastdds.xml"
    shutil.copy(REPO / "config" / "fastdds_shm.xml", users_profile)
    env = isolated_ros_env({"FASTDDS_DEFAULT_PROFILES_FILE": str(users_profile)})
    arguments = {
        "namespace": NAMESPACE, "image": IMAGE, "camera_info": INFO, "device": "cpu",
        "params_file": str(params), "checkpoint": str(checkpoint),
    }  # fmt: skip
    log, out, starting = _start(tmp_path, arguments, env)
    rclpy.init()
    node = rclpy.create_node("launch_test_camera")
    try:
        with out, starting as process:
            launch = Launch(process, log, node)
            poses: list[HandObjectPose] = []
            node.create_subscription(
                HandObjectPose, f"/{NAMESPACE}/hand_object_pose", poses.append, 10
            )
            image_pub = node.create_publisher(Image, IMAGE, 10)
            info_pub = node.create_publisher(CameraInfo, INFO, 10)
            launch.spin_until(
                lambda: image_pub.get_subscription_count() and info_pub.get_subscription_count(),
                60.0, "the node subscribing to the remapped topics",
            )  # fmt: skip
            parameters = _parameters(
                launch, f"/{NAMESPACE}/occrobnet_pose", ["checkpoint", "device", "hand_threshold"]
            )
            assert parameters == [str(checkpoint), "cpu", 0.35]
            assert _node_environment(process.pid)["FASTDDS_DEFAULT_PROFILES_FILE"] == str(
                users_profile
            )  # the user's own profile is kept

            rgb = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
            sent = []

            def answered() -> bool:
                stamp = node.get_clock().now().to_msg()
                image = rgb_to_image_msg(rgb)
                image.header.stamp, image.header.frame_id = stamp, "cam1_optical_frame"
                info_pub.publish(camera_info(stamp, K))
                image_pub.publish(image)
                sent.append((stamp.sec, stamp.nanosec))
                return any((p.header.stamp.sec, p.header.stamp.nanosec) in sent for p in poses)

            launch.spin_until(answered, 60.0, "a HandObjectPose on the namespaced topic")
            assert launch.stop() == 0
            assert _group_members(process.pid) == []  # the node exited with the launch
            output = log.read_text()
            assert "paired by message_filters.TimeSynchronizer" in output
            assert "process has finished cleanly" in output, output[-3000:]
            assert "ERROR" not in output, output[-3000:]  # nothing fails on the way out
    finally:
        node.destroy_node()
        rclpy.shutdown()


def test_without_a_profile_of_the_users_the_node_gets_the_packages(tmp_path):
    env = isolated_ros_env()
    del env["FASTDDS_DEFAULT_PROFILES_FILE"]
    log, out, starting = _start(tmp_path, {"device": "cpu"}, env)
    with out, starting as process:
        deadline = time.monotonic() + 60.0
        while "active on" not in log.read_text():  # started and serving
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        profile = _node_environment(process.pid)["FASTDDS_DEFAULT_PROFILES_FILE"]
        assert profile.endswith(
            os.path.join("share", "occrobnet_ros", "config", "fastdds_shm.xml")
        )
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(60.0) == 0, log.read_text()[-3000:]
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit 60 s after SIGINT:\n{log.read_text()[-3000:]}")


def _parameters(launch: Launch, node_name: str, names: list[str]) -> list:
    client = launch.node.create_client(GetParameters, f"{node_name}/get_parameters")
    launch.spin_until(client.service_is_ready, 30.0, f"{node_name}/get_parameters")
    future = client.call_async(GetParameters.Request(names=names))
    launch.spin_until(future.done, 30.0, "the parameters")
    values = []
    for value in future.result().values:
        values.append(
            {4: value.string_value, 3: value.double_value, 1: value.bool_value}[value.type]
        )
    return values


RVIZ_PROBE = """
import importlib.util, json, os, sys
from launch import LaunchContext
spec = importlib.util.spec_from_file_location("pose_launch", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
result = {}
for rviz in ("false", "true"):
    context = LaunchContext()
    context.launch_configurations.update(
        {name: default for name, (default, _) in module.ARGUMENTS.items()}
    )
    context.launch_configurations["rviz"] = rviz
    nodes = module._rviz(context)
    result[rviz] = {
        "nodes": [(n.node_package, n.node_executable) for n in nodes],
        "debug_image": module._overrides(context).get("publish_debug_image", False),
    }
print(json.dumps(result))
"""


def test_rviz_true_adds_rviz2_with_the_packages_config_and_turns_on_the_debug_image(tmp_path):
    import json

    launch_file = REPO / "launch" / "pose.launch.py"
    probe = subprocess.run(
        [os.sys.executable, "-c", RVIZ_PROBE, str(launch_file)],
        env=pythonpath(_launch_path(), isolated_ros_env()),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    result = json.loads(probe.stdout.splitlines()[-1])
    assert result["false"] == {"nodes": [], "debug_image": False}
    assert result["true"] == {"nodes": [["rviz2", "rviz2"]], "debug_image": True}


def test_the_rviz_config_shows_the_debug_image_markers_and_tf():
    import yaml

    config = yaml.safe_load((REPO / "config" / "occrobnet.rviz").read_text())
    displays = {d["Class"]: d for d in config["Visualization Manager"]["Displays"]}
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == "debug_image"
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "markers"
    assert "rviz_default_plugins/TF" in displays
