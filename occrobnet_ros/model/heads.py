"""Prediction heads: heatmaps, the token heatmap and segmentation on the feature maps,
identity on the encoder tokens, hand and object pose on the decoder queries (DESIGN.md 4.2,
4.6, 4.7).

Decoder query layout (``QUERY_*`` below): 21 joint queries per hand (right 0-20, left 21-41,
our skeleton order), one global query (relative root translation, hand presence), then the
object rotation and object translation queries (KT's layout, plus wrist queries; see
``transformer.decoder_query_groups``). Pose heads are ``MLP(D, D, out)`` with 3 layers as KT.
"""

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from occrobnet_ros.skeleton import NUM_HANDS, NUM_JOINTS, PARENTS

from .rotation import rotation_6d_to_matrix

NUM_JOINT_QUERIES = NUM_HANDS * NUM_JOINTS
QUERY_GLOBAL = NUM_JOINT_QUERIES
QUERY_OBJECT_ROTATION = NUM_JOINT_QUERIES + 1
QUERY_OBJECT_TRANSLATION = NUM_JOINT_QUERIES + 2

# Box corner i = centre + half_extent * BOX_CORNER_SIGNS[i] (x slowest, z fastest), in the
# object frame. Ground-truth ``object_corners_rest`` must use this order.
BOX_CORNER_SIGNS = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=3)))


def _ancestor_matrix() -> torch.Tensor:
    """[21, 21] with 1 where bone k (parent(k) -> k) lies on the path from the wrist to j."""
    matrix = np.zeros((NUM_JOINTS, NUM_JOINTS), dtype=np.float32)
    for joint in range(1, NUM_JOINTS):
        node = joint
        while node > 0:
            matrix[joint, node] = 1.0
            node = int(PARENTS[node])
    return torch.from_numpy(matrix)


ANCESTORS = _ancestor_matrix()


def bones_to_joints(bones: torch.Tensor) -> torch.Tensor:
    """Parent-to-joint vectors [..., 42, 3] -> wrist-relative joints [..., 42, 3] per hand.

    The wrist entries of ``bones`` are ignored (the wrist is each hand's origin).
    """
    per_hand = bones.unflatten(-2, (NUM_HANDS, NUM_JOINTS))
    joints = _constant(ANCESTORS, bones) @ per_hand
    return joints.flatten(-3, -2)


_CONSTANTS: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}


def _constant(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A module constant on ``like``'s device and dtype, copied there once, not every forward
    (a host-to-device copy per call stalls CUDA and breaks CUDA-graph capture)."""
    key = (id(value), like.device, like.dtype)
    if key not in _CONSTANTS:
        # Outside inference mode: a cached inference tensor would break a later backward.
        with torch.inference_mode(False):
            _CONSTANTS[key] = value.to(like)
    return _CONSTANTS[key]


def joints_to_bones(joints: torch.Tensor) -> torch.Tensor:
    """Wrist-relative joints [..., 42, 3] -> parent-to-joint vectors (zero at the wrists)."""
    per_hand = joints.unflatten(-2, (NUM_HANDS, NUM_JOINTS))
    parents = torch.from_numpy(np.maximum(PARENTS, 0)).to(joints.device)
    bones = per_hand - per_hand[..., parents, :]
    return bones.flatten(-3, -2)


def box_corners(centre: torch.Tensor, half_extent: torch.Tensor) -> torch.Tensor:
    """Axis-aligned box [..., 3] centre and half extent -> its 8 corners [..., 8, 3]."""
    signs = _constant(BOX_CORNER_SIGNS, centre)
    return centre.unsqueeze(-2) + half_extent.unsqueeze(-2) * signs


class MLP(nn.Module):
    """Linear layers with ReLU between them (and after the last one if asked)."""

    def __init__(
        self, in_dim: int, hidden: list[int], out_dim: int, final_activation: bool = False
    ) -> None:
        super().__init__()
        widths = [in_dim, *hidden, out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.final_activation = final_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1 or self.final_activation:
                x = F.relu(x)
        return x


class MapHead(nn.Sequential):
    """3x3 conv + BN + ReLU + 1x1 conv: a dense head on the (CIET-refined) feature map."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, out_channels, 1),
        )


class TokenHeatmapHead(nn.Module):
    """KT's one class-agnostic keypoint map, finer than the per-joint maps (issue 22).

    F' (the CIET-refined F) is added to the finest pyramid level, upsampled (an FPN-style
    top-down merge, so the map sees CIET's context and the finest detail), reduced to
    ``width`` channels (KT's stride-2 map has 32), resized to the token map and mapped to one
    channel by a MapHead. Regressed, peak ~1, like the per-joint maps.
    """

    def __init__(self, channels: int, width: int = 32) -> None:
        super().__init__()
        self.reduce = nn.Sequential(
            nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        self.head = MapHead(width, 1)

    def forward(
        self, features: torch.Tensor, finest: torch.Tensor, size: tuple[int, int]
    ) -> torch.Tensor:
        """F' [B, C, h, w] and the finest level [B, C, H, W] -> the map [B, 1, *size]."""
        merged = finest + _resize(features, finest.shape[-2:])
        return self.head(_resize(self.reduce(merged), size))


def _resize(maps: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


class IdentityHead(MLP):
    """Token identity logits: background, 42 joints (1 + 21 * hand + joint), object (43).

    The paper: a two-layer MLP, then a linear projection and a softmax (the softmax lives in
    the cross-entropy); KT uses four layers.
    """

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__(dim, [dim, dim], num_classes)


class PoseHeads(nn.Module):
    """Every decoder layer's query outputs [L, B, Q, D] -> raw pose predictions [L, B, ...]."""

    def __init__(
        self,
        dim: int,
        representation: str,
        with_object: bool,
        bins_2p5d: int,
        visibility: bool = False,
        camera_scale: float | None = None,
    ) -> None:
        """``camera_scale``: with a value, a weak-perspective camera head on the global query
        (KT), its scale starting there, instead of a 2D head on the joint queries."""
        super().__init__()
        self.representation = representation
        self.with_object = with_object
        self.camera = self.joint_2d = None
        if representation == "3d":
            self.bone = MLP(dim, [dim, dim], 3)
            if camera_scale is None:  # ours: a 2D head (KT's '3D' projects its 3D instead)
                self.joint_2d = MLP(dim, [dim, dim], 2)
            else:  # KT's linear_cam: (s, tx, ty) in normalised crop units, t at the centre
                self.camera = MLP(dim, [dim, dim], 3)
                with torch.no_grad():
                    self.camera.layers[-1].bias.copy_(torch.tensor([camera_scale, 0.0, 0.0]))
        else:  # KT's '2p5D': 1D heatmaps over x, y and parent-relative depth
            self.x_bins = MLP(dim, [dim, dim], bins_2p5d)
            self.y_bins = MLP(dim, [dim, dim], bins_2p5d)
            self.z_bins = MLP(dim, [dim, dim], bins_2p5d)
        self.rel_root = MLP(dim, [dim, dim], 3)
        self.hand_presence = nn.Linear(dim, NUM_HANDS)
        # Ours (issue 20): is each joint seen, or hidden by the object, the other hand or
        # its own hand? One logit per joint query, from an MLP like the other pose heads.
        self.joint_visibility = MLP(dim, [dim, dim], 1) if visibility else None
        if with_object:
            self.object_rotation = MLP(dim, [dim, dim], 6)
            self.object_presence = nn.Linear(dim, 1)
            self.object_box = MLP(dim, [dim, dim], 6)
            self.object_translation = MLP(dim, [dim, dim], 3)
            self.object_corners_2d = MLP(dim, [dim, dim], 16)
            with torch.no_grad():  # start at the identity rotation
                self.object_rotation.layers[-1].bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]))

    def forward(self, decoded: torch.Tensor) -> dict[str, torch.Tensor]:
        joints = decoded[..., :NUM_JOINT_QUERIES, :]
        glob = decoded[..., QUERY_GLOBAL, :]
        out = {"rel_root": self.rel_root(glob), "hand_presence": self.hand_presence(glob)}
        if self.joint_visibility is not None:
            out["joint_visibility"] = self.joint_visibility(joints).squeeze(-1)
        if self.representation == "3d":
            out["bones"] = self.bone(joints)
            if self.camera is not None:
                out["camera"] = self.camera(glob)
            else:  # normalised coordinates: -1 and 1 are the crop's edges
                out["joints_2d_normalised"] = self.joint_2d(joints)
        else:
            out["x_bins"] = self.x_bins(joints)
            out["y_bins"] = self.y_bins(joints)
            out["z_bins"] = self.z_bins(joints)
        if self.with_object:
            rot = decoded[..., QUERY_OBJECT_ROTATION, :]
            trans = decoded[..., QUERY_OBJECT_TRANSLATION, :]
            out["object_rotation"] = rotation_6d_to_matrix(self.object_rotation(rot))
            out["object_presence"] = self.object_presence(rot).squeeze(-1)
            box = self.object_box(rot)
            out["object_box_centre"] = box[..., :3]
            out["object_box_half_extent"] = F.softplus(box[..., 3:])
            out["object_translation"] = self.object_translation(trans)
            out["object_corners_2d_normalised"] = self.object_corners_2d(trans).unflatten(
                -1, (8, 2)
            )
        return out


def weak_perspective(
    joints_3d: torch.Tensor, rel_root: torch.Tensor, camera: torch.Tensor
) -> torch.Tensor:
    """KT's projection s X + t of wrist-relative joints [..., 42, 3], the left hand moved by
    ``rel_root`` [..., 3] first (one origin for both hands), by cameras [..., 3] (s, tx, ty)
    -> normalised crop coordinates [..., 42, 2]."""
    left = joints_3d[..., NUM_JOINTS:, :] + rel_root.unsqueeze(-2)
    xy = torch.cat((joints_3d[..., :NUM_JOINTS, :], left), dim=-2)[..., :2]
    return camera[..., None, :1] * xy + camera[..., None, 1:]


def to_bins(values: torch.Tensor, low: float, high: float, bins: int) -> torch.Tensor:
    """Continuous bin coordinate of values in [low, high] (bin centres at integers)."""
    return (values - low) / (high - low) * bins - 0.5


def from_bins(coordinate: torch.Tensor, low: float, high: float, bins: int) -> torch.Tensor:
    """Inverse of :func:`to_bins`."""
    return (coordinate + 0.5) / bins * (high - low) + low
