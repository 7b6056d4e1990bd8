"""``occrobnet bench --model``: runs from the command line and counts FLOPs correctly."""

from pathlib import Path

import torch
import yaml

from occrobnet_ros import cli
from occrobnet_ros.tools.bench import count_flops


def test_bench_model_prints_latency_parameters_and_flops(tmp_path, capsys):
    fields = yaml.safe_load(Path("config/model/occrobnet_tiny.yaml").read_text())
    fields.update(name="bench_probe", input_size=64, heatmap_size=8, enc_layers=1, dec_layers=1)
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(fields))
    argv = ["bench", "--model", "--configs", str(path), "--runs", "2", "--warmup", "0"]
    assert cli.main(argv + ["--devices", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("bench_probe:") and "GFLOPs at 64x64" in line for line in lines)
    timing = [line.split() for line in lines if line.startswith("bench_probe ")]
    assert len(timing) == 1 and timing[0][1:3] == ["cpu", "fp32"]
    assert float(timing[0][3]) > 0  # the median, in ms
    assert cli.main(["bench"]) == 2  # nothing asked for


def test_flop_count_of_a_linear_layer_is_two_per_multiply_add():
    layer = torch.nn.Linear(30, 20)
    assert count_flops(layer, torch.rand(4, 30)) == 2 * 4 * 30 * 20
