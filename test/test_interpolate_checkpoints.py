"""scripts/interpolate_checkpoints.py: the weight-space blend of a start and its fine-tune."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from occrobnet_ros.model.checkpoint import read_safetensors, save_random_model
from occrobnet_ros.model.config import OccRobNetConfig

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "interpolate_checkpoints.py"


def small_config(**overrides) -> OccRobNetConfig:
    fields = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml").to_dict()
    fields.update(input_size=64, heatmap_size=16, enc_layers=1, dec_layers=1, **overrides)
    return OccRobNetConfig.from_dict(fields)


def blend(tmp_path, start, finetuned, alpha) -> subprocess.CompletedProcess:
    out = tmp_path / f"blend_{alpha}.safetensors"
    command = [sys.executable, str(SCRIPT), str(start), str(finetuned), str(alpha), str(out)]
    return subprocess.run(command, capture_output=True, text=True, check=False), out


def test_the_blend_lies_between_the_two_checkpoints(tmp_path):
    start = save_random_model(small_config(), tmp_path / "start.safetensors", seed=0)
    tuned = save_random_model(small_config(), tmp_path / "tuned.safetensors", seed=1)
    tensors = {name: read_safetensors(path)[1] for name, path in (("a", start), ("b", tuned))}
    for alpha in (0.0, 0.25, 1.0):
        result, out = blend(tmp_path, start, tuned, alpha)
        assert result.returncode == 0, result.stderr
        metadata, blended = read_safetensors(out)
        assert '"alpha": ' + repr(alpha) in metadata["interpolated"]
        for key, value in blended.items():
            a, b = tensors["a"][key], tensors["b"][key]
            expected = (
                (1 - alpha) * a.double() + alpha * b.double() if b.is_floating_point() else b
            )
            torch.testing.assert_close(value, expected.to(b.dtype), msg=key)


@pytest.mark.parametrize("alpha", ["1.5", "-0.1"])
def test_a_weight_outside_0_1_is_refused(tmp_path, alpha):
    start = save_random_model(small_config(), tmp_path / "start.safetensors")
    result, out = blend(tmp_path, start, start, alpha)
    assert result.returncode != 0 and "ALPHA" in result.stderr and not out.exists()


def test_different_networks_are_refused(tmp_path):
    start = save_random_model(small_config(), tmp_path / "start.safetensors")
    other = save_random_model(small_config(fpn_channels=32), tmp_path / "other.safetensors")
    result, out = blend(tmp_path, start, other, 0.5)
    assert result.returncode != 0 and not out.exists()
