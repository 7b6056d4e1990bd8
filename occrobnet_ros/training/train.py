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

The parts, in the order they import each other: options.py (the options, recipes, a resumed
run's arguments), datasets.py (the training and validation frames), state.py (the schedule,
the training state file, the logs), trainer.py (the loop, DDP). This module's ``run`` checks
the arguments and starts the trainer.
"""

import argparse
import sys

import torch

from occrobnet_ros.training.datasets import dataset_problem, steps_for_epochs
from occrobnet_ros.training.options import (
    DEFAULT_STEPS,
    EXIT_BAD_INPUT,
    add_arguments,
    augment_values,
    model_config,
    options_problem,
    parse_arguments,
    resumed_arguments,
)
from occrobnet_ros.training.trainer import Trainer

# cli.py's subcommand protocol: add_arguments and parse_arguments are options.py's.
__all__ = ["add_arguments", "parse_arguments", "run"]


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
