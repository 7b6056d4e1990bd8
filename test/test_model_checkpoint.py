"""Checkpoints: bit-exact round trip, strict key/shape checks, refusal of pickles, truncation."""

import pickle

import pytest
import torch
from safetensors.torch import save_file

from occrobnet_ros.model import (
    CheckpointError,
    OccRobNetConfig,
    build_model,
    load_imagenet_backbone,
    load_model,
    save_model,
)
from occrobnet_ros.model.checkpoint import NEW_HEADS, load_state_strict, read_safetensors


def small_model(**overrides):
    fields = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml").to_dict()
    fields.update(input_size=64, heatmap_size=8, num_keypoint_tokens=16, num_object_tokens=4)
    fields.update(enc_layers=1, dec_layers=1, ffn_dim=64)
    fields.update(overrides)
    torch.manual_seed(0)
    return build_model(OccRobNetConfig.from_dict(fields))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = small_model(visibility_head=False).eval()  # as every checkpoint before issue 20
    path = tmp_path_factory.mktemp("ckpt") / "model.safetensors"
    save_model(model, path)
    return model, path


def test_round_trip_is_bit_exact_and_rebuilds_the_config(saved):
    model, path = saved
    loaded, config = load_model(path)
    assert config == model.config
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for key in original:
        assert torch.equal(original[key], restored[key]), key
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(images)["joints_3d"], loaded(images)["joints_3d"])


def test_truncated_file_is_a_clear_error(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    for length in (len(data) - 100, 1000, 4):
        cut = tmp_path / f"cut{length}.safetensors"
        cut.write_bytes(data[:length])
        with pytest.raises(CheckpointError, match="truncated"):
            load_model(cut)


def test_wrong_shape_and_missing_tensors_are_named(saved, tmp_path):
    model, path = saved
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    metadata = {"occrobnet_config": model.config.to_json()}
    tensors["heatmap_head.3.weight"] = torch.zeros(41, 128, 1, 1)
    bad = tmp_path / "shape.safetensors"
    save_file(tensors, str(bad), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"heatmap_head\.3\.weight.*\(41, 128, 1, 1\)"):
        load_model(bad)
    del tensors["heatmap_head.3.weight"]
    save_file(tensors, str(bad), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"missing tensor 'heatmap_head\.3\.weight'"):
        load_model(bad)
    save_file({"x": torch.zeros(1)}, str(bad))
    with pytest.raises(CheckpointError, match="occrobnet_config"):
        load_model(bad)


def test_pickles_are_refused_with_the_reason(saved, tmp_path):
    model, _ = saved
    by_name = tmp_path / "model.pt"
    torch.save(model.state_dict(), by_name)
    disguised = tmp_path / "disguised.safetensors"
    disguised.write_bytes(by_name.read_bytes())  # torch.save's zip format
    raw = tmp_path / "raw.safetensors"
    raw.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    for path in (by_name, disguised, raw):
        with pytest.raises(CheckpointError, match="pickle.*execute arbitrary code"):
            load_model(path)


def test_a_safetensors_header_length_starting_with_pickles_opcode_still_loads(saved, tmp_path):
    # The first byte of a safetensors file is the low byte of its header length; 0x80 is also
    # pickle's PROTO opcode. Pad the metadata until the length hits it.
    model, _ = saved
    path = tmp_path / "unlucky.safetensors"
    for padding in range(0, 512, 8):
        save_model(model, path, extra_metadata={"padding": "x" * padding})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    loaded, _ = load_model(path)
    assert all(
        torch.equal(a, b)
        for a, b in zip(loaded.state_dict().values(), model.state_dict().values())
    )


def test_torchvision_imagenet_resnet_keys_initialise_the_body(tmp_path):
    model = small_model()
    body = model.backbone.body.state_dict()
    torchvision_style = {k: torch.randn_like(v.float()).to(v.dtype) for k, v in body.items()}
    torchvision_style["fc.weight"] = torch.zeros(1000, 512)
    torchvision_style["fc.bias"] = torch.zeros(1000)
    path = tmp_path / "resnet18.safetensors"
    save_file(torchvision_style, str(path))
    assert load_imagenet_backbone(model, path) == ["fc.bias", "fc.weight"]
    assert torch.equal(model.backbone.body.conv1.weight, torchvision_style["conv1.weight"])
    # torchvision's FeaturePyramidNetwork names, under BackboneWithFPN's "fpn".
    keys = model.state_dict().keys()
    assert "backbone.fpn.inner_blocks.0.0.weight" in keys
    assert "backbone.fpn.layer_blocks.2.0.bias" in keys
    del torchvision_style["layer1.0.conv1.weight"]
    save_file(torchvision_style, str(path))
    with pytest.raises(CheckpointError, match="layer1.0.conv1.weight"):
        load_imagenet_backbone(model, path)


def test_weights_from_before_the_visibility_head_initialise_a_model_with_it(saved):
    old_model, path = saved
    assert not old_model.config.visibility_head
    _, tensors = read_safetensors(path)
    new_model = small_model(visibility_head=True)
    head = {k: v.clone() for k, v in new_model.state_dict().items() if "joint_visibility" in k}
    with pytest.raises(CheckpointError, match="missing tensor 'pose_heads.joint_visibility"):
        load_state_strict(new_model, tensors, str(path))
    load_state_strict(new_model, tensors, str(path), NEW_HEADS)
    state = new_model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in tensors.items())  # every old weight
    assert all(torch.equal(state[k], v) for k, v in head.items())  # the head as initialised


@pytest.mark.parametrize("variant", ["full", "lite"])
def test_mediapipe_landmark_weights_initialise_a_mediapipe_hand_body(variant):
    """The body computes what MediaPipe's own network computes (its heads are left out)."""
    from occrobnet_ros.inference.hand_detection import load_mediapipe_model
    from occrobnet_ros.model.checkpoint import load_backbone_weights

    path = f"weights/mediapipe/hand_landmark_{variant}.safetensors"
    model = small_model(backbone=f"mediapipe_hand_{variant}", normalize_input=False)
    ignored = load_backbone_weights(model, path)
    assert ignored and all("_head." in key for key in ignored)
    reference = load_mediapipe_model(f"hand_landmark_{variant}").eval()
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ours = model.backbone.body.forward_features(images)
        theirs = reference.forward_features(images)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_a_mediapipe_hand_body_refuses_imagenet_normalisation():
    with pytest.raises(ValueError, match="normalize_input: false"):
        small_model(backbone="mediapipe_hand_full", normalize_input=True)
