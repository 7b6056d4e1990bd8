"""Live replay: play a bag into a running occrobnet_pose node and record what comes out.

What ``ros2 bag play --clock`` + ``ros2 bag record`` would do, in one process with rclpy:

- the bag's image and CameraInfo messages are published at their recorded pace (scaled by
  ``rate``), as recorded (the serialised bytes, so stamps are untouched), with ``/clock``
  following the bag's time: the node runs with ``use_sim_time:=true``, so its frame-age check
  and its diagnostics see bag time;
- the node's ``hand_object_pose`` outputs are recorded and matched to the images by stamp.

A frame is *processed* when an output with its stamp arrived, else *dropped* (the node's
one-slot buffer overwrote it, it was too old, or it was rejected): every published frame is
one of the two. End-to-end latency is the time from publishing an image to receiving its
output, both on this process's monotonic clock.

The node is started as a subprocess (``python -m occrobnet_ros.ros.node``) unless the caller
says one is running already (``node_command=None``).
"""

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.srv import GetState
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tqdm import tqdm

from occrobnet_ros.bag.io import BagError, BagReader
from occrobnet_ros.bag.replay import COMPRESSED_TYPE, Topics, prefetch
from occrobnet_ros.bag.report import percentiles_ms
from occrobnet_ros.msg import HandObjectPose
from occrobnet_ros.ros import child_node
from occrobnet_ros.ros.stamp_sync import stamp_to_nanoseconds

NODE_NAME = "occrobnet_pose"
CLOCK_PERIOD = 0.01  # s of wall time between /clock messages while waiting (100 Hz)
MATCH_SETTLE = 0.5  # s after discovery matched, so the first frames are not lost
DIAGNOSTICS_TIMEOUT = 3.0  # s: the node publishes /diagnostics every second by default
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


class NodeError(RuntimeError):
    """The node did not start, or did not become active in time; the message says which."""


@dataclass
class FrameRecord:
    """One published image and what became of it."""

    bag: str
    stamp_ns: int
    time_ns: int  # receive time in the bag
    published: float  # time.monotonic()
    output: HandObjectPose | None = None
    received: float | None = None  # time.monotonic() of the output

    @property
    def latency(self) -> float | None:
        return None if self.received is None else self.received - self.published


@dataclass
class LiveResult:
    frames: list[FrameRecord] = field(default_factory=list)
    unmatched_outputs: int = 0  # outputs whose stamp was never published (another publisher)
    node_diagnostics: dict[str, str] = field(default_factory=dict)


@dataclass
class LiveOptions:
    output_topic: str = "/hand_object_pose"
    rate: float = 1.0
    node_name: str = NODE_NAME
    startup_timeout: float = 120.0
    drain: float = 2.0  # s without outputs after the last frame before stopping
    node_command: list[str] | None = None  # None: the node is already running
    node_log: Path = Path("node.log")  # the started node's output
    progress: bool = True  # a progress bar of the frames played


def node_command(
    topics: Topics,
    output_topic: str,
    parameters: dict[str, str],
    params_file: Path | None = None,
    extra: Iterable[str] = (),
) -> list[str]:
    """The command that starts the node for these topics, on sim time; ``parameters`` (name
    -> value) override ``params_file``."""
    compressed = topics.image_type == COMPRESSED_TYPE
    image_input = "image/compressed" if compressed else "image"
    parameters = {"use_sim_time": True, "use_compressed": compressed, **parameters}
    remaps = {image_input: topics.image, "hand_object_pose": output_topic}
    if topics.camera_info is not None:
        remaps["camera_info"] = topics.camera_info
    return child_node.node_command(parameters, remaps, params_file=params_file, extra=extra)


def replay_live(bags: list[tuple[Path, Topics]], options: LiveOptions) -> LiveResult:
    """Play ``bags`` one after another into the node and record its outputs."""
    if len({topics for _, topics in bags}) > 1:
        raise BagError("--live needs the same image and CameraInfo topics in every bag")
    node = (
        child_node.running(options.node_command, log=options.node_log)
        if options.node_command
        else contextlib.nullcontext()
    )
    with node as process:
        context = rclpy.Context()
        rclpy.init(context=context)
        player = None
        try:
            player = _Player(context, bags[0][1], options)
            player.wait_for_node(process)
            for path, topics in bags:
                player.play(path, topics)
            return player.result
        finally:
            if player is not None:
                player.destroy()
            rclpy.try_shutdown(context=context)


class _Player:
    """The rclpy side: publishers for the bag's topics and /clock, the output recorder."""

    def __init__(self, context: rclpy.Context, topics: Topics, options: LiveOptions) -> None:
        self.options = options
        self.result = LiveResult()
        self._pending: dict[int, FrameRecord] = {}
        self._lock = threading.Lock()
        self._last_output = time.monotonic()
        self.node = rclpy.create_node("occrobnet_bag_player", context=context)
        image_type = CompressedImage if topics.image_type == COMPRESSED_TYPE else Image
        self._publishers = {
            topics.image: self.node.create_publisher(image_type, topics.image, RELIABLE)
        }
        if topics.camera_info is not None:  # else the node uses its fallback_intrinsics
            self._publishers[topics.camera_info] = self.node.create_publisher(
                CameraInfo, topics.camera_info, RELIABLE
            )
        self._image_topic = topics.image
        self._clock = self.node.create_publisher(Clock, "/clock", RELIABLE)
        self.node.create_subscription(
            HandObjectPose, options.output_topic, self._on_output, RELIABLE
        )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self.node)
        self._spinner = threading.Thread(target=self._executor.spin, daemon=True)
        self._spinner.start()
        self._clock_ns = 0
        self._diagnostics_count = 0

    def destroy(self) -> None:
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()

    # --- start-up

    def wait_for_node(self, process: subprocess.Popen | None) -> None:
        """Until the node is active and matched with our publishers and subscription."""
        deadline = time.monotonic() + self.options.startup_timeout
        client = self.node.create_client(GetState, f"/{self.options.node_name}/get_state")
        while not (self._matched() and self._active(client, started=process is not None)):
            if process is not None and process.poll() is not None:
                raise NodeError(f"the node exited with code {process.returncode} at start-up")
            if time.monotonic() > deadline:
                raise NodeError(
                    f"the node {self.options.node_name} was not active on "
                    f"{self._image_topic} -> {self.options.output_topic} within "
                    f"{self.options.startup_timeout:.0f} s"
                )
            time.sleep(0.2)
        self.node.destroy_client(client)
        time.sleep(MATCH_SETTLE)

    def _matched(self) -> bool:
        return all(p.get_subscription_count() > 0 for p in self._publishers.values()) and (
            self.node.count_publishers(self.options.output_topic) > 0
        )

    def _active(self, client, started: bool) -> bool:
        """Whether the node is active. A node started here with autostart answers only once
        autostart is over (it spins afterwards), so any other state means it failed."""
        if not client.service_is_ready():
            return False
        future = client.call_async(GetState.Request())
        deadline = time.monotonic() + 2.0
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not future.done():
            return False
        state = future.result().current_state.label
        if started and state != "active":
            raise NodeError(f"the node is {state} after start-up (did the model load?)")
        return state == "active"

    # --- playback

    def play(self, path: Path, topics: Topics) -> None:
        """Publish the bag's frames at its pace, then wait for the node to finish."""
        with BagReader(path) as bag:
            messages = bag.raw_messages(self._publishers)
            progress = tqdm(
                total=bag.counts[topics.image],
                desc=f"{path.name} (live)",
                unit="frame",
                disable=not self.options.progress,
            )
            start_wall, start_bag = None, None
            for topic, msg_type, time_ns, data in prefetch(messages, depth=16):
                if start_wall is None:
                    start_wall, start_bag = time.monotonic(), time_ns
                    self._publish_clock(time_ns, force=True)
                self._wait(
                    start_wall + (time_ns - start_bag) * 1e-9 / self.options.rate,
                    start_wall,
                    start_bag,
                )
                self._publish_clock(time_ns)
                if topic == topics.image:
                    self._publish_image(path.name, msg_type, time_ns, bytes(data))
                    progress.update()
                else:
                    self._publishers[topic].publish(bytes(data))
            progress.close()
        self._drain(start_wall, start_bag)

    def _publish_image(self, bag: str, msg_type: str, time_ns: int, data: bytes) -> None:
        image_type = CompressedImage if msg_type == COMPRESSED_TYPE else Image
        stamp = stamp_to_nanoseconds(deserialize_message(data, image_type).header.stamp)
        record = FrameRecord(bag, stamp, time_ns, time.monotonic())
        with self._lock:
            self._pending[stamp] = record
            self.result.frames.append(record)
        self._publishers[self._image_topic].publish(data)

    def _wait(self, until: float, start_wall: float, start_bag: int) -> None:
        """Sleep until ``until`` (monotonic), keeping /clock moving with the bag's time."""
        while (now := time.monotonic()) < until:
            self._publish_clock(start_bag + int((now - start_wall) * self.options.rate * 1e9))
            time.sleep(min(CLOCK_PERIOD, until - now))

    def _publish_clock(self, time_ns: int, force: bool = False) -> None:
        if time_ns <= self._clock_ns and not force:
            return  # the clock never runs backwards within a bag
        self._clock_ns = time_ns
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(int(time_ns), 1_000_000_000)
        self._clock.publish(msg)

    def _drain(self, start_wall: float | None, start_bag: int | None) -> None:
        """Wait until every frame has an output, or none came for ``drain`` seconds (longer
        when the node is slow: three times the largest latency seen)."""
        if start_wall is None:
            return
        with self._lock:
            self._last_output = time.monotonic()  # quiet time counts from the last frame
        while True:
            with self._lock:
                waiting = len(self._pending)
                slowest = max((r.latency or 0.0 for r in self.result.frames), default=0.0)
            quiet = time.monotonic() - self._last_output
            if not waiting or quiet > max(self.options.drain, 3.0 * slowest):
                break
            self._wait(time.monotonic() + 0.05, start_wall, start_bag)
        with self._lock:
            self._pending.clear()  # late outputs of this bag must not match the next one
        self._wait_for_diagnostics(start_wall, start_bag)

    def _wait_for_diagnostics(self, start_wall: float, start_bag: int) -> None:
        """One more /diagnostics from the node, so its counters include the last frame."""
        seen = self._diagnostics_count
        deadline = time.monotonic() + DIAGNOSTICS_TIMEOUT
        while self._diagnostics_count == seen and time.monotonic() < deadline:
            self._wait(time.monotonic() + 0.05, start_wall, start_bag)

    # --- recording

    def _on_output(self, msg: HandObjectPose) -> None:
        received = time.monotonic()
        stamp = stamp_to_nanoseconds(msg.header.stamp)
        with self._lock:
            self._last_output = received
            record = self._pending.pop(stamp, None)
            if record is None:
                self.result.unmatched_outputs += 1
                return
            record.output, record.received = msg, received

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if self.options.node_name in status.name:
                self.result.node_diagnostics = {kv.key: kv.value for kv in status.values}
                self._diagnostics_count += 1


def summary(result: LiveResult) -> dict[str, Any]:
    """Frames published / processed / dropped, drop rate and end-to-end latency."""
    published = len(result.frames)
    processed = [r for r in result.frames if r.output is not None]
    inference = [r.output.inference_time for r in processed]
    report = {
        "frames_published": published,
        "frames_processed": len(processed),
        "frames_dropped": published - len(processed),
        "drop_rate": (published - len(processed)) / published if published else float("nan"),
        "unmatched_outputs": result.unmatched_outputs,
        "latency_ms": percentiles_ms([r.latency for r in processed]),
        "node_inference_ms": percentiles_ms(inference),
    }
    counters = {
        key: value
        for key, value in result.node_diagnostics.items()
        if key.startswith(("frames ", "dropped:", "rejected:"))
    }
    if counters:
        report["node_counters"] = counters
    return report
