"""Keypoint and object tokens: where they sit, and the features they carry (DESIGN.md 4.4).

Coordinates are input-crop pixels with pixel centres at integer positions (the convention of
a pinhole projection ``u = fx X/Z + cx``): heatmap cell ``i`` at stride ``s`` is centred on
input pixel ``(i + 0.5) s - 0.5``.

* Keypoint candidates: peaks of the class-agnostic maximum over the 42 joint heatmaps, kept
  where they are the maximum of their 3x3 neighbourhood (NMS) and above a threshold, refined
  to sub-cell precision by the centroid of that neighbourhood; the strongest K are kept.
  Options (issue 22): the peaks of KT's one class-agnostic token heatmap at a finer
  resolution instead, and KT's greedy NMS of a radius instead of the 3x3 NMS.
* Object points: ``num_object_tokens`` cells drawn at random among those the segmentation
  calls object (the paper: "randomly selected from the segmentation maps"). At evaluation
  time the draw uses a fixed pattern, so inference is deterministic.
* Features: bilinear samples of every feature map at the token position (KT), through an MLP
  (one for hand and one for object tokens, as KT), concatenated with a DETR sine code of the
  position (KT's 'simpleCat'). Tokens are padded to a fixed count; the padding mask is True
  on padded slots, which hold zeros.
"""

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from .heads import MLP


def heatmap_to_input(xy: torch.Tensor, stride: float) -> torch.Tensor:
    """Heatmap cell coordinates -> input pixels."""
    return (xy + 0.5) * stride - 0.5


def input_to_heatmap(xy: torch.Tensor, stride: float) -> torch.Tensor:
    """Input pixels -> heatmap cell coordinates."""
    return (xy + 0.5) / stride - 0.5


def heatmap_peaks(
    heatmaps: torch.Tensor, max_peaks: int, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-agnostic NMS peaks of [B, J, h, w] maps -> (xy [B, K, 2] cells, valid [B, K])."""
    b, _, h, w = heatmaps.shape
    score_map = heatmaps.detach().amax(dim=1, keepdim=True)
    is_peak = (score_map == F.max_pool2d(score_map, 3, stride=1, padding=1)) & (
        score_map > threshold
    )
    scores = score_map.masked_fill(~is_peak, -math.inf).flatten(1)
    k = min(max_peaks, h * w)
    top, index = scores.topk(k, dim=1)
    xy = torch.stack(((index % w).to(heatmaps.dtype), (index // w).to(heatmaps.dtype)), dim=-1)
    xy = xy + _centroid_offset(score_map, index)
    return _pad(xy, torch.isfinite(top), max_peaks)


def greedy_nms_peaks(
    heatmaps: torch.Tensor, max_peaks: int, threshold: float, radius: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """KT's peak detector on the maximum of [B, J, h, w] maps -> (xy [B, K, 2] cells, valid).

    Greedy: take the strongest cell above ``threshold``, suppress every cell within
    ``radius`` cells (Euclidean) of it, repeat; the first K are the top K. Cells, no sub-cell
    refinement (KT's tokens sit on its 128 x 128 grid). A fixed K rounds, no early stop: a
    stop would need a device-to-host sync per round.
    """
    b, _, h, w = heatmaps.shape
    scores = heatmaps.detach().amax(dim=1).flatten(1).float()
    index = torch.arange(h * w, device=heatmaps.device)
    cells = torch.stack(((index % w).float(), (index // w).float()), dim=-1)  # [h*w, 2]
    picked, found = [], []
    for _ in range(min(max_peaks, h * w)):
        top, best = scores.max(dim=1)
        xy = cells[best]  # [B, 2]
        near = (cells - xy[:, None]).square().sum(-1) <= radius**2  # [B, h*w]
        scores = scores.masked_fill(near, -math.inf)
        picked.append(xy)
        found.append(top > threshold)
    xy = torch.stack(picked, 1).to(heatmaps.dtype)
    return _pad(xy, torch.stack(found, 1), max_peaks)


def _centroid_offset(score_map: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Sub-cell offset of each peak: the centroid of its 3x3 neighbourhood's positive scores."""
    b, _, h, w = score_map.shape
    patches = F.unfold(score_map.clamp(min=0), 3, padding=1)  # [B, 9, h*w]
    weights = patches.gather(2, index.unsqueeze(1).expand(-1, 9, -1)).transpose(1, 2)
    d = torch.arange(-1, 2, dtype=score_map.dtype, device=score_map.device)  # no host copy
    dx, dy = d.repeat(3), d.repeat_interleave(3)
    total = weights.sum(-1).clamp(min=1e-6)
    return torch.stack(((weights * dx).sum(-1) / total, (weights * dy).sum(-1) / total), -1)


def object_points(
    segmentation_logits: torch.Tensor, num_points: int, threshold: float, random: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells drawn from the object mask [B, 1, h, w] -> (xy [B, N, 2] cells, valid [B, N])."""
    probability = torch.sigmoid(segmentation_logits.detach())
    return mask_points(probability > threshold, num_points, random)


def mask_points(
    mask: torch.Tensor, num_points: int, random: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``num_points`` cells of a boolean mask [B, 1, h, w], drawn without replacement."""
    b, _, h, w = mask.shape
    if random:
        priority = torch.rand(b, h * w, device=mask.device)
    else:
        priority = _fixed_priority(h * w, mask.device).expand(b, -1)
    priority = priority.masked_fill(~mask.flatten(1), -math.inf)
    top, index = priority.topk(min(num_points, h * w), dim=1)
    xy = torch.stack((index % w, index // w), dim=-1).float()
    return _pad(xy, torch.isfinite(top), num_points)


@functools.cache
def _fixed_priority(cells: int, device: torch.device) -> torch.Tensor:
    """The evaluation-time draw order of ``cells`` cells: seeded, made once per device (a
    host-to-device copy per forward would stall CUDA and break CUDA-graph capture)."""
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode(False):  # cached: must not be an inference tensor
        return torch.rand(cells, generator=generator).to(device)


def ground_truth_points(
    points: torch.Tensor, valid: torch.Tensor, max_points: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The valid GT points [B, J, 2] moved to the front, padded/truncated to ``max_points``.

    KT places its tokens at the ground-truth joints during the first training epochs.
    """
    order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)
    points = points.gather(1, order.unsqueeze(-1).expand(-1, -1, 2))
    valid = valid.gather(1, order)
    return _pad(points[:, :max_points], valid[:, :max_points], max_points)


def _pad(xy: torch.Tensor, valid: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    missing = size - xy.shape[1]
    if missing > 0:
        xy = F.pad(xy, (0, 0, 0, missing))
        valid = F.pad(valid, (0, missing), value=False)
    return xy.masked_fill(~valid.unsqueeze(-1), 0.0), valid


def sample_features(
    maps: list[torch.Tensor], xy: torch.Tensor, input_size: tuple[int, int]
) -> torch.Tensor:
    """Bilinear samples of each map at input-pixel positions xy [B, P, 2] -> [B, P, sum C]."""
    height, width = input_size
    xy = xy.float()  # bf16 would round positions to ~1 px; sample in float32
    # A Python scalar for square inputs (always, in practice) saves a host-to-device copy.
    scale = 2.0 / width if width == height else xy.new_tensor([2.0 / width, 2.0 / height])
    grid = ((xy + 0.5) * scale - 1.0).unsqueeze(2)  # [B, P, 1, 2], align_corners=False
    samples = [F.grid_sample(m.float(), grid, align_corners=False) for m in maps]
    return torch.cat(samples, dim=1).squeeze(-1).transpose(1, 2).to(maps[0].dtype)


def sine_position_code(
    xy: torch.Tensor, input_size: tuple[int, int], dim: int, temperature: float = 100.0
) -> torch.Tensor:
    """DETR's normalised sine code of positions [B, P, 2] -> [B, P, dim] (y half, x half).

    KT uses temperature 100 and a 2*pi scale, 16 features per axis.
    """
    height, width = input_size
    per_axis = dim // 2
    x = (xy[..., 0] + 0.5) / width * 2 * math.pi
    y = (xy[..., 1] + 0.5) / height * 2 * math.pi
    steps = torch.arange(per_axis, dtype=xy.dtype, device=xy.device)
    frequencies = temperature ** (2 * (steps // 2) / per_axis)

    def encode(values: torch.Tensor) -> torch.Tensor:
        angles = values.unsqueeze(-1) / frequencies
        return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), -1).flatten(-2)

    return torch.cat((encode(y), encode(x)), dim=-1)


class TokenEmbedding(nn.Module):
    """Sampled multi-scale features -> token vectors: [appearance MLP output, sine code]."""

    def __init__(self, feature_dim: int, hidden_dim: int, pos_dim: int) -> None:
        super().__init__()
        appearance_dim = hidden_dim - pos_dim
        widths = [2 * hidden_dim, hidden_dim]
        # KT ends its token MLPs with a ReLU too, then concatenates the position code.
        self.hand_embed = MLP(feature_dim, widths, appearance_dim, final_activation=True)
        self.object_embed = MLP(feature_dim, widths, appearance_dim, final_activation=True)
        self.pos_dim = pos_dim

    def forward(
        self,
        maps: list[torch.Tensor],
        xy: torch.Tensor,
        is_object: torch.Tensor,
        valid: torch.Tensor,
        input_size: tuple[int, int],
    ) -> torch.Tensor:
        """xy [B, P, 2] input px, is_object/valid [B, P] -> tokens [B, P, hidden]."""
        features = sample_features(maps, xy, input_size)
        hand = self.hand_embed(features)
        obj = self.object_embed(features)
        appearance = torch.where(is_object.unsqueeze(-1), obj, hand)
        position = sine_position_code(xy.float(), input_size, self.pos_dim)
        tokens = torch.cat((appearance, position.to(appearance.dtype)), -1)
        return tokens * valid.unsqueeze(-1).to(tokens.dtype)
