"""What the training tests share: the small model config they train (test_train.py,
test_train_datasets.py, test_paper_recipe.py) and the datasets' fixture roots."""

import json

import pytest
from test_data_readers import write_h2o3d, write_ho3d, write_interhand

from occrobnet_ros.model import OccRobNetConfig

WRITERS = {"interhand": write_interhand, "ho3d": write_ho3d, "h2o3d": write_h2o3d}

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


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """Each dataset's fixture root (2-3 training frames), by dataset name."""
    base = tmp_path_factory.mktemp("datasets")
    for name, write in WRITERS.items():
        write(base / name)
    return {name: base / name for name in WRITERS}
