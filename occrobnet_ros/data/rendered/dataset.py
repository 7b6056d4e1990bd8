"""A torch Dataset of rendered frames, made into training examples as data/dataset.py makes
the procedural ones (``training_example``: augment, crop, targets).

``SyntheticDataset`` calls the procedural generator by name, so it cannot take this one; this
class is the same with ``generate_sample`` of generator.py. (With a ``generate`` argument,
``SyntheticDataset(seeds, size, config, generate=rendered.generate_sample)``, it could.)

Each DataLoader worker renders in its own EGL context, created on its first item. EGL does
not survive a fork: if the parent process has rendered (e.g. looked at a sample) before the
workers start, give the DataLoader ``multiprocessing_context="spawn"``; forked workers would
raise (renderer.renderer) rather than hang.
"""

from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset

from occrobnet_ros.data.augment import AugmentConfig
from occrobnet_ros.data.dataset import Example, training_example
from occrobnet_ros.data.rendered.generator import RenderedConfig, generate_sample


class RenderedDataset(Dataset):
    """(image [3, S, S], targets) per seed, rendered on the fly."""

    def __init__(
        self,
        seeds: Sequence[int],
        input_size: int,
        rendered: RenderedConfig,
        augmentation: AugmentConfig | None = None,
        augment_seed: int = 0,
    ) -> None:
        # A range stays a range (O(1) to pickle to the DataLoader workers).
        self.seeds = seeds if isinstance(seeds, range) else np.asarray(seeds, dtype=np.int64)
        self.input_size = input_size
        self.rendered = rendered
        self.augmentation = augmentation or AugmentConfig.none()
        self.augment_seed = augment_seed

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index: int) -> Example:
        seed = int(self.seeds[index])
        sample = generate_sample(seed, self.rendered)
        rng = np.random.default_rng([seed, self.augment_seed])
        return training_example(sample, rng, self.input_size, self.augmentation)
