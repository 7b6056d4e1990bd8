"""The command line of ``occrobnet train``: its options, the recipes whose values become their
defaults (config/recipe/*.yaml), the arguments a resumed run reads back from its config.json,
and the checks of the options that need no data (datasets.py checks the dataset's)."""

import argparse
import json
import os
from dataclasses import fields
from pathlib import Path

import torch

from occrobnet_ros.data.augment import AugmentConfig

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


# --- the run's arguments ----------------------------------------------------------------------


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
