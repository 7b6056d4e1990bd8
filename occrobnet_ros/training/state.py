"""What a training run carries from step to step and across ``--resume``: the learning-rate
schedule and the ground-truth-token phase, the random seeds, the training state file (optimizer
and RNG state as safetensors, no pickles) beside the checkpoint, and the CSV logs."""

import argparse
import csv
import json
import math
import os
import random
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

CHECKPOINT = "checkpoint.safetensors"
STATE = "train_state.safetensors"
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


# --- the schedule -----------------------------------------------------------------------------


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


# --- logs -------------------------------------------------------------------------------------


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
