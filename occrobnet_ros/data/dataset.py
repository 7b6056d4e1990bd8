"""torch Datasets of training examples: synthetic frames rendered on the fly, or the frames of a
dataset reader (InterHand2.6M, HO-3D, H2O-3D; data/readers/record.py).

Both turn a frame into an example the same way (``training_example``): augment (data/augment.py;
its draws seeded by the item and ``augment_seed``), crop and make the targets
(data/targets.py), then scale the colours. So an item is the same in any process and on any
rerun, which is what makes ``--resume`` and DataLoader workers reproducible.

``SyntheticDataset``: index ``i`` is the frame of ``seeds[i]``, rendered on the fly: rendering
is a small share of a training step, so one DataLoader worker hides it and no pre-rendered
cache was built (docs/performance.md, "Training data").

``RecordDataset``: index ``i`` is training position ``start + i`` in an endless sequence of
epochs, each a permutation of all the reader's frames drawn from ``(seed, epoch)`` (or the
reader's order, without shuffling). Horizontal flips apply only where a mirrored frame is still
a frame of the dataset (``FLIPPABLE``): InterHand2.6M's hands, not HO-3D's or H2O-3D's YCB
objects.

``split_sequences(reader, names)``: the reader's frames outside and inside the named sequences,
each a ``ReaderSubset`` with the reader's API, to hold whole sequences out for validation
(``train --val-sequences``): neighbouring frames of one sequence are near-copies, so frames
drawn from training sequences would measure memory, not generalisation.
"""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from occrobnet_ros.data.augment import AugmentConfig, augment
from occrobnet_ros.data.sample import Sample
from occrobnet_ros.data.synthetic import SyntheticConfig, generate_sample
from occrobnet_ros.data.targets import make_example

Example = tuple[torch.Tensor, dict[str, torch.Tensor]]
# May a horizontal flip augment the frames of this dataset (data/augment.py)?
FLIPPABLE = {"synthetic": True, "interhand": True, "ho3d": False, "h2o3d": False}


def training_example(
    sample: Sample, rng: np.random.Generator, input_size: int, augmentation: AugmentConfig
) -> Example:
    """(image [3, S, S] in [0, 1], targets) of one augmented crop of ``sample``."""
    sample, crop, colour = augment(rng, sample, input_size, augmentation)
    image, targets = make_example(sample, crop, input_size)
    image = (image * torch.from_numpy(colour).float()[:, None, None]).clamp_(0.0, 1.0)
    return image, targets


class Interleaved(Dataset):
    """Two equally long datasets taking turns: item i is first[i] for even i, second[i] for
    odd i (the same length, so a resumed run's frame counts mean the same)."""

    def __init__(self, first: Dataset, second: Dataset) -> None:
        if len(first) != len(second):
            raise ValueError(f"interleaving {len(first)} with {len(second)} items")
        self.parts = (first, second)

    def __len__(self) -> int:
        return len(self.parts[0])

    def __getitem__(self, index: int):
        return self.parts[index % 2][index]


class SyntheticDataset(Dataset):
    """(image [3, S, S], targets) per seed; see the module docstring. ``generate(seed,
    config) -> Sample`` is the procedural generator's ``generate_sample`` by default, or
    another generator's (data/rendered/: ``RenderedConfig`` and its ``generate_sample``; each
    DataLoader worker then renders in its own EGL context)."""

    def __init__(
        self,
        seeds: Sequence[int],
        input_size: int,
        synthetic: Any = None,
        augmentation: AugmentConfig | None = None,
        augment_seed: int = 0,
        generate: Callable[[int, Any], Sample] = generate_sample,
    ) -> None:
        # A range stays a range (O(1) to pickle to the DataLoader workers).
        self.seeds = seeds if isinstance(seeds, range) else np.asarray(seeds, dtype=np.int64)
        self.input_size = input_size
        self.synthetic = synthetic or SyntheticConfig()
        self.augmentation = augmentation or AugmentConfig.none()
        self.augment_seed = augment_seed
        self.generate = generate

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index: int) -> Example:
        seed = int(self.seeds[index])
        sample = self.generate(seed, self.synthetic)
        rng = np.random.default_rng([seed, self.augment_seed])
        return training_example(sample, rng, self.input_size, self.augmentation)


class ReaderSubset:
    """Some of a reader's frames, with the reader API that ``RecordDataset`` uses."""

    def __init__(self, reader: Any, indices: Sequence[int]) -> None:
        self.reader, self.indices = reader, [int(i) for i in indices]
        self.dataset, self.title, self.split = reader.dataset, reader.title, reader.split
        self.frames = [reader.frames[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def record(self, index: int, **options) -> Any:
        return self.reader.record(self.indices[index], **options)


def split_sequences(reader: Any, names: Sequence[str]) -> tuple[ReaderSubset, ReaderSubset]:
    """(frames of the other sequences, frames of the ``names`` sequences) of ``reader``.

    Raises ValueError naming the sequences the split lacks, or if nothing would be left to
    train on."""
    known = {info.sequence for info in reader.frames}
    missing = sorted(set(names) - known)
    if missing:
        listed = ", ".join(sorted(known)[:20]) + (", ..." if len(known) > 20 else "")
        raise ValueError(
            f"the {reader.title} {reader.split} split has no sequence {', '.join(missing)} "
            f"(its sequences: {listed})"
        )
    held_out = set(names)
    held, rest = [], []
    for index, info in enumerate(reader.frames):
        (held if info.sequence in held_out else rest).append(index)
    if not rest:
        raise ValueError(f"--val-sequences holds out every {reader.title} sequence")
    return ReaderSubset(reader, rest), ReaderSubset(reader, held)


class RecordDataset(Dataset):
    """(image [3, S, S], targets) of a dataset reader's frames; see the module docstring.

    ``reader`` is one of data/readers/record.py's ``open_dataset`` readers (``len`` and
    ``record(i)``). ``count`` items from training position ``start`` (default: one pass over
    the frames).
    """

    def __init__(
        self,
        reader: Any,
        input_size: int,
        augmentation: AugmentConfig | None = None,
        augment_seed: int = 0,
        count: int | None = None,
        start: int = 0,
        shuffle: bool = False,
    ) -> None:
        if len(reader) == 0:
            raise ValueError(f"{reader.title} {reader.split} split has no frames")
        self.reader = reader
        self.input_size = input_size
        self.augmentation = augmentation or AugmentConfig.none()
        if not FLIPPABLE[reader.dataset]:
            self.augmentation = replace(self.augmentation, flip_probability=0.0)
        self.augment_seed = augment_seed
        self.count = len(reader) - start if count is None else count
        self.start = start
        self.shuffle = shuffle
        self._epoch: tuple[int, np.ndarray] | None = None  # the last epoch's permutation

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Example:
        if not 0 <= index < self.count:
            raise IndexError(f"item {index} of {self.count}")
        position = self.start + index
        sample = self.reader.record(self.frame(position))
        rng = np.random.default_rng([position, self.augment_seed])
        return training_example(sample, rng, self.input_size, self.augmentation)

    def frame(self, position: int) -> int:
        """The reader's frame index at training ``position``."""
        epoch, offset = divmod(position, len(self.reader))
        if not self.shuffle:
            return offset
        if self._epoch is None or self._epoch[0] != epoch:
            rng = np.random.default_rng([self.augment_seed, epoch])
            self._epoch = (epoch, rng.permutation(len(self.reader)))
        return int(self._epoch[1][offset])
