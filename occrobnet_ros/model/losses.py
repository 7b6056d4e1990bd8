"""Training losses: Eq. 3 (heatmaps), Eq. 4 (identity), Eq. 8 (total) with KT's weights;
with a token heatmap (``token_heatmap_stride`` > 0), KT's loss on it too, and with
``weak_perspective_camera`` KT's camera losses.

``compute_losses(outputs, targets, config)`` takes the model's training-mode outputs and a
``targets`` dict, and returns every weighted term plus ``total``. Pose terms are averaged
over the decoder layers (deep supervision; an average keeps KT's weights meaningful for any
number of layers); the identity term over the encoder layers.

``targets`` (B = batch; crop px have pixel centres at integer coordinates; metres; camera
optical axes, x right, y down, z forward; boolean masks may be bool or 0/1 floats):

======================= ============= ======================================================
joints_2d               [B, 42, 2]    joint pixels in the input crop (right 0-20, left 21-41,
                                      skeleton.py order)
joints_3d               [B, 42, 3]    metres, each hand relative to its own wrist
joint_valid             [B, 42]       annotated joints
hand_valid              [B, 2]        hand present and annotated (right, left)
hand_present            [B, 2]        OPTIONAL: hand in the image, annotated or not; supervises
                                      hand_presence (default: hand_valid)
joint_visible           [B, 42]       OPTIONAL (with ``config.visibility_head``): the joint is
                                      seen, not occluded
joint_visibility_known  [B, 42]       OPTIONAL: where joint_visible is ground truth (the
                                      synthetic data knows; the datasets do not)
rel_root                [B, 3]        metres, left wrist minus right wrist (used when both
                                      hands are valid, and for the identity tie-break depth)
heatmaps                [B, 42, h, w] OPTIONAL: Gaussian (peak 1) per joint at heatmap
                                      resolution; rendered from joints_2d with
                                      ``config.heatmap_sigma`` (heatmap cells) when absent
object_mask             [B, 1, H, W]  object segmentation (0/1) at any resolution (resized)
object_rotation         [B, 3, 3]     object frame -> camera axes
object_translation      [B, 3]        metres, object origin minus the right wrist
object_corners_rest     [B, 8, 3]     3D box corners in the object frame, metres, in the
                                      order of ``heads.BOX_CORNER_SIGNS``
object_corners_2d       [B, 8, 2]     OPTIONAL: those corners projected into the crop, px
object_valid            [B]           an annotated object is in the image
object_symmetry         [B]           int: 0 none, 1 180-deg about the object's z axis,
                                      2 continuous about z (5-deg steps, as the MSSD)
======================= ============= ======================================================

object_* keys are needed only when ``config.with_object``. Identity labels are computed here
from joints_2d, the joint depths (joints_3d z, plus rel_root z for the left hand, so both
hands share the right wrist's depth origin) and object_mask: a hand token takes the nearest
valid GT joint within gamma = ``config.identity_gamma`` KT heatmap pixels (6 input px at
256), preferring the one nearest the camera when several are in range; an object token is
"object" where the mask says so; everything else is background.
"""

import math
from typing import Any

import torch
import torch.nn.functional as F

from occrobnet_ros.skeleton import NUM_HANDS, NUM_JOINTS, PARENTS

from .heads import joints_to_bones, to_bins
from .rotation import axis_angle_to_matrix
from .tokens import input_to_heatmap

IGNORE = -100  # label of padded tokens
MAP_SCALE = 255.0  # KT's heatmaps and masks are 0-255; its weights assume that scale
SYMMETRY_STEP_DEG = 5.0
KT_OUTPUT_PX = 128.0  # KT's output resolution, the unit of its 2D losses


def compute_losses(
    outputs: dict[str, Any], targets: dict[str, torch.Tensor], config: Any
) -> dict[str, torch.Tensor]:
    """Weighted loss terms and their sum ``total`` (Eq. 8); see the module docstring."""
    w = config.loss_weights
    targets = {k: v.to(outputs["heatmaps"].device) for k, v in targets.items()}
    targets = object_offsets_from(targets, config.object_reference_hand)
    losses = {
        "heatmap": w.heatmap * heatmap_loss(outputs["heatmaps"], targets, config),
        "identity": w.identity * identity_loss(outputs, targets, config),
    }
    if "token_heatmap" in outputs:
        losses["token_heatmap"] = w.token_heatmap * token_heatmap_loss(
            outputs["token_heatmap"], targets, config
        )
    if config.with_object:
        losses["segmentation"] = w.segmentation * segmentation_loss(
            outputs["segmentation"], targets["object_mask"]
        )
    layers = outputs.get("layers", [outputs])
    per_layer = [pose_losses(layer, targets, config) for layer in layers]
    for name in per_layer[0]:
        losses[name] = getattr(w, name) * torch.stack([p[name] for p in per_layer]).mean()
    losses["total"] = sum(losses.values())
    return losses


def render_heatmaps(
    joints_2d: torch.Tensor,
    joint_valid: torch.Tensor,
    heatmap_size: int,
    input_size: int,
    sigma: float,
) -> torch.Tensor:
    """Gaussian heatmaps [B, J, h, h], peak 1, of crop-pixel joints [B, J, 2]; zero if invalid."""
    centres = input_to_heatmap(joints_2d, input_size / heatmap_size)
    grid = torch.arange(heatmap_size, dtype=joints_2d.dtype, device=joints_2d.device)
    dx2 = (grid.view(1, 1, 1, -1) - centres[..., 0, None, None]) ** 2
    dy2 = (grid.view(1, 1, -1, 1) - centres[..., 1, None, None]) ** 2
    maps = torch.exp(-(dx2 + dy2) / (2 * sigma**2))
    return maps * joint_valid.to(maps.dtype)[..., None, None]


def object_offsets_from(targets: dict, reference_hand: str) -> dict:
    """``targets`` (a batch of targets.py's, torch or numpy) with the object translation of
    two-hand frames taken from ``reference_hand``'s wrist instead of the right one: the wrist
    a network's offsets start at (OccRobNetConfig.object_reference_hand)."""
    if reference_hand == "right":
        return targets
    both = targets["hand_valid"].all(1)[:, None]
    shift = targets["rel_root"] * both  # object - left = (object - right) - (left - right)
    return {**targets, "object_translation": targets["object_translation"] - shift}


def heatmap_loss(
    heatmaps: torch.Tensor, targets: dict[str, torch.Tensor], config: Any
) -> torch.Tensor:
    """Eq. 3: squared error of the CIET-refined heatmaps, mean over pixels of valid joints."""
    gt = targets.get("heatmaps")
    if gt is None:
        gt = render_heatmaps(
            targets["joints_2d"],
            targets["joint_valid"],
            heatmaps.shape[-1],
            config.input_size,
            config.heatmap_sigma,
        )
    squared = ((heatmaps.float() - gt.float()) * MAP_SCALE) ** 2
    valid = targets["joint_valid"].bool()[..., None, None].expand_as(squared)
    return _masked_mean(squared, valid)


def token_heatmap_loss(
    token_heatmap: torch.Tensor, targets: dict[str, torch.Tensor], config: Any
) -> torch.Tensor:
    """KT's heatmap loss on its one class-agnostic map: squared error (0-255 scale) against
    the SUM of the valid joints' Gaussians (sigma ``token_heatmap_sigma`` cells), over the
    frames with an annotated joint (KT's hm_valid: an unannotated frame's empty target would
    teach that its hands have no joints)."""
    gt = render_heatmaps(
        targets["joints_2d"],
        targets["joint_valid"],
        token_heatmap.shape[-1],
        config.input_size,
        config.token_heatmap_sigma,
    ).sum(1, keepdim=True)
    squared = ((token_heatmap.float() - gt.float()) * MAP_SCALE) ** 2
    annotated = targets["joint_valid"].bool().any(1)[:, None, None, None]
    return _masked_mean(squared, annotated)


def segmentation_loss(logits: torch.Tensor, object_mask: torch.Tensor) -> torch.Tensor:
    """KT's ObjSegLoss: squared error of the 0-255 probability map against the mask."""
    gt = _resize_mask(object_mask, logits.shape[-2:])
    return (((torch.sigmoid(logits) - gt) * MAP_SCALE) ** 2).mean()


def _resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    mask = mask.float()
    if mask.shape[-2:] != size:
        mask = F.interpolate(mask, size=size, mode="area")
    return (mask > 0.5).float()


def joint_depths(targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Depth of every joint [B, 42] relative to the right wrist (for the tie-break)."""
    depth = targets["joints_3d"][..., 2].clone()
    depth[:, NUM_JOINTS:] += targets["rel_root"][:, 2:3]
    return depth


def identity_labels(
    token_xy: torch.Tensor,
    token_valid: torch.Tensor,
    token_is_object: torch.Tensor,
    joints_2d: torch.Tensor,
    joint_depth: torch.Tensor,
    joint_valid: torch.Tensor,
    object_mask: torch.Tensor | None,
    radius: float,
    input_size: int,
) -> torch.Tensor:
    """Class per token [B, P]: 0 background, 1 + joint index, 43 object, IGNORE if padding.

    Hand tokens: among the valid GT joints within ``radius`` px, the one with the smallest
    depth (KT ``nearest_match_2djoints``). Object tokens: 43 where the mask is set.
    """
    distance = torch.cdist(token_xy.float(), joints_2d.float())  # [B, P, 42]
    in_range = (distance <= radius) & joint_valid.bool()[:, None, :]
    depth = joint_depth.float()[:, None, :].expand_as(distance)
    depth = depth.masked_fill(~in_range, math.inf)
    nearest_front = depth.argmin(dim=-1)
    labels = torch.where(in_range.any(-1), nearest_front + 1, 0)
    if object_mask is not None:
        on_object = _mask_at(object_mask, token_xy, input_size) > 0.5
        object_class = 1 + NUM_HANDS * NUM_JOINTS
        labels = torch.where(token_is_object, torch.where(on_object, object_class, 0), labels)
    return labels.masked_fill(~token_valid, IGNORE)


def _mask_at(mask: torch.Tensor, xy: torch.Tensor, input_size: int) -> torch.Tensor:
    """Values [B, P] of masks [B, 1, H, W] covering the crop, at crop-pixel positions xy."""
    height, width = mask.shape[-2:]
    col = ((xy[..., 0] + 0.5) * width / input_size).floor().long().clamp(0, width - 1)
    row = ((xy[..., 1] + 0.5) * height / input_size).floor().long().clamp(0, height - 1)
    flat = mask.float().flatten(1)
    return flat.gather(1, row * width + col)


def identity_loss(
    outputs: dict[str, Any], targets: dict[str, torch.Tensor], config: Any
) -> torch.Tensor:
    """Eq. 4: cross-entropy of the identity logits of every encoder layer."""
    labels = identity_labels(
        outputs["token_xy"],
        outputs["token_valid"],
        outputs["token_is_object"],
        targets["joints_2d"],
        joint_depths(targets),
        targets["joint_valid"],
        targets.get("object_mask") if config.with_object else None,
        config.identity_radius,
        config.input_size,
    )
    logits = outputs["identity_logits"]  # [L, B, P, C]
    if not (labels != IGNORE).any():
        return logits.sum() * 0.0
    repeated = labels.unsqueeze(0).expand(logits.shape[0], -1, -1)
    return F.cross_entropy(logits.flatten(0, 2).float(), repeated.flatten(), ignore_index=IGNORE)


def pose_losses(
    layer: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], config: Any
) -> dict[str, torch.Tensor]:
    """Unweighted hand and object pose terms of one decoder layer."""
    losses = hand_pose_losses(layer, targets, config)
    if config.with_object:
        losses.update(object_pose_losses(layer, targets, config))
    return losses


def hand_pose_losses(
    layer: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], config: Any
) -> dict[str, torch.Tensor]:
    """Hand terms: 3D (bones, joints, 2D) or 2.5D (1D heatmaps), root translation, presence."""
    joint_valid = targets["joint_valid"].bool()
    hand_valid = targets["hand_valid"].bool()
    losses = {}
    if config.pose_representation == "3d":
        bone_valid = joint_valid & joint_valid[:, _parent_index(joint_valid.device)]
        bone_valid[:, ::NUM_JOINTS] = False  # the wrists have no bone
        gt_bones = joints_to_bones(targets["joints_3d"])
        losses["bone"] = _masked_l1(layer["bones"] * 1000, gt_bones * 1000, bone_valid)
        losses["joint_3d"] = _masked_l1(
            layer["joints_3d"] * 1000, targets["joints_3d"] * 1000, joint_valid
        )
        px = KT_OUTPUT_PX / config.input_size
        losses["joint_2d"] = _masked_l1(
            layer["joints_2d"] * px, targets["joints_2d"] * px, joint_valid
        )
        if "camera" in layer:
            losses.update(camera_losses(layer["camera"], targets, config))
    else:
        losses["joint_2p5d"] = joint_2p5d_loss(layer, targets, config)
    both_hands = hand_valid.all(dim=1)
    losses["rel_root"] = _masked_l1(layer["rel_root"], targets["rel_root"], both_hands)
    present = targets.get("hand_present", hand_valid)
    losses["hand_presence"] = F.binary_cross_entropy_with_logits(
        layer["hand_presence"].float(), present.float()
    )
    if "joint_visibility" in layer:
        losses["joint_visibility"] = joint_visibility_loss(layer["joint_visibility"], targets)
    return losses


def camera_losses(
    camera: torch.Tensor, targets: dict[str, torch.Tensor], config: Any
) -> dict[str, torch.Tensor]:
    """KT's CameraParamLoss: L1 of the predicted (s, tx, ty) against the least-squares fit to
    the GT, in KT's 128-px units (normalised units x 64), over frames with a valid joint."""
    gt, valid = weak_perspective_fit(targets, config.input_size)
    error = (camera.float() - gt).abs() * (KT_OUTPUT_PX / 2)
    return {
        "camera_scale": _masked_mean(error[..., 0], valid),
        "camera_translation": _masked_mean(error[..., 1:].mean(-1), valid),
    }


def weak_perspective_fit(
    targets: dict[str, torch.Tensor], input_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The GT camera [B, 3]: (s, tx, ty) minimising |s X_xy + t - x|^2 over the valid joints
    (normalised crop units), with KT's 1e-4 ridge; the left hand counts only when both hands
    are valid, since it is placed by rel_root (KT). Also [B]: has a valid joint."""
    joints = targets["joints_3d"].float().clone()
    joints[:, NUM_JOINTS:] += targets["rel_root"].float()[:, None]
    valid = targets["joint_valid"].bool().clone()
    valid[:, NUM_JOINTS:] &= targets["hand_valid"].bool().all(1, keepdim=True)
    weight = valid.float()[..., None]  # [B, 42, 1]
    xy = joints[..., :2]
    ones, zeros = torch.ones_like(xy[..., :1]), torch.zeros_like(xy[..., :1])
    rows_x = torch.cat((xy[..., :1], ones, zeros), -1) * weight  # [B, 42, 3]
    rows_y = torch.cat((xy[..., 1:], zeros, ones), -1) * weight
    a = torch.cat((rows_x, rows_y), 1)  # [B, 84, 3]
    b = (targets["joints_2d"].float() + 0.5) / input_size * 2 - 1  # px -> normalised
    b = torch.cat((b[..., :1], b[..., 1:]), 1) * torch.cat((weight, weight), 1)  # [B, 84, 1]
    normal = a.transpose(1, 2) @ a + 1e-4 * torch.eye(3, device=a.device)
    return torch.linalg.solve(normal, a.transpose(1, 2) @ b).squeeze(-1), valid.any(1)


def joint_visibility_loss(logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Binary cross-entropy of the visibility logits [B, 42], where visibility is known."""
    known = targets.get("joint_visibility_known")
    if known is None or "joint_visible" not in targets:
        return logits.sum() * 0.0  # nothing to learn from here, but the graph stays whole
    per_joint = F.binary_cross_entropy_with_logits(
        logits.float(), targets["joint_visible"].float(), reduction="none"
    )
    return _masked_mean(per_joint, known.bool())


def joint_2p5d_loss(
    layer: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], config: Any
) -> torch.Tensor:
    """KT's Joints2p5dLoss: squared error of the x, y and parent-relative-depth 1D heatmaps
    against 1D Gaussians (sigma 1.25 bins at 128 bins, scaled with the bin count)."""
    bins, size = config.bins_2p5d, config.input_size
    half = config.depth_range_2p5d / 2
    joints_3d = targets["joints_3d"]
    parent_depth = joints_to_bones(joints_3d)[..., 2]
    joint_valid = targets["joint_valid"].bool()
    depth_valid = joint_valid & joint_valid[:, _parent_index(joint_valid.device)]
    coordinates = {
        "x_bins": (to_bins(targets["joints_2d"][..., 0], -0.5, size - 0.5, bins), joint_valid),
        "y_bins": (to_bins(targets["joints_2d"][..., 1], -0.5, size - 0.5, bins), joint_valid),
        "z_bins": (to_bins(parent_depth, -half, half, bins), depth_valid),
    }
    sigma = 1.25 * bins / 128
    grid = torch.arange(bins, dtype=joints_3d.dtype, device=joints_3d.device)
    terms = []
    for key, (centre, valid) in coordinates.items():
        gaussian = torch.exp(-((grid - centre.unsqueeze(-1)) ** 2) / (2 * sigma**2))
        squared = ((layer[key] - gaussian) ** 2).mean(-1)
        terms.append(_masked_mean(squared, valid))
    return torch.stack(terms).mean()


def object_pose_losses(
    layer: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], config: Any
) -> dict[str, torch.Tensor]:
    """Object terms: translation, symmetry-aware corners, box size, 2D corners, presence."""
    valid = targets["object_valid"].bool()
    rest = targets["object_corners_rest"]
    losses = {
        "object_translation": _masked_l1(
            layer["object_translation"], targets["object_translation"], valid
        ),
        "object_corner": _masked_mean(
            symmetric_corner_error(
                layer["object_rotation"],
                layer["object_translation"],
                targets["object_rotation"],
                targets["object_translation"],
                rest,
                targets["object_symmetry"],
            ),
            valid,
        ),
        "object_presence": F.binary_cross_entropy_with_logits(
            layer["object_presence"].float(), valid.float()
        ),
    }
    centre = (rest.amax(1) + rest.amin(1)) / 2
    half_extent = (rest.amax(1) - rest.amin(1)) / 2
    box_error = torch.cat(
        (layer["object_box_centre"] - centre, layer["object_box_half_extent"] - half_extent), -1
    )
    losses["object_box"] = _masked_mean(box_error.abs().mean(-1) * 1000, valid)
    if "object_corners_2d" in targets:
        px = KT_OUTPUT_PX / config.input_size
        corner_valid = valid[:, None].expand(-1, 8)
        losses["object_corner_2d"] = _masked_l1(
            layer["object_corners_2d"] * px, targets["object_corners_2d"] * px, corner_valid
        )
    return losses


def symmetric_corner_error(
    rotation: torch.Tensor,
    translation: torch.Tensor,
    gt_rotation: torch.Tensor,
    gt_translation: torch.Tensor,
    corners_rest: torch.Tensor,
    symmetry: torch.Tensor,
) -> torch.Tensor:
    """Mean absolute corner error [B] in mm, minimised over the object's symmetries.

    The GT rotation may be composed with a rotation about the object's own z axis (KT's
    ObjPoseLoss: ``Rodrigues(angle * R_gt[:, 2]) @ R_gt == R_gt @ Rz(angle)``): 180 deg for
    symmetry 1, every 5 deg for symmetry 2.
    """
    predicted = corners_rest @ rotation.transpose(-1, -2) + translation[:, None]
    angles, allowed = _symmetry_angles(symmetry)
    z_axis = torch.tensor([0.0, 0.0, 1.0], dtype=corners_rest.dtype, device=corners_rest.device)
    flips = axis_angle_to_matrix(z_axis.expand(len(angles), 3), angles.to(corners_rest.dtype))
    candidates = gt_rotation[:, None] @ flips  # [B, S, 3, 3]
    gt = corners_rest[:, None] @ candidates.transpose(-1, -2) + gt_translation[:, None, None]
    error = (predicted[:, None] - gt).abs().mean(dim=(-1, -2)) * 1000  # [B, S]
    return error.masked_fill(~allowed, math.inf).amin(dim=1)


def _symmetry_angles(symmetry: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate angles [S] about z and which are allowed per sample [B, S]."""
    steps = round(360 / SYMMETRY_STEP_DEG)
    angles = torch.arange(steps, device=symmetry.device) * math.radians(SYMMETRY_STEP_DEG)
    index = torch.arange(steps, device=symmetry.device)
    symmetry = symmetry.long()[:, None]
    allowed = (index == 0) | ((symmetry == 1) & (index == steps // 2)) | (symmetry == 2)
    return angles, allowed


def _parent_index(device: torch.device) -> torch.Tensor:
    """Parent of each of the 42 joints (the wrist is its own parent)."""
    parents = torch.from_numpy(PARENTS).clamp(min=0)
    return torch.cat([parents + hand * NUM_JOINTS for hand in range(NUM_HANDS)]).to(device)


def _masked_l1(
    prediction: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Mean absolute error over the entries whose leading index is valid."""
    error = (prediction.float() - target.float()).abs().mean(-1)
    return _masked_mean(error, valid)


def _masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    # where(), not a product: a NaN or inf in an invalid entry must not leak into the mean.
    valid = valid.bool().expand_as(values)
    return torch.where(valid, values, 0.0).sum() / valid.sum().clamp(min=1)
