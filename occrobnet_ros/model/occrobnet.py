"""OccRobNet, assembled: backbone -> CIET -> heatmaps/segmentation -> tokens -> transformer.

Interface contract (other modules code against exactly this):

``OccRobNetConfig`` (config.py): ``from_yaml(path)``, ``from_dict(d)``, ``to_dict()``; its
fields include ``pose_representation`` ("3d" | "2.5d"), ``input_size`` (256),
``heatmap_size`` (32), ``with_object``, ``ciet`` (bool), ``attention`` ("softmax" | "sigmoid"
| "softmax_sigmoid"). ``build_model(config) -> OccRobNet``.

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
  ``identity_logits`` [L_enc, B, P, C] (C = 44 with an object, else 43); with
  ``token_heatmap_stride`` s > 0, ``token_heatmap`` [B, 1, H/s, W/s] (KT's class-agnostic
  map the keypoint tokens are found on; regressed, a sum of peak-1 bumps).
  In training mode the dict also has ``layers``: one such dict per decoder layer (deep
  supervision), the last equal to the top-level entries. The pose entries come from the
  heads through postprocess.py ``decode_heads``.

  In the 2.5D representation, joints_3d is lifted with ``intrinsics`` [B, 3, 3] (the crop's)
  and ``root_depth`` [B, 2] (absolute wrist depths, m) when given, else with the config's
  nominal focal length and root depth: an approximation; pass them for metric output.
  ``gt_tokens``: a targets dict (see losses.py); when given, tokens sit at the valid GT joints
  and in the GT object mask instead of the detected peaks (KT's first training epochs).

Where the paper is silent we follow Keypoint Transformer (KT); where we depart from both:

- per-joint heatmaps at 32x32 (the paper) instead of KT's one summed 128x128 map; tokens
  still come from class-agnostic peaks (max over the 42 channels), refined to sub-cell
  positions, so joint identity stays the transformer's job as in KT. Options (issue 22, on in
  the paper configs): KT's map as well, at a finer stride, the tokens found on it by KT's
  greedy NMS (``token_heatmap_stride``, ``peak_nms_radius``);
- 21 decoder queries per hand in both representations (KT's '3D' has no wrist queries), so
  every joint, wrist included, gets a 2D position from a small 2D head; with
  ``weak_perspective_camera`` (on in the paper's 3D configs) the 2D joints are instead KT's:
  the 3D joints projected by a camera (s, tx, ty) from the global query, returned as
  ``camera`` [B, 3] (normalised crop units: -1 and 1 are the edges);
- CIET adds its output to F (residual) and normalises its window weights with a softmax;
- tokens sample F' (the CIET-refined F) and every pyramid level by default (older checkpoints);
  ``token_features: ciet`` samples F' only, as the paper feeds CIET's output to the
  transformer (§III-C);
- extra heads the robot needs and KT lacks or does not train: hand and object presence
  (BCE), the object's box in its own frame, the object's 2D corners;
- the identity MLP has the paper's two hidden layers (KT: three);
- ImageNet normalisation inside the model, so callers pass [0, 1] (KT divides by 255 only).
"""

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import tokens as tok
from .backbone import Backbone
from .ciet import CIET
from .config import NUM_JOINT_CLASSES, OccRobNetConfig
from .heads import QUERY_OBJECT_ROTATION, IdentityHead, MapHead, PoseHeads, TokenHeatmapHead
from .postprocess import decode_heads
from .transformer import Transformer, decoder_query_groups, query_mask_from_groups

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
        # KT's finer class-agnostic map for the tokens (issue 22); None: per-joint peaks.
        self.token_heatmap_head = (
            TokenHeatmapHead(c.fpn_channels) if c.token_heatmap_stride else None
        )
        token_levels = 1 if c.token_features == "ciet" else 1 + len(c.fpn_levels)
        feature_dim = c.fpn_channels * token_levels
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
            c.hidden_dim,
            c.pose_representation,
            c.with_object,
            c.bins_2p5d,
            c.visibility_head,
            nominal_camera_scale(c) if c.weak_perspective_camera else None,
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
        if self.token_heatmap_head is not None:
            size = self.map_size(input_hw, c.token_heatmap_stride)
            out["token_heatmap"] = self.token_heatmap_head(features, pyramid[0], size)
        xy, valid, is_object = self.token_locations(out, gt_tokens)
        maps = self.token_maps(features, pyramid)
        tokens = self.token_embedding(maps, xy, is_object, valid, input_hw)
        memory_mask = self.object_memory_mask(valid, is_object) if c.with_object else None
        query_mask = self.query_mask if c.decoder_query_mask else None
        encoded, decoded = self.transformer(tokens, ~valid, None, query_mask, memory_mask)
        out.update(token_xy=xy, token_valid=valid, token_is_object=is_object)
        out["identity_logits"] = self.identity_head(encoded)
        if not self.training:
            decoded = decoded[-1:]  # only the final layer is returned in eval mode
        layers = decode_heads(self.pose_heads(decoded), c, input_hw, intrinsics, root_depth)
        out.update(layers[-1])
        if self.training:
            out["layers"] = layers
        return out

    def heatmap_features(
        self, pyramid: list[torch.Tensor], input_hw: tuple[int, int]
    ) -> torch.Tensor:
        """F at heatmap resolution (the pyramid level of that stride, else the finest level
        resized), refined by CIET when enabled."""
        size = self.map_size(input_hw, self.heatmap_stride)
        level = next((p for p in pyramid if p.shape[-2:] == size), None)
        if level is None:
            level = F.interpolate(pyramid[0], size=size, mode="bilinear", align_corners=False)
        return level if self.ciet is None else self.ciet(level)

    @staticmethod
    def map_size(input_hw: tuple[int, int], stride: float) -> tuple[int, int]:
        return round(input_hw[0] / stride), round(input_hw[1] / stride)

    def token_maps(
        self, features: torch.Tensor, pyramid: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """The maps a token samples: F' (CIET-refined F) alone when ``token_features`` is
        "ciet" (the paper feeds CIET's output to the transformer), else F' and the pyramid."""
        return [features] if self.config.token_features == "ciet" else [features, *pyramid]

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
            xy, valid = self.keypoint_peaks(out)
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

    def keypoint_peaks(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoint token positions (input px) and validity: the peaks of the token heatmap
        when there is one (KT), else of the per-joint maps' maximum; by KT's greedy NMS when
        ``peak_nms_radius`` > 0, else by a 3x3 NMS with a centroid refinement (ours)."""
        c = self.config
        maps = out.get("token_heatmap", out["heatmaps"])
        stride = c.token_heatmap_stride or self.heatmap_stride
        if c.peak_nms_radius > 0:
            args = (c.num_keypoint_tokens, c.peak_threshold, c.peak_nms_radius)
            xy, valid = tok.greedy_nms_peaks(maps, *args)
        else:
            xy, valid = tok.heatmap_peaks(maps, c.num_keypoint_tokens, c.peak_threshold)
        return tok.heatmap_to_input(xy, stride), valid

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


def nominal_camera_scale(config: OccRobNetConfig) -> float:
    """Weak-perspective scale (normalised crop units per metre) of a hand at the nominal
    depth under the nominal focal length: where the camera head starts, so that it need not
    climb from 0 to ~7 first."""
    return 2 * config.nominal_focal / (config.nominal_root_depth * config.input_size)


def build_model(config: OccRobNetConfig) -> OccRobNet:
    """A freshly initialised OccRobNet for ``config``."""
    return OccRobNet(config)
