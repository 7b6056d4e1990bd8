"""Checkpoints as safetensors files that carry their model config.

``save_model(model, path)`` writes every state-dict tensor plus the JSON of the model's
``OccRobNetConfig`` under the metadata key ``occrobnet_config``, so ``load_model(path)``
rebuilds the model from the file alone. Loading is strict: every key and shape must match,
and the first mismatch is named. Pickle-based files (``torch.save``: .pt/.pth/.ckpt/.pkl,
zip or raw pickle) are refused, because unpickling an untrusted file executes arbitrary code.
Every failure raises ``CheckpointError``.
"""

import hashlib
import json
import stat
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from occrobnet_ros.resources import require_shipped_file

from .backbone import ResNet
from .config import OccRobNetConfig
from .occrobnet import OccRobNet, build_model

DEFAULT_CHECKPOINT_NAME = "occrobnet_tiny_synthetic.safetensors"
CONFIG_KEY = "occrobnet_config"
FORMAT_KEY = "format"
FORMAT = "occrobnet-safetensors-1"
PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".tar"}
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_OPCODE = 0x80  # pickle protocol >= 2 starts with PROTO <n>
SAFETENSORS_HEADER_LIMIT = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint that cannot be (safely) loaded; the message says why."""


def default_checkpoint() -> Path:
    """The embedded checkpoint: in the installed share/ directory, else in the source tree."""
    try:
        return require_shipped_file("weights", DEFAULT_CHECKPOINT_NAME)
    except FileNotFoundError as error:
        raise CheckpointError(f"the embedded checkpoint: {error}") from None


def check_checkpoint_file(path: Path) -> None:
    """Refuse a path that is not an existing regular ``.safetensors`` file, before opening it.

    Checked on the path's kind, not by trying to read it: opening a FIFO blocks until someone
    writes to it, which would hang the node's configure (and its executor) for good.
    """
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise CheckpointError(f"{path}: cannot use it as a checkpoint: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{path}: refused: a directory, not a .safetensors file")
    if not stat.S_ISREG(mode):
        raise CheckpointError(
            f"{path}: refused: not a regular file (a device, FIFO or socket); "
            "a checkpoint is a .safetensors file"
        )
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(
            f"{path}: refused: a checkpoint must be a .safetensors file (pickle-based "
            ".pt/.pth/.ckpt files can execute arbitrary code when loaded)"
        )


def checkpoint_version(path: Path) -> str:
    """``<file name>@<first 12 hex digits of its SHA-256>``: which weights answered."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"{path.name}@{digest.hexdigest()[:12]}"


def save_model(
    model: OccRobNet, path: str | Path, extra_metadata: dict[str, str] | None = None
) -> None:
    """Write ``model``'s weights and config to a safetensors file."""
    metadata = {FORMAT_KEY: FORMAT, CONFIG_KEY: model.config.to_json()}
    metadata.update(extra_metadata or {})
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=metadata)


def save_random_model(config: OccRobNetConfig, path: str | Path, seed: int = 0) -> Path:
    """A seeded, randomly initialised model of ``config`` saved to ``path``: the real code paths
    at the real cost, for tests and speed benchmarks (it detects nothing)."""
    torch.manual_seed(seed)
    save_model(build_model(config), path)
    return Path(path)


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[OccRobNet, OccRobNetConfig]:
    """Rebuild the model stored in ``path`` (in eval mode) and return it with its config."""
    metadata, tensors = read_safetensors(path)
    if CONFIG_KEY not in metadata:
        raise CheckpointError(f"{path}: no '{CONFIG_KEY}' in the safetensors metadata")
    try:
        config = OccRobNetConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: invalid model config in the metadata: {error}") from None
    model = build_model(config)
    load_state_strict(model, tensors, str(path))
    return model.to(device).eval(), config


def read_safetensors(path: str | Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """(metadata, tensors) of a safetensors file, after refusing pickles and truncation."""
    path = Path(path)
    check_not_pickle(path)
    check_safetensors_header(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, RuntimeError) as error:
        raise CheckpointError(f"{path}: corrupt safetensors file: {error}") from None
    return metadata, tensors


def check_not_pickle(path: Path) -> None:
    """Refuse pickle-based files by name and by their first bytes."""
    reason = (
        "it is a pickle-based PyTorch file, and loading a pickle can execute arbitrary code; "
        "convert it to safetensors where you trust it"
    )
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(f"{path}: refused: {reason}")
    try:
        with open(path, "rb") as stream:
            head = stream.read(9)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read: {error}") from None
    # A safetensors file starts with its header's length (8 bytes, little endian) and then the
    # JSON header itself; that length's low byte may be 0x80, pickle's PROTO opcode, so only
    # a file whose 9th byte does not open a JSON object is taken for a pickle by that byte.
    looks_like_safetensors = len(head) == 9 and head[8:9] == b"{"
    if head.startswith(ZIP_MAGIC) or (
        len(head) >= 2 and head[0] == PICKLE_PROTOCOL_OPCODE and not looks_like_safetensors
    ):
        raise CheckpointError(f"{path}: refused: {reason}")


def check_safetensors_header(path: Path) -> None:
    """The 8-byte header length and the JSON header must fit in the file."""
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{path}: truncated or not a safetensors file ({size} bytes)")
        (header_length,) = struct.unpack("<Q", prefix)
        if header_length > min(size - 8, SAFETENSORS_HEADER_LIMIT):
            raise CheckpointError(f"{path}: truncated or not a safetensors file (bad header)")
        try:
            header = json.loads(stream.read(header_length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CheckpointError(f"{path}: corrupt safetensors header") from None
    try:
        ends = [int(e["data_offsets"][1]) for k, e in header.items() if k != "__metadata__"]
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        raise CheckpointError(f"{path}: corrupt safetensors header") from None
    if 8 + header_length + max(ends, default=0) > size:
        raise CheckpointError(
            f"{path}: truncated: the header describes {max(ends)} data bytes, the file holds "
            f"{size - 8 - header_length}"
        )


# Heads added after checkpoints existed: a checkpoint without them initialises the rest, and
# these start from their own initialisation (``occrobnet train --init``).
NEW_HEADS = ("pose_heads.joint_visibility.",)


def load_state_strict(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    source: str = "checkpoint",
    new_heads: tuple[str, ...] = (),
) -> None:
    """Copy ``tensors`` into ``module``; every key and shape must match, except that keys
    under ``new_heads`` may be missing (they keep their initial values)."""
    expected = module.state_dict()
    for key in sorted(set(expected) | set(tensors)):
        if key not in tensors and key.startswith(new_heads):
            continue
        if key not in tensors:
            raise CheckpointError(f"{source}: missing tensor '{key}'")
        if key not in expected:
            raise CheckpointError(f"{source}: unexpected tensor '{key}'")
        _check_shape(source, key, tensors[key], expected[key])
    missing = {key: value for key, value in expected.items() if key not in tensors}
    module.load_state_dict({**missing, **tensors}, strict=True)


def _check_shape(source: str, key: str, tensor: torch.Tensor, expected: torch.Tensor) -> None:
    if tuple(tensor.shape) != tuple(expected.shape):
        raise CheckpointError(
            f"{source}: tensor '{key}' has shape {tuple(tensor.shape)}, "
            f"the model expects {tuple(expected.shape)}"
        )


def load_state_parts(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    prefixes: tuple[str, ...],
    source: str = "checkpoint",
) -> list[str]:
    """Copy only the tensors under ``prefixes`` (e.g. a trained transformer onto a network with
    a new backbone); each prefix must match some tensor of both, with equal shapes. The rest of
    ``module`` keeps its values. Returns the keys copied."""
    expected = module.state_dict()
    chosen = sorted(key for key in tensors if key.startswith(prefixes))
    for prefix in prefixes:
        if not any(key.startswith(prefix) for key in chosen):
            raise CheckpointError(f"{source}: no tensor starts with '{prefix}'")
    for key in chosen:
        if key not in expected:
            raise CheckpointError(f"{source}: '{key}' is not a tensor of this model")
        _check_shape(source, key, tensors[key], expected[key])
    module.load_state_dict({**expected, **{key: tensors[key] for key in chosen}}, strict=True)
    return chosen


def load_backbone_weights(model: OccRobNet, path: str | Path) -> list[str]:
    """Initialise the backbone's body from a file and return the keys it ignored: torchvision
    ImageNet weights for a ResNet (:func:`load_imagenet_backbone`), MediaPipe's converted
    landmark weights (weights/mediapipe/hand_landmark_*.safetensors, heads ignored) for a
    ``mediapipe_hand`` body."""
    body = model.backbone.body
    if isinstance(body, ResNet):
        return load_imagenet_backbone(model, path)
    tensors = _read_state_dict(Path(path))
    expected = body.state_dict()
    ignored = sorted(key for key in tensors if key not in expected)
    load_state_strict(body, {key: tensors[key] for key in tensors if key in expected}, str(path))
    return ignored


def load_imagenet_backbone(model: OccRobNet, path: str | Path) -> list[str]:
    """Initialise the ResNet body from a torchvision ImageNet state dict.

    The file is safetensors (README, 'ImageNet weights', says how to save torchvision's that
    way; pickled ``.pth`` files are refused, as everywhere). Accepts plain ResNet keys
    (``conv1.weight``, ``layer1.0.bn1.running_mean``, ...) or the same under ``body.`` /
    ``backbone.body.``; the classifier (``fc.*``) is ignored. Returns the ignored keys. Every
    body tensor must be present with its shape.
    """
    tensors = _read_state_dict(Path(path))
    body = {}
    for key, value in tensors.items():
        for prefix in ("backbone.body.", "body.", ""):
            if key.startswith(prefix):
                body[key[len(prefix) :]] = value
                break
    ignored = sorted(key for key in body if key.startswith("fc."))
    for key in ignored:
        del body[key]
    load_state_strict(model.backbone.body, body, str(path))
    return ignored


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file. Pickled state dicts (.pth) are refused like every pickle:
    README, 'ImageNet weights', says how to save torchvision's weights as safetensors."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    return read_safetensors(path)[1]
