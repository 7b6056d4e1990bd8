"""The network's configuration: every field that defines an OccRobNet, stored in each
checkpoint's metadata, and its YAML loader (config/model/*.yaml)."""

import dataclasses
import json
from pathlib import Path
from typing import Any

from occrobnet_ros.skeleton import HAND_NAMES, NUM_HANDS, NUM_JOINTS

from .attention import ATTENTION_KINDS
from .backbone import BACKBONES, MEDIAPIPE_BODIES

NUM_JOINT_CLASSES = NUM_HANDS * NUM_JOINTS  # identity classes 1..42; 0 is background
TOKEN_FEATURES = ("pyramid", "ciet")


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
    # KT hm_weight, on its one class-agnostic 0-255 map: the token heatmap's (with
    # token_heatmap_stride > 0; the per-joint maps of Eq. 3 keep ``heatmap``).
    token_heatmap: float = 0.01
    # KT cam_scale_weight and cam_trans_weight: L1 on the weak-perspective camera against the
    # least-squares fit to the GT (with weak_perspective_camera), in KT's 128-px units.
    camera_scale: float = 0.005
    camera_translation: float = 0.05


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
    # Tokens. token_features: what a token samples. "pyramid" (ours, the default, so older
    # checkpoints load as they were): [F', P2..P5], F' the CIET-refined F; "ciet": F' only,
    # as the paper feeds CIET's output to the transformer (§III-C; F itself with ciet off).
    token_features: str = "pyramid"
    num_keypoint_tokens: int = 80
    num_object_tokens: int = 20
    # Where keypoint tokens come from. token_heatmap_stride 0 (ours, the default): peaks of
    # the maximum over the per-joint maps; s > 0: a class-agnostic token heatmap at stride s
    # (KT: 2, its 128 x 128 at a 256 input), KT's summed Gaussians of token_heatmap_sigma
    # cells its target. A stride, not a size, so that it follows input_size.
    token_heatmap_stride: int = 0
    token_heatmap_sigma: float = 1.25
    # Peak detector: 0 (ours, the default): 3x3 max-pool NMS with a centroid refinement;
    # r > 0: KT's greedy NMS, radius r cells of the map the peaks come from (KT: 5 at 128).
    peak_nms_radius: float = 0.0
    peak_threshold: float = 0.2  # of a peak-1 map (KT: intensity_th 20 of 255)
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
    # 2D joints in the '3d' representation. False (ours, the default): a 2D head on each
    # joint query. True (KT): the predicted 3D joints projected by a weak-perspective camera
    # (s, tx, ty) from the global query, so the 2D loss reaches the 3D joints; the camera is
    # supervised by a least-squares fit to the GT (KT CameraParamLoss).
    weak_perspective_camera: bool = False
    # Identity labels: gamma in KT's 128-px heatmap units (3 px = 6 px of a 256 input).
    identity_gamma: float = 3.0
    # The wrist object_translation is relative to when both hands are present (with one hand,
    # that hand's): "right" (KT's). A network whose hands were exchanged (model/hand_sides.py)
    # keeps the offsets it learned from the wrist now called left, and trains on: "left".
    object_reference_hand: str = "right"
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
            (self.token_features in TOKEN_FEATURES, f"token_features: one of {TOKEN_FEATURES}"),
            (
                not (self.backbone in MEDIAPIPE_BODIES and self.normalize_input),
                "a mediapipe_hand backbone takes [0, 1] input: normalize_input: false",
            ),
            (set(self.fpn_levels) <= {1, 2, 3, 4} and self.fpn_levels, "fpn_levels: in 1..4"),
            (self.input_size % self.heatmap_size == 0, "input_size % heatmap_size must be 0"),
            (
                self.token_heatmap_stride >= 0
                and self.input_size % max(self.token_heatmap_stride, 1) == 0,
                "token_heatmap_stride: 0, or a divisor of input_size",
            ),
            (self.peak_nms_radius >= 0, "peak_nms_radius >= 0"),
            (self.object_reference_hand in HAND_NAMES, f"object_reference_hand: {HAND_NAMES}"),
            (
                not (self.weak_perspective_camera and self.pose_representation != "3d"),
                "weak_perspective_camera needs pose_representation '3d' (2.5d's 2D are bins)",
            ),
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
