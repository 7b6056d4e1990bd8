"""``occrobnet bench``: where a frame's time goes, from the camera message to the published pose.

Three modes (DESIGN.md: teleoperation needs latency, evaluation needs throughput):

``occrobnet bench --pipeline [--json PATH]``
    The estimator as the node and bag evaluation use it, on a 640x480 RGB frame, for each model
    config (default: occrobnet_tiny_cpu, occrobnet_tiny, occrobnet_r50; randomly initialised
    weights unless ``--checkpoint``: the architecture sets the cost) on the CPU, and on CUDA in
    fp32 and bf16 when a GPU is present. Batch 1 (the node's path) prints the median and p95
    of every stage: receive (deserialising the Image, the executor thread's share), image
    conversion, preprocessing (crop warp + upload), model, decoding, message + TF build,
    publish; then end-to-end latency (conversion to publish) and throughput. Batched
    (``predict_batch``, bag evaluation) prints the per-batch stages and frames/s. The ROS
    stages run only where rclpy and the generated messages import; the model stages run
    anywhere. Every part is reported as detected (thresholds 0): the most decoding and
    message work a frame can cost.
``occrobnet bench --node-rate 60``
    Latency through the real node (its own process) fed by a camera publishing at that rate:
    with the node's one-slot buffer, a frame's latency stays within one frame period plus one
    model time however fast frames come; prints and records whether it did.
``occrobnet bench --model``
    The forward pass alone per config at batch 1: median, minimum and 90th percentile per device
    and precision (CPU fp32 with ``--threads`` torch threads, CUDA fp32 and bf16 when present),
    the median process CPU time per pass divided by the thread count (close to the wall time on
    an idle machine, less sensitive to cores other jobs hold), parameters, and forward FLOPs
    (``torch.utils.flop_counter``; a multiply-add counted as 2 FLOPs).

``python -m occrobnet_ros.tools.bench --gpu-suite --json out.json`` is the GPU part as one short
run (a few minutes) needing only torch + CUDA, numpy, safetensors, PyYAML and this source tree:
r50 and tiny in fp32 and bf16, batch 1 and batched, both crop warps, and torch.compile (CUDA
graphs). Figures are a benchmark's, never a test's: the test suite asserts no timing.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
import yaml

from occrobnet_ros.model.config import OccRobNetConfig
from occrobnet_ros.resources import model_config_path
from occrobnet_ros.tools.timing import summary

CONFIG_NAMES = ("occrobnet_r50", "occrobnet_tiny")  # --model
PIPELINE_CONFIGS = ("occrobnet_tiny_cpu", "occrobnet_tiny", "occrobnet_r50")
GPU_SUITE_CONFIGS = ("occrobnet_r50", "occrobnet_tiny")
GPU_SUITE_BATCHES = (64, 256)
STAGES = ("receive", "conversion", "preprocess", "model", "decode", "messages", "publish")
ROS_OVERHEAD_STAGES = ("conversion", "messages", "publish")  # on the worker, per frame
MODEL_STAGES = ("preprocess", "model", "decode")
# A reduced config for --tiny (the test suite's smoke run): same code, seconds on a CPU.
TINY_OVERRIDES = dict(
    name="bench_tiny",
    input_size=64,
    heatmap_size=8,
    enc_layers=1,
    dec_layers=1,
    num_keypoint_tokens=12,
    num_object_tokens=4,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    modes = parser.add_argument_group("modes")
    modes.add_argument("--model", action="store_true", help="time the model forward pass")
    modes.add_argument("--pipeline", action="store_true", help="per-stage frame latency")
    modes.add_argument("--gpu-suite", action="store_true", help="the CUDA figures, one run")
    modes.add_argument("--node-rate", type=float, default=0.0, help="Hz: latency via the node")
    parser.add_argument(
        "--configs",
        nargs="+",
        type=Path,
        default=None,
        help="model config YAML files (default: the shipped configs of the mode)",
    )
    parser.add_argument("--checkpoint", type=Path, help="weights to use (default: random)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--size", type=int, default=None, help="input size (default: config's)")
    parser.add_argument("--batch", type=int, default=1, help="--model batch size")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=20, help="--model timed forward passes")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes first")
    parser.add_argument(
        "--devices",
        nargs="+",
        default=["cpu", "cuda"],
        choices=["cpu", "cuda"],
        help="devices to try; cuda is skipped when unavailable",
    )
    parser.add_argument("--frames", type=int, default=40, help="timed batch-1 frames per case")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8], help="batched runs")
    parser.add_argument("--iterations", type=int, default=4, help="timed batches per size")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], help="CUDA only")
    parser.add_argument(
        "--warps",
        nargs="+",
        default=["auto"],
        choices=["auto", "cv2", "torch"],
        help="crop warps to compare (auto: cv2 on the CPU, torch on CUDA)",
    )
    parser.add_argument("--compile", action="store_true", help="also time compile_model=True")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--node-duration", type=float, default=15.0, help="s of streaming")
    parser.add_argument(
        "--node-threads", type=int, default=0, help="OMP_NUM_THREADS for the node (0: default)"
    )
    parser.add_argument("--tiny", action="store_true", help="a reduced model, few frames")
    parser.add_argument(
        "--hand-detector",
        default="none",
        choices=("none", "palm_full", "palm_lite"),
        help="the estimator's palm detector (the node's default is palm_full; none: the "
        "figures of docs/performance.md). With a detector the presence thresholds are the "
        "node's 0.5, not 0, or an unconfirmed hand would run the detector on every frame",
    )
    parser.add_argument(
        "--image",
        type=Path,
        metavar="FILE",
        help="stream this photo (its own size) instead of a random --width x --height frame; "
        "with --hand-detector, a hand photo shows the tracked steady state",
    )


def run(args: argparse.Namespace) -> int:
    global _SCIPY_STATE
    _SCIPY_STATE = _allow_missing_scipy()
    if args.model:
        return run_model(args)
    if args.gpu_suite:
        return run_gpu_suite(args)
    if args.pipeline:
        return run_pipeline(args)
    if args.node_rate > 0:
        from occrobnet_ros.tools import bench_ros

        report = {"machine": machine(), "node_rate": bench_ros.node_rate(args)}
        write_json(args.json, report)
        return 0 if report["node_rate"].get("within_bound") else 1
    print("nothing to benchmark: pass --pipeline, --model, --node-rate HZ or --gpu-suite")
    return 2


# --- the pipeline ------------------------------------------------------------------------------


def run_pipeline(args: argparse.Namespace, devices: list[str] | None = None) -> int:
    """Every (config, device, precision, warp) case at batch 1 and batched; JSON after each."""
    torch.set_num_threads(args.threads)
    if args.tiny:
        args.frames, args.warmup, args.iterations = min(args.frames, 3), 1, 1
        args.batch_sizes = [2]
    ros = _ros_stages(args)
    report = {"machine": machine(), "settings": _settings(args), "cases": []}
    print(_machine_line(report["machine"]))
    if ros is None:
        print("rclpy or the generated messages not importable: model stages only")
    with tempfile.TemporaryDirectory() as scratch:
        if args.tiny:
            args.configs = [_tiny_config_path(Path(scratch))]
        try:
            for case in _cases(args, devices or args.devices):
                print(f"\n{_case_title(case)}", flush=True)
                try:
                    result = bench_case(case, args, Path(scratch), ros)
                except Exception as error:  # noqa: BLE001 - record it, measure the rest
                    result = {**_case_dict(case), "error": f"{type(error).__name__}: {error}"}
                    print(f"  failed: {result['error']}")
                report["cases"].append(result)
                report["machine"]["load_average_end"] = _load_average()
                write_json(args.json, report)
        finally:
            if ros is not None:
                ros.close()
    return 0 if all("error" not in case for case in report["cases"]) else 1


def run_gpu_suite(args: argparse.Namespace) -> int:
    """The CUDA figures of the issue in one run on a torch-only machine."""
    if not torch.cuda.is_available():
        print("--gpu-suite needs CUDA: torch.cuda.is_available() is False")
        write_json(args.json, {"machine": machine(), "error": "CUDA not available"})
        return 3
    args.configs = args.configs or [model_config_path(name) for name in GPU_SUITE_CONFIGS]
    args.precisions = ["fp32", "bf16"]
    args.batch_sizes = list(GPU_SUITE_BATCHES)
    args.frames = max(args.frames, 100)
    args.iterations = max(args.iterations, 10)
    args.warps = ["torch", "cv2"] if _has_cv2() else ["torch"]
    args.compile = True
    args.threads = max(args.threads, min(8, os.cpu_count() or 1))
    return run_pipeline(args, devices=["cuda"])


def bench_case(case: dict, args: argparse.Namespace, scratch: Path, ros) -> dict:
    """One estimator configuration: batch-1 stream then each batch size."""
    from occrobnet_ros.inference.estimator import Estimator

    checkpoint = args.checkpoint or _random_checkpoint(case["config"], scratch)
    detector = args.hand_detector
    # No detector: everything detected, the most decoding and message work.
    threshold = 0.0 if detector == "none" else 0.5
    estimator = Estimator(
        checkpoint,
        device=case["device"],
        precision=case["precision"],
        hand_threshold=threshold,
        object_threshold=threshold,
        warp=case["warp"],
        compile_model=case["compile"],
        hand_detector=detector,
    )
    estimator.sync_timings = True
    frame = _bench_frame(args)
    height, width = frame.shape[:2]
    K = np.array([[615.0, 0, (width - 1) / 2], [0, 615.0, (height - 1) / 2], [0, 0, 1]])
    result = {
        **_case_dict(case),
        "model_name": estimator.model_name,
        "input_size": estimator.input_size,
        "device_name": device_name(estimator.device),
        "warp_used": estimator.warp,
        "load_average_start": _load_average(),
    }
    result["batch_1"] = stream(estimator, frame, K, args.frames, args.warmup, ros)
    _print_stream(result["batch_1"])
    result["batched"] = []
    if not case["compile"]:  # compiled: only the node's fixed batch-1 shape
        for size in args.batch_sizes:
            batched = batch_run(estimator, frame, K, size, args.iterations, args.warmup)
            result["batched"].append(batched)
            _print_batched(batched)
    result["load_average_end"] = _load_average()
    estimator.close()
    return result


def _bench_frame(args: argparse.Namespace) -> np.ndarray:
    """--image as RGB, else a random --width x --height frame."""
    if args.image:
        from occrobnet_ros.tools.predict import read_rgb

        return read_rgb(args.image)
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)


def stream(estimator, frame: np.ndarray, K: np.ndarray, frames: int, warmup: int, ros) -> dict:
    """The node's worker path, frame after frame: convert, predict, build messages, publish."""
    if ros is not None:
        ros.set_frame(frame)
    times = {stage: [] for stage in STAGES}
    end_to_end = []
    started = None
    for index in range(warmup + frames):
        if index == warmup:
            started = time.perf_counter()
        t0 = time.perf_counter()
        rgb = ros.convert() if ros is not None else frame
        t1 = time.perf_counter()
        prediction = estimator.predict(rgb, K)
        t2 = time.perf_counter()
        if ros is not None:
            built = ros.build(prediction)
            t3 = time.perf_counter()
            ros.publish(built)
            t4 = time.perf_counter()
        if index < warmup:
            continue
        end_to_end.append(1e3 * ((t4 if ros is not None else t2) - t0))
        for stage in MODEL_STAGES:
            times[stage].append(1e3 * prediction.timings[stage])
        if ros is not None:
            times["conversion"].append(1e3 * (t1 - t0))
            times["messages"].append(1e3 * (t3 - t2))
            times["publish"].append(1e3 * (t4 - t3))
    elapsed = time.perf_counter() - started
    if ros is not None:
        times["receive"] = ros.time_receive(frames)
    stages = {stage: summary(values) for stage, values in times.items() if values}
    result = {
        "frames": frames,
        "stages_ms": stages,
        "end_to_end_ms": summary(end_to_end),
        "throughput_fps": round(frames / elapsed, 2),
    }
    if ros is not None:
        overhead = [sum(times[s][i] for s in ROS_OVERHEAD_STAGES) for i in range(frames)]
        result["ros_overhead_ms"] = summary(overhead)
        result["ros_overhead_share"] = round(
            statistics.median(overhead) / statistics.median(end_to_end), 4
        )
    return result


def batch_run(estimator, frame, K, size: int, iterations: int, warmup: int) -> dict:
    """Bag evaluation's path: predict_batch over ``size`` independent frames."""
    frames, Ks = [frame.copy() for _ in range(size)], [K] * size
    times = {stage: [] for stage in (*MODEL_STAGES, "total")}
    started = None
    for index in range(warmup + iterations):
        if index == warmup:
            started = time.perf_counter()
        t0 = time.perf_counter()
        predictions = estimator.predict_batch(frames, Ks)
        total = time.perf_counter() - t0
        if index >= warmup:
            for stage in MODEL_STAGES:
                times[stage].append(1e3 * predictions[0].timings[stage])
            times["total"].append(1e3 * total)
    elapsed = time.perf_counter() - started
    return {
        "batch": size,
        "iterations": iterations,
        "stages_ms": {stage: summary(values) for stage, values in times.items()},
        "per_frame_ms": round(statistics.median(times["total"]) / size, 3),
        "throughput_fps": round(size * iterations / elapsed, 1),
    }


# --- cases, configs, checkpoints ------------------------------------------------------------


def _cases(args: argparse.Namespace, devices: list[str]) -> list[dict]:
    paths = args.configs or [model_config_path(name) for name in PIPELINE_CONFIGS]
    cases, compiled = [], []
    for path in paths:
        for device in devices:
            if device == "cuda" and not torch.cuda.is_available():
                continue
            precisions = args.precisions if device == "cuda" else ["fp32"]
            for precision in precisions:
                for warp in args.warps:
                    cases.append(_case(path, device, precision, warp, False))
        if args.compile and (not args.gpu_suite or path == paths[0]):  # one compile: r50
            device = "cuda" if "cuda" in devices and torch.cuda.is_available() else "cpu"
            precision = "bf16" if device == "cuda" else "fp32"
            compiled.append(_case(path, device, precision, "auto", True))
    return cases + compiled  # compiling takes minutes: every eager figure comes first


def _case(path, device: str, precision: str, warp: str, compiled: bool) -> dict:
    return dict(config=Path(path), device=device, precision=precision, warp=warp, compile=compiled)


def _case_dict(case: dict) -> dict:
    return {
        "config": Path(case["config"]).stem,
        "device": case["device"],
        "precision": case["precision"],
        "warp": case["warp"],
        "compile": case["compile"],
    }


def _case_title(case: dict) -> str:
    text = f"{Path(case['config']).stem}  {case['device']} {case['precision']} warp {case['warp']}"
    return text + ("  torch.compile" if case["compile"] else "")


def _random_checkpoint(config_path: Path, scratch: Path) -> Path:
    """A seeded random OccRobNet of that config, saved as the estimator loads checkpoints."""
    from occrobnet_ros.model.checkpoint import save_random_model

    config = OccRobNetConfig.from_yaml(config_path)
    path = scratch / f"{config.name}_{config.input_size}.safetensors"
    return path if path.exists() else save_random_model(config, path)


def _tiny_config_path(scratch: Path) -> Path:
    """occrobnet_tiny_cpu with TINY_OVERRIDES, written as a model config."""
    fields = OccRobNetConfig.from_yaml(model_config_path("occrobnet_tiny_cpu")).to_dict()
    fields.update(TINY_OVERRIDES)
    path = scratch / "bench_tiny.yaml"
    path.write_text(yaml.safe_dump(fields))
    return path


# --- the ROS side (only where rclpy imports) --------------------------------------------------


def _ros_stages(args: argparse.Namespace):
    """bench_ros.RosStages, or None where rclpy or the generated messages are missing."""
    try:
        from occrobnet_ros.tools import bench_ros
    except ImportError:
        return None
    try:
        return bench_ros.RosStages(args.width, args.height)
    except Exception as error:  # noqa: BLE001 - a broken ROS setup must not stop the model figures
        print(f"ROS stages unavailable: {type(error).__name__}: {error}")
        return None


# --- reporting --------------------------------------------------------------------------------


def machine() -> dict:
    info = {
        "host": platform.node(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "opencv": _has_cv2(),
        "scipy": _SCIPY_STATE,
        "load_average_start": _load_average(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return info


def _machine_line(info: dict) -> str:
    return (
        f"{info['cpu']} ({info['cpu_count']} cores), torch {info['torch']}, "
        f"{torch.get_num_threads()} threads, CUDA: {info['cuda'] or 'none'}, "
        f"load average {info['load_average_start']}"
    )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _settings(args: argparse.Namespace) -> dict:
    detector = args.hand_detector
    image = args.image
    return {
        "frame": f"{image} rgb8" if image else f"{args.width}x{args.height} rgb8 (random)",
        "frames": args.frames,
        "warmup": args.warmup,
        "batch_sizes": args.batch_sizes,
        "iterations": args.iterations,
        "threads": args.threads,
        "checkpoint": str(args.checkpoint) if args.checkpoint else "random (seeded)",
        "hand_detector": detector,
        "thresholds": "0 (every part decoded and published)"
        if detector == "none"
        else "0.5 (the node's; the palm detector decides the hands)",
    }


def _print_stream(result: dict) -> None:
    print(f"  batch 1 (node path), {result['frames']} frames:  median ms   p95 ms")
    for stage, values in result["stages_ms"].items():
        note = "  (executor thread)" if stage == "receive" else ""
        print(f"    {stage:<12} {values['median']:9.2f} {values['p95']:9.2f}{note}")
    e2e = result["end_to_end_ms"]
    print(
        f"    {'end to end':<12} {e2e['median']:9.2f} {e2e['p95']:9.2f}"
        f"   -> {result['throughput_fps']:.1f} frames/s"
    )
    if "ros_overhead_ms" in result:
        overhead = result["ros_overhead_ms"]
        print(
            f"    {'ROS overhead':<12} {overhead['median']:9.2f} {overhead['p95']:9.2f}"
            f"   ({100 * result['ros_overhead_share']:.1f} % of end to end)"
        )


def _print_batched(result: dict) -> None:
    stages = result["stages_ms"]
    parts = "  ".join(f"{s} {stages[s]['median']:.1f}" for s in MODEL_STAGES)
    print(
        f"  batch {result['batch']:>3} (bag evaluation): {parts} ms per batch -> "
        f"{result['per_frame_ms']:.2f} ms/frame, {result['throughput_fps']:.1f} frames/s"
    )


def write_json(path: Path | None, report: dict) -> None:
    if path is not None:
        Path(path).write_text(json.dumps(report, indent=2, default=str) + "\n")


# --- the model forward pass (--model) ------------------------------------------------------


def run_model(args: argparse.Namespace) -> int:
    from occrobnet_ros.model import build_model

    torch.set_num_threads(args.threads)
    paths = args.configs or [model_config_path(name) for name in CONFIG_NAMES]
    print(f"torch {torch.__version__}, {args.threads} CPU threads, batch {args.batch}")
    header = (
        f"{'config':<16} {'device':<22} {'dtype':<5} {'median ms':>9} {'min ms':>8} {'p90 ms':>8}"
    )
    print(f"{header} {'fps':>6} {'cpu-time/threads ms':>20}")
    for path in paths:
        config = OccRobNetConfig.from_yaml(path)
        size = args.size or config.input_size
        model = build_model(config).eval()
        params = sum(p.numel() for p in model.parameters())
        flops = count_flops(model, torch.rand(1, 3, size, size))
        print(
            f"{config.name}: {params / 1e6:.2f} M parameters, {flops / 1e9:.2f} GFLOPs "
            f"at {size}x{size}"
        )
        for device, dtype in targets(args.devices):
            times, cpu_times = time_forward(
                model, device, dtype, args.batch, size, args.warmup, args.runs
            )
            median = statistics.median(times)
            cpu = statistics.median(cpu_times) / args.threads if device.type == "cpu" else None
            p90 = sorted(times)[int(0.9 * (len(times) - 1))]
            name = device_name(device)
            label = "bf16" if dtype == torch.bfloat16 else "fp32"
            cpu_text = "-" if cpu is None else f"{cpu:.1f}"
            print(
                f"{config.name:<16} {name:<22} {label:<5} {median:9.1f} {min(times):8.1f} "
                f"{p90:8.1f} {1000 * args.batch / median:6.1f} {cpu_text:>20}"
            )
    return 0


def targets(devices: list[str]) -> list[tuple[torch.device, torch.dtype]]:
    """(device, dtype) pairs to time: CPU fp32; CUDA fp32 and bf16 when available."""
    pairs = []
    if "cpu" in devices:
        pairs.append((torch.device("cpu"), torch.float32))
    if "cuda" in devices and torch.cuda.is_available():
        pairs += [(torch.device("cuda"), torch.float32), (torch.device("cuda"), torch.bfloat16)]
    return pairs


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def count_flops(model: torch.nn.Module, images: torch.Tensor) -> int:
    """Forward FLOPs of one pass (FlopCounterMode counts a multiply-add as 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:  # (under no_grad its module tracker fails on torch 2.13)
        model(images)
    return counter.get_total_flops()


def time_forward(
    model: torch.nn.Module,
    device: torch.device,
    dtype: torch.dtype,
    batch: int,
    size: int,
    warmup: int,
    runs: int,
) -> tuple[list[float], list[float]]:
    """Wall-clock and process-CPU milliseconds of ``runs`` passes (after ``warmup``)."""
    model = model.to(device)
    images = torch.rand(batch, 3, size, size, device=device)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
    times, cpu_times = [], []
    with torch.inference_mode(), autocast:
        for index in range(warmup + runs):
            start, cpu_start = time.perf_counter(), time.process_time()
            model(images)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if index >= warmup:
                times.append(1000 * (time.perf_counter() - start))
                cpu_times.append(1000 * (time.process_time() - cpu_start))
    model.to("cpu")
    return times, cpu_times


# --- optional dependencies ------------------------------------------------------------------


def _has_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def _allow_missing_scipy() -> str:
    """geometry.py imports scipy's Rotation at module level, but decoding never calls it.
    Where scipy is absent (GPU hosts with only torch), stand in a Rotation that raises if
    used, so the estimator imports; the smoothing path (which does use it) is not benched."""
    try:
        import scipy.spatial.transform  # noqa: F401
    except ImportError:
        pass
    else:
        return "installed"

    class _Unavailable:
        def __getattr__(self, name: str):
            raise ImportError("scipy is not installed (stub from occrobnet_ros.tools.bench)")

    for name in ("scipy", "scipy.spatial", "scipy.spatial.transform"):
        if sys.modules.get(name) is None:
            sys.modules[name] = types.ModuleType(name)
    sys.modules["scipy.spatial.transform"].Rotation = _Unavailable()
    return "absent (a stub that raises if used; decoding does not use scipy)"


_SCIPY_STATE = "not checked"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m occrobnet_ros.tools.bench", description=__doc__
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
