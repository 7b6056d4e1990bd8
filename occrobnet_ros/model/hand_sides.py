"""Exchange a trained network's right and left hands, exactly.

Why: until December 2026 the procedural generator's hand model was anatomically a left hand
that the frames labelled "right" (and its mirror "left"), so a network trained on them calls a
real right hand "left". The generator now labels each hand by its anatomy with the very same
pixels, which turns such a network into a correct one once its two hands trade places:

- the per-joint heatmaps, the joint queries and the identity classes of the two hands are
  exchanged (right joints 0-20 <-> left joints 21-41); the decoder's query mask is symmetric
  in the hands, and every other layer treats tokens and queries alike, so each output of one
  hand becomes the same output of the other;
- hand presence is exchanged, and ``rel_root`` (left wrist minus right wrist) changes sign;
- the object's offset head stays: it learned offsets from the wrist now called left, which
  the config records (``object_reference_hand``) for the decoder.

The weak-perspective camera (``weak_perspective_camera``) places the left hand through
``rel_root`` from the right one, so a network with it cannot be exchanged exactly: refused.
"""

import torch

from occrobnet_ros.skeleton import NUM_HANDS, NUM_JOINTS

from .heads import NUM_JOINT_QUERIES
from .occrobnet import OccRobNet

OTHER_HAND = {"right": "left", "left": "right"}


def exchanged_joints(count: int) -> torch.Tensor:
    """Index of ``count`` rows whose first 42 are the joints (right then left): hands swapped,
    the rest in place."""
    hands = torch.arange(NUM_JOINT_QUERIES).view(NUM_HANDS, NUM_JOINTS).flip(0).reshape(-1)
    return torch.cat([hands, torch.arange(NUM_JOINT_QUERIES, count)])


def exchanged_classes(count: int) -> torch.Tensor:
    """Identity classes (background, the 42 joints, then the object): hands swapped."""
    return torch.cat([torch.zeros(1, dtype=torch.long), 1 + exchanged_joints(count - 1)])


@torch.no_grad()
def exchange_hands(model: OccRobNet) -> None:
    """Swap ``model``'s right and left hands in place (see the module docstring)."""
    if model.pose_heads.camera is not None:
        raise ValueError("a weak-perspective camera network cannot exchange its hands exactly")
    heatmaps = model.heatmap_head[-1]
    _reorder_rows(heatmaps, exchanged_joints(heatmaps.out_channels))
    identity = model.identity_head.layers[-1]
    _reorder_rows(identity, exchanged_classes(identity.out_features))
    queries = model.transformer.query_embed.weight
    queries.copy_(queries[exchanged_joints(len(queries))])
    presence = model.pose_heads.hand_presence
    _reorder_rows(presence, torch.arange(NUM_HANDS).flip(0))
    rel_root = model.pose_heads.rel_root.layers[-1]
    rel_root.weight.neg_()
    rel_root.bias.neg_()
    model.config.object_reference_hand = OTHER_HAND[model.config.object_reference_hand]


def _reorder_rows(layer: torch.nn.Module, order: torch.Tensor) -> None:
    """Output ``i`` of a linear or 1x1-conv ``layer`` becomes its output ``order[i]``."""
    layer.weight.copy_(layer.weight[order])
    layer.bias.copy_(layer.bias[order])
