"""The network's raw outputs decoded, on the device, in two steps (the way DETR's PostProcess
sits after its model):

1. :func:`decode_heads`: the pose heads' numbers (bone vectors, normalised coordinates, 2.5D
   bins) -> joints and box corners in crop pixels and metres, for every decoder layer. The
   network's forward pass ends with it, because training's losses read these outputs too.
2. :func:`to_host`: a batch's outputs reduced to what the camera-side decoding needs (each
   joint's heatmap peak and confidence, visibility, the tokens' handedness evidence) and
   copied to the host in one transfer.

The camera side (crop pixels -> metres in the camera frame, a Prediction) is
inference/decode.py; it needs the camera geometry, which this package does not import.
"""

import numpy as np
import torch

from occrobnet_ros.skeleton import NUM_HANDS, NUM_JOINTS

from .config import OccRobNetConfig
from .heads import bones_to_joints, box_corners, from_bins, weak_perspective
from .tokens import heatmap_to_input

# The network outputs the camera-side decoding reads, copied to the host as they are.
HOST_OUTPUTS = (
    "joints_2d",
    "joints_3d",
    "hand_presence",
    "object_presence",
    "object_rotation",
    "object_corners_2d",
    "object_corners_rel",
    "object_translation",
    "object_box_centre",
    "object_box_half_extent",
)


# --- 1. the heads' numbers -----------------------------------------------------------------------


def decode_heads(
    raw: dict[str, torch.Tensor],
    config: OccRobNetConfig,
    input_hw: tuple[int, int],
    intrinsics: torch.Tensor | None,
    root_depth: torch.Tensor | None,
) -> list[dict[str, torch.Tensor]]:
    """The pose heads' outputs over L decoder layers ([L, B, ...]) -> one dict per layer, with
    ``joints_2d`` (crop px), ``joints_3d`` (m, wrist-relative), ``joints_2p5d`` (2.5D only) and
    the object's ``object_corners_rel`` (m) and ``object_corners_2d`` (crop px) added."""
    if config.pose_representation == "3d":
        raw["joints_3d"] = bones_to_joints(raw["bones"])
        if "camera" in raw:  # KT: the 2D joints are the 3D joints, projected
            raw["joints_2d_normalised"] = weak_perspective(
                raw["joints_3d"], raw["rel_root"], raw["camera"]
            )
        raw["joints_2d"] = _denormalise(raw["joints_2d_normalised"], input_hw)
    else:
        raw["joints_2p5d"] = _decode_2p5d(raw, config, input_hw)
        raw["joints_2d"] = raw["joints_2p5d"][..., :2]
        lifted = [
            lift_2p5d(layer, *_lifting_camera(layer, config, input_hw, intrinsics, root_depth))
            for layer in raw["joints_2p5d"]
        ]
        raw["joints_3d"] = torch.stack(lifted)
    if config.with_object:
        rest = box_corners(raw["object_box_centre"], raw["object_box_half_extent"])
        raw["object_corners_rel"] = rest @ raw["object_rotation"].transpose(-1, -2)
        raw["object_corners_2d"] = _denormalise(raw["object_corners_2d_normalised"], input_hw)
    return [{key: value[i] for key, value in raw.items()} for i in range(len(raw["joints_2d"]))]


def _denormalise(normalised: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
    """[-1, 1] crop coordinates (edges) -> pixels (centres at integers)."""
    height, width = input_hw
    # A Python scalar for square inputs (always, in practice) saves a host-to-device copy.
    size = width if width == height else normalised.new_tensor([width, height])
    return (normalised + 1) / 2 * size - 0.5


def _decode_2p5d(
    raw: dict[str, torch.Tensor], config: OccRobNetConfig, input_hw: tuple[int, int]
) -> torch.Tensor:
    """Argmax of the 1D heatmaps -> (u, v px, wrist-relative depth m) [L, B, 42, 3]."""
    height, width = input_hw
    bins, half = config.bins_2p5d, config.depth_range_2p5d / 2
    u = from_bins(raw["x_bins"].argmax(-1).float(), -0.5, width - 0.5, bins)
    v = from_bins(raw["y_bins"].argmax(-1).float(), -0.5, height - 0.5, bins)
    parent_depth = from_bins(raw["z_bins"].argmax(-1).float(), -half, half, bins)
    # KT predicts depth relative to the parent joint; accumulate it along the fingers.
    zeros = torch.zeros_like(parent_depth).unsqueeze(-1).expand(*parent_depth.shape, 2)
    depth = bones_to_joints(torch.cat((zeros, parent_depth.unsqueeze(-1)), -1))[..., 2]
    return torch.stack((u, v, depth), dim=-1).to(raw["x_bins"].dtype)


def _lifting_camera(
    joints_2p5d: torch.Tensor,
    config: OccRobNetConfig,
    input_hw: tuple[int, int],
    intrinsics: torch.Tensor | None,
    root_depth: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The given crop intrinsics and wrist depths, else the config's nominal ones."""
    batch, device, dtype = joints_2p5d.shape[0], joints_2p5d.device, joints_2p5d.dtype
    if intrinsics is None:
        f, (height, width) = config.nominal_focal, input_hw
        nominal = [[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]]
        intrinsics = torch.tensor(nominal, dtype=dtype, device=device).expand(batch, 3, 3)
    if root_depth is None:
        root_depth = torch.full(
            (batch, NUM_HANDS), config.nominal_root_depth, dtype=dtype, device=device
        )
    return intrinsics.to(dtype), root_depth.to(dtype)


def lift_2p5d(
    joints_2p5d: torch.Tensor, intrinsics: torch.Tensor, root_depth: torch.Tensor
) -> torch.Tensor:
    """Back-project (u, v, wrist-relative depth) [B, 42, 3] to wrist-relative 3D joints.

    ``intrinsics`` [B, 3, 3] are the crop's pinhole intrinsics and ``root_depth`` [B, 2] the
    absolute wrist depths (right, left) in metres, as KT/InterNet use RootNet's or the GT's.
    """
    depth = joints_2p5d[..., 2].unflatten(-1, (NUM_HANDS, NUM_JOINTS)) + root_depth[..., None]
    depth = depth.flatten(-2)
    fx, fy = intrinsics[:, 0, 0, None], intrinsics[:, 1, 1, None]
    cx, cy = intrinsics[:, 0, 2, None], intrinsics[:, 1, 2, None]
    x = (joints_2p5d[..., 0] - cx) * depth / fx
    y = (joints_2p5d[..., 1] - cy) * depth / fy
    camera = torch.stack((x, y, depth), dim=-1).unflatten(-2, (NUM_HANDS, NUM_JOINTS))
    return (camera - camera[..., :1, :]).flatten(-3, -2)


# --- 2. what the host needs ----------------------------------------------------------------------


def to_host(outputs: dict[str, torch.Tensor], input_size: int) -> dict[str, np.ndarray]:
    """A batch's eval-mode outputs -> float32 numpy arrays by name: ``HOST_OUTPUTS``, and
    ``joint_confidence`` [B, 42], ``joint_peaks`` [B, 42, 2] (crop px), ``joint_visibility``
    [B, 42] (probabilities; with the visibility head), ``token_hand_mass`` [B, P, 2] and
    ``token_xy`` [B, P, 2].

    Everything is reduced on the device and packed into one tensor first: one device-to-host
    copy (and one synchronisation) per batch.
    """
    tensors = {k: outputs[k] for k in HOST_OUTPUTS if k in outputs}
    heatmaps = outputs["heatmaps"]
    # A joint's confidence: the peak of its (CIET-refined) heatmap, clipped to [0, 1].
    tensors["joint_confidence"] = heatmaps.amax(dim=(2, 3)).clamp(0.0, 1.0)
    tensors["joint_peaks"] = joint_peaks(heatmaps, input_size / heatmaps.shape[-1])
    if "joint_visibility" in outputs:
        tensors["joint_visibility"] = torch.sigmoid(outputs["joint_visibility"].float())
    tensors["token_hand_mass"] = token_hand_mass(outputs)
    tensors["token_xy"] = outputs["token_xy"]
    batch = len(heatmaps)
    packed = torch.cat([t.reshape(batch, -1).float() for t in tensors.values()], 1)
    host = packed.cpu().numpy()
    arrays, start = {}, 0
    for key, tensor in tensors.items():
        width = tensor[0].numel()
        arrays[key] = host[:, start : start + width].reshape(tensor.shape)
        start += width
    return arrays


def joint_peaks(heatmaps: torch.Tensor, stride: float) -> torch.Tensor:
    """Each joint map's maximum [B, J, 2] in input pixels, moved a quarter cell towards the
    larger neighbour on each axis (the usual sub-cell refinement of a heatmap argmax)."""
    b, j, h, w = heatmaps.shape
    flat = heatmaps.detach().flatten(2)
    index = flat.argmax(dim=-1)
    x, y = index % w, index // w

    def value_at(dx: int, dy: int) -> torch.Tensor:
        cell = (y + dy).clamp(0, h - 1) * w + (x + dx).clamp(0, w - 1)
        return flat.gather(-1, cell.unsqueeze(-1)).squeeze(-1)

    offset_x = 0.25 * torch.sign(value_at(1, 0) - value_at(-1, 0))
    offset_y = 0.25 * torch.sign(value_at(0, 1) - value_at(0, -1))
    cells = torch.stack((x.to(flat.dtype) + offset_x, y.to(flat.dtype) + offset_y), dim=-1)
    return heatmap_to_input(cells, stride)


def token_hand_mass(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Handedness evidence [B, P, 2]: each token's identity probability (last encoder layer)
    summed over the right and over the left joints; zero for padded tokens."""
    identity = outputs["identity_logits"][-1].float().softmax(-1)
    joints = identity[..., 1 : 1 + 2 * NUM_JOINTS].unflatten(-1, (2, NUM_JOINTS))
    return joints.sum(-1) * outputs["token_valid"][..., None]
