"""The frames of a training run: the training set (a dataset's split, the generator, or
rendered frames on photos), its augmentation, the validation set, and the checks that the
dataset options name frames that can be read."""

import argparse
import functools
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset
from tqdm import tqdm

from occrobnet_ros.data.augment import AugmentConfig
from occrobnet_ros.data.dataset import (
    Interleaved,
    RecordDataset,
    SyntheticDataset,
    split_sequences,
)
from occrobnet_ros.data.readers.record import DatasetFormatError, DatasetLayoutError, open_dataset
from occrobnet_ros.data.rendered.generator import RenderedConfig
from occrobnet_ros.data.rendered.generator import generate_sample as render_sample
from occrobnet_ros.data.rendered.install_backgrounds import default_cache as default_backgrounds
from occrobnet_ros.data.rendered.install_backgrounds import missing_photos
from occrobnet_ros.data.synthetic import TRAIN_SEED_START, SyntheticConfig, training_seeds
from occrobnet_ros.training.options import GENERATED, WRISTS_ONLY_SPLITS, augment_values

VALIDATION_SEED_START = TRAIN_SEED_START - 1000  # disjoint from training and benchmark seeds


@functools.cache
def open_reader(dataset: str, root: str, split: str):
    """The reader of ``split`` (opened once per process: InterHand2.6M parses big JSON files),
    leaving out the frames without annotations: they would train "no hand here"."""
    return open_dataset(dataset, root, split, skip_unannotated=True)


def dataset_problem(args: argparse.Namespace) -> str | None:
    """Why the dataset options cannot work (the message names the missing path), or None."""
    if args.dataset == "rendered":
        problem = missing_photos(Path(rendered_config(args).background_dir))
        if problem:
            return f"--dataset rendered: {problem}"
    if args.dataset in GENERATED:
        if args.val_sequences:
            return "--val-sequences is for datasets (synthetic validation seeds are held out)"
        return None
    if args.val_sequences and args.val_split:
        return "give --val-split or --val-sequences, not both"
    if not args.data_root:
        return f"--dataset {args.dataset} needs --data-root DIR (the dataset's root folder)"
    wrists_only = WRISTS_ONLY_SPLITS.get(args.dataset, ())
    if args.split in wrists_only:
        return f"the {args.dataset} {args.split} split annotates only the wrists; train on train"
    val_split = args.val_split or args.split
    validated = (val_split,) if args.val_size > 0 and val_split not in wrists_only else ()
    for split in dict.fromkeys((args.split, *validated)):
        try:
            reader = open_reader(args.dataset, args.data_root, split)
        except (DatasetLayoutError, DatasetFormatError, ValueError) as error:
            return str(error)
        if len(reader) == 0:
            return f"the {reader.title} {split} split under {args.data_root} has no frames"
    if args.val_sequences:
        try:
            reader = open_reader(args.dataset, args.data_root, args.split)
            split_sequences(reader, args.val_sequences)
        except ValueError as error:
            return str(error)
    return None


def steps_for_epochs(args: argparse.Namespace) -> int:
    """The optimizer steps of ``--epochs`` passes over the training frames, all processes
    together (each step takes ``--batch-size`` frames per process)."""
    reader = open_reader(args.dataset, args.data_root, args.split)
    if args.val_sequences:
        reader, _ = split_sequences(reader, args.val_sequences)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return max(1, math.ceil(args.epochs * len(reader) / (args.batch_size * world)))


# --- training frames --------------------------------------------------------------------------


def build_dataset(args: argparse.Namespace, input_size: int, count: int, start: int) -> Dataset:
    """``count`` training frames from frame ``start`` on (real datasets: a new permutation of
    the split every epoch, seeded by --seed)."""
    augmentation = augmentation_config(args)
    if args.dataset not in GENERATED:
        reader = open_reader(args.dataset, args.data_root, args.split)
        if args.val_sequences:
            reader, _ = split_sequences(reader, args.val_sequences)
        return RecordDataset(reader, input_size, augmentation, args.seed, count, start, True)
    seeds = training_seeds(count, TRAIN_SEED_START + start)
    procedural = SyntheticDataset(
        seeds, input_size, synthetic_config(args), augmentation, args.seed
    )
    if args.dataset == "synthetic":
        return procedural
    # Rendered hands on real photos, every other frame a procedural one: the new frames teach
    # real-looking hands while the procedural ones keep the synthetic benchmark's skills.
    rendered = SyntheticDataset(
        seeds, input_size, rendered_config(args), augmentation, args.seed, render_sample
    )
    return Interleaved(rendered, procedural)


def rendered_config(args: argparse.Namespace) -> RenderedConfig:
    folder = getattr(args, "backgrounds", None) or default_backgrounds()
    return RenderedConfig(background_dir=str(folder))


def augmentation_config(args: argparse.Namespace) -> AugmentConfig:
    """--no-augment, else the defaults with --augment's (or the recipe's) strengths."""
    if args.no_augment:
        return AugmentConfig.none()
    # Runs saved before --augment existed have no such key.
    return AugmentConfig(**augment_values(getattr(args, "augment", None)))


def synthetic_config(args: argparse.Namespace) -> SyntheticConfig:
    # Runs saved before --empty-fraction existed had no empty frames.
    config = SyntheticConfig(empty_probability=getattr(args, "empty_fraction", 0.0))
    return config if args.synthetic_scale == 1.0 else config.scaled(args.synthetic_scale)


# --- validation frames ------------------------------------------------------------------------


def validation_dataset(args: argparse.Namespace, input_size: int) -> Dataset | None:
    """A small set for the val.csv metrics (plain ROI crops), or None for no validation.

    synthetic: seeds outside training and benchmark. A real dataset: ``--val-size`` frames
    spread evenly over the ``--val-sequences`` (held out of training), else over ``--val-split``
    (held out only if that is not the training split).
    """
    if args.val_size <= 0:
        return None
    if args.dataset in GENERATED:
        seeds = np.arange(VALIDATION_SEED_START, VALIDATION_SEED_START + args.val_size)
        return SyntheticDataset(seeds, input_size, validation_config(args), AugmentConfig.none())
    if args.val_sequences:
        reader = open_reader(args.dataset, args.data_root, args.split)
        held_out = spread(
            RecordDataset(split_sequences(reader, args.val_sequences)[1], input_size),
            args.val_size,
        )
        _tell(f"validating on {len(held_out)} frames of the held-out sequences")
        return held_out
    split = args.val_split or args.split
    if split in WRISTS_ONLY_SPLITS.get(args.dataset, ()):
        _tell(f"no validation: the {args.dataset} {split} split has no full ground truth")
        return None
    frames = spread(
        RecordDataset(open_reader(args.dataset, args.data_root, split), input_size), args.val_size
    )
    if split == args.split:
        _tell(f"validating on {len(frames)} frames of the training split (not held out)")
    return frames


def spread(frames: Dataset, count: int) -> Subset:
    """At most ``count`` of ``frames``, evenly spaced from the first to the last."""
    chosen = np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int))
    return Subset(frames, chosen.tolist())


def _tell(message: str) -> None:
    """Print once per run (rank 0 only)."""
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        tqdm.write(message)


def validation_config(args: argparse.Namespace) -> SyntheticConfig:
    """The training camera without empty frames: validation measures poses."""
    return replace(synthetic_config(args), empty_probability=0.0)
