"""Losses, identity labels and the tiny model's ability to fit a fixed synthetic batch."""

import math

import torch

from occrobnet_ros.model import OccRobNetConfig, build_model, compute_losses
from occrobnet_ros.model.heads import box_corners
from occrobnet_ros.model.losses import (
    IGNORE,
    identity_labels,
    joint_depths,
    render_heatmaps,
    symmetric_corner_error,
)
from occrobnet_ros.model.rotation import axis_angle_to_matrix, rotation_6d_to_matrix
from occrobnet_ros.skeleton import NUM_JOINTS, PARENTS

OBJECT_CLASS = 43


def small_config(**overrides) -> OccRobNetConfig:
    """The tiny config at 64 px (heatmaps 8x8) with few tokens, for fast CPU tests."""
    config = OccRobNetConfig.from_yaml("config/model/occrobnet_tiny.yaml")
    fields = config.to_dict()
    fields.update(input_size=64, heatmap_size=8, num_keypoint_tokens=24, num_object_tokens=8)
    fields.update(enc_layers=2, dec_layers=2, dropout=0.0)
    fields.update(overrides)
    return OccRobNetConfig.from_dict(fields)


def synthetic_targets(config: OccRobNetConfig, batch: int, seed: int = 0) -> dict:
    """A random but plausible two-hand + object scene projected into the crop."""
    g = torch.Generator().manual_seed(seed)
    size = config.input_size
    focal, centre = 2.0 * size, (size - 1) / 2
    # Hands: random bone directions of 2-4 cm, accumulated from each wrist.
    directions = torch.nn.functional.normalize(torch.randn(batch, 42, 3, generator=g), dim=-1)
    lengths = 0.02 + 0.02 * torch.rand(batch, 42, 1, generator=g)
    bones = directions * lengths
    joints_3d = torch.zeros(batch, 42, 3)
    for hand in range(2):
        for j in range(1, NUM_JOINTS):
            k = hand * NUM_JOINTS + j
            joints_3d[:, k] = joints_3d[:, hand * NUM_JOINTS + int(PARENTS[j])] + bones[:, k]
    right_root = torch.tensor([-0.05, 0.0, 0.6]) + 0.02 * torch.randn(batch, 3, generator=g)
    left_root = torch.tensor([0.05, 0.0, 0.6]) + 0.02 * torch.randn(batch, 3, generator=g)
    absolute = joints_3d.clone()
    absolute[:, :NUM_JOINTS] += right_root[:, None]
    absolute[:, NUM_JOINTS:] += left_root[:, None]
    joints_2d = focal * absolute[..., :2] / absolute[..., 2:] + centre
    # Object: a box near the hands.
    rotation = rotation_6d_to_matrix(torch.randn(batch, 6, generator=g))
    translation = torch.tensor([0.05, 0.03, 0.02]) + 0.01 * torch.randn(batch, 3, generator=g)
    half = 0.02 + 0.03 * torch.rand(batch, 3, generator=g)
    corners_rest = box_corners(torch.zeros(batch, 3), half)
    corners_cam = corners_rest @ rotation.transpose(1, 2) + (translation + right_root)[:, None]
    corners_2d = focal * corners_cam[..., :2] / corners_cam[..., 2:] + centre
    mask = torch.zeros(batch, 1, size, size)
    for b in range(batch):
        lo = corners_2d[b].amin(0).clamp(0, size - 1).long()
        hi = corners_2d[b].amax(0).clamp(0, size - 1).long()
        mask[b, 0, lo[1] : hi[1] + 1, lo[0] : hi[0] + 1] = 1.0
    return {
        "joints_2d": joints_2d,
        "joints_3d": joints_3d,
        "joint_valid": torch.ones(batch, 42),
        "hand_valid": torch.ones(batch, 2),
        "rel_root": left_root - right_root,
        "object_mask": mask,
        "object_rotation": rotation,
        "object_translation": translation,
        "object_corners_rest": corners_rest,
        "object_corners_2d": corners_2d,
        "object_valid": torch.ones(batch),
        "object_symmetry": torch.arange(batch) % 3,
    }


def test_identity_labels_radius_background_tie_break_and_object_tokens():
    joints_2d = torch.full((1, 42, 2), 500.0)
    joints_2d[0, 3] = torch.tensor([10.0, 10.0])  # right thumb_tip
    joints_2d[0, 21 + 8] = torch.tensor([40.0, 40.0])  # left index_tip, behind ...
    joints_2d[0, 12] = torch.tensor([43.0, 40.0])  # ... right middle_tip, in front
    joints_2d[0, 30] = torch.tensor([70.0, 70.0])  # left joint 9, not annotated
    depth = torch.zeros(1, 42)
    depth[0, 21 + 8], depth[0, 12] = 0.10, 0.05
    valid = torch.ones(1, 42, dtype=torch.bool)
    valid[0, 30] = False
    token_xy = torch.tensor(
        [
            [
                [10.0, 15.9],
                [10.0, 16.1],
                [41.0, 40.0],
                [70.0, 70.0],
                [200.0, 5.0],
                [100.0, 100.0],
                [5.0, 100.0],
                [0.0, 0.0],
            ]
        ]
    )
    is_object = torch.tensor([[False] * 5 + [True] * 3])
    token_valid = torch.tensor([[True] * 7 + [False]])
    mask = torch.zeros(1, 1, 64, 64)  # half resolution of a 128-px crop
    mask[0, 0, 40:60, 40:60] = 1  # covers crop pixels 80-119
    labels = identity_labels(
        token_xy,
        token_valid,
        is_object,
        joints_2d,
        depth,
        valid,
        mask,
        radius=6.0,
        input_size=128,
    )
    # within 6 px (5.9), beyond (6.1), nearer-in-2D but farther joint loses the tie to the
    # front one, an unannotated joint is no match, far away is background; object tokens
    # are "object" on the mask and background off it; padding is ignored.
    expected = [4, 0, 13, 0, 0, OBJECT_CLASS, 0, IGNORE]
    assert labels.tolist() == [expected]


def test_identity_tie_break_uses_both_hands_depth_origin():
    """compute_losses puts the left hand at the right wrist's depth origin via rel_root."""
    config = small_config()
    targets = synthetic_targets(config, batch=1)
    depth = joint_depths(targets)
    expected = targets["joints_3d"][0, 21:, 2] + targets["rel_root"][0, 2]
    torch.testing.assert_close(depth[0, 21:], expected)


def test_corner_loss_is_zero_for_the_symmetric_flip_only_when_the_object_is_symmetric():
    torch.manual_seed(0)
    rotation = rotation_6d_to_matrix(torch.randn(3, 6))
    translation = torch.randn(3, 3) * 0.1
    corners = box_corners(torch.zeros(3, 3), torch.tensor([0.03, 0.05, 0.08]).expand(3, 3))
    z = torch.tensor([0.0, 0.0, 1.0]).expand(3, 3)
    # KT's flipped GT: Rodrigues(pi * R_gt[:, 2]) @ R_gt; continuous: any 5-deg step.
    flipped = axis_angle_to_matrix(rotation[:, :, 2], torch.full((3,), math.pi)) @ rotation
    turned = rotation @ axis_angle_to_matrix(z, torch.full((3,), math.radians(35)))
    none, flip, continuous = torch.tensor([0, 0, 0]), torch.tensor([1] * 3), torch.tensor([2] * 3)
    assert (
        symmetric_corner_error(flipped, translation, rotation, translation, corners, flip).max()
        < 1e-4
    )
    assert (
        symmetric_corner_error(flipped, translation, rotation, translation, corners, none).min()
        > 10
    )
    assert (
        symmetric_corner_error(
            turned, translation, rotation, translation, corners, continuous
        ).max()
        < 1e-4
    )
    assert (
        symmetric_corner_error(turned, translation, rotation, translation, corners, flip).min()
        > 10
    )
    shifted = translation + torch.tensor([0.01, 0.0, 0.0])  # 10 mm in x: mean |d| = 10/3 mm
    error = symmetric_corner_error(rotation, shifted, rotation, translation, corners, none)
    torch.testing.assert_close(error, torch.full((3,), 10 / 3), rtol=1e-4, atol=1e-4)


def test_rendered_heatmaps_peak_at_the_joint_cell():
    joints = torch.tensor([[[27.5, 11.5], [0.0, 0.0]]])  # cell (3, 1) centre at stride 8
    maps = render_heatmaps(joints, torch.tensor([[True, False]]), 8, 64, sigma=1.0)
    assert maps.shape == (1, 2, 8, 8)
    assert maps[0, 0].argmax().item() == 1 * 8 + 3 and maps[0, 0, 1, 3].item() == 1.0
    assert maps[0, 1].abs().max() == 0


def test_losses_ignore_invalid_annotations_and_sum_to_total():
    torch.manual_seed(0)
    config = small_config()
    model = build_model(config).eval()
    targets = synthetic_targets(config, batch=2)
    with torch.no_grad():
        outputs = model(torch.rand(2, 3, 64, 64), gt_tokens=targets)
    clean = compute_losses(outputs, targets, config)
    corrupted = {k: v.clone() for k, v in targets.items()}
    corrupted["joint_valid"][1, 21:] = 0
    corrupted["hand_valid"][1, 1] = 0
    corrupted["joints_3d"][1, 21:] = math.nan  # an unannotated hand may hold anything
    corrupted["joints_2d"][1, 21:] = math.nan
    corrupted["object_valid"][0] = 0
    corrupted["object_rotation"][0] = math.nan
    losses = compute_losses(outputs, corrupted, config)
    for name, value in losses.items():
        assert torch.isfinite(value), name
    torch.testing.assert_close(losses["total"], sum(v for k, v in losses.items() if k != "total"))
    assert set(clean) == set(losses)
    assert {"heatmap", "identity", "bone", "joint_3d", "object_corner", "total"} <= set(clean)


def test_tiny_model_overfits_a_fixed_batch():
    """Total loss falls 10x on a fixed batch (tokens at the GT, as KT's first epochs).

    The ResNet body stays frozen (as when fine-tuning from ImageNet) so the test stays fast
    on a shared 2-core machine; everything OccRobNet adds on top of it trains.
    """
    torch.manual_seed(0)
    config = small_config()
    model = build_model(config).train()
    model.backbone.body.requires_grad_(False)
    targets = synthetic_targets(config, batch=1)
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=3e-3)
    history = []
    for _ in range(150):
        losses = compute_losses(model(images, gt_tokens=targets), targets, config)
        history.append(losses["total"].item())
        if history[-1] < history[0] / 10:
            break
        optimiser.zero_grad()
        losses["total"].backward()
        optimiser.step()
    print(f"{len(history)} steps, {history[0]:.1f} -> {history[-1]:.1f}")
    assert history[-1] < history[0] / 10, history


def test_the_visibility_head_learns_where_visibility_is_known_and_nowhere_else():
    config = small_config(visibility_head=True)
    torch.manual_seed(0)
    model = build_model(config).train()
    targets = synthetic_targets(config, batch=2)
    targets["joint_visible"] = torch.rand(2, 42) > 0.3
    outputs = model(torch.rand(2, 3, config.input_size, config.input_size))
    assert outputs["joint_visibility"].shape == (2, 42)  # one logit per joint

    targets["joint_visibility_known"] = torch.zeros(2, 42, dtype=torch.bool)  # a dataset
    unknown = compute_losses(outputs, targets, config)["joint_visibility"]
    unknown.backward(retain_graph=True)
    head = model.pose_heads.joint_visibility.layers[-1].weight
    assert unknown.item() == 0.0 and not head.grad.abs().any()

    targets["joint_visibility_known"][0] = True  # the synthetic frame of the two
    known = compute_losses(outputs, targets, config)["joint_visibility"]
    per_layer = [
        torch.nn.functional.binary_cross_entropy_with_logits(
            layer["joint_visibility"][0], targets["joint_visible"][0].float()
        )
        for layer in outputs["layers"]
    ]  # deep supervision: the mean over the decoder layers, of frame 0 only
    expected = torch.stack(per_layer).mean() * config.loss_weights.joint_visibility
    assert math.isclose(known.item(), expected.item(), rel_tol=1e-5)


def test_hand_presence_is_supervised_by_hand_present_where_given():
    config = small_config()
    torch.manual_seed(0)
    model = build_model(config).train()
    targets = synthetic_targets(config, batch=2)
    targets["hand_valid"] = torch.tensor([[False, False], [True, True]])  # wrists unannotated
    outputs = model(torch.rand(2, 3, config.input_size, config.input_size))
    without = compute_losses(outputs, targets, config)["hand_presence"]
    targets["hand_present"] = torch.tensor([[True, False], [True, True]])  # yet a right hand
    given = compute_losses(outputs, targets, config)["hand_presence"]
    expected = (
        torch.stack(
            [
                torch.nn.functional.binary_cross_entropy_with_logits(
                    layer["hand_presence"], targets["hand_present"].float()
                )
                for layer in outputs["layers"]
            ]
        ).mean()
        * config.loss_weights.hand_presence
    )
    assert math.isclose(given.item(), expected.item(), rel_tol=1e-5)
    assert not math.isclose(given.item(), without.item(), rel_tol=1e-5)
