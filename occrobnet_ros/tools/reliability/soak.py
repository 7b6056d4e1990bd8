"""``occrobnet soak``: a camera stream at a fixed rate against a node process, for minutes.

One well-formed frame (and its CameraInfo) every ``1 / rate`` s, for ``duration`` s, to a node
process started here; then the report:

- *memory*: the node process's RSS (VmRSS in /proc/PID/status) every ``sample_period`` s, and
  its growth after warm-up: the median of the last samples over the median of the first ones
  after ``warmup`` s (each a tenth of the samples after warm-up, at least three);
- *latency*: image stamp to HandObjectPose arrival here (one machine, one clock), p50, p95,
  p99 and max over every answer; and the node's own percentiles from its last /diagnostics;
- *accounting*: sent = received by the node + lost in transport (best effort), and
  received = published + dropped + rejected + errors, read once the node is idle.

    occrobnet soak --rate 60 --duration 600 --estimator fake --output soak.json
"""

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sensor_msgs.msg import CameraInfo

from occrobnet_ros.ros.child_node import running
from occrobnet_ros.ros.image_conversion import rgb_to_image_msg
from occrobnet_ros.tools.reliability.node_process import Camera, add_node_options, rss_kib


@dataclass
class SoakReport:
    """The figures of one soak run (see the module docstring)."""

    rate: float
    duration: float
    estimator: str = ""
    image_size: tuple[int, int] = (0, 0)
    sent: int = 0
    late_ticks: int = 0  # frames skipped because this process fell behind the rate
    counters: dict = field(default_factory=dict)
    unaccounted: int = 0
    lost_in_transport: int = 0
    answered: int = 0  # HandObjectPose messages received here
    latency_ms: dict = field(default_factory=dict)
    node_latency_ms: dict = field(default_factory=dict)
    rss_kib: list[tuple[float, int]] = field(default_factory=list)  # (seconds, KiB)
    warmup: float = 0.0
    rss_baseline_kib: float = 0.0
    rss_final_kib: float = 0.0
    rss_growth: float = 0.0  # final / baseline - 1
    rss_slope_kib_per_min: float = 0.0  # least-squares slope after warm-up
    alive: bool = False


def camera_frame(width: int, height: int, seed: int = 0):
    """One rgb8 Image and a matching CameraInfo (fx = fy = width), to be re-stamped."""
    rng = np.random.default_rng(seed)
    image = rgb_to_image_msg(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.k = [float(width), 0.0, (width - 1) / 2, 0.0, float(width), (height - 1) / 2, 0, 0, 1.0]
    image.header.frame_id = info.header.frame_id = "camera_optical_frame"
    return image, info


def stream(
    camera: Camera,
    pid: int,
    rate: float,
    duration: float,
    size: tuple[int, int] = (320, 240),
    sample_period: float = 5.0,
    report: SoakReport | None = None,
) -> SoakReport:
    """Publish at ``rate`` Hz for ``duration`` s and sample the RSS of process ``pid``."""
    report = report or SoakReport(rate=rate, duration=duration)
    report.image_size = size
    image, info = camera_frame(*size)
    period = 1.0 / rate
    start = time.monotonic()
    next_frame = next_sample = start
    while (now := time.monotonic()) < start + duration:
        if now >= next_frame:
            image.header.stamp = info.header.stamp = camera.now()
            camera.publish(image, info)
            report.sent += 1
            next_frame += period
            if next_frame < now:  # fell behind (a busy machine): skip, never burst
                skipped = int((now - next_frame) / period) + 1
                report.late_ticks += skipped
                next_frame += skipped * period
        if now >= next_sample:
            report.rss_kib.append((round(now - start, 3), rss_kib(pid)))
            next_sample += sample_period
        camera.spin_once(max(0.0, min(next_frame, next_sample) - time.monotonic()))
    return report


def summarise(
    report: SoakReport, camera: Camera, warmup: float, received_before: int = 0
) -> SoakReport:
    """Fill in latency, RSS growth and the accounting, once the node is idle
    (``received_before``: what the node had received before the stream)."""
    counters = camera.settled_counters()
    report.counters = asdict(counters)
    report.unaccounted = counters.unaccounted
    report.lost_in_transport = report.sent - (counters.received - received_before)
    report.answered = len(camera.answers)
    latencies = np.array([arrival - stamp for stamp, arrival in camera.answers]) * 1e-6
    if latencies.size:
        report.latency_ms = {
            f"p{q}": round(float(np.percentile(latencies, q)), 2) for q in (50, 95, 99)
        }
        report.latency_ms["max"] = round(float(latencies.max()), 2)
    last = camera.statuses[-1] if camera.statuses else {}
    report.node_latency_ms = {
        key: last[key] for key in ("latency p50 (ms)", "latency p95 (ms)") if key in last
    }
    report.warmup = warmup
    _rss_growth(report, warmup)
    return report


def _rss_growth(report: SoakReport, warmup: float) -> None:
    samples = [(t, kib) for t, kib in report.rss_kib if t >= warmup]
    if len(samples) < 2:
        return
    window = max(3, len(samples) // 10)
    report.rss_baseline_kib = float(np.median([kib for _, kib in samples[:window]]))
    report.rss_final_kib = float(np.median([kib for _, kib in samples[-window:]]))
    report.rss_growth = report.rss_final_kib / report.rss_baseline_kib - 1.0
    t, kib = np.array(samples, dtype=float).T
    report.rss_slope_kib_per_min = float(np.polyfit(t / 60.0, kib, 1)[0])


def soak(
    command: list[str],
    rate: float,
    duration: float,
    *,
    log: Path,
    env: dict | None = None,
    size: tuple[int, int] = (320, 240),
    warmup: float | None = None,
    sample_period: float = 5.0,
    estimator: str = "",
    context=None,
) -> SoakReport:
    """Start the node ``command``, wait for it to answer, stream, and report.

    rclpy must be initialised (``context``, or the default one)."""
    from occrobnet_ros.tools.reliability.fuzz import publish_until_answered

    warmup = min(60.0, duration / 5) if warmup is None else warmup
    report = SoakReport(rate=rate, duration=duration, estimator=estimator)
    with running(command, env, log) as process:
        camera = Camera(context=context)
        try:
            camera.wait_until_subscribed()
            publish_until_answered(camera)  # the model is loaded: start the clock now
            camera.answers.clear()
            primed = camera.settled_counters()
            stream(camera, process.pid, rate, duration, size, sample_period, report)
            summarise(report, camera, warmup, received_before=primed.received)
            report.alive = process.poll() is None
        finally:
            camera.destroy()
    return report


# --- command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=60.0, help="frames per second")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of streaming")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument(
        "--warmup", type=float, default=None, help="s before the RSS baseline (default: 60)"
    )
    parser.add_argument("--sample-period", type=float, default=5.0, help="s between RSS samples")
    add_node_options(parser)
    parser.add_argument("--output", type=Path, help="write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    import rclpy

    from occrobnet_ros.tools.reliability.node_process import (
        node_command,
        random_checkpoint,
        ros_environment,
    )

    env = ros_environment(100 + os.getpid() % 100 if args.domain_id is None else args.domain_id)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    try:
        with tempfile.TemporaryDirectory(prefix="occrobnet_soak_") as directory:
            parameters: dict = {}
            if args.estimator == "real":
                checkpoint = args.checkpoint or random_checkpoint(
                    Path(directory) / "random.safetensors"
                )
                parameters.update(checkpoint=checkpoint, device="cpu")
            report = soak(
                node_command(parameters, fake=args.estimator == "fake"),
                args.rate,
                args.duration,
                log=Path(directory) / "node.log",
                env=env,
                size=(args.width, args.height),
                warmup=args.warmup,
                sample_period=args.sample_period,
                estimator=args.estimator,
                context=context,
            )
    finally:
        rclpy.shutdown(context=context)
    print(describe(report))
    if args.output:
        args.output.write_text(json.dumps(asdict(report), indent=2) + "\n")
    ok = report.alive and report.unaccounted == 0 and report.rss_growth <= 0.05
    return 0 if ok else 1


def describe(report: SoakReport) -> str:
    """The report in a few lines."""
    c = report.counters
    return "\n".join(
        [
            f"soak: {report.rate:g} Hz for {report.duration:g} s, {report.image_size[0]}x"
            f"{report.image_size[1]} rgb8, {report.estimator or '?'} estimator; node alive: "
            f"{report.alive}",
            f"frames: sent {report.sent} ({report.late_ticks} ticks late), lost in transport "
            f"{report.lost_in_transport}; received {c.get('received')} = published "
            f"{c.get('published')} + dropped {c.get('dropped')} {c.get('drops')} + rejected "
            f"{c.get('rejected')} + errors {c.get('errors')}; unaccounted {report.unaccounted}",
            f"latency (stamp -> pose here, ms): {report.latency_ms}; node: "
            f"{report.node_latency_ms}",
            f"RSS: {report.rss_baseline_kib / 1024:.1f} MiB after {report.warmup:g} s warm-up -> "
            f"{report.rss_final_kib / 1024:.1f} MiB at the end ({100 * report.rss_growth:+.2f} %, "
            f"{report.rss_slope_kib_per_min:+.1f} KiB/min)",
        ]
    )
