"""ResNet + Feature Pyramid Network in plain PyTorch (paper section III-A).

The body is the paper's ResNet, or (ours, for real camera images on a CPU) the body of
MediaPipe's hand landmark network (``mediapipe_hand_full`` / ``mediapipe_hand_lite``,
model/mediapipe_hand.py): trained on real hands, 2.7 M / 1.0 M parameters, with stages at the
same strides 4-32, so the FPN and everything after it are unchanged. Its converted weights
(weights/mediapipe/) load with ``checkpoint.load_backbone_weights``; it takes [0, 1] input
without ImageNet normalisation.

torchvision cannot be installed here, so both are written out, keeping torchvision's module
and parameter names (``conv1``, ``bn1``, ``layer1.0.downsample.0``, ...; FPN
``inner_blocks.i.0`` and ``layer_blocks.i.0``). A torchvision ImageNet ResNet state dict
therefore loads into ``Backbone.body`` unchanged (see ``checkpoint.load_imagenet_backbone``),
and a torchvision ``BackboneWithFPN`` state dict (``body.*``, ``fpn.*``) into ``Backbone``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .mediapipe_hand import MediaPipeHandLandmark

# name -> (block type, blocks per stage)
RESNET_LAYOUTS = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)
# name -> MediaPipe hand landmark variant
MEDIAPIPE_BODIES = {"mediapipe_hand_full": "full", "mediapipe_hand_lite": "lite"}
BACKBONES = (*RESNET_LAYOUTS, *MEDIAPIPE_BODIES)


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided, as torchvision's "ResNet v1.5") -> 1x1 with a residual."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _downsample(in_planes: int, out_planes: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and in_planes == out_planes:
        return None
    return nn.Sequential(_conv1x1(in_planes, out_planes, stride), nn.BatchNorm2d(out_planes))


class ResNet(nn.Module):
    """The ResNet trunk without its classifier; returns the outputs of layer1..layer4."""

    def __init__(self, name: str) -> None:
        super().__init__()
        if name not in RESNET_LAYOUTS:
            raise ValueError(f"unknown backbone {name!r}; choose from {sorted(RESNET_LAYOUTS)}")
        kind, depths = RESNET_LAYOUTS[name]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_planes = 64
        for index, (planes, depth) in enumerate(zip(STAGE_WIDTHS, depths)):
            stride = 1 if index == 0 else 2
            blocks = []
            for b in range(depth):
                blocks.append(block(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes * block.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
        self.stage_channels = tuple(w * block.expansion for w in STAGE_WIDTHS)
        for module in self.modules():  # torchvision's ResNet initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_features(x)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of layer1..layer4 (strides 4, 8, 16, 32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        stages = []
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
            stages.append(x)
        return stages


class FeaturePyramidNetwork(nn.Module):
    """Lin et al.'s FPN: lateral 1x1 convs, nearest-neighbour top-down path, 3x3 outputs."""

    def __init__(self, in_channels: list[int], out_channels: int) -> None:
        super().__init__()
        # Sequential wrappers reproduce torchvision's "inner_blocks.i.0.weight" key names.
        self.inner_blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, out_channels, 1)) for c in in_channels
        )
        self.layer_blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, padding=1)) for _ in in_channels
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # torchvision's FPN initialisation
                nn.init.kaiming_uniform_(module.weight, a=1)
                nn.init.zeros_(module.bias)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Features fine to coarse in, pyramid levels fine to coarse out."""
        last = self.inner_blocks[-1](features[-1])
        outputs = [self.layer_blocks[-1](last)]
        for index in range(len(features) - 2, -1, -1):
            lateral = self.inner_blocks[index](features[index])
            last = lateral + F.interpolate(last, size=lateral.shape[-2:], mode="nearest")
            outputs.insert(0, self.layer_blocks[index](last))
        return outputs


def build_body(name: str) -> nn.Module:
    """A body with ``stage_channels`` and ``forward_features`` -> maps at strides 4-32."""
    if name in RESNET_LAYOUTS:
        return ResNet(name)
    if name in MEDIAPIPE_BODIES:
        return MediaPipeHandLandmark(MEDIAPIPE_BODIES[name], heads=False)
    raise ValueError(f"unknown backbone {name!r}; choose from {list(BACKBONES)}")


class Backbone(nn.Module):
    """The body + FPN over the chosen stages; ``forward`` returns the pyramid levels.

    ``levels`` are stage numbers (1 = ResNet layer1, stride 4 ... 4 = layer4, stride 32).
    """

    def __init__(self, name: str, fpn_channels: int, levels: tuple[int, ...]) -> None:
        super().__init__()
        self.body = build_body(name)
        self.levels = tuple(sorted(levels))
        self.strides = tuple(2 ** (level + 1) for level in self.levels)
        in_channels = [self.body.stage_channels[level - 1] for level in self.levels]
        self.fpn = FeaturePyramidNetwork(in_channels, fpn_channels)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        stages = self.body.forward_features(images)
        return self.fpn([stages[level - 1] for level in self.levels])

    def freeze_batchnorm_affine(self) -> None:
        """Stop training the ResNet's BN scales and shifts, as Keypoint Transformer does.

        The running statistics still update in training mode (KT ``Model.freeze_stages``).
        """
        for module in self.body.modules():
            if isinstance(module, nn.BatchNorm2d):
                for parameter in module.parameters():
                    parameter.requires_grad_(False)
