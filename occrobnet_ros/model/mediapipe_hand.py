"""MediaPipe's hand landmark network (``hand_landmark_{full,lite}.tflite``) in plain PyTorch.

Written out from the TFLite graphs of the ``mediapipe==0.10.21`` wheel (Apache-2.0; the
weights are converted by ``occrobnet_ros.tools.convert_mediapipe``). The body is a
MobileNetV2-style stack of inverted residual blocks (1x1 expansion, ReLU6 -> kxk depthwise,
ReLU6 -> linear 1x1 projection, identity shortcut when the shape allows); batch norms are
already folded into the convolution biases. A global average pool feeds four linear heads.

Input: RGB, float values in [0, 1] (MediaPipe feeds the tflite that range), NCHW,
``(B, 3, 224, 224)``, a square crop rotated so that the hand points up (wrist at the bottom,
as ``occrobnet_ros.inference.hand_detection`` cuts it from a palm detection).

Outputs of ``forward`` (a dict, B = batch):

- ``landmarks`` ``(B, 21, 3)``: x, y in pixels of the 224x224 input; z (depth relative to the
  wrist, smaller = nearer the camera) on the same pixel scale. MediaPipe's normalised z is
  ``z / 224 / 0.4``.
- ``presence_logit``, ``presence`` ``(B,)``: whether the crop holds a hand (MediaPipe keeps a
  hand when ``presence > 0.5``).
- ``handedness_logit``, ``handedness`` ``(B,)``: probability of MediaPipe's label "Left",
  which assumes a mirrored (selfie) image: on an unmirrored camera image it is the
  probability of a *right* hand.
- ``world_landmarks`` ``(B, 21, 3)``: metres, origin near the hand's centre, axes of the
  rotated crop (MediaPipe rotates x, y by the crop's rotation to get image-aligned axes).

``forward_features(x)`` returns the feature maps at strides 4, 8, 16, 32 (``strides``) with
``stage_channels`` channels, for use as a backbone under an FPN; the stride-32 map is the
final expanded features the heads pool over.

TFLite's "SAME" padding with stride 2 puts the odd extra pixel at the bottom/right (e.g.
3x3 on 224: 0 before, 1 after); :class:`SameConv2d` reproduces it exactly.
"""

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

NUM_LANDMARKS = 21
INPUT_SIZE = 224
VARIANTS = ("full", "lite")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one axis: the extra pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's 'SAME' padding, asymmetric when strided."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        # Stride 1 with an odd kernel pads symmetrically: the convolution can do it itself.
        padding = kernel // 2 if stride == 1 else 0
        super().__init__(
            in_channels, out_channels, kernel, stride, padding, groups=groups, bias=bias
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
            left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def depthwise_conv(channels: int, kernel: int, stride: int = 1, bias: bool = True) -> SameConv2d:
    return SameConv2d(channels, channels, kernel, stride, groups=channels, bias=bias)


def pointwise_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1)


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One inverted residual block: ``expanded`` = 0 means no 1x1 expansion."""

    out: int
    expanded: int
    kernel: int
    stride: int = 1


class InvertedResidual(nn.Module):
    """[1x1 expand, ReLU6] -> kxk depthwise, ReLU6 -> 1x1 project (linear) [+ shortcut].

    The shortcut is the identity when input and output shapes match. The lite model has one
    strided block whose output keeps the input's channel count; its shortcut is a 2x2 max
    pool of the input (``pooled_shortcut``).
    """

    def __init__(self, in_channels: int, spec: BlockSpec) -> None:
        super().__init__()
        hidden = spec.expanded or in_channels
        self.expand = pointwise_conv(in_channels, hidden) if spec.expanded else None
        self.depthwise = depthwise_conv(hidden, spec.kernel, spec.stride)
        self.project = pointwise_conv(hidden, spec.out)
        same_channels = in_channels == spec.out
        self.identity_shortcut = same_channels and spec.stride == 1
        self.pooled_shortcut = same_channels and spec.stride == 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else F.relu6(self.expand(x))
        out = self.project(F.relu6(self.depthwise(out)))
        if self.identity_shortcut:
            return out + x
        if self.pooled_shortcut:
            return out + F.max_pool2d(x, 2, 2)
        return out


class ExpandedFeatures(nn.Module):
    """The last layers before pooling: 1x1 expansion, ReLU6, 3x3 depthwise, ReLU6."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.expand = pointwise_conv(in_channels, channels)
        self.depthwise = depthwise_conv(channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.depthwise(F.relu6(self.expand(x))))


@dataclasses.dataclass(frozen=True)
class LandmarkLayout:
    """Stem width, the blocks of each stage (strides 2, 4, 8, 16, 32), final feature width."""

    stem: int
    stages: tuple[tuple[BlockSpec, ...], ...]
    features: int


def _repeat(count: int, spec: BlockSpec) -> tuple[BlockSpec, ...]:
    return (spec,) * count


B = BlockSpec
LAYOUTS = {
    "full": LandmarkLayout(
        stem=24,
        stages=(
            (B(16, 0, 3),),
            (B(24, 64, 3, 2), B(24, 144, 3)),
            (B(40, 144, 5, 2), B(40, 240, 5)),
            (
                B(80, 240, 3, 2),
                *_repeat(2, B(80, 480, 3)),
                B(112, 480, 5),
                *_repeat(2, B(112, 672, 5)),
            ),
            (B(192, 672, 5, 2), *_repeat(3, B(192, 1152, 5))),
        ),
        features=1152,
    ),
    "lite": LandmarkLayout(
        stem=24,
        stages=(
            (B(16, 0, 3),),
            (B(16, 64, 3, 2), B(16, 96, 3)),
            (B(24, 96, 5, 2), B(24, 144, 5)),
            (
                B(48, 144, 3, 2),
                *_repeat(2, B(48, 288, 3)),
                B(64, 288, 5),
                *_repeat(2, B(64, 384, 5)),
            ),
            (B(112, 384, 5, 2), *_repeat(3, B(112, 672, 5))),
        ),
        features=672,
    ),
}
del B


class MediaPipeHandLandmark(nn.Module):
    """The hand landmark network, ``variant`` "full" or "lite" (see the module docstring)."""

    strides = (4, 8, 16, 32)

    def __init__(self, variant: str = "full", heads: bool = True) -> None:
        """``heads=False``: the body alone (``forward_features``), as a backbone."""
        super().__init__()
        if variant not in LAYOUTS:
            raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")
        layout = LAYOUTS[variant]
        self.variant = variant
        self.stem = SameConv2d(3, layout.stem, 3, stride=2)
        self.stages = nn.ModuleList()
        channels = layout.stem
        for specs in layout.stages:
            blocks = []
            for spec in specs:
                blocks.append(InvertedResidual(channels, spec))
                channels = spec.out
            self.stages.append(nn.Sequential(*blocks))
        self.final_features = ExpandedFeatures(channels, layout.features)
        stage_outputs = [specs[-1].out for specs in layout.stages]
        self.stage_channels = (*stage_outputs[1:4], layout.features)
        if heads:
            self._add_heads(layout.features)

    def _add_heads(self, features: int) -> None:
        self.handedness_head = nn.Linear(features, 1)
        self.presence_head = nn.Linear(features, 1)
        self.landmark_head = nn.Linear(features, NUM_LANDMARKS * 3)
        self.world_landmark_head = nn.Linear(features, NUM_LANDMARKS * 3)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at strides 4, 8, 16 and 32 (channels ``stage_channels``)."""
        x = F.relu6(self.stem(x))
        x = self.stages[0](x)  # stride 2
        features = []
        for stage in self.stages[1:]:
            x = stage(x)
            features.append(x)
        features[-1] = self.final_features(features[-1])
        return features

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.forward_features(x)[-1].mean(dim=(2, 3))
        presence_logit = self.presence_head(pooled)[:, 0]
        handedness_logit = self.handedness_head(pooled)[:, 0]
        return {
            "landmarks": self.landmark_head(pooled).view(-1, NUM_LANDMARKS, 3),
            "presence_logit": presence_logit,
            "presence": torch.sigmoid(presence_logit),
            "handedness_logit": handedness_logit,
            "handedness": torch.sigmoid(handedness_logit),
            "world_landmarks": self.world_landmark_head(pooled).view(-1, NUM_LANDMARKS, 3),
        }
