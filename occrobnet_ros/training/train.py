"""``occrobnet train``: train OccRobNet (one process, or one per GPU under torchrun).

    occrobnet train --model config/model/occrobnet_r50.yaml --dataset ho3d \\
        --data-root DIR --out runs/NAME [--split train] [--val-split SPLIT | --val-sequences
        SEQ ...] [--steps N] \\
        [--batch-size B] [--lr LR] [--seed S] [--init CKPT.safetensors]
    occrobnet train --recipe config/recipe/ho3d.yaml --data-root DIR --out runs/NAME [...]
    occrobnet train --resume runs/NAME [--steps N]
    torchrun --nproc_per_node=N -m occrobnet_ros.cli train ...   (the same arguments)

``--dataset`` is ``synthetic`` (the generator, data/synthetic/; no --data-root),
``rendered`` (data/rendered/'s frames on the photos of ``--backgrounds``, every other frame a
procedural one; validated on procedural seeds), ``interhand``, ``ho3d`` or ``h2o3d`` (a
root folder in the dataset's official layout, data/readers/; docs/datasets.md). A root
that is missing or laid out otherwise ends the command with exit code 2 and a message naming
the missing paths, before anything is written.

Optimisation follows Keypoint Transformer (model_reference.md 1.6): AdamW (weight decay 0.01)
with two parameter groups, the backbone (ResNet + FPN) at ``--backbone-lr-scale`` times the
learning rate (KT: 0.1, for an ImageNet-initialised backbone) and everything else at ``--lr``;
for the first ``--gt-token-fraction`` of the schedule (steps or minutes) the tokens sit at the
ground-truth joints and object mask (KT's first epochs). On top of KT: a linear warm-up then
a cosine decay to ``--final-lr-fraction`` (over ``--steps``, or over ``--schedule-minutes`` of
wall-clock training, after which the run ends), gradient-norm clipping, and mixed precision on
CUDA.
``--set KEY=VALUE`` overrides fields of the ``--model`` config (the paper's Table III
ablations: ``ciet=false``, ``attention=softmax``). ``--lr-schedule constant`` keeps the
learning rate at ``--lr`` after the warm-up (KT's schedule: its step decay never comes within
its epochs). ``--augment KEY=VALUE`` sets the augmentation strengths (data/augment.py's
``AugmentConfig`` fields).

``--recipe FILE`` (config/recipe/*.yaml, docs/paper_recipe.md) is a YAML mapping of these
options (their long names with ``_``; ``model`` relative to the recipe's folder; ``augment`` a
mapping): its values become the options' defaults, so an option given on the command line wins
(``--augment`` key by key; ``--steps`` replaces the recipe's ``epochs``). The command prints
what the recipe set and ``config.json`` records the resolved values, so ``--resume`` needs no
recipe. A key that is no option exits 2 naming it.

The run directory holds ``config.json`` (the arguments), ``log.csv`` (every loss term per
step), ``val.csv`` (validation metrics every ``--val-every`` steps), ``checkpoint.safetensors``
(the weights, loadable by model.checkpoint.load_model) and ``train_state.safetensors`` (the
optimizer moments as tensors; step, learning-rate groups and RNG state in JSON metadata; no
pickles). ``--resume`` reloads both and continues at the saved step with the same batches and
random draws, so the loss trajectory is the one an uninterrupted run would have had.

Data: step k of a run reads the training positions ``data_start + k * B ... + B - 1``
(data/dataset.py). ``synthetic``: training seeds, rendered on the fly; a dataset: its
``--split`` in a new order every epoch, drawn from ``--seed``. Both are augmented (flips only
where a mirror image is still valid: not HO-3D's or H2O-3D's objects) unless ``--no-augment``.
Validation uses plain ROI crops of held-out seeds (synthetic) or of ``--val-size`` frames spread
over ``--val-split`` (default ``--split``: not held out), or over ``--val-sequences``, whole
sequences of ``--split`` left out of training; splits that annotate only the wrists
are not validated on. Under torchrun every rank reads its own slice (DistributedSampler), the
gradient is all-reduced by DistributedDataParallel and only rank 0 writes files.
"""

import argparse
import csv
import functools
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm import tqdm

from occrobnet_ros.data.augment import AugmentConfig
from occrobnet_ros.data.dataset import (
    Interleaved,
    RecordDataset,
    SyntheticDataset,
    split_sequences,
)
from occrobnet_ros.data.readers.record import DatasetFormatError, DatasetLayoutError, open_dataset
from occrobnet_ros.data.rendered.dataset import RenderedDataset
from occrobnet_ros.data.rendered.generator import RenderedConfig
from occrobnet_ros.data.rendered.install_backgrounds import default_cache as default_backgrounds
from occrobnet_ros.data.synthetic import TRAIN_SEED_START, SyntheticConfig, training_seeds
from occrobnet_ros.data.targets import collate

DATASETS = ("synthetic", "rendered", "interhand", "ho3d", "h2o3d")
# Generated on the fly, from seeds (no --data-root; validated on procedural seeds).
GENERATED = ("synthetic", "rendered")
LR_SCHEDULES = ("cosine", "constant")
AUGMENT_KEYS = tuple(field.name for field in fields(AugmentConfig))
# Options that belong to one run, never to a recipe.
NOT_IN_RECIPES = ("recipe", "resume", "out", "help")
# Splits that annotate only the wrists (the rest is the benchmark's secret): no training, no
# validation on them.
WRISTS_ONLY_SPLITS = {"ho3d": ("evaluation",), "h2o3d": ("evaluation",)}
EXIT_BAD_INPUT = 2
DEFAULT_STEPS = 10000
CHECKPOINT = "checkpoint.safetensors"
STATE = "train_state.safetensors"
VALIDATION_SEED_START = TRAIN_SEED_START - 1000  # disjoint from training and benchmark seeds
LOSS_NAMES = (
    "total",
    "heatmap",
    "segmentation",
    "identity",
    "bone",
    "joint_3d",
    "joint_2d",
    "joint_2p5d",
    "rel_root",
    "hand_presence",
    "object_translation",
    "object_corner",
    "object_box",
    "object_corner_2d",
    "object_presence",
    "token_heatmap",
    "camera_scale",
    "camera_translation",
)
VAL_METRICS = (
    "mpjpe_mm",
    "mrrpe_mm",
    "object_translation_cm",
    "mssd_cm",
    "occluded_precision",
    "occluded_recall",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recipe",
        metavar="FILE",
        help="a training recipe (config/recipe/*.yaml): its values are the defaults of these "
        "options; options given here win (docs/paper_recipe.md)",
    )
    parser.add_argument("--model", help="model config YAML (--init and --resume carry theirs)")
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",  # repeated --set options add up (a script's and its caller's)
        metavar="KEY=VALUE",
        help="override --model's config, e.g. ciet=false attention=softmax (the paper's Table "
        "III ablations) or loss_weights.hand_presence=4; the last of a key wins",
    )
    parser.add_argument("--dataset", choices=DATASETS, default="synthetic")
    parser.add_argument(
        "--backgrounds",
        metavar="DIR",
        help="--dataset rendered: the installed hand-free photos (default: "
        "install_backgrounds' folder, ~/.cache/occrobnet_ros/backgrounds)",
    )
    parser.add_argument(
        "--data-root", "--root", help="the dataset's root folder, official layout (not synthetic)"
    )
    parser.add_argument("--split", default="train", help="the split to train on")
    parser.add_argument(
        "--val-split", help="the split to validate on (default: --split, not held out)"
    )
    parser.add_argument(
        "--val-sequences",
        nargs="+",
        metavar="SEQ",
        help="hold these sequences of --split out of training and validate on them",
    )
    parser.add_argument("--out", help="run directory (with --resume: the resumed run's)")
    parser.add_argument("--resume", help="continue the run in this directory")
    parser.add_argument(
        "--init", help="start from these weights (safetensors; their config unless --model)"
    )
    parser.add_argument(
        "--init-parts",
        nargs="+",
        metavar="PREFIX",
        help="with --init and --model: take only the tensors whose names start with these "
        "(e.g. transformer pose_heads); the rest starts as --model initialises it (a new "
        "backbone under trained heads)",
    )
    parser.add_argument(
        "--train-only",
        nargs="+",
        metavar="PREFIX",
        help="train only the parameters whose names start with these (e.g. "
        "pose_heads.joint_visibility); the rest runs frozen, as at inference",
    )
    parser.add_argument(
        "--backbone-weights",
        metavar="FILE",
        help="initialise the backbone's body: torchvision-layout ImageNet weights for a ResNet "
        "(safetensors; README, 'ImageNet weights'), "
        "weights/mediapipe/hand_landmark_{full,lite}.safetensors for a mediapipe_hand body",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--steps", type=int, help="length of the schedule (default 10000; --resume: the run's)"
    )
    length.add_argument(
        "--epochs",
        type=float,
        help="length of the schedule in passes over the training frames (a dataset, not "
        "synthetic): steps = ceil(epochs x frames / (batch size x processes))",
    )
    parser.add_argument("--stop-at", type=int, help="save and stop after this step")
    parser.add_argument(
        "--schedule-minutes",
        type=float,
        help="a wall-clock schedule: the cosine decay spans this many minutes of training "
        "and the run ends when they are spent (--steps is then only an upper bound); for a "
        "fixed time budget whose step time is not known in advance",
    )
    parser.add_argument(
        "--time-limit-minutes",
        type=float,
        help="save and stop once this session has trained this long (resume continues)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="per process")
    parser.add_argument(
        "--batch-reuse",
        type=int,
        default=1,
        help="optimizer steps per loaded batch (data echoing: for when frames render slower "
        "than the GPU trains; 1: every step a new batch)",
    )
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--backbone-lr-scale", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default="cosine",
        help="after the warm-up: cosine decay to --final-lr-fraction, or constant at --lr "
        "(Keypoint Transformer's)",
    )
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--final-lr-fraction", type=float, default=0.1)
    parser.add_argument("--clip-grad", type=float, default=10.0, help="max grad norm; 0: off")
    parser.add_argument("--gt-token-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-start", type=int, default=0, help="first training frame")
    parser.add_argument("--synthetic-scale", type=float, default=1.0, help="camera scale")
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument(
        "--augment",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help=f"augmentation strengths, KEY one of {', '.join(AUGMENT_KEYS)} (default: Keypoint "
        "Transformer's, plus full-frame crops for the estimator's fallback)",
    )
    parser.add_argument(
        "--empty-fraction",
        type=float,
        default=0.05,
        help="synthetic frames with no hand and no object (presence negatives; 30 %% of them "
        "raw noise, a flat colour or a gradient)",
    )
    parser.add_argument("--workers", type=int, default=1, help="DataLoader processes")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mixed precision on CUDA (bfloat16, or float16 with loss scaling)",
    )
    parser.add_argument(
        "--compile",
        nargs="?",
        const="inductor",
        metavar="BACKEND",
        help="torch.compile the training forward (default backend inductor): an eager GPU "
        "step looked bound by kernel launches (see README)",
    )
    parser.add_argument("--checkpoint-every", type=int, default=500, help="steps")
    parser.add_argument("--checkpoint-minutes", type=float, default=8.0)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--val-size", type=int, default=64)
    parser.add_argument("--log-every", type=int, default=1)


# --- recipes ----------------------------------------------------------------------------------


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The options of ``argv``, with ``--recipe``'s values as their defaults (cli.py calls this
    instead of ``parse_args``, so that an option given on the command line wins)."""
    first, _ = parser.parse_known_args(argv)
    if not first.recipe:
        return parser.parse_args(argv)
    if first.resume:
        parser.error("--recipe starts a run; --resume continues one with its config.json's values")
    try:
        recipe = read_recipe(first.recipe, parser)
    except ValueError as error:
        parser.error(f"--recipe {first.recipe}: {error}")
    augment = recipe.pop("augment", None) or {}
    parser.set_defaults(**recipe)
    args = parser.parse_args(argv)
    try:  # the command line's --augment pairs on top of the recipe's, key by key
        args.augment = {**augment, **augment_values(args.augment)}
    except ValueError as error:
        parser.error(str(error))
    # A length given on the command line replaces the recipe's, steps or epochs.
    if recipe.get("epochs") is not None and args.steps is not None:
        args.epochs = None
    if recipe.get("steps") is not None and args.epochs is not None:
        args.steps = None
    if int(os.environ.get("RANK", "0")) == 0:
        print(describe_recipe(args, {**recipe, "augment": augment}))
    return args


def read_recipe(path: str, parser: argparse.ArgumentParser) -> dict:
    """The recipe's values by option name; ValueError names a key that is no option, or a
    value the option cannot take."""
    import yaml

    try:
        with open(path, encoding="utf-8") as stream:
            recipe = yaml.safe_load(stream) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read it ({error})") from None
    if not isinstance(recipe, dict):
        raise ValueError("expected a mapping of option names to values")
    actions = {action.dest: action for action in parser._actions}
    unknown = [key for key in recipe if key not in actions or key in NOT_IN_RECIPES]
    if unknown:
        names = ", ".join(map(str, unknown))
        raise ValueError(f"unknown key(s) {names} (not options of occrobnet train)")
    if recipe.get("steps") is not None and recipe.get("epochs") is not None:
        raise ValueError("give steps or epochs, not both")
    values = {key: _recipe_value(actions[key], key, value) for key, value in recipe.items()}
    if values.get("model"):  # relative to the recipe, wherever the command runs
        values["model"] = os.path.normpath(Path(path).parent / values["model"])
    if "augment" in values:
        values["augment"] = augment_values(values["augment"])
    return values


def _recipe_value(action: argparse.Action, key: str, value):
    """``value`` as the option ``key`` would parse it; ValueError if it cannot."""
    if value is None or key == "augment":
        return value
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(map(str, action.choices))}")
    if action.nargs == 0:  # a switch: true or false
        if not isinstance(value, bool):
            raise ValueError(f"{key}: expected true or false, got {value!r}")
        return value
    if action.type in (int, float):
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if number is None or action.type(number) != number:
            raise ValueError(f"{key}: expected {action.type.__name__}, got {value!r}")
        return action.type(number)
    if action.nargs is None:
        return str(value)
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list, got {value!r}")
    return [str(item) for item in value]


def augment_values(value) -> dict[str, float]:
    """Augmentation strengths from ``--augment`` pairs, a recipe's mapping, or None."""
    if not value:
        return {}
    pairs = value.items() if isinstance(value, dict) else (_pair(item) for item in value)
    strengths = {}
    for key, number in pairs:
        if key not in AUGMENT_KEYS:
            raise ValueError(f"augment: unknown key {key} (one of {', '.join(AUGMENT_KEYS)})")
        try:
            strengths[key] = float(number)
        except (TypeError, ValueError):
            raise ValueError(f"augment: {key} takes a number, got {number!r}") from None
        if strengths[key] < 0:
            raise ValueError(f"augment: {key} must not be negative, got {number}")
    return strengths


def _pair(item: str) -> tuple[str, str]:
    key, equals, text = item.partition("=")
    if not equals:
        raise ValueError(f"--augment {item!r}: expected KEY=VALUE")
    return key, text


def describe_recipe(args: argparse.Namespace, recipe: dict) -> str:
    """What the recipe set, and which of its values the command line replaced."""
    flat = {key: value for key, value in recipe.items() if key != "augment"}
    flat.update({f"augment.{key}": value for key, value in recipe["augment"].items()})
    resolved = vars(args) | {f"augment.{key}": v for key, v in args.augment.items()}
    kept = [f"{key}={value}" for key, value in flat.items() if resolved[key] == value]
    replaced = [
        f"{key}={resolved[key]} (recipe: {value})"
        for key, value in flat.items()
        if resolved[key] != value
    ]
    lines = [f"recipe {args.recipe}: " + " ".join(kept)]
    if replaced:
        lines.append("  replaced on the command line: " + " ".join(replaced))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.resume:
        if args.epochs is not None or args.backbone_weights:
            raise SystemExit(
                "occrobnet train: a resumed run keeps its schedule and weights (--epochs and "
                "--backbone-weights start a new run; --steps lengthens this one)"
            )
        args = resumed_arguments(args)
    elif not (args.model or args.init):
        raise SystemExit("occrobnet train: give --model, --init or --resume")
    elif not args.out:
        raise SystemExit("occrobnet train: give --out DIR, the run directory")
    elif args.set and not args.model:
        raise SystemExit("occrobnet train: --set overrides --model's config: give --model")
    elif args.set:
        model_config(args.model, args.set)  # a bad override exits here, before any work
    if args.batch_reuse < 1:
        raise SystemExit("occrobnet train: --batch-reuse must be 1 or more")
    problem = dataset_problem(args) or options_problem(args)
    if problem:
        print(f"occrobnet train: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.resume:  # one form in config.json, whether from --augment or a recipe
        args.augment = augment_values(args.augment)
    if args.epochs and not args.resume:
        args.steps = steps_for_epochs(args)
        print(f"--epochs {args.epochs:g}: {args.steps} steps")
    args.steps = args.steps or DEFAULT_STEPS
    if args.threads:
        torch.set_num_threads(args.threads)
    Trainer(args).train()
    return 0


def resumed_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """The run's saved arguments, with the runtime options of this call (and its --steps and
    --data-root if given)."""
    saved = json.loads((Path(args.resume) / "config.json").read_text(encoding="utf-8"))
    keep = (
        "stop_at",
        "time_limit_minutes",
        "workers",
        "threads",
        "device",
        "amp",
        "resume",
        "log_every",
        "compile",
    )
    # Options newer than the run default to off.
    merged = {
        "batch_reuse": 1,
        "val_sequences": None,
        "compile": None,
        "schedule_minutes": None,
        "set": None,
        "epochs": None,
        "backbone_weights": None,
        "init_parts": None,
        "recipe": None,
        "lr_schedule": "cosine",
        "augment": None,
        **saved,
    }
    merged.update({key: getattr(args, key) for key in keep})
    merged["out"] = args.resume
    if args.steps:
        merged["steps"] = args.steps
    if args.data_root:  # the dataset may have moved
        merged["data_root"] = args.data_root
    return argparse.Namespace(**merged)


def dataset_problem(args: argparse.Namespace) -> str | None:
    """Why the dataset options cannot work (the message names the missing path), or None."""
    if args.dataset == "rendered":
        folder = rendered_config(args).background_dir
        if not (Path(folder) / "photos").is_dir():
            return (
                f"--dataset rendered needs hand-free photos in {folder}/photos: install them "
                "with scripts/get_backgrounds.sh, or give --backgrounds DIR"
            )
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


# --- distributed ------------------------------------------------------------------------------


@dataclass
class Distributed:
    """Rank and world size: (0, 1) unless launched by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Distributed:
    """Join the torchrun process group when WORLD_SIZE > 1."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    backend = "nccl" if device.startswith("cuda") else "gloo"
    torch.distributed.init_process_group(backend)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    return Distributed(torch.distributed.get_rank(), world_size, local_rank)


# --- the pieces -------------------------------------------------------------------------------


@functools.cache
def open_reader(dataset: str, root: str, split: str):
    """The reader of ``split`` (opened once per process: InterHand2.6M parses big JSON files),
    leaving out the frames without annotations: they would train "no hand here"."""
    return open_dataset(dataset, root, split, skip_unannotated=True)


def options_problem(args: argparse.Namespace) -> str | None:
    """Why --epochs, --init-parts or --backbone-weights cannot apply to this run, or None."""
    if args.resume:
        return None  # checked before the run's arguments were read back
    epochs, weights = args.epochs, args.backbone_weights
    if epochs is not None and args.dataset in GENERATED:
        return "--epochs needs a dataset: synthetic frames are unlimited, give --steps"
    if epochs is not None and epochs <= 0:
        return f"--epochs must be positive, got {epochs:g}"
    if args.init_parts and not (args.init and args.model):
        return "--init-parts takes parts of --init into --model's network: give both"
    if weights and not args.model:
        return "--backbone-weights initialises the body of --model's network: give --model"
    if weights and not Path(weights).is_file():
        return f"--backbone-weights {weights}: no such file"
    try:
        augment_values(args.augment)
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


def model_config(path: str, overrides: list[str] | None):
    """The config of ``path`` with ``--set KEY=VALUE`` overrides (YAML values; a dotted key
    reaches into a nested field: loss_weights.NAME)."""
    import yaml

    from occrobnet_ros.model import OccRobNetConfig

    data = OccRobNetConfig.from_yaml(path).to_dict()
    for item in overrides or []:
        key, equals, text = item.partition("=")
        *parents, name = key.split(".")
        target = data
        for parent in parents:
            target = target.get(parent) if isinstance(target, dict) else None
        if not equals or not isinstance(target, dict) or name not in target:
            raise SystemExit(
                f"occrobnet train: --set {item!r}: expected KEY=VALUE with KEY one of "
                f"{', '.join(sorted(data))} (or loss_weights.NAME)"
            )
        target[name] = yaml.safe_load(text)
    try:
        return OccRobNetConfig.from_dict(data)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"occrobnet train: --set {' '.join(overrides)}: {error}") from None


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
    rendered = RenderedDataset(seeds, input_size, rendered_config(args), augmentation, args.seed)
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


def synthetic_config(args: argparse.Namespace) -> SyntheticConfig:
    # Runs saved before --empty-fraction existed had no empty frames.
    config = SyntheticConfig(empty_probability=getattr(args, "empty_fraction", 0.0))
    return config if args.synthetic_scale == 1.0 else config.scaled(args.synthetic_scale)


def validation_config(args: argparse.Namespace) -> SyntheticConfig:
    """The training camera without empty frames: validation measures poses."""
    return replace(synthetic_config(args), empty_probability=0.0)


def freeze_except(model: torch.nn.Module, prefixes: list[str]) -> None:
    """Train only the parameters under ``prefixes``; the rest of the network runs frozen, as
    at inference (eval mode: BatchNorm statistics fixed, no dropout): a new head learns on the
    features and tokens the trained network really produces."""
    names = [name for name, _ in model.named_parameters()]
    unknown = [p for p in prefixes if not any(name.startswith(p) for name in names)]
    if unknown:
        raise SystemExit(f"occrobnet train: --train-only {' '.join(unknown)}: no such parameters")
    model.eval()
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith(tuple(prefixes))


def parameter_groups(model: torch.nn.Module, lr: float, backbone_scale: float) -> list[dict]:
    """KT's two groups: the backbone at ``backbone_scale * lr``, the rest at ``lr``."""
    backbone, rest = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (backbone if name.startswith("backbone.") else rest).append(parameter)
    return [
        {"params": backbone, "lr": lr * backbone_scale, "lr_scale": backbone_scale},
        {"params": rest, "lr": lr, "lr_scale": 1.0},
    ]


def learning_rate(step: int, args: argparse.Namespace, elapsed: float = 0.0) -> float:
    """Linear warm-up to ``lr``, then ``lr`` (``lr_schedule`` constant) or a cosine decay to
    ``final_lr_fraction * lr``: over the steps, or over ``schedule_minutes`` of training
    (``elapsed`` seconds so far) if set."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    if getattr(args, "lr_schedule", "cosine") == "constant":  # older runs: cosine
        return args.lr
    if args.schedule_minutes:
        progress = elapsed / (args.schedule_minutes * 60)
    else:
        progress = (step - args.warmup_steps) / max(1, args.steps - args.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return args.lr * (args.final_lr_fraction + (1 - args.final_lr_fraction) * cosine)


def gt_token_phase(step: int, args: argparse.Namespace, elapsed: float = 0.0) -> bool:
    """Whether tokens sit at the ground truth: the first ``gt_token_fraction`` of the steps, or
    of ``schedule_minutes`` (``elapsed`` seconds so far) on a wall-clock schedule."""
    if args.schedule_minutes:
        return elapsed < args.gt_token_fraction * args.schedule_minutes * 60
    return step < int(args.gt_token_fraction * args.steps)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --- training state as safetensors ------------------------------------------------------------


def save_train_state(path: Path, optimizer: torch.optim.Optimizer, step: int, extra: dict) -> None:
    """Optimizer moments as tensors, everything else as JSON metadata; written atomically."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    groups = [{k: v for k, v in g.items() if k != "params"} for g in state["param_groups"]]
    metadata = {
        "step": str(step),
        "param_groups": json.dumps(groups),
        "param_ids": json.dumps([g["params"] for g in state["param_groups"]]),
        "scalars": json.dumps(scalars),
        "python_random": json.dumps(_jsonable(random.getstate())),
        "extra": json.dumps(extra),
    }
    temporary = path.with_suffix(".tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    os.replace(temporary, path)


def load_train_state(path: Path, optimizer: torch.optim.Optimizer) -> tuple[int, dict]:
    """Restore the optimizer and RNG state; return (step, extra)."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in json.loads(metadata["scalars"]).items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = json.loads(metadata["param_groups"])
    for group, ids in zip(groups, json.loads(metadata["param_ids"])):
        group["params"] = ids
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    random.setstate(_python_state(json.loads(metadata["python_random"])))
    return int(metadata["step"]), json.loads(metadata["extra"])


def _jsonable(state):
    return [list(part) if isinstance(part, tuple) else part for part in state]


def _python_state(state):
    return tuple(tuple(part) if isinstance(part, list) else part for part in state)


# --- the loop ---------------------------------------------------------------------------------


class Trainer:
    """One training run (see the module docstring)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from occrobnet_ros.model import build_model, load_model
        from occrobnet_ros.model.checkpoint import (
            NEW_HEADS,
            load_backbone_weights,
            load_state_parts,
            load_state_strict,
            read_safetensors,
        )

        self.args = args
        self.dist = init_distributed(args.device)
        self.device = torch.device(
            f"cuda:{self.dist.local_rank}" if args.device == "cuda" else args.device
        )
        self.out = Path(args.out)
        seed_everything(args.seed + self.dist.rank)
        if args.resume:
            self.model, self.config = load_model(self.out / CHECKPOINT)
        elif args.init and not args.model:
            self.model, self.config = load_model(args.init)
        else:
            self.config = model_config(args.model, args.set)
            self.model = build_model(self.config)
            if args.init and args.init_parts:
                tensors = read_safetensors(args.init)[1]
                copied = load_state_parts(self.model, tensors, tuple(args.init_parts), args.init)
                if self.dist.is_main:
                    print(f"{len(copied)} tensors from {args.init} ({' '.join(args.init_parts)})")
            elif args.init:  # the weights of --init under the config of --model (same shapes)
                tensors = read_safetensors(args.init)[1]
                load_state_strict(self.model, tensors, args.init, NEW_HEADS)
            if args.backbone_weights:
                ignored = load_backbone_weights(self.model, args.backbone_weights)
                if self.dist.is_main:
                    print(f"backbone from {args.backbone_weights} (ignored: {ignored or 'none'})")
        self.model.to(self.device).train()
        if args.train_only:
            freeze_except(self.model, args.train_only)
        torch.backends.cudnn.benchmark = True  # fixed input size: pick the fastest kernels
        groups = parameter_groups(self.model, args.lr, args.backbone_lr_scale)
        self.optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.weight_decay)
        self.step = 0
        self.elapsed = 0.0  # training seconds of earlier sessions of this run
        if args.resume:
            self.step, extra = load_train_state(self.out / STATE, self.optimizer)
            self.elapsed = float(extra.get("elapsed_s", 0.0))
        self.ddp = self.wrap_distributed()
        # Only the forward is compiled; checkpoints and validation use the plain module.
        self.network = torch.compile(self.ddp, backend=args.compile) if args.compile else self.ddp
        self.amp_dtype = self.autocast_dtype()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def wrap_distributed(self) -> torch.nn.Module:
        if self.dist.world_size == 1:
            return self.model
        ids = [self.dist.local_rank] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(
            self.model, device_ids=ids, find_unused_parameters=True
        )

    def autocast_dtype(self) -> torch.dtype | None:
        """bfloat16 (or float16 with loss scaling) on CUDA; full precision on CPU."""
        if self.device.type != "cuda" or not self.args.amp:
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def loader(self) -> DataLoader:
        """The batches of steps ``self.step`` .. ``steps - 1``, in order (one per
        ``--batch-reuse`` steps)."""
        args, world = self.args, self.dist.world_size
        per_step = args.batch_size * world
        reuse = args.batch_reuse
        total = math.ceil(args.steps / reuse) * per_step
        dataset = build_dataset(args, self.config.input_size, total, args.data_start)
        remaining = Subset(dataset, range(self.step // reuse * per_step, total))
        sampler = None
        if world > 1:
            sampler = DistributedSampler(remaining, world, self.dist.rank, shuffle=False)
        return DataLoader(
            remaining,
            args.batch_size,
            sampler=sampler,
            num_workers=args.workers,
            collate_fn=collate,
            persistent_workers=False,
            prefetch_factor=4 if args.workers else None,
            # Workers start from a clean process, not a fork of this one: a fork inherits
            # OpenCV's thread pool in whatever state the parent's validation rendering left
            # it, and rendering in such a worker hung now and then (seen in CI, and as a
            # segfault or hang when the worker set cv2's thread count).
            multiprocessing_context="forkserver" if args.workers else None,
            pin_memory=self.device.type == "cuda",
            # Its own generator: creating the iterator must not draw from the global RNG, or
            # a resumed run's dropout would differ from an uninterrupted one's.
            generator=torch.Generator().manual_seed(args.seed),
        )

    def train(self) -> None:
        args = self.args
        if self.dist.is_main:
            self.prepare_directory()
        # Rendered once: the same frames are scored every --val-every steps.
        held_out = validation_dataset(args, self.config.input_size)
        validation = None
        if held_out is not None and self.dist.is_main:
            validation = [held_out[i] for i in range(len(held_out))]
        last_save = time.monotonic()
        started = time.monotonic() - self.elapsed
        deadline = math.inf
        if args.time_limit_minutes:
            deadline = time.monotonic() + args.time_limit_minutes * 60
        bar = tqdm(
            total=args.steps, initial=self.step, disable=not self.dist.is_main, mininterval=5
        )
        schedule_end = args.schedule_minutes * 60 if args.schedule_minutes else math.inf
        for images, targets in self.echoed(self.loader()):
            elapsed = self.agreed_seconds(time.monotonic() - started)
            lr = learning_rate(self.step, args, elapsed)
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            losses = self.forward_losses(images, targets, gt_token_phase(self.step, args, elapsed))
            grad_norm = self.backward(losses["total"])
            self.step += 1
            bar.update(1)
            # Every rank must stop at the same step: rank 0 decides for all under DDP.
            out_of_time = self.agree(time.monotonic() > deadline)
            schedule_done = elapsed >= schedule_end
            if self.dist.is_main:
                seconds = time.monotonic() - started
                # Reading a loss waits for the GPU: only on the steps that log.
                if self.step % args.log_every == 0:
                    values = {k: float(v.detach()) for k, v in losses.items()}
                    bar.set_postfix(loss=f"{values['total']:.2f}", lr=f"{lr:.1e}", refresh=False)
                    self.log_step(values, lr, float(grad_norm), seconds)
                finished = self.step == args.steps or schedule_done
                if self.step % args.val_every == 0 or finished:
                    self.validate(validation, seconds)
                last_step = finished or self.step == args.stop_at or out_of_time
                if (
                    last_step
                    or self.step % args.checkpoint_every == 0
                    or (time.monotonic() - last_save > args.checkpoint_minutes * 60)
                ):
                    self.save(seconds)
                    last_save = time.monotonic()
            if self.step == args.stop_at or out_of_time or schedule_done:
                if out_of_time and self.dist.is_main:
                    tqdm.write(f"time limit reached: saved step {self.step}; --resume continues")
                break
        bar.close()

    def echoed(self, batches: Iterable) -> Iterator:
        """Each batch ``--batch-reuse`` times in a row (a resumed run skips the repeats its
        first batch already had), so that step k always trains on batch k // reuse."""
        repeats = self.args.batch_reuse - self.step % self.args.batch_reuse
        for batch in batches:
            for _ in range(repeats):
                if self.step >= self.args.steps:  # the last batch may have steps to spare
                    return
                yield batch
            repeats = self.args.batch_reuse

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (no communication when the deadline is off)."""
        if self.dist.world_size == 1 or not self.args.time_limit_minutes:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        torch.distributed.broadcast(value, src=0)
        return bool(value.item())

    def agreed_seconds(self, seconds: float) -> float:
        """Rank 0's ``seconds`` on every rank: a wall-clock schedule must give every rank the
        same learning rate (communication only under DDP with --schedule-minutes)."""
        if self.dist.world_size == 1 or not self.args.schedule_minutes:
            return seconds
        value = torch.tensor([seconds], dtype=torch.float64, device=self.device)
        torch.distributed.broadcast(value, src=0)
        return float(value.item())

    def forward_losses(
        self, images: torch.Tensor, targets: dict[str, torch.Tensor], use_gt_tokens: bool
    ) -> dict[str, torch.Tensor]:
        """The loss terms of one batch (autocast on CUDA); tokens at the GT if asked."""
        from occrobnet_ros.model import compute_losses

        images = images.to(self.device, non_blocking=True)
        targets = {k: v.to(self.device, non_blocking=True) for k, v in targets.items()}
        enabled = self.amp_dtype is not None
        with torch.autocast(self.device.type, self.amp_dtype or torch.float32, enabled=enabled):
            outputs = self.network(images, gt_tokens=targets if use_gt_tokens else None)
            return compute_losses(outputs, targets, self.config)

    def backward(self, total: torch.Tensor) -> torch.Tensor:
        """One optimizer step; returns the gradient norm before clipping (a 0-d tensor)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        max_norm = self.args.clip_grad if self.args.clip_grad > 0 else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return norm

    # --- files ---------------------------------------------------------------------------

    def prepare_directory(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        if not self.args.resume:
            saved = {k: v for k, v in vars(self.args).items() if not k.startswith("_")}
            (self.out / "config.json").write_text(json.dumps(saved, indent=2), encoding="utf-8")
            self.model_config_path().write_text(self.config.to_json(), encoding="utf-8")
        for name, columns in (("log.csv", self.log_columns()), ("val.csv", self.val_columns())):
            truncate_csv(self.out / name, columns, self.step)

    def model_config_path(self) -> Path:
        return self.out / "model_config.json"

    @staticmethod
    def log_columns() -> list[str]:
        return ["step", "seconds", "lr", "grad_norm", *LOSS_NAMES]

    @staticmethod
    def val_columns() -> list[str]:
        return ["step", "seconds", *VAL_METRICS]

    def log_step(self, values: dict, lr: float, grad_norm: float, seconds: float) -> None:
        row = {"step": self.step, "seconds": f"{seconds:.1f}", "lr": f"{lr:.3e}"}
        row["grad_norm"] = f"{grad_norm:.4g}"
        row.update({name: f"{values[name]:.6g}" for name in LOSS_NAMES if name in values})
        append_csv(self.out / "log.csv", self.log_columns(), row)

    def validate(self, dataset: Sequence | None, seconds: float) -> None:
        from occrobnet_ros.evaluation.synthetic_benchmark import pose_metrics, predict

        if dataset is None:
            return
        predictions, gt = predict(self.model, dataset, self.args.batch_size)
        report = pose_metrics(predictions, gt)
        row = {"step": self.step, "seconds": f"{seconds:.1f}"}
        row.update({name: report[name] for name in VAL_METRICS})
        append_csv(self.out / "val.csv", self.val_columns(), row)
        tqdm.write(f"step {self.step}: " + ", ".join(f"{k} {report[k]:.2f}" for k in VAL_METRICS))

    def save(self, seconds: float) -> None:
        """Weights, then the training state (the state names the step it belongs to)."""
        from occrobnet_ros.model import save_model

        metadata = {"step": str(self.step), "train_args": json.dumps(self.public_args())}
        temporary = self.out / (CHECKPOINT + ".tmp")
        save_model(self.model, temporary, metadata)
        os.replace(temporary, self.out / CHECKPOINT)
        save_train_state(self.out / STATE, self.optimizer, self.step, {"elapsed_s": seconds})

    def public_args(self) -> dict:
        return {k: v for k, v in vars(self.args).items() if not k.startswith("_")}


def append_csv(path: Path, columns: list[str], row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, columns)
        if new:
            writer.writeheader()
        writer.writerow(row)


def truncate_csv(path: Path, columns: list[str], step: int) -> None:
    """Drop rows after ``step`` (written after the checkpoint a resumed run starts from)."""
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as stream:
        rows = [row for row in csv.DictReader(stream) if int(row["step"]) <= step]
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, columns)
        writer.writeheader()
        writer.writerows(rows)
