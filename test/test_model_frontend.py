"""The keypoint front-end options of issue 22 (docs/paper_recipe.md): each changes what it
should, and at its default changes nothing (the embedded checkpoint's outputs on a fixed input
are those recorded before the options existed, test/data/embedded_checkpoint_outputs.json)."""

import json
from pathlib import Path

import pytest
import torch

from occrobnet_ros.model import OccRobNetConfig, build_model, load_model
from occrobnet_ros.model.checkpoint import CONFIG_KEY, read_safetensors

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights" / "occrobnet_tiny_synthetic.safetensors"
REFERENCE = ROOT / "test" / "data" / "embedded_checkpoint_outputs.json"


def small_config(**overrides) -> OccRobNetConfig:
    fields = OccRobNetConfig.from_yaml(ROOT / "config/model/occrobnet_tiny.yaml").to_dict()
    fields.update(input_size=128, heatmap_size=16, num_keypoint_tokens=24, num_object_tokens=8)
    fields.update(enc_layers=1, dec_layers=2, fpn_channels=32, hidden_dim=64, ffn_dim=64)
    fields.update(overrides)
    return OccRobNetConfig.from_dict(fields)


def test_the_embedded_checkpoint_gives_its_recorded_outputs():
    """Its stored config lacks the new keys: their defaults must rebuild the old network."""
    torch.set_num_threads(1)
    model, config = load_model(WEIGHTS)
    stored = json.loads(model_metadata_config())
    assert "token_features" not in stored  # the old config, so the defaults are what is tested
    size = config.input_size
    images = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.eval()(images)
    reference = json.loads(REFERENCE.read_text())
    assert out["token_valid"].tolist() == reference.pop("token_valid")
    assert out["heatmaps"].sum().item() == pytest.approx(reference.pop("heatmaps_sum"), rel=1e-5)
    identity_sum = reference.pop("identity_logits_sum")
    assert out["identity_logits"].sum().item() == pytest.approx(identity_sum, rel=1e-5)
    for key, value in reference.items():
        torch.testing.assert_close(out[key], torch.tensor(value), atol=1e-4, rtol=1e-5)


def model_metadata_config() -> str:
    metadata, _ = read_safetensors(WEIGHTS)
    return metadata[CONFIG_KEY]


def token_embedding_inputs(config: OccRobNetConfig) -> tuple[list, torch.Tensor]:
    """The maps the token embedding samples, and CIET's output, in one forward pass."""
    torch.manual_seed(0)
    model = build_model(config).eval()
    seen = {}
    model.token_embedding.register_forward_hook(
        lambda m, args, out: seen.update(maps=args[0], tokens=out)
    )
    model.ciet.register_forward_hook(lambda m, args, out: seen.update(ciet=out))
    with torch.no_grad():
        model(torch.rand(1, 3, 128, 128))
    return seen["maps"], seen["ciet"]


def test_tokens_sample_the_ciet_output_only_with_token_features_ciet():
    config = small_config(token_features="ciet")
    maps, refined = token_embedding_inputs(config)
    assert len(maps) == 1 and torch.equal(maps[0], refined)
    first = build_model(config).token_embedding.hand_embed.layers[0]
    assert first.in_features == config.fpn_channels


def test_tokens_sample_ciet_and_the_pyramid_by_default():
    config = small_config()
    assert config.token_features == "pyramid"
    maps, refined = token_embedding_inputs(config)
    assert len(maps) == 1 + len(config.fpn_levels) and torch.equal(maps[0], refined)


def test_an_unknown_token_features_value_is_refused():
    with pytest.raises(ValueError, match="token_features"):
        small_config(token_features="fpn")
