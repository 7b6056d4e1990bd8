"""Frames in, the network's input batch out; and the network made ready for inference once.

- The crop warp runs where it is cheapest: ``cv2.warpAffine`` on the CPU; on CUDA the whole
  uint8 frame goes up through a reused pinned buffer and ``F.grid_sample`` warps it there
  (``warp`` option; the torch warp also serves where OpenCV is not installed).
- Every BatchNorm that follows a convolution is folded into it (:func:`fold_batchnorm`), and
  the weights and inputs are channels_last, on the CPU too (oneDNN and cuDNN both prefer it).
- On CUDA, cuDNN autotunes the fixed input shape; ``compile_model`` wraps the network in
  ``torch.compile`` (CUDA graphs on CUDA; the first frames compile).

docs/performance.md has the measurements behind these choices.
"""

import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from occrobnet_ros import geometry

try:
    import cv2
except ImportError:  # GPU benchmark hosts may lack OpenCV: the torch warp is used there
    cv2 = None

LOG = logging.getLogger(__name__)
WARPS = ("auto", "cv2", "torch")  # auto: torch on CUDA, cv2 on the CPU (measured faster there)


class Preprocess:
    """RGB uint8 frames and their crop transforms -> the network's input: a float batch
    [B, 3, S, S] in [0, 1] on the device, channels_last."""

    def __init__(self, device: torch.device, warp: str, size: int) -> None:
        self.device = device
        self.warp = select_warp(warp, device)
        self.size = size
        self._staging = Staging(device)

    def __call__(self, images: list[np.ndarray], transforms: list[np.ndarray]) -> torch.Tensor:
        size = self.size
        with torch.inference_mode():
            if self.warp == "cv2":
                crops = [
                    cv2.warpAffine(rgb, A, (size, size), flags=cv2.INTER_LINEAR)
                    for rgb, A in zip(images, transforms)
                ]
                batch = self._staging.upload(crops).permute(0, 3, 1, 2).float().div_(255.0)
            elif all(rgb.shape == images[0].shape for rgb in images):
                batch = warp_on_device(self._staging.upload(images), transforms, size)
            else:  # frames of different sizes: one warp each
                batch = torch.cat(
                    [
                        warp_on_device(self._staging.upload([rgb]), [A], size)
                        for rgb, A in zip(images, transforms)
                    ]
                )
            return batch.contiguous(memory_format=torch.channels_last)

    def release(self) -> None:
        """Free the pinned staging buffer (a later call allocates a new one)."""
        self._staging = Staging(self.device)


def select_warp(requested: str, device: torch.device) -> str:
    """'auto' -> torch on CUDA (or without OpenCV), else cv2; 'cv2' without OpenCV -> torch."""
    if requested == "auto":
        requested = "torch" if device.type == "cuda" or cv2 is None else "cv2"
    if requested == "cv2" and cv2 is None:
        LOG.warning("warp 'cv2' requested but OpenCV is not installed: warping with torch")
        requested = "torch"
    return requested


def warp_on_device(frames: torch.Tensor, transforms: list[np.ndarray], size: int) -> torch.Tensor:
    """``cv2.warpAffine(frame, A, (size, size))`` for uint8 frames [B, H, W, 3] on any device,
    bilinear with a zero border -> float crops [B, 3, size, size] in [0, 1].

    grid_sample reads normalised coordinates (-1 and 1 are the outer pixel edges, as with
    align_corners=False), so theta = N_image @ A^-1 @ N_crop^-1, where N maps pixel
    coordinates (centres at integers) to normalised ones. Unlike OpenCV it interpolates in
    float, without 1/32-pixel weight quantisation or rounding to uint8, so crops differ from
    OpenCV's by a few grey levels at most.
    """
    batch, height, width = frames.shape[:3]
    from_crop = np.array([[size / 2, 0, (size - 1) / 2], [0, size / 2, (size - 1) / 2], [0, 0, 1]])
    to_image = np.array([[2 / width, 0, 1 / width - 1], [0, 2 / height, 1 / height - 1]])
    theta = np.stack(
        [
            to_image @ np.vstack([geometry.invert_affine(A), [0, 0, 1]]) @ from_crop
            for A in transforms
        ]
    )
    theta = torch.from_numpy(theta.astype(np.float32)).to(frames.device, non_blocking=True)
    grid = F.affine_grid(theta, [batch, 3, size, size], align_corners=False)
    pixels = frames.permute(0, 3, 1, 2).float()
    crops = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return crops.mul_(1.0 / 255.0)


class Staging:
    """Host frames -> a uint8 tensor [B, H, W, 3] on the device.

    On CUDA through a page-locked buffer kept between frames (pinned memory copies
    asynchronously and at full bus speed; allocating it per frame would cost more than the
    copy); the previous copy out of it is waited for before it is overwritten. On the CPU a
    single writable frame is used in place, with no copy at all.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._buffer: torch.Tensor | None = None
        self._copied = None  # torch.cuda.Event of the last copy out of the buffer

    def upload(self, frames: list[np.ndarray]) -> torch.Tensor:
        if self.device.type != "cuda":
            if len(frames) == 1 and frames[0].flags.writeable:
                return torch.from_numpy(frames[0])[None]
            return torch.from_numpy(np.stack(frames))  # read-only views are copied
        shape = (len(frames), *frames[0].shape)
        if self._buffer is None or tuple(self._buffer.shape) != shape:
            self._buffer = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
            self._copied = None
        if self._copied is not None:
            self._copied.synchronize()
        host = self._buffer.numpy()
        for index, frame in enumerate(frames):
            host[index] = frame
        on_device = self._buffer.to(self.device, non_blocking=True)
        self._copied = torch.cuda.Event()
        self._copied.record()
        return on_device


# --- the network ---------------------------------------------------------------------------------


def prepare_network(model: torch.nn.Module, device: torch.device, compile_model: bool):
    """``model`` (eval mode, on ``device``) folded and channels_last, in place; returns what to
    call per batch: the model, or its ``torch.compile`` wrapper (which shares its weights)."""
    fold_batchnorm(model)
    model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one input shape: autotune once, reuse
    if not compile_model:
        return model
    if device.type != "cuda":
        LOG.warning(
            "compile_model on the CPU: compiling takes minutes and was not faster than "
            "eager when measured (docs/performance.md)"
        )
    # CUDA graphs replay the fixed shape.
    return torch.compile(model, mode="reduce-overhead" if device.type == "cuda" else None)


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Fold each eval-mode BatchNorm2d into the Conv2d right before it, in place.

    ``BN(conv(x)) = conv'(x)`` with scaled weights and a bias, so inference skips one pass
    over every feature map. Pairs are found where the model names them: consecutive entries of
    an nn.Sequential, or attributes ``convN`` / ``bnN`` of one module (ResNet blocks); the BN
    becomes an Identity. Outputs change only by float rounding. Inference only: the folded
    model must not be trained or saved as a checkpoint.
    """
    for module in list(model.modules()):
        if isinstance(module, torch.nn.Sequential):
            for index in range(len(module) - 1):
                conv, bn = module[index], module[index + 1]
                if _foldable(conv, bn):
                    module[index] = fuse_conv_bn_eval(conv, bn)
                    module[index + 1] = torch.nn.Identity()
        for number in (1, 2, 3):
            conv, bn = getattr(module, f"conv{number}", None), getattr(module, f"bn{number}", None)
            if _foldable(conv, bn):
                setattr(module, f"conv{number}", fuse_conv_bn_eval(conv, bn))
                setattr(module, f"bn{number}", torch.nn.Identity())
    return model


def _foldable(conv, bn) -> bool:
    return (
        isinstance(conv, torch.nn.Conv2d)
        and isinstance(bn, torch.nn.BatchNorm2d)
        and not conv.training
        and not bn.training
        and bn.track_running_stats
    )
