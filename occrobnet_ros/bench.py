"""``occrobnet bench``: latency measurements that need only torch, numpy, safetensors, pyyaml.

``occrobnet bench --model`` times the forward pass of each model config (randomly initialised
weights: the architecture, not the checkpoint, sets the cost) at batch 1 and prints the
median, minimum and 90th percentile per device and precision: CPU fp32 with ``--threads`` torch
threads, and CUDA fp32 and bf16 when a GPU is present. On the CPU it also prints the median
process CPU time per pass divided by the thread count: close to the wall time on an idle
machine, and less sensitive than it to waiting for cores other jobs hold. It also counts each
config's parameters and forward FLOPs (``torch.utils.flop_counter``; convolutions and matrix
products, a multiply-add counted as 2 FLOPs).
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

CONFIG_NAMES = ("occrobnet_r50", "occrobnet_tiny")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="store_true", help="time the model forward pass")
    parser.add_argument(
        "--configs",
        nargs="+",
        type=Path,
        default=None,
        help="model config YAML files (default: the shipped r50 and tiny configs)",
    )
    parser.add_argument("--size", type=int, default=None, help="input size (default: config's)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=20, help="timed forward passes")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes first")
    parser.add_argument(
        "--devices",
        nargs="+",
        default=["cpu", "cuda"],
        choices=["cpu", "cuda"],
        help="devices to try; cuda is skipped when unavailable",
    )


def run(args: argparse.Namespace) -> int:
    if not args.model:
        print("nothing to benchmark: pass --model")
        return 2
    from occrobnet_ros.model import OccRobNetConfig, build_model

    torch.set_num_threads(args.threads)
    paths = args.configs or [default_config_path(name) for name in CONFIG_NAMES]
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
                f"{p90:8.1f} "
                f"{1000 * args.batch / median:6.1f} {cpu_text:>20}"
            )
    return 0


def default_config_path(name: str) -> Path:
    """A shipped model config: installed share/ directory first, then the source tree."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("occrobnet_ros")) / "config")
    except Exception:  # not installed with colcon, or no ament_index: use the source tree
        pass
    candidates.append(Path(__file__).resolve().parents[1] / "config")
    for directory in candidates:
        path = directory / "model" / f"{name}.yaml"
        if path.is_file():
            return path
    raise FileNotFoundError(f"model config {name}.yaml not found under {candidates}")


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
