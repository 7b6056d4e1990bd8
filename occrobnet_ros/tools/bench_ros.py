"""The ROS half of ``occrobnet bench``: the node's per-frame message work, and its latency live.

:class:`RosStages` does what the node's worker does around the estimator, with the node's own
helpers (image_conversion, messages, tf): view the Image as RGB, fill the HandObjectPose and
the transforms, publish them to a matched subscriber. It also times deserialising an Image,
the share of a frame the executor thread pays before the worker sees it.

:func:`node_rate` starts the real node (its own process) and publishes 640x480 frames at a
fixed rate, faster than the model manages, to show that the one-slot buffer keeps the latency
within one frame period plus one model time instead of letting a queue grow.

Everything runs in its own DDS domain (ROS_DOMAIN_ID when set, else one derived from the
process id), so a benchmark never talks to a robot's nodes. Imports rclpy: use it only where
rclpy and the generated messages exist (bench.py checks).
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from occrobnet_ros.msg import HandObjectPose
from occrobnet_ros.resources import model_config_path
from occrobnet_ros.ros import child_node
from occrobnet_ros.ros.camera_info import camera_info_msg
from occrobnet_ros.ros.image_conversion import image_to_rgb, rgb_to_image_msg
from occrobnet_ros.ros.messages import HandObjectPoseWriter
from occrobnet_ros.ros.tf import TfSender, TransformsWriter
from occrobnet_ros.tools.timing import summary

NAMESPACE = "/occrobnet_bench"
FRAME_ID = "camera_color_optical_frame"
MATCH_TIMEOUT = 5.0  # s to wait for publishers and subscribers to discover each other
NODE_START_TIMEOUT = 120.0  # s for the node to load its model and answer a first frame
# Latency beyond one model time + one frame period that still counts as "within": DDS
# transport of the 0.9 MB image both ways, conversion and publishing (a few ms here).
LATENCY_ALLOWANCE_MS = 10.0


def domain_id() -> int:
    """ROS_DOMAIN_ID when set, else 1-100 derived from the pid (0 is real robots' default)."""
    return int(os.environ.get("ROS_DOMAIN_ID") or 1 + os.getpid() % 100)


class RosStages:
    """The worker's ROS steps for one frame, each callable on its own for timing."""

    def __init__(self, width: int, height: int) -> None:
        self._context = rclpy.Context()
        rclpy.init(context=self._context, domain_id=domain_id())
        self.node = rclpy.create_node(
            "occrobnet_bench", namespace=NAMESPACE, context=self._context
        )
        self._listener = rclpy.create_node(
            "occrobnet_bench_listener", namespace=NAMESPACE, context=self._context
        )
        self._pose = self.node.create_publisher(HandObjectPose, "hand_object_pose", 10)
        self._tf = TfSender(self.node)
        # Matched but never spun: publishing pays for a real reader, nothing is processed.
        self._listener.create_subscription(HandObjectPose, "hand_object_pose", _ignore, 10)
        from tf2_msgs.msg import TFMessage

        self._listener.create_subscription(TFMessage, "/tf", _ignore, 100)
        self._pose_writer = HandObjectPoseWriter()
        self._tf_writer = TransformsWriter()
        self._wait_for_match()
        self.set_frame(np.zeros((height, width, 3), dtype=np.uint8))

    def set_frame(self, rgb: np.ndarray) -> None:
        """The camera frame every call converts: an rgb8 Image as a driver publishes it."""
        self.image = rgb_to_image_msg(rgb)
        self.image.header.frame_id = FRAME_ID
        self.image.header.stamp = self.node.get_clock().now().to_msg()
        self._serialised = serialize_message(self.image)

    def convert(self) -> np.ndarray:
        return image_to_rgb(self.image)

    def build(self, prediction) -> tuple:
        header = self.image.header
        pose = self._pose_writer.write(prediction, header, "bench", "bench")
        return pose, self._tf_writer.write(prediction, header)

    def publish(self, built: tuple) -> None:
        pose, transforms = built
        self._pose.publish(pose)
        self._tf.send(transforms)

    def time_receive(self, count: int) -> list[float]:
        """Milliseconds to deserialise the frame's Image, ``count`` times (executor thread)."""
        times = []
        for _ in range(count):
            start = time.perf_counter()
            deserialize_message(self._serialised, Image)
            times.append(1e3 * (time.perf_counter() - start))
        return times

    def close(self) -> None:
        self._tf.destroy()
        self._listener.destroy_node()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)

    def _wait_for_match(self) -> None:
        deadline = time.monotonic() + MATCH_TIMEOUT
        while self._pose.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)


def _ignore(msg) -> None:
    pass


# --- latency through the node at a fixed input rate ------------------------------------------


def node_rate(args: argparse.Namespace) -> dict:
    """Stream frames at ``args.node_rate`` Hz through the node; latency per answered frame."""
    period = 1.0 / args.node_rate
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.checkpoint or _random_tiny_cpu(Path(scratch))
        with child_node.running(*_node(checkpoint, args)) as node:
            result = _stream_through(node, args.node_rate, args.node_duration, args)
    result.update(
        input_hz=args.node_rate,
        duration_s=args.node_duration,
        node_torch_threads=args.node_threads or "default (one per core)",
    )
    latency = result["latencies_ms"]
    inference = result.pop("inference_ms")
    if not latency:
        result.update(within_bound=False, error="the node answered no frame")
        print(f"node rate: {result['error']}")
        return result
    # Per answered frame: its latency minus its own model time and one frame period.
    excess = [lat - inf - 1e3 * period for lat, inf in zip(latency, inference)]
    third = max(1, len(latency) // 3)

    result.update(
        latency_ms=summary(latency),
        model_ms=summary(inference),
        bound_ms=round(statistics.median(inference) + 1e3 * period, 2),
        excess_over_bound_ms=summary(excess),
        allowance_ms=LATENCY_ALLOWANCE_MS,
        fraction_within=round(sum(e <= LATENCY_ALLOWANCE_MS for e in excess) / len(excess), 4),
        growth_ms=round(
            statistics.median(latency[-third:]) - statistics.median(latency[:third]), 2
        ),
    )
    result["within_bound"] = result["excess_over_bound_ms"]["p95"] <= LATENCY_ALLOWANCE_MS
    del result["latencies_ms"]
    _print_node_rate(result)
    return result


def _random_tiny_cpu(scratch: Path) -> Path:
    from occrobnet_ros.model.checkpoint import save_random_model
    from occrobnet_ros.model.config import OccRobNetConfig

    config = OccRobNetConfig.from_yaml(model_config_path("occrobnet_tiny_cpu"))
    return save_random_model(config, scratch / "occrobnet_tiny_cpu.safetensors")


def _node(checkpoint: Path, args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The benchmarked node's command and environment (this benchmark's DDS domain)."""
    device = "cuda" if "cuda" in args.devices and _cuda() else "cpu"
    parameters = {
        "checkpoint": checkpoint,
        "device": device,
        "hand_threshold": 0.0,
        "object_threshold": 0.0,
    }
    command = child_node.node_command(
        parameters, namespace=NAMESPACE, extra=["--log-level", "warn"]
    )
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id()))
    if args.node_threads:  # torch's intra-op threads in the node (its default: every core)
        env["OMP_NUM_THREADS"] = str(args.node_threads)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return command, env


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _stream_through(node_process, rate: float, duration: float, args) -> dict:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id())
    camera = rclpy.create_node("occrobnet_bench_camera", namespace=NAMESPACE, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(camera)
    try:
        return _Camera(camera, executor, args.width, args.height).run(node_process, rate, duration)
    finally:
        executor.shutdown()
        camera.destroy_node()
        rclpy.try_shutdown(context=context)


class _Camera:
    """Publishes one frame at a fixed rate with fresh stamps; records every answer."""

    def __init__(self, node, executor, width: int, height: int) -> None:
        self.node = node
        self.executor = executor
        rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        self.image = rgb_to_image_msg(rgb)
        self.image.header.frame_id = FRAME_ID
        fx, cx, cy = 615.0, (width - 1) / 2, (height - 1) / 2
        K = np.array([[fx, 0.0, cx], [0.0, fx, cy], [0.0, 0.0, 1.0]])
        self.info = camera_info_msg(K, width, height, Header(frame_id=FRAME_ID))
        self.image_pub = node.create_publisher(Image, "image", qos_profile_sensor_data)
        self.info_pub = node.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        node.create_subscription(HandObjectPose, "hand_object_pose", self._on_pose, 10)
        self.answers: list[tuple[float, float, float]] = []  # arrival, stamp, inference (s)

    def _on_pose(self, msg) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.answers.append((time.time(), stamp, float(msg.inference_time)))

    def publish(self) -> None:
        now = time.time_ns()
        for header in (self.image.header, self.info.header):
            header.stamp.sec, header.stamp.nanosec = divmod(now, 10**9)
        self.info_pub.publish(self.info)
        self.image_pub.publish(self.image)

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=max(0.0, min(0.01, end - time.monotonic())))

    def run(self, node_process, rate: float, duration: float) -> dict:
        deadline = time.monotonic() + NODE_START_TIMEOUT
        while not self.answers:  # the node loads its model: one frame every half second
            if node_process.poll() is not None or time.monotonic() > deadline:
                return {"sent": 0, "received": 0, "latencies_ms": [], "inference_ms": []}
            self.publish()
            self.spin_for(0.5)
        self.spin_for(1.0)
        self.answers.clear()
        sent, period = 0, 1.0 / rate
        start = next_frame = time.monotonic()
        while time.monotonic() - start < duration:
            if time.monotonic() >= next_frame:
                self.publish()
                sent += 1
                next_frame += period
            self.executor.spin_once(timeout_sec=max(0.0, next_frame - time.monotonic()))
        streamed = time.monotonic() - start
        self.spin_for(1.0)  # the last answers
        return {
            "sent": sent,
            "received": len(self.answers),
            "output_hz": round(len(self.answers) / streamed, 2),
            "latencies_ms": [1e3 * (arrival - stamp) for arrival, stamp, _ in self.answers],
            "inference_ms": [1e3 * inference for _, _, inference in self.answers],
        }


def _print_node_rate(result: dict) -> None:
    latency, excess = result["latency_ms"], result["excess_over_bound_ms"]
    print(
        f"node at {result['input_hz']:.0f} Hz input for {result['duration_s']:.0f} s "
        f"(torch threads: {result['node_torch_threads']}): "
        f"{result['sent']} sent, {result['received']} answered ({result['output_hz']} Hz)\n"
        f"  latency median {latency['median']:.1f} ms, p95 {latency['p95']:.1f}, "
        f"max {latency['max']:.1f}; model median {result['model_ms']['median']:.1f} ms\n"
        f"  bound (model + one frame period) {result['bound_ms']:.1f} ms; latency - own model "
        f"time - period: median {excess['median']:.1f} ms, p95 {excess['p95']:.1f} ms "
        f"(allowance {result['allowance_ms']:.0f} ms) -> within: {result['within_bound']}\n"
        f"  growth (last third - first third median): {result['growth_ms']:+.1f} ms"
    )
