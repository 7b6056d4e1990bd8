"""``occrobnet fuzz``: hostile camera messages through the node's input path and a live node.

In-process (:func:`fuzz_input_path`), each :class:`~.hostile_messages.HostileFrame` goes
through exactly what the node's worker runs before the estimator (``node._to_rgb``, then
``node._Intrinsics``, K cache included) and ends in one of:

- *processed*: an RGB uint8 ``[H, W, 3]`` image and a K the estimator accepts (finite,
  fx, fy > 0);
- *rejected*: ``ImageConversionError`` or ``CameraInfoError`` whose reason is one of the
  documented codes (the node counts it under ``rejected: <reason>``);
- a *failure*: any other exception (in the node, a worker crash reported as an estimator
  error) or a processed frame that breaks the promise above.

Live (:func:`fuzz_live_node`), the same messages are published to a running node process;
afterwards the node must still be alive and answering, and its counters must add up
(:mod:`.accounting`).

    occrobnet fuzz --examples 10000 --live 1000 --output fuzz.json
"""

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from builtin_interfaces.msg import Time
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from sensor_msgs.msg import CameraInfo

from occrobnet_ros.ros import camera_info, image_conversion
from occrobnet_ros.ros.camera_info import CameraInfoError
from occrobnet_ros.ros.child_node import running
from occrobnet_ros.ros.image_conversion import (
    ImageConversionError,
    rgb_to_compressed_msg,
    rgb_to_image_msg,
)
from occrobnet_ros.ros.node import _Intrinsics, _to_rgb
from occrobnet_ros.ros.parameters import SPECS, Settings
from occrobnet_ros.tools.reliability.hostile_messages import HostileFrame, frames
from occrobnet_ros.tools.reliability.node_process import add_node_options

FAILURES_KEPT = 20  # failures described in a report (all are counted)
GOOD_SIZE = (16, 12)  # width, height of the well-formed frames that bracket a live fuzz
GOOD_K = [100.0, 0.0, 7.5, 0.0, 100.0, 5.5, 0.0, 0.0, 1.0]


@dataclass
class FuzzReport:
    """What happened to every fuzzed message."""

    messages: int = 0
    processed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # by reason
    failure_count: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accounted(self) -> bool:
        """Every message processed or rejected with a known reason, and nothing else."""
        rejected = sum(self.rejected.values())
        return self.failure_count == 0 and self.processed + rejected == self.messages

    def fail(self, text: str) -> None:
        self.failure_count += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(text)


def node_settings(**values) -> Settings:
    """The node's default parameters, with ``values`` changed."""
    defaults = Settings(**{name: spec.default for name, spec in SPECS.items()}).replace({})
    return defaults.replace(values)


def run_input_path(frame: HostileFrame, settings: Settings, intrinsics: _Intrinsics) -> str:
    """'processed' or 'rejected: <reason>' for one frame; raises on a failure."""
    if not frame.image.header.frame_id:
        return "rejected: image_no_frame_id"  # as the node does
    try:
        rgb = _to_rgb(frame.image)
        K, _ = intrinsics(frame.info, rgb.shape[1], rgb.shape[0], settings)
    except ImageConversionError as error:
        if error.reason not in image_conversion.REASONS:
            raise AssertionError(f"undocumented image reason {error.reason!r}") from error
        return f"rejected: image_{error.reason}"
    except CameraInfoError as error:
        if error.reason not in camera_info.REASONS:
            raise AssertionError(f"undocumented camera_info reason {error.reason!r}") from error
        return f"rejected: camera_info_{error.reason}"
    _check_estimator_input(rgb, K)
    return "processed"


def _check_estimator_input(rgb, K) -> None:
    """What the estimator needs: a real RGB image and a finite pinhole K."""
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3):
        raise AssertionError(f"accepted a non-image {type(rgb).__name__}")
    if rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise AssertionError(f"accepted an image of shape {rgb.shape}")
    K = np.asarray(K)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise AssertionError(f"accepted intrinsics the estimator refuses: {K.tolist()}")


def fuzz_input_path(examples: int, seed: int = 0) -> FuzzReport:
    """``examples`` hostile frames through the node's input path (see the module docstring).

    The fallback intrinsics are set, so frames without a CameraInfo are processed with them.
    """
    settings = node_settings(fallback_intrinsics=[100.0, 100.0, 7.5, 5.5])
    intrinsics = _Intrinsics()
    report = FuzzReport()

    @hypothesis_seed(seed)
    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: every failure is recorded, none stops the run
        suppress_health_check=list(HealthCheck),
    )
    @given(frames())
    def one(frame: HostileFrame) -> None:
        report.messages += 1
        try:
            outcome = run_input_path(frame, settings, intrinsics)
        except Exception as error:  # noqa: BLE001 - a failure is what we look for
            report.fail(f"{type(error).__name__}: {error} <- {frame.describe()}")
            return
        if outcome == "processed":
            report.processed += 1
        else:
            reason = outcome.removeprefix("rejected: ")
            report.rejected[reason] = report.rejected.get(reason, 0) + 1

    started = time.monotonic()
    one()
    report.seconds = time.monotonic() - started
    return report


# --- live ----------------------------------------------------------------------------------


@dataclass
class LiveFuzzReport:
    """A live fuzz: what was sent, what the node counted, and whether it survived."""

    kind: str
    hostile: int = 0  # fuzzed frames published
    good: int = 0  # well-formed frames published before and after them
    counters: dict = field(default_factory=dict)
    unaccounted: int = 0
    lost_in_transport: int = 0  # published but never received by the node (best effort)
    alive: bool = False
    answered_after: bool = False  # a good frame after the fuzz got its HandObjectPose
    seconds: float = 0.0


def good_frame(camera, stamp: Time | None = None):
    """A well-formed 16x12 rgb8 frame and its CameraInfo, stamped ``stamp`` (default now)."""
    rgb = np.random.default_rng(0).integers(0, 256, (*GOOD_SIZE[::-1], 3), dtype=np.uint8)
    image = rgb_to_image_msg(rgb)
    info = CameraInfo(width=GOOD_SIZE[0], height=GOOD_SIZE[1], distortion_model="plumb_bob")
    info.k = GOOD_K
    image.header.stamp = info.header.stamp = stamp or camera.now()
    image.header.frame_id = info.header.frame_id = "camera_optical_frame"
    return image, info


def publish_until_answered(camera, timeout: float = 60.0, compressed: bool = False) -> int:
    """Good frames every 100 ms until one is answered; returns how many were sent."""
    sent: set[int] = set()
    deadline = time.monotonic() + timeout
    while not any(stamp in sent for stamp, _ in camera.answers):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer to {len(sent)} well-formed frames in {timeout} s")
        image, info = good_frame(camera)
        if compressed:
            rgb = np.frombuffer(bytes(image.data), np.uint8).reshape(*GOOD_SIZE[::-1], 3)
            header, image = image.header, rgb_to_compressed_msg(rgb, fmt="png")
            image.header = header
        camera.publish(image, info)
        sent.add(image.header.stamp.sec * 1_000_000_000 + image.header.stamp.nanosec)
        camera.spin_for(0.1)
    return len(sent)


def _stamped(frame: HostileFrame, now: Time) -> None:
    stamp = frame.stamp or now
    frame.image.header.stamp = stamp
    if frame.info is not None:
        ns = stamp.sec * 1_000_000_000 + stamp.nanosec + frame.info_offset_ns
        sec, nanosec = divmod(ns, 1_000_000_000)
        in_range = -(2**31) <= sec < 2**31
        frame.info.header.stamp = Time(sec=sec, nanosec=nanosec) if in_range else stamp


def fuzz_live_node(
    camera, process, messages: int, kind: str = "raw", seed: int = 0, period: float = 0.005
) -> LiveFuzzReport:
    """Publish ``messages`` hostile frames of ``kind`` (raw or compressed) to a running node,
    one every ``period`` s, then well-formed frames until one is answered; read the counters
    once the node is idle."""
    report = LiveFuzzReport(kind=kind)
    started = time.monotonic()
    compressed = kind == "compressed"
    camera.wait_until_subscribed(compressed=compressed)
    report.good += publish_until_answered(camera, compressed=compressed)

    @hypothesis_seed(seed)
    @hypothesis_settings(
        max_examples=messages,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(frames(kinds=(kind,)))
    def one(frame: HostileFrame) -> None:
        _stamped(frame, camera.now())
        camera.publish(frame.image, frame.info)
        report.hostile += 1
        camera.spin_for(period)

    one()
    try:
        report.good += publish_until_answered(camera, compressed=compressed)
        report.answered_after = True
    except TimeoutError:
        pass
    counters = camera.settled_counters()
    report.counters = asdict(counters)
    report.unaccounted = counters.unaccounted
    report.lost_in_transport = report.hostile + report.good - counters.received
    report.alive = process.poll() is None
    report.seconds = time.monotonic() - started
    return report


# --- command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--examples", type=int, default=10_000, help="frames through the input path in-process"
    )
    parser.add_argument(
        "--live", type=int, default=1000, help="frames to a live node, per kind (0: none)"
    )
    parser.add_argument(
        "--kinds", nargs="+", default=["raw", "compressed"], choices=["raw", "compressed"]
    )
    add_node_options(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    result: dict = {}
    ok = True
    if args.examples > 0:
        report = fuzz_input_path(args.examples, args.seed)
        result["input_path"] = {**asdict(report), "accounted": report.accounted}
        print(
            f"input path: {report.messages} messages in {report.seconds:.1f} s: "
            f"{report.processed} processed, {sum(report.rejected.values())} rejected, "
            f"{report.failure_count} failures"
        )
        for failure in report.failures:
            print(f"  FAILURE {failure}")
        ok = report.accounted
    if args.live > 0:
        live = [_live(args, kind) for kind in args.kinds]
        result["live"] = [asdict(r) for r in live]
        ok = ok and all(r.alive and r.answered_after and r.unaccounted == 0 for r in live)
    text = json.dumps(result, indent=2, default=str)
    if args.output:
        args.output.write_text(text + "\n")
    return 0 if ok else 1


def _live(args: argparse.Namespace, kind: str) -> LiveFuzzReport:
    import rclpy

    from occrobnet_ros.tools.reliability.node_process import (
        Camera,
        node_command,
        random_checkpoint,
        ros_environment,
    )

    env = ros_environment(100 + os.getpid() % 100 if args.domain_id is None else args.domain_id)
    with tempfile.TemporaryDirectory(prefix="occrobnet_fuzz_") as directory:
        parameters = {"diagnostics_period": 0.5, "use_compressed": kind == "compressed"}
        if args.estimator == "real":
            checkpoint = args.checkpoint or random_checkpoint(
                Path(directory) / "random.safetensors"
            )
            parameters.update(checkpoint=checkpoint, device="cpu", max_frame_age=10.0)
        command = node_command(parameters, fake=args.estimator == "fake")
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=int(env.get("ROS_DOMAIN_ID", 0)))
        log = Path(directory) / "node.log"
        try:
            with running(command, env, log) as process:
                camera = Camera(context=context)
                try:
                    report = fuzz_live_node(camera, process, args.live, kind, args.seed)
                finally:
                    camera.destroy()
        finally:
            rclpy.shutdown(context=context)
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    print(
        f"live node ({kind}, {args.estimator} estimator): {report.hostile} hostile + "
        f"{report.good} good frames in {report.seconds:.1f} s; {report.counters.get('received')} "
        f"received, unaccounted {report.unaccounted}, lost in transport "
        f"{report.lost_in_transport}, alive {report.alive}, answered after {report.answered_after}"
    )
    if not report.alive:
        print(tail)
    return report
