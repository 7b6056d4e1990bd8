"""OccRobNet in pure PyTorch (no ROS imports anywhere in this package).

Importing this package imports torch. The public API:

- ``OccRobNetConfig`` (config.py), ``build_model(config)``, ``OccRobNet`` (see occrobnet.py
  for the input/output contract)
- ``compute_losses(outputs, targets, config)`` (see losses.py for the targets)
- ``save_model(model, path)``, ``load_model(path) -> (model, config)``, ``CheckpointError``
"""

from .checkpoint import CheckpointError, load_imagenet_backbone, load_model, save_model
from .config import LossWeights, OccRobNetConfig
from .losses import compute_losses, render_heatmaps
from .occrobnet import OccRobNet, build_model

__all__ = [
    "CheckpointError",
    "LossWeights",
    "OccRobNet",
    "OccRobNetConfig",
    "build_model",
    "compute_losses",
    "load_imagenet_backbone",
    "load_model",
    "render_heatmaps",
    "save_model",
]
