"""Contextual Information Enhancement Transformer (CIET), paper section III-B and Fig. 2.

The block follows CoTNet's ``CotLayer`` (model_reference.md section 2), fed with the FPN map F
as query, key and value:

1. static context ``K1 = ReLU(BN(grouped kxk conv(F)))``: keys contextualised by their
   neighbours;
2. attention ``A = [K1, Q] W_theta W_delta`` (Eq. 1): theta is a 1x1 conv with BN + ReLU,
   delta a 1x1 conv without activation, giving k*k weights per pixel and channel group;
3. a softmax over each pixel's k x k window (the paper: "softmax based attention"; CoTNet
   normalises with GroupNorm instead);
4. dynamic context ``K2 = V (*) A`` (Eq. 2): the local matrix multiplication, i.e. each pixel
   sums the values of its window with its own weights (a sum over shifted views of the
   padded values in plain PyTorch, instead of CoTNet's CUDA kernel);
5. fusion of K1 and K2 by a split attention over the two branches, as in CoTNet (without
   its BN on the pooled vector, so that a batch of one can train).

The paper calls CIET an enhancement "backed up by" the residual backbone, so the block adds its
output to F; with ``ciet: off`` the model uses F unchanged.
"""

import torch
import torch.nn.functional as F
from torch import nn


class CIET(nn.Module):
    """Context-aware refinement of a feature map [B, C, H, W] -> [B, C, H, W]."""

    def __init__(
        self, channels: int, kernel_size: int = 3, share_planes: int = 8, key_groups: int = 4
    ) -> None:
        super().__init__()
        if channels % share_planes or channels % key_groups:
            raise ValueError("CIET channels must be divisible by share_planes and key_groups")
        self.kernel_size = kernel_size
        self.share_planes = share_planes
        self.attention_groups = channels // share_planes
        self.key_embed = nn.Sequential(
            nn.Conv2d(
                channels,
                channels,
                kernel_size,
                padding=kernel_size // 2,
                groups=key_groups,
                bias=False,
            ),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.value_embed = nn.Sequential(
            nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels)
        )
        self.theta = nn.Sequential(
            nn.Conv2d(2 * channels, channels // 2, 1, bias=False),
            nn.BatchNorm2d(channels // 2),
            nn.ReLU(inplace=True),
        )
        self.delta = nn.Conv2d(channels // 2, kernel_size**2 * self.attention_groups, 1)
        self.dynamic_norm = nn.BatchNorm2d(channels)
        hidden = max(channels // 2, 32)
        # CoTNet normalises this pooled [B, C, 1, 1] branch with BN, which cannot train on a
        # batch of one (one value per channel); the fusion MLP goes without it.
        self.fusion = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 2 * channels, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        static = self.key_embed(features)
        attention = self.local_attention(static, features)
        dynamic = self.aggregate(self.value_embed(features), attention)
        dynamic = F.silu(self.dynamic_norm(dynamic))
        return features + self.fuse(static, dynamic)

    def local_attention(self, keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """Eq. 1 plus the window softmax: [B, groups, k*k, H, W], summing to 1 over k*k."""
        b, _, h, w = queries.shape
        logits = self.delta(self.theta(torch.cat((keys, queries), dim=1)))
        return logits.view(b, self.attention_groups, self.kernel_size**2, h, w).softmax(dim=2)

    def aggregate(self, values: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Eq. 2: every pixel's weighted sum of the values in its window.

        Channel c uses the weights of group ``c mod groups`` (CoTNet's weight sharing).
        The sum runs over the k*k shifted views of the zero-padded values (what ``F.unfold``
        would stack), accumulated one offset at a time: the same products and the same order,
        without unfold's k*k-times larger intermediate (~5x faster on a CPU).
        """
        b, c, h, w = values.shape
        k, pad = self.kernel_size, self.kernel_size // 2
        padded = F.pad(values, (pad, pad, pad, pad))
        padded = padded.unflatten(1, (self.share_planes, self.attention_groups))
        out = None
        for dy in range(k):
            for dx in range(k):
                term = padded[..., dy : dy + h, dx : dx + w] * attention[:, None, :, dy * k + dx]
                out = term if out is None else out.add_(term)
        return out.reshape(b, c, h, w)

    def fuse(self, static: torch.Tensor, dynamic: torch.Tensor) -> torch.Tensor:
        """Per-channel softmax choice between the static and the dynamic context."""
        b, c = static.shape[:2]
        pooled = (static + dynamic).mean(dim=(2, 3), keepdim=True)
        weights = self.fusion(pooled).view(b, 2, c, 1, 1).softmax(dim=1)
        return weights[:, 0] * static + weights[:, 1] * dynamic
