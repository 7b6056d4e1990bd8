"""The training loop: ``Trainer`` builds the network and its optimizer (AdamW, the backbone's
parameter group and the rest's), joins torchrun's process group for DistributedDataParallel,
and trains, validates, logs and saves (train.py's docstring describes the run)."""

import argparse
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset
from tqdm import tqdm

from occrobnet_ros.data.targets import collate
from occrobnet_ros.training.datasets import build_dataset, validation_dataset
from occrobnet_ros.training.options import model_config
from occrobnet_ros.training.state import (
    CHECKPOINT,
    LOSS_NAMES,
    STATE,
    VAL_METRICS,
    append_csv,
    gt_token_phase,
    learning_rate,
    load_train_state,
    save_train_state,
    seed_everything,
    truncate_csv,
)

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


# --- parameters -------------------------------------------------------------------------------


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
