"""`occrobnet demo`: the whole product on synthetic data, as it runs on a robot.

1. Renders synthetic camera frames with exact ground truth (data/synthetic/, the held-out
   benchmark seeds).
2. Starts the occrobnet_pose node as its own process, with the embedded checkpoint.
3. Streams the frames at 30 Hz on `image` + `camera_info` (rgb8, sensor-data QoS), as a camera
   driver would, and listens to `hand_object_pose`.
4. Prints a line per second (frames sent and received, dropped, latency), then an accuracy
   summary against the ground truth, and writes annotated frames to demo_output/.
"""

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import rclpy

from occrobnet_ros.ros import child_node

DEMO_NAMESPACE = "/occrobnet_demo"
FRAME_ID = "camera_color_optical_frame"
# Annotated images: ground truth green, the estimate red (right hand) and blue (left); RGB 0-1.
TRUTH_COLOR, RIGHT_COLOR, LEFT_COLOR = (0.0, 0.8, 0.0), (0.9, 0.16, 0.16), (0.16, 0.31, 0.9)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of streaming")
    parser.add_argument("--rate", type=float, default=30.0, help="camera frame rate (Hz)")
    parser.add_argument("--frames", type=int, default=120, help="distinct frames (looped)")
    parser.add_argument("--checkpoint", default="", help="model file; empty = embedded")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--output", type=Path, default=Path("demo_output"))
    parser.add_argument("--images", type=int, default=24, help="annotated frames to write")
    parser.add_argument(
        "--hand-detector",
        default="none",
        choices=("none", "palm_full", "palm_lite"),
        help="the node's hand_detector (default none: the demo's procedural hands are not "
        "hands MediaPipe's palm detector knows; a real camera keeps the node's palm_full)",
    )


@dataclass
class Received:
    """What came back from the node, keyed by the stamp of the frame it answers."""

    messages: dict[int, object] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    from occrobnet_ros.data.synthetic import benchmark_seeds, generate_sample
    from occrobnet_ros.msg import HandObjectPose
    from occrobnet_ros.ros.camera_info import camera_info_msg
    from occrobnet_ros.ros.image_conversion import rgb_to_image_msg

    print(f"[demo] rendering {args.frames} synthetic frames ...", flush=True)
    samples = [generate_sample(int(seed)) for seed in benchmark_seeds()[: args.frames]]
    images = [rgb_to_image_msg(sample.image) for sample in samples]
    height, width = samples[0].image.shape[:2]
    info = camera_info_msg(samples[0].K, width, height, Header(frame_id=FRAME_ID))

    with child_node.running(_node_command(args)) as node_process:
        rclpy.init()
        camera = rclpy.create_node("occrobnet_demo_camera", namespace=DEMO_NAMESPACE)
        image_pub = camera.create_publisher(Image, "image", qos_profile_sensor_data)
        info_pub = camera.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        received = Received()
        sent_index: dict[int, int] = {}

        def on_pose(msg) -> None:
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            received.messages[stamp] = msg
            received.latencies.append(time.time() - stamp * 1e-9)

        camera.create_subscription(HandObjectPose, "hand_object_pose", on_pose, 10)
        try:
            if not _wait_for_node(
                camera, received, image_pub, info_pub, images[0], info, node_process
            ):
                return 1
            received.messages.clear()
            received.latencies.clear()
            _stream(args, camera, image_pub, info_pub, images, info, received, sent_index)
            # Let the last frames come back.
            _spin_for(camera, 1.0)
        finally:
            camera.destroy_node()
            rclpy.try_shutdown()
    _summarise(received, sent_index, samples)
    _write_images(args, received, sent_index, samples)
    return 0


def _node_command(args) -> list[str]:
    parameters = {"device": args.device, "hand_detector": args.hand_detector}
    if args.hand_detector == "none":
        print(
            "[demo] hand_detector none: the palm detector misses many of the procedural "
            "hands (capsule fingers), so the demo runs without it; on a real camera the "
            "node's default, palm_full, applies",
            flush=True,
        )
    if args.checkpoint:  # rcl cannot parse an empty override; empty means the default anyway
        parameters["checkpoint"] = args.checkpoint
    command = child_node.node_command(
        parameters, namespace=DEMO_NAMESPACE, extra=["--log-level", "warn"]
    )
    print("[demo] starting the node: " + " ".join(command[1:]), flush=True)
    return command


def _publish(camera, image_pub, info_pub, image, info) -> int:
    stamp = camera.get_clock().now().to_msg()
    image.header.stamp = stamp
    image.header.frame_id = FRAME_ID
    info.header.stamp = stamp
    info_pub.publish(info)
    image_pub.publish(image)
    return stamp.sec * 10**9 + stamp.nanosec


def _spin_for(node, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=max(0.0, min(0.01, end - time.monotonic())))


def _wait_for_node(camera, received, image_pub, info_pub, image, info, process) -> bool:
    """Send a frame every half second until the node answers (model loaded and active)."""
    print("[demo] waiting for the node to load the model ...", flush=True)
    deadline = time.monotonic() + 90.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"[demo] the node exited with code {process.returncode}", flush=True)
            return False
        _publish(camera, image_pub, info_pub, image, info)
        _spin_for(camera, 0.5)
        if received.messages:
            print("[demo] node is up", flush=True)
            return True
    print("[demo] the node did not answer within 90 s", flush=True)
    return False


def _stream(args, camera, image_pub, info_pub, images, info, received, sent_index) -> None:
    print(f"[demo] streaming {args.duration:.0f} s at {args.rate:.0f} Hz", flush=True)
    period = 1.0 / args.rate
    start = time.monotonic()
    next_frame, next_report, count = start, start + 1.0, 0
    while True:
        now = time.monotonic()
        if now - start >= args.duration:
            break
        if now >= next_frame:
            index = count % len(images)
            stamp = _publish(camera, image_pub, info_pub, images[index], info)
            sent_index[stamp] = index
            count += 1
            next_frame += period
        if now >= next_report:
            _report_line(now - start, count, received)
            next_report += 1.0
        timeout = max(0.0, min(next_frame, next_report) - time.monotonic())
        rclpy.spin_once(camera, timeout_sec=timeout)


def _report_line(elapsed, sent, received) -> None:
    out = len(received.messages)
    recent = received.latencies[-30:]
    latency = f"{1000 * float(np.median(recent)):6.1f} ms" if recent else "     - ms"
    print(
        f"[demo] t={elapsed:4.0f} s  frames in {sent:5d}  out {out:5d}  "
        f"dropped {sent - out:5d}  latency {latency}",
        flush=True,
    )


def _pose_arrays(msg):
    """(joints [42,3] m, detected [2]) in the two-hand tensor order (right, left)."""
    from occrobnet_ros.ros.messages import msg_to_prediction

    hands = msg_to_prediction(msg).hands
    return np.concatenate([hand.joints for hand in hands]), np.array([h.detected for h in hands])


def _summarise(received, sent_index, samples) -> None:
    from occrobnet_ros import metrics

    matched = [
        (msg, samples[sent_index[s]]) for s, msg in received.messages.items() if s in sent_index
    ]
    sent = len(sent_index)
    print(f"[demo] frames sent {sent}, answered {len(matched)}, dropped {sent - len(matched)}")
    if received.latencies:
        lat = 1000 * np.asarray(received.latencies)
        print(
            f"[demo] latency median {np.median(lat):.1f} ms, p95 {np.percentile(lat, 95):.1f} ms"
        )
    if not matched:
        print("[demo] no answers to score")
        return
    pred = np.stack([_pose_arrays(m)[0] for m, _ in matched])
    detected = np.stack([_pose_arrays(m)[1] for m, _ in matched])
    gt = np.stack([s.joints_3d for _, s in matched])
    present = np.stack([s.hand_valid for _, s in matched])
    recall = (detected & present).sum() / max(present.sum(), 1)
    false_alarms = (detected & ~present).sum() / max((~present).sum(), 1)
    valid = np.repeat(detected & present, 21, axis=1) & np.isfinite(gt).all(axis=2)
    visible = np.stack([s.joint_visible for _, s in matched])
    if not valid.any():
        print("[demo] no hand was detected where one is present: no pose error to report")
        return
    scores = metrics.hand_pose_errors(pred, np.nan_to_num(gt), valid=valid, visible=visible)
    print(
        f"[demo] hands detected: {100 * recall:.0f} % of present, {100 * false_alarms:.0f} % "
        "false alarms on absent"
    )
    print(
        "[demo] root-relative MPJPE {mpjpe_mm:.1f} mm (right {mpjpe_right_mm:.1f}, left "
        "{mpjpe_left_mm:.1f}; visible {mpjpe_visible_mm:.1f}, occluded {mpjpe_occluded_mm:.1f}), "
        "MRRPE {mrrpe_mm:.1f} mm".format(**scores)
    )
    roots = valid[:, [0, 21]]
    root_error = np.linalg.norm(pred[:, [0, 21]] - np.nan_to_num(gt[:, [0, 21]]), axis=2)
    if roots.any():
        print(f"[demo] absolute wrist position error {1000 * root_error[roots].mean():.1f} mm")
    objects = [(m.object, s) for m, s in matched if s.object_valid and m.object.detected]
    with_object = sum(s.object_valid for _, s in matched)
    if with_object:
        errors = [
            np.linalg.norm(
                np.array([o.pose.position.x, o.pose.position.y, o.pose.position.z])
                - s.object_translation
            )
            for o, s in objects
        ]
        mean_error = f"{100 * np.mean(errors):.1f} cm" if errors else "-"
        print(
            f"[demo] object detected in {100 * len(objects) / with_object:.0f} % of frames with "
            f"one, translation error {mean_error}"
        )


def _write_images(args, received, sent_index, samples) -> None:
    args.output.mkdir(parents=True, exist_ok=True)
    stamps = [s for s in sorted(received.messages) if s in sent_index]
    step = max(1, len(stamps) // max(args.images, 1))
    written = 0
    for stamp in stamps[::step][: args.images]:
        sample = samples[sent_index[stamp]]
        canvas = _annotate(sample, received.messages[stamp])
        path = args.output / f"frame_{written:03d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        written += 1
    print(
        f"[demo] wrote {written} annotated frames to {args.output}/ "
        "(green: ground truth, red/blue: estimated right/left hand)"
    )


def _annotate(sample, msg) -> np.ndarray:
    """The frame with the true hands in green and the answered ones in red (right) and blue
    (left)."""
    from occrobnet_ros.drawing import draw_skeleton
    from occrobnet_ros.ros.messages import msg_to_prediction

    canvas = sample.image.copy()
    for hand in range(2):
        if sample.hand_valid[hand]:
            draw_skeleton(canvas, sample.joints_2d[21 * hand : 21 * hand + 21], TRUTH_COLOR, 2)
    estimate = msg_to_prediction(msg)
    for hand, colour in ((estimate.right_hand, RIGHT_COLOR), (estimate.left_hand, LEFT_COLOR)):
        if hand.detected:
            draw_skeleton(canvas, hand.keypoints_2d, colour, 2)
    return canvas
