"""Faults the node must survive, in-process with the real estimator (a random tiny model):

- a checkpoint that is missing, truncated, of another architecture, a pickle, a directory, a
  FIFO or a device is refused at configure with the reason on /diagnostics; the node stays up,
  unconfigured, and a good checkpoint then brings it into service;
- ``device: cuda`` without CUDA runs on the CPU, with a warning;
- CUDA running out of memory in the model skips that frame with diagnostics ERROR, and the
  next frame is answered;
- image stamps jumping backwards (a bag looping without sim time) reset the node, which keeps
  answering and counting.

And the security rules on the package source: no eval, exec, shell or unrestricted unpickling.
"""

import ast
import json
import logging
import os
import pickle
import time
from pathlib import Path

import pytest
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from node_fixtures import random_checkpoint
from node_harness import camera_info, rgb_frame
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from safetensors.torch import save_file
from sensor_msgs.msg import CameraInfo, Image

from occrobnet_ros.inference.estimator import Estimator
from occrobnet_ros.model.checkpoint import CONFIG_KEY, read_safetensors
from occrobnet_ros.model.config import OccRobNetConfig
from occrobnet_ros.msg import HandObjectPose
from occrobnet_ros.ros.image_conversion import rgb_to_image_msg
from occrobnet_ros.ros.node import PoseNode
from occrobnet_ros.tools.reliability.accounting import Counters

REPO = Path(__file__).resolve().parents[1]
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class OutOfMemoryOnce:
    """Makes the real model raise CUDA's out-of-memory error on its next forward pass after
    :meth:`arm` (what a too-small GPU does to one frame). A forward pre-hook: the model is
    otherwise untouched."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.armed = False
        model.register_forward_pre_hook(self._hook)

    def arm(self) -> None:
        self.armed = True

    def _hook(self, module: torch.nn.Module, args) -> None:
        if self.armed:
            self.armed = False
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


class InProcessNode:
    """A PoseNode and a camera in this process, spun by one executor."""

    def __init__(self, parameters: dict) -> None:
        self.faults: list[OutOfMemoryOnce] = []  # one per estimator the node made
        self.node = PoseNode(
            estimator_factory=self._estimator,
            parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()],
        )
        self.camera = rclpy.create_node("fault_test_camera")
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.camera.create_publisher(Image, "image", qos_profile_sensor_data)
        self.info_pub = self.camera.create_publisher(CameraInfo, "camera_info", reliable)
        self.poses: list[HandObjectPose] = []
        self.statuses: list[DiagnosticStatus] = []
        self.camera.create_subscription(HandObjectPose, "hand_object_pose", self.poses.append, 50)
        self.camera.create_subscription(DiagnosticArray, "/diagnostics", self._on_status, 50)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.executor.add_node(self.camera)

    def _estimator(self, **options) -> Estimator:
        estimator = Estimator(**options)
        self.faults.append(OutOfMemoryOnce(estimator.model))
        return estimator

    def _on_status(self, msg: DiagnosticArray) -> None:
        self.statuses += [s for s in msg.status if s.name.startswith("occrobnet_pose")]

    def spin_until(self, condition, timeout: float = 60.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.executor.spin_once(timeout_sec=0.05)

    def next_status(self) -> tuple[int, str, dict[str, str]]:
        count = len(self.statuses)
        self.spin_until(lambda: len(self.statuses) > count, what="/diagnostics")
        status = self.statuses[-1]
        return status.level, status.message, {kv.key: kv.value for kv in status.values}

    def wait_for_status(self, predicate, timeout: float = 60.0):
        """The first new status for which ``predicate(level, message, values)`` holds."""
        deadline = time.monotonic() + timeout
        while not predicate(*(status := self.next_status())):
            assert time.monotonic() < deadline, f"diagnostics never matched; last {status}"
        return status

    def settled_counters(self) -> Counters:
        """The frame counters once two statuses in a row agree (the node is idle)."""
        previous = None
        while (current := Counters.from_values(self.next_status()[2])) != previous:
            previous = current
        return current

    def set(self, name: str, value) -> bool:
        return self.node.set_parameters([Parameter(name, value=value)])[0].successful

    def publish(self, stamp, seed: int = 0):
        image = rgb_to_image_msg(rgb_frame(seed))
        image.header.stamp, image.header.frame_id = stamp, "camera_optical_frame"
        self.info_pub.publish(camera_info(stamp))
        self.image_pub.publish(image)
        return stamp

    def publish_until_answered(self, stamp_of=None, timeout: float = 60.0) -> HandObjectPose:
        """Frames every 0.5 s until one is answered; ``stamp_of(i)`` stamps the i-th."""
        sent = []
        deadline = time.monotonic() + timeout
        while not (answers := [p for p in self.poses if p.header.stamp in sent]):
            assert time.monotonic() < deadline, f"no answer to {len(sent)} frames"
            stamp = stamp_of(len(sent)) if stamp_of else self.camera.get_clock().now().to_msg()
            sent.append(self.publish(stamp, seed=len(sent)))
            end = time.monotonic() + 0.5
            self.spin_until(
                lambda: time.monotonic() > end or any(p.header.stamp in sent for p in self.poses)
            )
        return answers[0]

    def destroy(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.camera.destroy_node()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """A good checkpoint and every kind of bad one, by name."""
    directory = tmp_path_factory.mktemp("checkpoints")
    good = Path(random_checkpoint(directory / "good.safetensors"))
    data = good.read_bytes()
    paths = {"good": good, "missing": directory / "missing.safetensors"}
    paths["truncated"] = directory / "truncated.safetensors"
    paths["truncated"].write_bytes(data[: len(data) // 2])
    # Another architecture: this file's tensors under a config with one more encoder layer.
    metadata, tensors = read_safetensors(good)
    config = OccRobNetConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
    config.enc_layers += 1
    paths["architecture"] = directory / "architecture.safetensors"
    save_file(tensors, str(paths["architecture"]), metadata={CONFIG_KEY: config.to_json()})
    paths["zip pickle"] = directory / "zip_pickle.safetensors"
    torch.save({"weight": torch.zeros(2)}, paths["zip pickle"])
    paths["raw pickle"] = directory / "raw_pickle.safetensors"
    paths["raw pickle"].write_bytes(pickle.dumps({"weight": [0.0]}, protocol=4))
    paths["pt"] = directory / "weights.pt"
    paths["pt"].write_bytes(data)  # good content, but a name that means a pickle
    paths["directory"] = directory / "directory.safetensors"
    paths["directory"].mkdir()
    paths["fifo"] = directory / "fifo.safetensors"
    os.mkfifo(paths["fifo"])  # opening it would block until a writer came
    paths["device"] = Path("/dev/zero")
    return paths


REFUSALS = [
    ("missing", "No such file"),
    ("truncated", "truncated"),
    ("architecture", "missing tensor"),
    ("zip pickle", "pickle"),
    ("raw pickle", "pickle"),
    ("pt", ".safetensors file"),
    ("directory", "a directory"),
    ("fifo", "not a regular file"),
    ("device", "not a regular file"),
]


@pytest.fixture(scope="module")
def session(checkpoints):
    rclpy.init()
    parameters = {
        "autostart": False,
        "checkpoint": str(checkpoints["missing"]),
        "device": "cuda",  # a machine without CUDA must run on the CPU anyway
        "max_frame_age": 0.0,  # the model is slow on a busy CPU: do not age frames out
        "diagnostics_period": 0.1,
    }
    node = InProcessNode(parameters)
    yield node
    node.destroy()
    rclpy.shutdown()


def test_bad_checkpoints_are_refused_at_configure_and_a_good_one_recovers(
    session, checkpoints, caplog
):
    for name, words in REFUSALS:
        path = str(checkpoints[name])
        assert session.set("checkpoint", path), name
        assert session.node.trigger_configure() == FAILURE, name
        level, message, values = session.wait_for_status(lambda _, message, __: path in message)
        assert level == DiagnosticStatus.ERROR, (name, message)
        assert "model not loaded" in message and words in message, (name, message)
        assert values["state"] == "unconfigured"
    with caplog.at_level(logging.WARNING, logger="occrobnet_ros.inference.estimator"):
        assert session.set("checkpoint", str(checkpoints["good"]))
        assert session.node.trigger_configure() == SUCCESS
        assert session.node.trigger_activate() == SUCCESS
    pose = session.publish_until_answered()
    assert pose.model_version.startswith("good.safetensors@")
    level, message, values = session.wait_for_status(
        lambda level, message, values: level == DiagnosticStatus.OK
    )
    assert values["state"] == "active"
    if not torch.cuda.is_available():
        assert values["device"] == "cpu"
        assert "CUDA is not available" in caplog.text


def activate(session, checkpoints) -> None:
    """Bring the node into service with the good checkpoint, from whatever state it is in."""
    state = session.next_status()[2]["state"]
    if state == "unconfigured":
        assert session.set("checkpoint", str(checkpoints["good"]))
        assert session.node.trigger_configure() == SUCCESS
    if state != "active":
        assert session.node.trigger_activate() == SUCCESS


def test_cuda_out_of_memory_skips_one_frame_and_the_next_is_answered(session, checkpoints):
    activate(session, checkpoints)
    session.publish_until_answered()
    before = session.settled_counters()
    fault = session.faults[-1]
    fault.arm()
    mark, sent = len(session.statuses), []
    deadline = time.monotonic() + 60.0
    while fault.armed:  # until a frame reaches the model (best effort may lose one)
        assert time.monotonic() < deadline, "no frame reached the model"
        sent.append(session.publish(session.camera.get_clock().now().to_msg()))
        end = time.monotonic() + 0.5
        session.spin_until(lambda: not fault.armed or time.monotonic() > end)
    session.spin_until(
        lambda: any(s.level == DiagnosticStatus.ERROR for s in session.statuses[mark:]),
        what="diagnostics ERROR",
    )
    error = next(s for s in session.statuses[mark:] if s.level == DiagnosticStatus.ERROR)
    assert "OutOfMemoryError" in error.message and "CUDA out of memory" in error.message
    session.publish_until_answered()
    session.wait_for_status(lambda level, message, values: level == DiagnosticStatus.OK)
    after = session.settled_counters()
    assert after.errors == before.errors + 1 and after.unaccounted == 0
    # The frame that met the error got no answer; the ones before and after it did.
    answered = [s for s in sent if any(p.header.stamp == s for p in session.poses)]
    assert len(answered) <= len(sent) - 1


def test_stamps_jumping_backwards_reset_the_node_which_keeps_answering(session, checkpoints):
    activate(session, checkpoints)
    start = session.publish_until_answered().header.stamp
    start_s = start.sec + start.nanosec * 1e-9

    def looped(i: int):  # the bag starts over, 60 s earlier, and plays on
        return Time(seconds=start_s - 60.0 + 0.1 * i).to_msg()

    pose = session.publish_until_answered(looped)
    assert pose.header.stamp.sec < start.sec
    later = session.publish_until_answered(lambda i: looped(100 + i))
    assert (later.header.stamp.sec, later.header.stamp.nanosec) > (
        pose.header.stamp.sec,
        pose.header.stamp.nanosec,
    )
    counters = session.settled_counters()
    assert counters.unaccounted == 0, counters.summary()
    assert counters.published >= 3  # before the jump, right after it, and later


# --- security ---------------------------------------------------------------------------------

PACKAGE = REPO / "occrobnet_ros"
FORBIDDEN_CALLS = {
    "eval": "eval",
    "exec": "exec",
    "compile": "compile",
    "__import__": "__import__",
    "os.system": "a shell",
    "os.popen": "a shell",
    "pickle.load": "pickle",
    "pickle.loads": "pickle",
    "pickle.Unpickler": "pickle",
    "torch.load": "pickle (torch.load)",
    "marshal.load": "marshal",
    "marshal.loads": "marshal",
    "yaml.load": "yaml.load (use yaml.safe_load)",
    "yaml.unsafe_load": "yaml.unsafe_load",
    "yaml.full_load": "yaml.full_load",
    "shelve.open": "pickle (shelve)",
}
# Where a forbidden name is the point: the restricted unpickler subclasses pickle.Unpickler.
ALLOWED = {("data/readers/safe_pickle.py", "pickle.Unpickler")}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _violations(path: Path, root: Path = PACKAGE) -> list[str]:
    relative = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = _dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else ""
        if name in FORBIDDEN_CALLS and (relative, name) not in ALLOWED:
            found.append(f"{relative}:{node.lineno}: {name} ({FORBIDDEN_CALLS[name]})")
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                literal = isinstance(keyword.value, ast.Constant) and keyword.value.value
                if keyword.arg == "shell" and literal is True:
                    found.append(f"{relative}:{node.lineno}: shell=True")
                if keyword.arg == "allow_pickle" and literal is not False:
                    found.append(f"{relative}:{node.lineno}: allow_pickle")
    return found


def test_the_package_source_has_no_eval_exec_shell_or_unrestricted_unpickling():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30  # the scan sees the package
    violations = [v for path in files for v in _violations(path)]
    assert violations == []


def test_the_scan_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os, pickle, subprocess, torch\n"
        "eval(text)\nos.system(command)\npickle.loads(data)\ntorch.load(path)\n"
        "subprocess.run(command, shell=True)\nnumpy.load(path, allow_pickle=True)\n"
    )
    found = " ".join(_violations(bad, root=tmp_path))
    for words in ("eval", "os.system", "pickle.loads", "torch.load", "shell=True", "allow_pickle"):
        assert words in found
