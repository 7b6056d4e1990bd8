"""Model outputs: the interface contract's shapes, padding invariance, configs, backbone."""

import pytest
import torch

from occrobnet_ros.model import OccRobNetConfig, build_model
from occrobnet_ros.model.backbone import ResNet
from occrobnet_ros.model.transformer import Transformer

CONTRACT_SHAPES = {
    "heatmaps": (42, 16, 16),
    "segmentation": (1, 16, 16),
    "joints_2d": (42, 2),
    "joints_3d": (42, 3),
    "hand_presence": (2,),
    "rel_root": (3,),
    "object_presence": (),
    "object_rotation": (3, 3),
    "object_translation": (3,),
    "object_corners_2d": (8, 2),
    "object_corners_rel": (8, 3),
}


def small_config(**overrides) -> OccRobNetConfig:
    fields = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml").to_dict()
    fields.update(input_size=128, heatmap_size=16, num_keypoint_tokens=24, num_object_tokens=8)
    fields.update(enc_layers=2, dec_layers=2)
    fields.update(overrides)
    return OccRobNetConfig.from_dict(fields)


@pytest.mark.parametrize("batch", [1, 4])
def test_eval_outputs_follow_the_contract(batch):
    torch.manual_seed(0)
    model = build_model(small_config()).eval()
    with torch.no_grad():
        out = model(torch.rand(batch, 3, 128, 128))
    for key, shape in CONTRACT_SHAPES.items():
        assert tuple(out[key].shape) == (batch, *shape), key
        assert torch.isfinite(out[key]).all(), key
    assert "layers" not in out
    rotation = out["object_rotation"]
    torch.testing.assert_close(
        rotation @ rotation.transpose(1, 2), torch.eye(3).expand_as(rotation), atol=1e-5, rtol=0
    )
    # Each hand's joints are relative to its own wrist.
    assert out["joints_3d"][:, [0, 21]].abs().max() == 0
    # The relative corners are the predicted box rotated into camera axes.
    half = out["object_box_half_extent"]
    centred = out["object_corners_rel"] - out["object_corners_rel"].mean(1, keepdim=True)
    torch.testing.assert_close(centred.norm(dim=-1), half.norm(dim=-1, keepdim=True).expand(-1, 8))


def test_training_outputs_have_every_decoder_layer():
    torch.manual_seed(0)
    config = small_config(dec_layers=3, enc_layers=2)
    model = build_model(config).train()
    out = model(torch.rand(2, 3, 128, 128))
    assert len(out["layers"]) == 3
    assert out["identity_logits"].shape == (2, 2, config.num_tokens, 44)
    assert torch.equal(out["layers"][-1]["joints_3d"], out["joints_3d"])


def test_2p5d_representation_gives_2d_and_lifted_3d():
    torch.manual_seed(0)
    config = small_config(pose_representation="2.5d", bins_2p5d=32, with_object=False)
    model = build_model(config).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 128))
        k = torch.tensor([[[300.0, 0, 63.5], [0, 300.0, 63.5], [0, 0, 1]]])
        lifted = model(torch.rand(1, 3, 128, 128), intrinsics=k, root_depth=torch.ones(1, 2))
    assert out["joints_2d"].shape == (1, 42, 2) and out["joints_3d"].shape == (1, 42, 3)
    assert 0 <= out["joints_2d"].min() and out["joints_2d"].max() <= 127
    assert "object_rotation" not in out and out["identity_logits"].shape[-1] == 43
    assert lifted["joints_3d"][:, [0, 21]].abs().max() == 0


def test_padded_tokens_never_change_real_outputs():
    torch.manual_seed(0)
    transformer = Transformer(32, 4, 64, 2, 2, num_queries=5, dropout=0.0).eval()
    tokens = torch.randn(2, 9, 32)
    padding = torch.zeros(2, 9, dtype=torch.bool)
    padding[0, 6:] = True
    padding[1, 3:] = True
    garbage = tokens.clone()
    garbage[padding] = 1e4 * torch.randn(int(padding.sum()), 32)
    with torch.no_grad():
        enc_a, dec_a = transformer(tokens, padding)
        enc_b, dec_b = transformer(garbage, padding)
    torch.testing.assert_close(dec_a, dec_b, atol=1e-6, rtol=0)
    torch.testing.assert_close(enc_a[:, ~padding], enc_b[:, ~padding], atol=1e-6, rtol=0)


def test_more_padding_slots_leave_the_predictions_unchanged():
    torch.manual_seed(0)
    few, many = small_config(num_keypoint_tokens=24), small_config(num_keypoint_tokens=48)
    model_few = build_model(few).eval()
    model_many = build_model(many).eval()
    model_many.load_state_dict(model_few.state_dict())
    images = torch.rand(1, 3, 128, 128)
    gt = {
        "joints_2d": torch.rand(1, 42, 2) * 127,
        "joint_valid": torch.arange(42).unsqueeze(0) < 20,
        "object_mask": torch.ones(1, 1, 128, 128),
    }
    with torch.no_grad():
        a, b = model_few(images, gt_tokens=gt), model_many(images, gt_tokens=gt)
    for key in CONTRACT_SHAPES:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-5)


def test_ablation_switches_build_and_run():
    torch.manual_seed(0)
    for overrides in [{"ciet": False}, {"attention": "softmax"}, {"attention": "sigmoid"}]:
        model = build_model(small_config(**overrides)).eval()
        with torch.no_grad():
            out = model(torch.rand(1, 3, 128, 128))
        assert torch.isfinite(out["joints_3d"]).all()
    assert build_model(small_config(ciet=False)).ciet is None


def test_config_yaml_and_dict_round_trip(tmp_path):
    for name in ["occrobnet_r50", "occrobnet_tiny"]:
        config = OccRobNetConfig.from_yaml(f"config/model/{name}.yaml")
        assert config.name == name
        assert OccRobNetConfig.from_dict(config.to_dict()) == config
    assert OccRobNetConfig.from_yaml("config/model/occrobnet_r50.yaml").backbone == "resnet50"
    assert OccRobNetConfig().identity_radius == 6.0  # gamma = 3 px at 128 = 6 px at 256
    with pytest.raises(ValueError, match="unknown"):
        OccRobNetConfig.from_dict({"hiden_dim": 3})
    with pytest.raises(ValueError, match="pose_representation"):
        OccRobNetConfig(pose_representation="angles")


@pytest.mark.parametrize(
    "name, keys, parameters",
    # torchvision's ResNet-18/50 state dicts have 122/320 entries (fc included) and
    # 11,689,512/25,557,032 parameters, of which fc holds 513,000/2,049,000.
    [("resnet18", 122, 11_689_512 - 513_000), ("resnet50", 320, 25_557_032 - 2_049_000)],
)
def test_resnet_matches_torchvision_layout(name, keys, parameters):
    body = ResNet(name)
    state = body.state_dict()
    assert len(state) + 2 == keys
    assert sum(p.numel() for p in body.parameters()) == parameters
    assert "layer2.0.downsample.0.weight" in state and "layer4.1.bn2.running_var" in state
    assert tuple(body(torch.rand(1, 3, 64, 64))[-1].shape) == (1, body.stage_channels[-1], 2, 2)


def test_no_detected_tokens_gives_finite_outputs_and_batch_one_trains():
    """An empty scene (no peak, no object pixel) must not produce NaNs, and a batch of one
    must train (no BN on pooled vectors)."""
    torch.manual_seed(0)
    model = build_model(small_config(peak_threshold=1e9, object_threshold=1.1)).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 128))
    assert not out["token_valid"].any()
    for key in CONTRACT_SHAPES:
        assert torch.isfinite(out[key]).all(), key
    model.train()
    out = model(torch.rand(1, 3, 128, 128))
    out["joints_3d"].sum().backward()
    grad = model.transformer.query_embed.weight.grad
    assert grad is not None and torch.isfinite(grad).all()


def test_heatmap_peaks_are_class_agnostic_sub_cell_and_padded():
    from occrobnet_ros.model.losses import render_heatmaps
    from occrobnet_ros.model.tokens import heatmap_peaks, heatmap_to_input, mask_points

    joints = torch.zeros(1, 42, 2)
    joints[0, 5] = torch.tensor([30.0, 20.0])  # two joints of different channels ...
    joints[0, 30] = torch.tensor([90.0, 100.0])
    valid = torch.zeros(1, 42, dtype=torch.bool)
    valid[0, [5, 30]] = True
    maps = render_heatmaps(joints, valid, 16, 128, sigma=1.0)
    maps[0, 30] *= 0.8  # ... the weaker one second
    xy, found = heatmap_peaks(maps, max_peaks=4, threshold=0.2)
    assert found.tolist() == [[True, True, False, False]]
    torch.testing.assert_close(
        heatmap_to_input(xy[0, :2], 8.0), joints[0, [5, 30]], atol=1.5, rtol=0
    )
    assert xy[0, 2:].abs().max() == 0  # padding holds zeros
    mask = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    mask[:, :, 2:5, 3:7] = True
    points, ok = mask_points(mask, 20, random=False)
    assert ok.sum(1).tolist() == [12, 12] and torch.equal(points[0], points[1])  # deterministic
    inside = mask[0, 0, points[0, :12, 1].long(), points[0, :12, 0].long()]
    assert inside.all()


def test_bf16_autocast_inference_then_training_keeps_positions_float32():
    """Token positions stay float32 under bf16 (bf16 rounds 100 px to 2 px steps), and
    constants cached during an inference_mode pass do not break a later backward."""
    from occrobnet_ros.model import heads

    heads._CONSTANTS.clear()
    torch.manual_seed(0)
    model = build_model(small_config(input_size=64, heatmap_size=8)).eval()
    images = torch.rand(1, 3, 64, 64)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(images)
    assert out["token_xy"].dtype == torch.float32
    assert out["joints_3d"].dtype == torch.bfloat16 and torch.isfinite(out["joints_3d"]).all()
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(images)
    out["joints_3d"].float().sum().backward()
    assert model.pose_heads.bone.layers[-1].weight.grad is not None
