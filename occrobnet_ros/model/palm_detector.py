"""MediaPipe's palm detector (``palm_detection_{full,lite}.tflite``) in plain PyTorch.

Written out from the TFLite graphs of the ``mediapipe==0.10.21`` wheel (Apache-2.0; weights
from ``occrobnet_ros.tools.convert_mediapipe``). A BlazePalm-style single-shot detector:

- body: 5x5 stem (stride 2) and stages of residual "Blaze" blocks (5x5 depthwise, 1x1
  conv, shortcut, PReLU) at strides 2, 4, 8, 16, 32 with 32, 64, 128, 256, 256 channels
  (4 blocks a stage in "full", 3 in "lite"); a strided block's shortcut is a 2x2 max pool
  with zero channels appended when the width grows;
- a two-level top-down path: the stride-32 map is upsampled (bilinear, half-pixel centres),
  projected, added to the stride-16 map and refined, then the same again down to stride 8;
- SSD heads at strides 8 (24x24 cells, 2 anchors each) and 16 (12x12 cells, 6 anchors
  each): 2016 anchors in all.

Input: RGB, float values in [0, 1], NCHW ``(B, 3, 192, 192)``, the whole image letterboxed
to a square with black borders (``occrobnet_ros.inference.hand_detection`` prepares it).

Outputs of ``forward``, exactly the tflite's (anchor order: stride 8 cells row-major with
their 2 anchors, then stride 16 cells with their 6):

- ``boxes`` ``(B, 2016, 18)``: raw regressors relative to the anchor, in input pixels:
  box centre x, y offset, width, height, then 7 palm keypoints (x, y offsets);
- ``scores`` ``(B, 2016, 1)``: raw score logits (sigmoid after clipping to +-100).

Decoding them (anchors, sigmoid, weighted NMS) is ``inference/hand_detection.py``.
"""

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from .mediapipe_hand import SameConv2d, depthwise_conv

INPUT_SIZE = 192
NUM_KEYPOINTS = 7
NUM_COORDS = 4 + 2 * NUM_KEYPOINTS  # box (4) + keypoints (7 x 2)
STAGE_CHANNELS = (32, 64, 128, 256, 256)  # strides 2, 4, 8, 16, 32
ANCHORS_PER_CELL = {8: 2, 16: 6}
REFINE_BLOCKS = 2  # Blaze blocks after each top-down merge
VARIANTS = ("full", "lite")


@dataclasses.dataclass(frozen=True)
class PalmLayout:
    blocks_per_stage: int


LAYOUTS = {"full": PalmLayout(blocks_per_stage=4), "lite": PalmLayout(blocks_per_stage=3)}


class BlazeBlock(nn.Module):
    """5x5 depthwise (no bias) -> 1x1 conv, plus the shortcut, then PReLU.

    With stride 2 the shortcut is a 2x2 max pool of the input, zero-padded with new channels
    at the end when the block widens.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = depthwise_conv(in_channels, 5, stride, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)
        self.activation = nn.PReLU(out_channels)
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.stride == 2:
            shortcut = F.max_pool2d(x, 2, 2, ceil_mode=True)  # TFLite 'SAME' 2x2 pooling
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return self.activation(shortcut + self.pointwise(self.depthwise(x)))


def blaze_stage(in_channels: int, out_channels: int, blocks: int, strided: bool) -> nn.Sequential:
    """An optional strided block (``in_channels`` -> ``out_channels``), then ``blocks`` more."""
    layers = [BlazeBlock(in_channels, out_channels, stride=2)] if strided else []
    layers += [BlazeBlock(out_channels, out_channels) for _ in range(blocks)]
    return nn.Sequential(*layers)


class UpsampleProject(nn.Module):
    """Top-down step: bilinear x2 (half-pixel centres, as TFLite's), 1x1 conv, PReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(in_channels, out_channels, 1)
        self.activation = nn.PReLU(out_channels)

    def forward(self, coarse: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(coarse, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
        return lateral + self.activation(self.project(up))


class MediaPipePalmDetector(nn.Module):
    """The palm detector, ``variant`` "full" or "lite" (see the module docstring)."""

    def __init__(self, variant: str = "full") -> None:
        super().__init__()
        if variant not in LAYOUTS:
            raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")
        blocks = LAYOUTS[variant].blocks_per_stage
        self.variant = variant
        self.stem = SameConv2d(3, STAGE_CHANNELS[0], 5, stride=2)
        self.stem_activation = nn.PReLU(STAGE_CHANNELS[0])
        self.stages = nn.ModuleList()
        in_channels = STAGE_CHANNELS[0]
        for index, channels in enumerate(STAGE_CHANNELS):
            self.stages.append(blaze_stage(in_channels, channels, blocks, strided=index > 0))
            in_channels = channels
        c8, c16, c32 = STAGE_CHANNELS[2:]
        # Registration order follows the tflite graph's op order (the converter relies on it).
        self.up16 = UpsampleProject(c32, c16)
        self.refine16 = blaze_stage(c16, c16, REFINE_BLOCKS, strided=False)
        self.scores16 = nn.Conv2d(c16, ANCHORS_PER_CELL[16], 1)
        self.boxes16 = nn.Conv2d(c16, ANCHORS_PER_CELL[16] * NUM_COORDS, 1)
        self.up8 = UpsampleProject(c16, c8)
        self.refine8 = blaze_stage(c8, c8, REFINE_BLOCKS, strided=False)
        self.scores8 = nn.Conv2d(c8, ANCHORS_PER_CELL[8], 1)
        self.boxes8 = nn.Conv2d(c8, ANCHORS_PER_CELL[8] * NUM_COORDS, 1)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Body feature maps at strides 2, 4, 8, 16, 32."""
        x = self.stem_activation(self.stem(x))
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        _, _, stride8, stride16, stride32 = self.forward_features(x)
        top16 = self.refine16(self.up16(stride32, stride16))
        top8 = self.refine8(self.up8(top16, stride8))
        scores = torch.cat(
            [_per_anchor(self.scores8(top8), 1), _per_anchor(self.scores16(top16), 1)], dim=1
        )
        boxes = torch.cat(
            [
                _per_anchor(self.boxes8(top8), NUM_COORDS),
                _per_anchor(self.boxes16(top16), NUM_COORDS),
            ],
            dim=1,
        )
        return {"boxes": boxes, "scores": scores}


def _per_anchor(head: torch.Tensor, values: int) -> torch.Tensor:
    """(B, anchors x values, H, W) -> (B, H x W x anchors, values), the tflite's NHWC order."""
    return head.permute(0, 2, 3, 1).reshape(head.shape[0], -1, values)
