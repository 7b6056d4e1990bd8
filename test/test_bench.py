"""``occrobnet bench --pipeline``: runs end to end in its tiny mode and writes the figures' JSON.

A benchmark, not a test of speed: nothing here asserts a timing, only that every stage is
measured, reported in the documented structure, and consistent with itself.
"""

import json
from pathlib import Path

import pytest

from occrobnet_ros import cli
from occrobnet_ros.resources import model_config_path
from occrobnet_ros.tools import bench, timing

STAGE_KEYS = {"median", "p95", "mean", "min", "max", "n"}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    assert cli.main(["bench", "--pipeline", "--tiny", "--json", str(path)]) == 0
    return json.loads(path.read_text())


def test_report_names_the_machine_and_its_load(report):
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and machine["torch"]
    assert len(machine["load_average_start"]) == 3 and len(machine["load_average_end"]) == 3
    assert machine["cuda"] is None or isinstance(machine["cuda"], str)
    assert report["settings"]["frame"] == "640x480 rgb8 (random)"
    assert report["settings"]["hand_detector"] == "none"


def test_batch_one_reports_every_stage_and_the_end_to_end_latency(report):
    (case,) = report["cases"]  # --tiny: one reduced config on the CPU
    assert case["config"] == "bench_tiny" and case["device"] == "cpu"
    assert case["warp_used"] in ("cv2", "torch") and case["input_size"] == 64
    stream = case["batch_1"]
    stages = stream["stages_ms"]
    expected = set(bench.MODEL_STAGES)
    if "ros_overhead_ms" in stream:  # rclpy importable: the worker's ROS stages too
        expected |= {"receive", *bench.ROS_OVERHEAD_STAGES}
    assert set(stages) == expected
    for values in [*stages.values(), stream["end_to_end_ms"]]:
        assert set(values) == STAGE_KEYS
        assert values["n"] == stream["frames"]
        assert 0 <= values["min"] <= values["median"] <= values["p95"] <= values["max"]
    # End to end spans every worker stage of the frame (receive is the executor's).
    worker_sum = sum(v["median"] for k, v in stages.items() if k != "receive")
    assert stream["end_to_end_ms"]["median"] >= 0.5 * worker_sum
    assert stream["throughput_fps"] > 0


def test_ros_overhead_is_the_sum_of_the_ros_stages(report):
    stream = report["cases"][0]["batch_1"]
    if "ros_overhead_ms" not in stream:
        pytest.skip("rclpy not importable here: model stages only")
    overhead, stages = stream["ros_overhead_ms"], stream["stages_ms"]
    parts = sum(stages[s]["min"] for s in bench.ROS_OVERHEAD_STAGES)
    assert overhead["min"] >= parts - 1e-3  # each frame's sum >= the sum of the minima
    assert 0 < stream["ros_overhead_share"] < 1


def test_batched_run_reports_per_batch_stages_and_throughput(report):
    (batched,) = report["cases"][0]["batched"]
    assert batched["batch"] == 2 and batched["iterations"] == 1
    assert set(batched["stages_ms"]) == {*bench.MODEL_STAGES, "total"}
    total = batched["stages_ms"]["total"]["median"]
    assert batched["per_frame_ms"] == pytest.approx(total / 2, abs=1e-3)
    assert batched["throughput_fps"] > 0


def test_a_photo_through_the_palm_detector(tmp_path):
    """The node's default detector on a real hand photo: the stages still add up."""
    path = tmp_path / "bench.json"
    photo = Path(__file__).parent / "data" / "real_photos" / "hands" / "handSrc.jpg"
    arguments = ["bench", "--pipeline", "--tiny", "--hand-detector", "palm_lite"]
    assert cli.main([*arguments, "--image", str(photo), "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["settings"]["hand_detector"] == "palm_lite"
    assert report["settings"]["frame"].startswith(str(photo))
    (case,) = report["cases"]
    assert case["batch_1"]["stages_ms"]["preprocess"]["n"] == case["batch_1"]["frames"]


def test_summary_uses_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    stats = timing.summary(values)
    assert stats["median"] == 50.5 and stats["p95"] == 95.0
    assert (stats["min"], stats["max"], stats["n"]) == (1.0, 100.0, 100)
    assert timing.summary([3.0])["p95"] == 3.0


def test_gpu_suite_without_cuda_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: False)
    path = tmp_path / "gpu.json"
    assert bench.main(["--gpu-suite", "--json", str(path)]) == 3
    assert json.loads(path.read_text())["error"] == "CUDA not available"


def test_no_mode_is_a_usage_error():
    assert cli.main(["bench"]) == 2


def test_source_tree_configs_exist():
    for name in bench.PIPELINE_CONFIGS:
        assert Path(model_config_path(name)).is_file()
