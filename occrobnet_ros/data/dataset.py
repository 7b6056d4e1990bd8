"""A torch Dataset of synthetic frames rendered on the fly (data/synthetic.py).

Index ``i`` is the frame of ``seeds[i]``: rendered, augmented (its draws seeded by the frame's
seed and ``augment_seed``), cropped and turned into targets (data/targets.py). So an item is
the same in any process and on any rerun, which is what makes ``--resume`` and DataLoader
workers reproducible.

Cost (measured on these 2-core machines): rendering a 640x480 frame and making its example
takes ~30 ms on an idle core, against >= 0.9 s for a training step of occrobnet_tiny_cpu at
batch 8, so data is < 30 % of the work even in the training process; one DataLoader worker
overlaps it with the step. A pre-rendered cache would save little and was not built.
"""

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from occrobnet_ros.data.augment import AugmentConfig, augment
from occrobnet_ros.data.synthetic import SyntheticConfig, generate_sample
from occrobnet_ros.data.targets import make_example


class SyntheticDataset(Dataset):
    """(image [3, S, S], targets) per seed; see the module docstring."""

    def __init__(
        self,
        seeds: Sequence[int],
        input_size: int,
        synthetic: SyntheticConfig | None = None,
        augmentation: AugmentConfig | None = None,
        augment_seed: int = 0,
    ) -> None:
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.input_size = input_size
        self.synthetic = synthetic or SyntheticConfig()
        self.augmentation = augmentation or AugmentConfig.none()
        self.augment_seed = augment_seed

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        seed = int(self.seeds[index])
        sample = generate_sample(seed, self.synthetic)
        rng = np.random.default_rng([seed, self.augment_seed])
        sample, crop, colour = augment(rng, sample, self.input_size, self.augmentation)
        image, targets = make_example(sample, crop, self.input_size)
        image = (image * torch.from_numpy(colour).float()[:, None, None]).clamp_(0.0, 1.0)
        return image, targets
