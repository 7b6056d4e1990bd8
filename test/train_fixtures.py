"""The small model config the training tests train (test_train.py, test_train_datasets.py)."""

import json

import pytest

from occrobnet_ros.model import OccRobNetConfig

TINY = {
    "name": "test_tiny",
    "input_size": 64,
    "heatmap_size": 16,
    "backbone": "resnet18",
    "fpn_channels": 16,
    "fpn_levels": [2, 3, 4],
    "hidden_dim": 32,
    "num_heads": 2,
    "ffn_dim": 32,
    "enc_layers": 1,
    "dec_layers": 2,
    "num_keypoint_tokens": 12,
    "num_object_tokens": 6,
    "pos_dim": 8,
}


@pytest.fixture(scope="module")
def model_yaml(tmp_path_factory):
    """TINY as a config file for --model (JSON is YAML)."""
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    path.write_text(json.dumps(OccRobNetConfig(**TINY).to_dict()))
    return path
