"""The keypoint front-end options of issue 22 (docs/paper_recipe.md): each changes what it
should, and at its default changes nothing (the embedded checkpoint's outputs on a fixed input
are pinned in test/data/embedded_checkpoint_outputs.json, recorded with the defaults; they were
first recorded before the options existed, and again whenever the checkpoint changed)."""

import json
from pathlib import Path

import pytest
import torch
from test_model_losses import synthetic_targets

from occrobnet_ros.model import OccRobNetConfig, build_model, compute_losses, load_model
from occrobnet_ros.model.checkpoint import CONFIG_KEY, read_safetensors
from occrobnet_ros.model.heads import weak_perspective
from occrobnet_ros.model.losses import render_heatmaps, token_heatmap_loss, weak_perspective_fit
from occrobnet_ros.model.tokens import greedy_nms_peaks, heatmap_peaks, heatmap_to_input

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
    """Its stored config has the front end's defaults: they must rebuild the same outputs."""
    torch.set_num_threads(1)
    model, config = load_model(WEIGHTS)
    stored = json.loads(model_metadata_config())
    defaults = {"token_features": "pyramid", "token_heatmap_stride": 0, "peak_nms_radius": 0.0}
    assert {key: stored.get(key, value) for key, value in defaults.items()} == defaults
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


# --- items 1-3: a finer token heatmap and KT's greedy NMS ------------------------------------

KT_THRESHOLD = 20 / 255  # KT intensity_th on its 0-255 map


def two_joints(a: tuple[float, float], b: tuple[float, float]) -> tuple:
    joints = torch.zeros(1, 42, 2)
    joints[0, 3], joints[0, 25] = torch.tensor(a), torch.tensor(b)
    valid = torch.zeros(1, 42, dtype=torch.bool)
    valid[0, [3, 25]] = True
    return joints, valid


def test_kt_greedy_nms_finds_two_joints_6_px_apart_that_the_3x3_nms_merges():
    """6.0 px apart at KT's 128 x 128 (12 input px at 256): beyond KT's 5-px radius, but in
    diagonally adjacent cells of the 32 x 32 per-joint maps."""
    joints, valid = two_joints((100.5, 100.5), (108.5, 109.5))
    per_joint = render_heatmaps(joints, valid, 32, 256, sigma=1.0)
    _, old_found = heatmap_peaks(per_joint, max_peaks=4, threshold=0.2)
    assert old_found.sum() == 1
    token_map = render_heatmaps(joints, valid, 128, 256, sigma=1.25).sum(1, keepdim=True)
    xy, found = greedy_nms_peaks(token_map, max_peaks=4, threshold=KT_THRESHOLD, radius=5)
    assert found.tolist() == [[True, True, False, False]]
    torch.testing.assert_close(
        heatmap_to_input(xy[0, :2], 2.0), joints[0, [3, 25]], atol=1.0, rtol=0
    )
    assert xy[0, 2:].abs().max() == 0  # padding holds zeros


def test_greedy_nms_keeps_the_strongest_k_above_the_threshold_in_order():
    scores = torch.zeros(2, 1, 20, 20)
    scores[0, 0, 2, 3], scores[0, 0, 15, 10], scores[0, 0, 9, 18] = 0.9, 0.5, 0.05
    scores[1, 0, 4, 4] = 0.7
    xy, found = greedy_nms_peaks(scores, max_peaks=3, threshold=0.08, radius=5)
    assert found.tolist() == [[True, True, False], [True, False, False]]
    assert xy[0, :2].tolist() == [[3.0, 2.0], [10.0, 15.0]] and xy[1, 0].tolist() == [4.0, 4.0]


def fine_config(**overrides) -> OccRobNetConfig:
    """128 px input, 16 x 16 per-joint maps, a 64 x 64 token map (stride 2, KT's)."""
    fields = dict(token_heatmap_stride=2, token_heatmap_sigma=1.25, peak_nms_radius=5.0)
    fields.update(peak_threshold=KT_THRESHOLD)
    return small_config(**{**fields, **overrides})


def test_the_token_heatmap_is_finer_and_the_per_joint_maps_stay():
    model = build_model(fine_config()).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 128, 128))
    assert out["token_heatmap"].shape == (2, 1, 64, 64)
    assert out["heatmaps"].shape == (2, 42, 16, 16)  # Eq. 3's per-joint maps
    assert build_model(small_config()).token_heatmap_head is None


def test_keypoint_tokens_sit_at_the_token_heatmaps_peaks():
    """The detected peaks come from the token map (2-px grid), not the per-joint maps."""
    torch.manual_seed(0)
    model = build_model(fine_config()).eval()
    joints, valid = two_joints((40.5, 60.5), (52.5, 72.5))  # on the map's cell centres
    planted = render_heatmaps(joints, valid, 64, 128, sigma=1.25).sum(1, keepdim=True)
    model.token_heatmap_head.register_forward_hook(lambda m, args, out: planted)
    model.heatmap_head.register_forward_hook(lambda m, args, out: torch.zeros_like(out))
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 128))
    keypoints = out["token_valid"][0, : model.config.num_keypoint_tokens]
    assert keypoints.sum() == 2
    torch.testing.assert_close(out["token_xy"][0, :2], joints[0, [3, 25]], atol=0, rtol=0)


def test_the_token_heatmap_loss_is_kts_summed_target_and_trains_its_head():
    config = fine_config()
    joints, valid = two_joints((40.5, 60.5), (43.5, 62.5))
    targets = {"joints_2d": joints, "joint_valid": valid}
    summed = render_heatmaps(joints, valid, 64, 128, sigma=1.25).sum(1, keepdim=True)
    assert summed.max() > 1.0  # overlapping Gaussians add up, as KT's target
    assert token_heatmap_loss(summed, targets, config) == 0
    assert token_heatmap_loss(summed * 0.5, targets, config) > 0
    unannotated = {"joints_2d": joints, "joint_valid": torch.zeros_like(valid)}
    assert token_heatmap_loss(summed, unannotated, config) == 0  # KT's hm_valid: skipped
    model = build_model(config).train()
    batch = synthetic_targets(config, 2)
    losses = compute_losses(model(torch.rand(2, 3, 128, 128)), batch, config)
    assert losses["token_heatmap"] > 0
    losses["total"].backward()
    assert model.token_heatmap_head.head[-1].weight.grad.abs().sum() > 0


def test_the_default_computes_no_token_heatmap_loss():
    config = small_config()
    model = build_model(config).train()
    batch = synthetic_targets(config, 2)
    assert "token_heatmap" not in compute_losses(model(torch.rand(2, 3, 128, 128)), batch, config)


# --- item 4: 2D joints from the 3D joints through a weak-perspective camera -------------------


def test_the_camera_projects_the_3d_joints_to_the_2d_joints():
    config = small_config(weak_perspective_camera=True)
    model = build_model(config).eval()
    assert model.pose_heads.joint_2d is None and model.pose_heads.camera is not None
    assert build_model(small_config()).pose_heads.camera is None  # the default: a 2D head
    with torch.no_grad():
        out = model(torch.rand(2, 3, 128, 128))
    assert out["camera"].shape == (2, 3) and out["joints_2d"].shape == (2, 42, 2)
    projected = weak_perspective(out["joints_3d"], out["rel_root"], out["camera"])
    torch.testing.assert_close(out["joints_2d"], (projected + 1) / 2 * 128 - 0.5)
    # A fresh head starts at the nominal scale (focal 512 px, depth 0.6 m, at 128 px).
    assert out["camera"][:, 0].mean().item() == pytest.approx(2 * 512 / (0.6 * 128), rel=0.3)


def test_the_gt_camera_is_the_least_squares_fit():
    config = small_config(weak_perspective_camera=True)
    targets = synthetic_targets(config, 3)
    camera = torch.tensor([[6.0, 0.1, -0.2], [4.0, -0.3, 0.05], [8.0, 0.0, 0.0]])
    normalised = weak_perspective(targets["joints_3d"], targets["rel_root"], camera)
    targets["joints_2d"] = (normalised + 1) / 2 * config.input_size - 0.5
    targets["joint_valid"][2] = False  # nothing to fit: not counted
    fit, valid = weak_perspective_fit(targets, config.input_size)
    assert valid.tolist() == [True, True, False]
    torch.testing.assert_close(fit[:2], camera[:2], atol=2e-3, rtol=1e-3)


def test_the_projected_2d_loss_reaches_the_3d_joints():
    def bone_gradient(config: OccRobNetConfig) -> float:
        torch.manual_seed(0)
        model = build_model(config).train()
        losses = compute_losses(
            model(torch.rand(2, 3, 128, 128)), synthetic_targets(config, 2), config
        )
        losses["joint_2d"].backward()
        grad = model.pose_heads.bone.layers[-1].weight.grad
        return 0.0 if grad is None else grad.abs().sum().item()

    config = small_config(weak_perspective_camera=True)
    assert bone_gradient(config) > 0
    assert bone_gradient(small_config()) == 0  # a separate 2D head: the 3D joints get nothing
    torch.manual_seed(0)
    model = build_model(config).train()
    losses = compute_losses(
        model(torch.rand(2, 3, 128, 128)), synthetic_targets(config, 2), config
    )
    assert losses["camera_scale"] > 0 and losses["camera_translation"] > 0
    losses["camera_scale"].backward()
    assert model.pose_heads.camera.layers[-1].bias.grad[0] != 0


def test_the_camera_needs_the_3d_representation():
    with pytest.raises(ValueError, match="weak_perspective_camera"):
        small_config(weak_perspective_camera=True, pose_representation="2.5d")
