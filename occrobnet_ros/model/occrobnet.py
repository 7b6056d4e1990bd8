"""OccRobNet, assembled: backbone -> CIET -> heatmaps/segmentation -> tokens -> transformer.

Interface contract (other modules code against exactly this):

``OccRobNetConfig`` (dataclass): ``from_yaml(path)``, ``from_dict(d)``, ``to_dict()``; fields
below, e.g. ``pose_representation`` ("3d" | "2.5d"), ``input_size`` (256), ``heatmap_size``
(32), ``with_object``, ``ciet`` (bool), ``attention`` ("softmax" | "sigmoid" |
"softmax_sigmoid"). ``build_model(config) -> OccRobNet``.

``model(images, intrinsics=None, root_depth=None, gt_tokens=None)``
  images: float [B, 3, H, W], RGB in [0, 1] (the model normalises with ImageNet statistics
  itself, so torchvision ImageNet weights fit). In eval mode it returns the FINAL decoder
  layer's predictions:

  ================== ============= ===========================================================
  heatmaps           [B, 42, h, w] CIET-refined joint heatmaps (regressed, peak ~1; not logits)
  segmentation       [B, 1, h, w]  object segmentation LOGITS (sigmoid -> probability)
  joints_2d          [B, 42, 2]    joint pixels in the input crop (right 0-20, left 21-41)
  joints_3d          [B, 42, 3]    metres, each hand relative to its own wrist, camera axes
  hand_presence      [B, 2]        logits (right, left)
  rel_root           [B, 3]        metres, left wrist minus right wrist, camera axes
  object_presence    [B]           logit
  object_rotation    [B, 3, 3]     object frame -> camera axes (x_cam = R x_obj + t)
  object_translation [B, 3]        metres, object origin relative to the right wrist
  object_corners_2d  [B, 8, 2]     box corners in crop pixels (order: heads.BOX_CORNER_SIGNS)
  object_corners_rel [B, 8, 3]     metres, box corners minus the object origin, camera axes
  ================== ============= ===========================================================

  (object_* only with ``with_object``). Pixel centres are at integer coordinates. Also
  returned: ``joints_2p5d`` [B, 42, 3] (u, v px, wrist-relative depth m; 2.5D only),
  ``object_box_centre``/``object_box_half_extent`` [B, 3] (object frame, m), the tokens
  (``token_xy`` [B, P, 2] px, ``token_valid`` [B, P], ``token_is_object`` [B, P]) and
  ``identity_logits`` [L_enc, B, P, C] (C = 44 with an object, else 43).
  In training mode the dict also has ``layers``: one such dict per decoder layer (deep
  supervision), the last equal to the top-level entries.

  In the 2.5D representation, joints_3d is lifted with ``intrinsics`` [B, 3, 3] (the crop's)
  and ``root_depth`` [B, 2] (absolute wrist depths, m) when given, else with the config's
  nominal focal length and root depth: an approximation; pass them for metric output.
  ``gt_tokens``: a targets dict (see losses.py); when given, tokens sit at the valid GT joints
  and in the GT object mask instead of the detected peaks (KT's first training epochs).

Where the paper is silent we follow Keypoint Transformer (KT); where we depart from both:

- per-joint heatmaps at 32x32 (the paper) instead of KT's one summed 128x128 map; tokens
  still come from class-agnostic peaks (max over the 42 channels), refined to sub-cell
  positions, so joint identity stays the transformer's job as in KT;
- 21 decoder queries per hand in both representations (KT's '3D' has no wrist queries), so
  every joint, wrist included, gets a 2D position from a small 2D head;
- CIET adds its output to F (residual) and normalises its window weights with a softmax;
- extra heads the robot needs and KT lacks or does not train: hand and object presence
  (BCE), the object's box in its own frame, the object's 2D corners;
- the identity MLP has the paper's two hidden layers (KT: three);
- ImageNet normalisation inside the model, so callers pass [0, 1] (KT divides by 255 only).
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from occrobnet_ros.skeleton import NUM_HANDS, NUM_JOINTS

from . import tokens as tok
from .attention import ATTENTION_KINDS
from .backbone import BACKBONES, MEDIAPIPE_BODIES, Backbone
from .ciet import CIET
from .heads import (
    QUERY_OBJECT_ROTATION,
    IdentityHead,
    MapHead,
    PoseHeads,
    bones_to_joints,
    box_corners,
    from_bins,
    lift_2p5d,
)
from .transformer import Transformer, decoder_query_groups, query_mask_from_groups

NUM_JOINT_CLASSES = NUM_HANDS * NUM_JOINTS  # identity classes 1..42; 0 is background
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass
class LossWeights:
    """Multipliers of the loss terms (Eq. 8); defaults are Keypoint Transformer's."""

    heatmap: float = 0.01  # on 0-255 maps, KT hm_weight
    segmentation: float = 0.001  # on 0-255 maps, KT obj_hm_weight
    identity: float = 1.0  # KT cls_weight
    bone: float = 1.0  # mm, KT joint_vec_weight
    joint_3d: float = 0.1  # mm, KT joint_weight
    joint_2d: float = 0.01  # 128-px units, KT joint_2d_weight
    joint_2p5d: float = 1000.0  # KT joint_2p5d_weight
    rel_root: float = 100.0  # m, KT rel_trans_weight
    object_corner: float = 0.1  # mm, KT obj_corner_weight
    object_translation: float = 100.0  # m, KT obj_trans_weight
    # Ours (KT has no presence outputs, or trains its hand type with weight 0, and no box or
    # 2D corner heads): presence and box size are needed by the node.
    hand_presence: float = 1.0
    object_presence: float = 1.0
    object_box: float = 0.1  # mm, like the corners
    object_corner_2d: float = 0.01  # 128-px units, like the joints
    joint_visibility: float = 1.0  # binary cross-entropy per joint (with visibility_head)


@dataclasses.dataclass
class OccRobNetConfig:
    """Everything that defines an OccRobNet; stored in every checkpoint's metadata."""

    name: str = "occrobnet_r50"
    # Input and output layout.
    input_size: int = 256
    heatmap_size: int = 32
    heatmap_sigma: float = 1.0  # heatmap cells, for targets rendered by the loss
    pose_representation: str = "3d"  # "3d" (bone vectors, HO-3D/H2O-3D) | "2.5d" (InterHand)
    with_object: bool = True
    # Per-joint visibility (not occluded) from each joint query. False in the configs of
    # checkpoints from before it existed, so they still load exactly.
    visibility_head: bool = False
    normalize_input: bool = True
    # Backbone.
    backbone: str = "resnet50"
    fpn_channels: int = 256
    fpn_levels: tuple[int, ...] = (1, 2, 3, 4)  # ResNet stages feeding the FPN
    freeze_backbone_bn: bool = True  # KT trains no BN scale/shift in the ResNet
    # CIET (ablation switch of Table III).
    ciet: bool = True
    ciet_kernel: int = 3
    ciet_share_planes: int = 8
    # Tokens.
    num_keypoint_tokens: int = 80
    num_object_tokens: int = 20
    peak_threshold: float = 0.2
    object_threshold: float = 0.5
    pos_dim: int = 32
    # Transformer (attention: ablation switch of Table III).
    attention: str = "softmax_sigmoid"
    hidden_dim: int = 256
    num_heads: int = 8
    ffn_dim: int = 2048
    dropout: float = 0.1
    enc_layers: int = 6
    dec_layers: int = 6
    decoder_query_mask: bool = True
    # 2.5D representation (KT '2p5D').
    bins_2p5d: int = 128
    depth_range_2p5d: float = 0.3  # metres spanned by the parent-relative depth bins
    nominal_focal: float = 512.0  # crop pixels, used to lift 2.5D without intrinsics
    nominal_root_depth: float = 0.6  # metres, likewise
    # Identity labels: gamma in KT's 128-px heatmap units (3 px = 6 px of a 256 input).
    identity_gamma: float = 3.0
    loss_weights: LossWeights = dataclasses.field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        if isinstance(self.loss_weights, dict):
            self.loss_weights = LossWeights(**self.loss_weights)
        self.fpn_levels = tuple(int(level) for level in self.fpn_levels)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError on an inconsistent configuration."""
        checks = [
            (self.pose_representation in ("3d", "2.5d"), "pose_representation: '3d' | '2.5d'"),
            (self.attention in ATTENTION_KINDS, f"attention: one of {ATTENTION_KINDS}"),
            (self.backbone in BACKBONES, f"backbone: one of {list(BACKBONES)}"),
            (
                not (self.backbone in MEDIAPIPE_BODIES and self.normalize_input),
                "a mediapipe_hand backbone takes [0, 1] input: normalize_input: false",
            ),
            (set(self.fpn_levels) <= {1, 2, 3, 4} and self.fpn_levels, "fpn_levels: in 1..4"),
            (self.input_size % self.heatmap_size == 0, "input_size % heatmap_size must be 0"),
            (self.hidden_dim % self.num_heads == 0, "hidden_dim % num_heads must be 0"),
            (0 < self.pos_dim < self.hidden_dim and self.pos_dim % 4 == 0, "pos_dim"),
            (self.enc_layers >= 1 and self.dec_layers >= 1, "at least one layer each"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"invalid OccRobNetConfig: {message}")

    @property
    def identity_radius(self) -> float:
        """gamma in input pixels (6.0 for a 256-px input)."""
        return self.identity_gamma * self.input_size / 128.0

    @property
    def num_classes(self) -> int:
        return 1 + NUM_JOINT_CLASSES + (1 if self.with_object else 0)

    @property
    def num_tokens(self) -> int:
        return self.num_keypoint_tokens + (self.num_object_tokens if self.with_object else 0)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["fpn_levels"] = list(self.fpn_levels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OccRobNetConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown OccRobNetConfig fields: {unknown}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "OccRobNetConfig":
        import yaml  # here, so the model imports where only torch is installed (GPU hosts)

        with open(path, encoding="utf-8") as stream:
            return cls.from_dict(yaml.safe_load(stream) or {})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


class OccRobNet(nn.Module):
    """The network of the paper (Fig. 1); see the module docstring for inputs and outputs."""

    def __init__(self, config: OccRobNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.backbone = Backbone(c.backbone, c.fpn_channels, c.fpn_levels)
        if c.freeze_backbone_bn:
            self.backbone.freeze_batchnorm_affine()
        self.ciet = CIET(c.fpn_channels, c.ciet_kernel, c.ciet_share_planes) if c.ciet else None
        self.heatmap_head = MapHead(c.fpn_channels, NUM_JOINT_CLASSES)
        self.segmentation_head = MapHead(c.fpn_channels, 1) if c.with_object else None
        feature_dim = c.fpn_channels * (1 + len(c.fpn_levels))
        self.token_embedding = tok.TokenEmbedding(feature_dim, c.hidden_dim, c.pos_dim)
        groups = decoder_query_groups(c.with_object)
        self.transformer = Transformer(
            c.hidden_dim,
            c.num_heads,
            c.ffn_dim,
            c.enc_layers,
            c.dec_layers,
            len(groups),
            c.dropout,
            c.attention,
        )
        self.identity_head = IdentityHead(c.hidden_dim, c.num_classes)
        self.pose_heads = PoseHeads(
            c.hidden_dim, c.pose_representation, c.with_object, c.bins_2p5d, c.visibility_head
        )
        self.register_buffer("query_mask", query_mask_from_groups(groups), persistent=False)
        self.register_buffer(
            "mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def heatmap_stride(self) -> float:
        return self.config.input_size / self.config.heatmap_size

    def forward(
        self,
        images: torch.Tensor,
        intrinsics: torch.Tensor | None = None,
        root_depth: torch.Tensor | None = None,
        gt_tokens: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, Any]:
        c = self.config
        input_hw = (images.shape[-2], images.shape[-1])
        if c.normalize_input:
            images = (images - self.mean) / self.std
        pyramid = self.backbone(images)
        features = self.heatmap_features(pyramid, input_hw)
        out: dict[str, Any] = {"heatmaps": self.heatmap_head(features)}
        if self.segmentation_head is not None:
            out["segmentation"] = self.segmentation_head(features)
        xy, valid, is_object = self.token_locations(out, gt_tokens)
        tokens = self.token_embedding([features, *pyramid], xy, is_object, valid, input_hw)
        memory_mask = self.object_memory_mask(valid, is_object) if c.with_object else None
        query_mask = self.query_mask if c.decoder_query_mask else None
        encoded, decoded = self.transformer(tokens, ~valid, None, query_mask, memory_mask)
        out.update(token_xy=xy, token_valid=valid, token_is_object=is_object)
        out["identity_logits"] = self.identity_head(encoded)
        if not self.training:
            decoded = decoded[-1:]  # only the final layer is returned in eval mode
        layers = self.decode_layers(decoded, input_hw, intrinsics, root_depth)
        out.update(layers[-1])
        if self.training:
            out["layers"] = layers
        return out

    def heatmap_features(
        self, pyramid: list[torch.Tensor], input_hw: tuple[int, int]
    ) -> torch.Tensor:
        """F at heatmap resolution (the pyramid level of that stride, else the finest level
        resized), refined by CIET when enabled."""
        size = (
            round(input_hw[0] / self.heatmap_stride),
            round(input_hw[1] / self.heatmap_stride),
        )
        level = next((p for p in pyramid if p.shape[-2:] == size), None)
        if level is None:
            level = F.interpolate(pyramid[0], size=size, mode="bilinear", align_corners=False)
        return level if self.ciet is None else self.ciet(level)

    def token_locations(
        self,
        out: dict[str, torch.Tensor],
        gt_tokens: dict[str, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keypoint then object token positions (input px), validity and type, [B, P]."""
        c, stride = self.config, self.heatmap_stride
        if gt_tokens is not None:
            xy, valid = tok.ground_truth_points(
                gt_tokens["joints_2d"], gt_tokens["joint_valid"].bool(), c.num_keypoint_tokens
            )
        else:
            xy, valid = tok.heatmap_peaks(out["heatmaps"], c.num_keypoint_tokens, c.peak_threshold)
            xy = tok.heatmap_to_input(xy, stride)
        parts_xy, parts_valid = [xy], [valid]
        if c.with_object:
            if gt_tokens is not None and "object_mask" in gt_tokens:
                mask = F.interpolate(
                    gt_tokens["object_mask"].float(), size=out["heatmaps"].shape[-2:]
                )
                obj_xy, obj_valid = tok.mask_points(mask > 0.5, c.num_object_tokens, self.training)
            else:
                obj_xy, obj_valid = tok.object_points(
                    out["segmentation"], c.num_object_tokens, c.object_threshold, self.training
                )
            parts_xy.append(
                tok.heatmap_to_input(obj_xy, stride).masked_fill(~obj_valid[..., None], 0)
            )
            parts_valid.append(obj_valid)
        xy, valid = torch.cat(parts_xy, 1), torch.cat(parts_valid, 1)
        is_object = torch.zeros_like(valid)
        is_object[:, c.num_keypoint_tokens :] = True
        return xy.float(), valid, is_object  # float32 under bf16 too: positions need it

    def object_memory_mask(self, valid: torch.Tensor, is_object: torch.Tensor) -> torch.Tensor:
        """[B, Q, P]: the object-rotation query sees only object tokens when there are any
        (KT ``get_src_memory_mask``); every other query sees every token."""
        num_queries = self.query_mask.shape[0]
        real_object = valid & is_object
        has_object = real_object.any(dim=1, keepdim=True)
        blocked = torch.zeros(
            valid.shape[0], num_queries, valid.shape[1], dtype=torch.bool, device=valid.device
        )
        blocked[:, QUERY_OBJECT_ROTATION] = has_object & ~real_object
        return blocked

    def decode_layers(
        self,
        decoded: torch.Tensor,
        input_hw: tuple[int, int],
        intrinsics: torch.Tensor | None,
        root_depth: torch.Tensor | None,
    ) -> list[dict[str, torch.Tensor]]:
        """Heads on every given decoder layer -> one prediction dict per layer."""
        raw = self.pose_heads(decoded)
        if self.config.pose_representation == "3d":
            raw["joints_3d"] = bones_to_joints(raw["bones"])
            raw["joints_2d"] = _denormalise(raw["joints_2d_normalised"], input_hw)
        else:
            raw["joints_2p5d"] = self.decode_2p5d(raw, input_hw)
            raw["joints_2d"] = raw["joints_2p5d"][..., :2]
            lifted = [
                lift_2p5d(layer, *self.lifting_camera(layer, input_hw, intrinsics, root_depth))
                for layer in raw["joints_2p5d"]
            ]
            raw["joints_3d"] = torch.stack(lifted)
        if self.config.with_object:
            rest = box_corners(raw["object_box_centre"], raw["object_box_half_extent"])
            raw["object_corners_rel"] = rest @ raw["object_rotation"].transpose(-1, -2)
            raw["object_corners_2d"] = _denormalise(raw["object_corners_2d_normalised"], input_hw)
        return [{key: value[i] for key, value in raw.items()} for i in range(decoded.shape[0])]

    def decode_2p5d(self, raw: dict[str, torch.Tensor], input_hw: tuple[int, int]) -> torch.Tensor:
        """Argmax of the 1D heatmaps -> (u, v px, wrist-relative depth m) [L, B, 42, 3]."""
        c = self.config
        height, width = input_hw
        half = c.depth_range_2p5d / 2
        u = from_bins(raw["x_bins"].argmax(-1).float(), -0.5, width - 0.5, c.bins_2p5d)
        v = from_bins(raw["y_bins"].argmax(-1).float(), -0.5, height - 0.5, c.bins_2p5d)
        parent_depth = from_bins(raw["z_bins"].argmax(-1).float(), -half, half, c.bins_2p5d)
        # KT predicts depth relative to the parent joint; accumulate it along the fingers.
        zeros = torch.zeros_like(parent_depth).unsqueeze(-1).expand(*parent_depth.shape, 2)
        depth = bones_to_joints(torch.cat((zeros, parent_depth.unsqueeze(-1)), -1))[..., 2]
        return torch.stack((u, v, depth), dim=-1).to(raw["x_bins"].dtype)

    def lifting_camera(
        self,
        joints_2p5d: torch.Tensor,
        input_hw: tuple[int, int],
        intrinsics: torch.Tensor | None,
        root_depth: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The given crop intrinsics and wrist depths, else the config's nominal ones."""
        batch, device, dtype = joints_2p5d.shape[0], joints_2p5d.device, joints_2p5d.dtype
        if intrinsics is None:
            f, (height, width) = self.config.nominal_focal, input_hw
            nominal = [[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]]
            intrinsics = torch.tensor(nominal, dtype=dtype, device=device).expand(batch, 3, 3)
        if root_depth is None:
            root_depth = torch.full(
                (batch, NUM_HANDS), self.config.nominal_root_depth, dtype=dtype, device=device
            )
        return intrinsics.to(dtype), root_depth.to(dtype)


def _denormalise(normalised: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
    """[-1, 1] crop coordinates (edges) -> pixels (centres at integers)."""
    height, width = input_hw
    # A Python scalar for square inputs (always, in practice) saves a host-to-device copy.
    size = width if width == height else normalised.new_tensor([width, height])
    return (normalised + 1) / 2 * size - 0.5


def build_model(config: OccRobNetConfig) -> OccRobNet:
    """A freshly initialised OccRobNet for ``config``."""
    return OccRobNet(config)
