"""``occrobnet bag-eval``: replay bags through OccRobNet and report the metrics and timing.

    occrobnet bag-eval BAG [BAG ...] -o report_dir [--batch-size 8]       # offline
    occrobnet bag-eval BAG -o report_dir --live [--rate 1.0] [--node-running]

Offline, the estimator runs on every image in batches, deterministically (full frame, no
tracking), as fast as the machine allows. ``--live`` plays the bags in real time (or
``--rate``) with /clock into the occrobnet_pose node (started here unless ``--node-running``)
and adds end-to-end latency and the drop rate.

The report directory gets report.json, report.md, PCK plots (PNG) and the predictions as bags
(``predictions/<bag>``, occrobnet_ros/HandObjectPose on ``--output-topic``). Without a
ground-truth topic the report has throughput (and, live, latency) only. A bag without the
requested topics ends the command with exit code 2 and a message listing the bag's topics.
"""

import argparse
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from occrobnet_ros.bag import report as reports
from occrobnet_ros.bag.convert import CAMERA_INFO_TOPIC, GROUND_TRUTH_TOPIC, IMAGE_TOPIC
from occrobnet_ros.bag.io import BagError, BagReader, BagWriter
from occrobnet_ros.bag.replay import (
    Timing,
    Topics,
    bag_frames,
    predict_frames,
    read_side_topics,
    resolve_topics,
)
from occrobnet_ros.prediction import Prediction
from occrobnet_ros.ros.messages import msg_to_prediction, prediction_to_msg

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
OUTPUT_TOPIC = "/hand_object_pose"
SEQUENCE_BY = ("bag", "gap")


class NodeError(RuntimeError):
    """--live could not use the node (exit code 1)."""


@dataclass
class Result:
    """One evaluated frame."""

    sequence: str
    stamp_ns: int
    prediction: Prediction | None  # None: the node dropped the frame (live)
    truth: Prediction | None  # None: no ground truth for this stamp


# --- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bags", type=Path, nargs="+", metavar="BAG", help="rosbag2 bags")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("bag_eval_report"),
        help="report directory (default %(default)s)",
    )
    topics = parser.add_argument_group("topics")
    topics.add_argument(
        "--image-topic",
        default=IMAGE_TOPIC,
        help="Image or CompressedImage (default %(default)s, or its /compressed)",
    )
    topics.add_argument("--camera-info-topic", default=CAMERA_INFO_TOPIC)
    topics.add_argument(
        "--intrinsics",
        type=float,
        nargs=4,
        metavar=("FX", "FY", "CX", "CY"),
        help="pixels; for bags without CameraInfo (a bag's CameraInfo wins)",
    )
    topics.add_argument(
        "--gt-topic",
        default=None,
        help=f"HandObjectPose ground truth (default {GROUND_TRUTH_TOPIC} if the "
        "bag has it, else no ground truth)",
    )
    topics.add_argument("--output-topic", default=OUTPUT_TOPIC, help="predictions topic")
    model = parser.add_argument_group("model")
    model.add_argument("--checkpoint", help="a .safetensors checkpoint (default: embedded)")
    model.add_argument("--device", choices=("auto", "cuda", "cpu"), help="default auto")
    model.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="default fp32")
    model.add_argument("--hand-threshold", type=float, help="hand presence (default 0.5)")
    model.add_argument("--object-threshold", type=float, help="object presence (default 0.5)")
    model.add_argument("--batch-size", type=int, default=8, help="offline batch size")
    parser.add_argument(
        "--sequence-by",
        choices=SEQUENCE_BY,
        default="bag",
        help="one sequence per bag, or a new one after a stamp gap",
    )
    parser.add_argument(
        "--sequence-gap",
        type=float,
        default=1.0,
        help="seconds between stamps that start a new sequence (gap)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    live = parser.add_argument_group("live replay")
    live.add_argument("--live", action="store_true", help="play into the occrobnet_pose node")
    live.add_argument("--rate", type=float, default=1.0, help="playback speed (1 = real time)")
    live.add_argument(
        "--node-running",
        action="store_true",
        help="use the node already running instead of starting one",
    )
    live.add_argument("--node-name", default="occrobnet_pose")
    live.add_argument("--params-file", type=Path, help="node parameters (config/pose.yaml)")
    live.add_argument(
        "--node-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra --ros-args argument for the started node (repeatable)",
    )
    live.add_argument("--startup-timeout", type=float, default=120.0)
    live.add_argument(
        "--drain",
        type=float,
        default=2.0,
        help="seconds without outputs after the last frame before stopping",
    )


def run(args: argparse.Namespace) -> int:
    try:
        _check_arguments(args)
        bags = [(path, _topics(path, args)) for path in args.bags]
        _prepare_output(args.output)
        report, curves = (evaluate_live if args.live else evaluate_offline)(bags, args)
        reports.write_report(args.output, report, curves)
    except BagError as error:
        print(f"occrobnet bag-eval: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NodeError as error:
        print(f"occrobnet bag-eval: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"report: {args.output / 'report.md'}")
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise BagError("--batch-size must be >= 1")
    if args.rate <= 0:
        raise BagError("--rate must be > 0")
    if args.sequence_gap <= 0:
        raise BagError("--sequence-gap must be > 0")
    if args.intrinsics is not None and min(args.intrinsics[:2]) <= 0:
        raise BagError("--intrinsics: FX and FY must be > 0")


def _topics(path: Path, args: argparse.Namespace) -> Topics:
    with BagReader(path) as bag:
        return resolve_topics(
            bag,
            args.image_topic,
            args.camera_info_topic,
            args.gt_topic,
            GROUND_TRUTH_TOPIC,
            info_optional=args.intrinsics is not None,
        )


def _prepare_output(directory: Path) -> None:
    """A new report directory, or one that holds only an earlier report (replaced)."""
    if directory.exists() and not directory.is_dir():
        raise BagError(f"{directory} is a file: -o needs a directory")
    if directory.exists():
        foreign = [p.name for p in directory.iterdir() if not _ours(p)]
        if foreign:
            raise BagError(
                f"{directory} holds other files ({', '.join(sorted(foreign)[:5])}): "
                "choose another -o"
            )
        shutil.rmtree(directory / "predictions", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def _ours(path: Path) -> bool:
    """Whether bag-eval writes this file of a report directory."""
    return path.name in ("report.json", "report.md", "node.log", "predictions") or (
        path.suffix == ".png"
    )


# --- offline


def evaluate_offline(bags: list[tuple[Path, Topics]], args) -> tuple[dict, dict]:
    """Every frame of every bag through the estimator, in batches."""
    from occrobnet_ros.inference.estimator import Estimator, EstimatorError

    try:
        estimator = Estimator(
            args.checkpoint,
            device=args.device or "auto",
            precision=args.precision or "fp32",
            roi_tracking=False,
        )
        if args.hand_threshold is not None:
            estimator.hand_threshold = args.hand_threshold
        if args.object_threshold is not None:
            estimator.object_threshold = args.object_threshold
    except (EstimatorError, OSError, ValueError) as error:
        raise BagError(f"cannot load the model: {error}") from None
    started = time.perf_counter()
    timing, results, rejected = Timing(), [], Counter()
    for path, topics in bags:
        results += _evaluate_bag(estimator, path, topics, args, timing, rejected)
    wall = time.perf_counter() - started
    report = _report("offline", bags, args, _model(estimator), results, dict(rejected))
    report["throughput"] = {
        "frames": timing.frames,
        "batch_size": args.batch_size,
        "estimator_frames_per_s": timing.frames / timing.estimator_s if timing.frames else None,
        "end_to_end_frames_per_s": timing.frames / wall if timing.frames else None,
        "estimator_ms_per_batch": reports.percentiles_ms(timing.inference_s),
        "estimator_ms_per_frame_by_stage": timing.stage_ms_per_frame() if timing.frames else {},
    }
    return report, _curves(results)


def _evaluate_bag(estimator, path, topics, args, timing, rejected: Counter) -> list[Result]:
    """One bag offline: its predictions written to a bag, and its Results."""
    results = []
    with BagReader(path) as bag, BagWriter(_predictions_path(args, path)) as out:
        side = read_side_topics(bag, topics, _fallback_K(args))
        predicted = predict_frames(
            estimator, bag_frames(bag, topics, side), args.batch_size, timing
        )
        progress = tqdm(
            predicted,
            total=bag.counts[topics.image],
            desc=path.name,
            unit="frame",
            disable=args.no_progress,
        )
        for frame, prediction in progress:
            msg = prediction_to_msg(
                prediction, frame.header, estimator.model_name, estimator.model_version
            )
            out.write(args.output_topic, msg, frame.time_ns)
            truth = side.ground_truth.get(frame.stamp_ns)
            results.append(Result(path.name, frame.stamp_ns, prediction, truth))
    rejected.update(side.rejected)
    _name_sequences(results, args)
    return results


def _fallback_K(args) -> np.ndarray | None:
    if args.intrinsics is None:
        return None
    fx, fy, cx, cy = args.intrinsics
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _predictions_path(args, bag: Path) -> Path:
    return args.output / "predictions" / bag.name.removesuffix(".mcap").removesuffix(".db3")


def _model(estimator) -> dict[str, str]:
    return {
        "name": estimator.model_name,
        "version": estimator.model_version,
        "device": str(estimator.device),
    }


# --- live


def evaluate_live(bags: list[tuple[Path, Topics]], args) -> tuple[dict, dict]:
    """Play the bags into the node; the outputs are the predictions."""
    from occrobnet_ros.bag import live

    command = None
    if not args.node_running:
        command = live.node_command(
            bags[0][1], args.output_topic, _node_parameters(args), args.params_file, args.node_arg
        )
    options = live.LiveOptions(
        output_topic=args.output_topic,
        rate=args.rate,
        node_name=args.node_name,
        startup_timeout=args.startup_timeout,
        drain=args.drain,
        node_command=command,
        node_log=args.output / "node.log",
        progress=not args.no_progress,
    )
    try:
        result = live.replay_live(bags, options)
    except live.NodeError as error:
        raise NodeError(f"{error}{_log_tail(options.node_log)}") from None
    results = []
    for path, topics in bags:
        records = [r for r in result.frames if r.bag == path.name]
        results += _live_bag_results(path, topics, records, args)
    model = next((r.output for r in result.frames if r.output is not None), None)
    model_info = {
        "name": model.model_name if model else "",
        "version": model.model_version if model else "",
        "device": result.node_diagnostics.get("device", "node"),
    }
    report = _report("live", bags, args, model_info, results, {})
    report["live"] = {"rate": args.rate, **live.summary(result)}
    if command:
        report["live"]["node_log"] = options.node_log.name
    return report, _curves(results)


def _live_bag_results(path: Path, topics: Topics, records: list, args) -> list[Result]:
    """One bag's recorded outputs: written to a bag, and matched with its ground truth."""
    with BagReader(path) as bag:
        truths = read_side_topics(bag, topics).ground_truth
    with BagWriter(_predictions_path(args, path)) as out:
        for record in records:
            if record.output is not None:
                out.write(args.output_topic, record.output, record.time_ns)
    results = [
        Result(
            path.name,
            record.stamp_ns,
            None if record.output is None else msg_to_prediction(record.output),
            truths.get(record.stamp_ns),
        )
        for record in records
    ]
    _name_sequences(results, args)
    return results


def _log_tail(log: Path, lines: int = 5) -> str:
    """The end of the started node's output, to show with an error."""
    if not log.is_file():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\nlast lines of {log}:\n" + "\n".join(tail)


def _node_parameters(args) -> dict[str, str]:
    """The model options given on the command line, as node parameters (the others keep the
    node's defaults or the --params-file values)."""
    given = {
        "checkpoint": args.checkpoint,
        "device": args.device,
        "precision": args.precision,
        "hand_threshold": args.hand_threshold,
        "object_threshold": args.object_threshold,
        "fallback_intrinsics": args.intrinsics,
    }
    return {name: str(value) for name, value in given.items() if value is not None}


# --- the report


def _name_sequences(results: list[Result], args) -> None:
    """Sequence names: the bag's, numbered after each stamp gap with ``--sequence-by gap``."""
    if args.sequence_by == "bag":
        return
    index, previous = 0, None
    for result in results:
        gap = None if previous is None else (result.stamp_ns - previous) * 1e-9
        if gap is not None and (gap < 0 or gap > args.sequence_gap):
            index += 1
        previous = result.stamp_ns
        result.sequence = f"{result.sequence}#{index}"


def _scored(results: list[Result]) -> list[Result]:
    """Frames that have a prediction and ground truth."""
    return [r for r in results if r.prediction is not None and r.truth is not None]


def _report(mode, bags, args, model, results, rejected) -> dict[str, Any]:
    scored = _scored(results)
    report: dict[str, Any] = {
        "mode": mode,
        "bags": [str(path) for path, _ in bags],
        "topics": {
            "image": bags[0][1].image,
            "camera_info": bags[0][1].camera_info,
            "ground_truth": bags[0][1].ground_truth,
            "predictions": args.output_topic,
        },
        "model": model,
        "frames": len(results),
        "frames_with_ground_truth": sum(r.truth is not None for r in results),
        "frames_scored": len(scored),
        "rejected": rejected,
        "metrics": None,
        "sequences": {},
        "predictions": sorted(
            str(p.relative_to(args.output)) for p in (args.output / "predictions").iterdir()
        ),
    }
    if scored:
        report["metrics"] = _metrics(scored)
        for name in dict.fromkeys(r.sequence for r in scored):
            report["sequences"][name] = _metrics([r for r in scored if r.sequence == name])
    return report


def _metrics(results: list[Result]) -> dict[str, Any]:
    return reports.pose_metrics([r.prediction for r in results], [r.truth for r in results])


def _curves(results: list[Result]) -> dict:
    scored = _scored(results)
    if not scored:
        return {}
    return reports.pck_curves([r.prediction for r in scored], [r.truth for r in scored])
