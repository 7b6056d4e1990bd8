"""The inference core: an RGB image and its intrinsics in, a Prediction out. No ROS here.

    estimator = Estimator()                      # the embedded checkpoint, CUDA when present
    prediction = estimator.predict(rgb, K)       # rgb: uint8 [H, W, 3]; K: [3, 3]
    prediction.right_hand.joints                 # [21, 3] metres, camera optical frame

Per frame: choose the crop (crop_policy: the previous frame's hands and object, or the whole
image letterboxed), warp it to the network's square input, run OccRobNet, and decode:
2D keypoints back to image pixels (a joint's heatmap peak where that peak is confident,
else the 2D head's regression), the absolute position of each hand solved by least squares
from its 2D keypoints, its root-relative 3D points and K (DESIGN.md section 4.8), and the
object's at the placed wrist plus the network's relative translation (KT's; from its 2D box
corners the same way when no hand was placed). Optional One-Euro smoothing for
teleoperation.

Speed (docs/performance.md has the measurements):

- The crop warp runs where it is cheapest: ``cv2.warpAffine`` on the CPU; on CUDA the whole
  uint8 frame goes up through a reused pinned buffer and ``F.grid_sample`` warps it there
  (``warp`` option; the torch warp also serves where OpenCV is not installed).
- One device-to-host copy per batch: the outputs the decoder needs are packed into one
  tensor on the device (the heatmaps reduced to per-joint peaks there first).
- The network is prepared for inference once: every BatchNorm that follows a convolution is
  folded into it (:func:`fold_batchnorm`) and the weights and inputs are channels_last, on the
  CPU too (oneDNN and cuDNN both prefer it).
- ``torch.inference_mode``; on CUDA cuDNN autotuning for the fixed input shape and bf16/fp16
  autocast (``precision``); ``compile_model`` wraps the network in ``torch.compile`` (CUDA
  graphs on CUDA; off by default, the first frames compile).
"""

import hashlib
import logging
import stat
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from occrobnet_ros import crop_policy, geometry
from occrobnet_ros.inference.identity import NO_EVIDENCE, slot_handedness
from occrobnet_ros.inference.smoothing import OneEuroFilter
from occrobnet_ros.inference.tracking import TrackIds
from occrobnet_ros.model.checkpoint import CheckpointError, load_model
from occrobnet_ros.model.tokens import joint_peaks
from occrobnet_ros.prediction import (
    VISIBILITY_UNKNOWN,
    HandEstimate,
    ObjectEstimate,
    Prediction,
)
from occrobnet_ros.resources import shipped_file, shipped_file_candidates
from occrobnet_ros.skeleton import HAND_NAMES, LEFT, NUM_HANDS, NUM_JOINTS, hand_slice

try:
    import cv2
except ImportError:  # GPU benchmark hosts may lack OpenCV: the torch warp is used there
    cv2 = None

LOG = logging.getLogger(__name__)
DEFAULT_CHECKPOINT_NAME = "occrobnet_tiny_synthetic.safetensors"
DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
WARPS = ("auto", "cv2", "torch")  # auto: torch on CUDA, cv2 on the CPU (measured faster there)
# The network outputs the decoder reads, copied to the host together.
HOST_OUTPUTS = (
    "joints_2d",
    "joints_3d",
    "hand_presence",
    "object_presence",
    "object_rotation",
    "object_corners_2d",
    "object_corners_rel",
    "object_translation",
    "object_box_centre",
    "object_box_half_extent",
)
# Where a joint's heatmap peak reaches this, its 2D position is the peak, else the 2D head's:
# confident peaks are the more precise 2D joints (MODEL_CARD.md, "Decoding choices").
PEAK_CONFIDENCE = 0.1
# Tokens within this many times config.identity_radius (the radius within which training labels
# a token as a joint) of a hand's joints vote on its handedness.
TOKEN_RADIUS_FACTOR = 2.0
# A frame whose pixels all lie within this many levels of each other in every channel (a lens
# cap, a dark or saturated frame) shows no hand and no object: nothing is reported, whatever
# the network says (a trained network has called a black frame an object: MODEL_CARD.md).
FLAT_IMAGE_RANGE = 8
# A joint's least-squares weight is its heatmap confidence plus this, so that a hand whose
# heatmaps are all flat still gets a translation from its 2D joints.
MIN_JOINT_WEIGHT = 1e-3

__all__ = [
    "CheckpointError",
    "Estimator",
    "EstimatorError",
    "check_checkpoint_file",
    "default_checkpoint",
]


class EstimatorError(RuntimeError):
    """The estimator cannot run as asked (bad input or settings); the message says why."""


def default_checkpoint() -> Path:
    """The embedded checkpoint: in the installed share/ directory, else in the source tree."""
    path = shipped_file("weights", DEFAULT_CHECKPOINT_NAME)
    if path is None:
        searched = ", ".join(
            str(c) for c in shipped_file_candidates("weights", DEFAULT_CHECKPOINT_NAME)
        )
        raise CheckpointError(f"the embedded checkpoint is not at any of: {searched}")
    return path


def select_device(requested: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without CUDA -> CPU with a warning."""
    if requested not in DEVICES:
        raise EstimatorError(f"device must be one of {DEVICES}, got {requested!r}")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        LOG.warning("device 'cuda' requested but CUDA is not available: running on the CPU")
    return torch.device("cpu")


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


def _file_version(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"{path.name}@{digest.hexdigest()[:12]}"


class Estimator:
    """OccRobNet on single frames (``predict``) or batches (``predict_batch``)."""

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        device: str = "auto",
        precision: str = "fp32",
        roi_tracking: bool = True,
        smoothing: bool = False,
        smoothing_min_cutoff: float = 1.0,
        smoothing_beta: float = 0.05,
        hand_threshold: float = 0.5,
        object_threshold: float = 0.5,
        warp: str = "auto",
        compile_model: bool = False,
    ):
        if precision not in PRECISIONS:
            raise EstimatorError(
                f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}"
            )
        if warp not in WARPS:
            raise EstimatorError(f"warp must be one of {WARPS}, got {warp!r}")
        self.device = select_device(device)
        if precision != "fp32" and self.device.type != "cuda":
            LOG.warning("precision %s needs CUDA: running in fp32 on the CPU", precision)
            precision = "fp32"
        self.precision = precision
        self.warp = _select_warp(warp, self.device)
        path = Path(checkpoint) if checkpoint else default_checkpoint()
        check_checkpoint_file(path)
        self.model, self.config = load_model(path, device=self.device)
        fold_batchnorm(self.model)
        self.model = self.model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # one input shape: autotune once, reuse
        # The compiled wrapper shares the model's weights; CUDA graphs replay the fixed shape.
        mode = "reduce-overhead" if self.device.type == "cuda" else None
        if compile_model and self.device.type != "cuda":
            LOG.warning(
                "compile_model on the CPU: compiling takes minutes and was not faster than "
                "eager when measured (docs/performance.md)"
            )
        self._network = torch.compile(self.model, mode=mode) if compile_model else self.model
        self._staging = _Staging(self.device)
        self.sync_timings = False  # True: wait for the device between stages (benchmarks)
        self.checkpoint = path
        self.model_name = self.config.name
        self.model_version = _file_version(path)
        self.input_size = self.config.input_size
        self.roi_tracking = roi_tracking
        self.hand_threshold = hand_threshold
        self.object_threshold = object_threshold
        self.smoothing = smoothing
        self._smoothing_settings = (smoothing_min_cutoff, smoothing_beta)
        self.tracks = TrackIds()  # ids of the streamed frames' hands and object, and counts
        self.reset()

    # --- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the previous frames: ROI, smoothing and track ids restart (e.g. time jumped
        back)."""
        self._track_points: np.ndarray | None = None
        self.tracks.reset()
        min_cutoff, beta = self._smoothing_settings
        self._filters = {
            name: OneEuroFilter(min_cutoff, beta)
            for name in ("right_joints", "left_joints", "object_translation", "object_rotation")
        }

    def set_smoothing(self, enabled: bool, min_cutoff: float, beta: float) -> None:
        self.smoothing = enabled
        self._smoothing_settings = (min_cutoff, beta)
        self.reset()

    def close(self) -> None:
        """Free the model (and GPU memory); the estimator cannot be used afterwards."""
        self.model = self._network = None
        self._staging = _Staging(self.device)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # --- inference -----------------------------------------------------------------------------

    def predict(
        self,
        rgb: np.ndarray,
        K: np.ndarray,
        stamp_s: float | None = None,
        distortion: geometry.LensDistortion | None = None,
    ) -> Prediction:
        """One frame of a stream: ROI tracking and smoothing apply. ``distortion``: the raw
        image's lens distortion (None: a pinhole or rectified image); 2D keypoints stay in the
        raw image, the 3D fit uses them undistorted."""
        _check_image(rgb)
        K = _check_intrinsics(K)
        height, width = rgb.shape[:2]
        use_roi = self.roi_tracking and self._track_points is not None
        transform = (
            crop_policy.roi_transform(self._track_points, self.input_size)
            if use_roi
            else crop_policy.full_frame_transform(width, height, self.input_size)
        )
        prediction = self._predict_crops([rgb], [K], [transform], [distortion])[0]
        if use_roi and not _anything_detected(prediction):
            # The ROI lost everything: look at the whole image again within this frame.
            full = crop_policy.full_frame_transform(width, height, self.input_size)
            lost = prediction
            prediction = self._predict_crops([rgb], [K], [full], [distortion])[0]
            # The frame cost both passes: report both (latency figures and diagnostics).
            prediction.inference_time += lost.inference_time
            for stage, seconds in lost.timings.items():
                prediction.timings[stage] += seconds
        self._track_points = (
            _tracked_points(prediction, K, distortion) if self.roi_tracking else None
        )
        if self.smoothing:
            self._smooth(prediction, time.monotonic() if stamp_s is None else stamp_s)
        self.tracks.update(prediction)
        return prediction

    def predict_batch(
        self,
        images: list[np.ndarray],
        Ks: list[np.ndarray],
        boxes: list[np.ndarray | None] | None = None,
        distortions: list[geometry.LensDistortion | None] | None = None,
        box_scales: list[float] | None = None,
    ) -> list[Prediction]:
        """Independent frames (no tracking, no smoothing): deterministic, for evaluation.

        ``boxes``: per frame an optional ``[x0, y0, x1, y1]`` px box (a dataset's hand box, as
        Keypoint Transformer evaluates); the crop is that box squared and enlarged by its
        ``box_scales`` entry (default ``crop_policy.DATASET_BOX_SCALE``; 1 for a box that is
        already a crop, such as RootNet's). Without one (None, or not finite) the whole frame
        is letterboxed.
        """
        if len(images) != len(Ks) or (boxes is not None and len(boxes) != len(images)):
            raise EstimatorError(f"{len(images)} images but {len(Ks)} intrinsics / boxes")
        for rgb in images:
            _check_image(rgb)
        Ks = [_check_intrinsics(K) for K in Ks]
        boxes = boxes if boxes is not None else [None] * len(images)
        scales = (
            box_scales if box_scales is not None else [crop_policy.DATASET_BOX_SCALE] * len(images)
        )
        transforms = [
            self._crop_transform(rgb, box, scale)
            for rgb, box, scale in zip(images, boxes, scales, strict=True)
        ]
        return self._predict_crops(images, Ks, transforms, distortions)

    def _crop_transform(self, rgb: np.ndarray, box: np.ndarray | None, scale: float) -> np.ndarray:
        if box is not None and np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]:
            return crop_policy.box_transform(box, self.input_size, scale)
        return crop_policy.full_frame_transform(rgb.shape[1], rgb.shape[0], self.input_size)

    def _predict_crops(self, images, Ks, transforms, distortions=None) -> list[Prediction]:
        distortions = distortions if distortions is not None else [None] * len(images)
        if self.model is None:
            raise EstimatorError("the estimator was closed")
        started = time.perf_counter()
        batch = self._preprocess(images, transforms)
        crop_Ks = None  # only the 2.5D representation lifts with the crop's intrinsics
        if self.config.pose_representation == "2.5d":
            crop_Ks = torch.as_tensor(
                np.stack([geometry.crop_intrinsics(K, A) for K, A in zip(Ks, transforms)]),
                dtype=torch.float32,
                device=self.device,
            )
        if self.sync_timings and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        preprocessed = time.perf_counter()
        outputs = self._forward(batch, crop_Ks)
        inferred = time.perf_counter()
        thresholds = self.hand_threshold, self.object_threshold
        radius = TOKEN_RADIUS_FACTOR * self.config.identity_radius
        predictions = [
            Prediction() if _is_flat(rgb) else _decode(outputs, i, A, K, lens, *thresholds, radius)
            for i, (rgb, A, K, lens) in enumerate(zip(images, transforms, Ks, distortions))
        ]
        decoded = time.perf_counter()
        timings = {
            "preprocess": preprocessed - started,
            "model": inferred - preprocessed,
            "decode": decoded - inferred,
        }
        for prediction in predictions:
            prediction.timings = dict(timings)
            prediction.inference_time = decoded - started
        return predictions

    def _preprocess(self, images, transforms) -> torch.Tensor:
        """The crops as a float batch [B, 3, S, S] in [0, 1] on the device."""
        size = self.input_size
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
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def _forward(self, batch: torch.Tensor, crop_Ks: torch.Tensor | None) -> dict[str, np.ndarray]:
        dtype = PRECISIONS[self.precision]
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None
            ),
        ):
            raw = self._network(batch, intrinsics=crop_Ks)
            tensors = {k: raw[k] for k in HOST_OUTPUTS if k in raw}
            # A joint's confidence: the peak of its (CIET-refined) heatmap, clipped to [0, 1].
            tensors["joint_confidence"] = raw["heatmaps"].amax(dim=(2, 3)).clamp(0.0, 1.0)
            stride = self.input_size / raw["heatmaps"].shape[-1]
            tensors["joint_peaks"] = joint_peaks(raw["heatmaps"], stride)
            if "joint_visibility" in raw:
                tensors["joint_visibility"] = torch.sigmoid(raw["joint_visibility"].float())
            # Handedness evidence: each token's identity mass on right and left joints.
            identity = raw["identity_logits"][-1].float().softmax(-1)
            joints = identity[..., 1 : 1 + 2 * NUM_JOINTS].unflatten(-1, (2, NUM_JOINTS))
            tensors["token_hand_mass"] = joints.sum(-1) * raw["token_valid"][..., None]
            tensors["token_xy"] = raw["token_xy"]
            packed = torch.cat([t.reshape(len(batch), -1).float() for t in tensors.values()], 1)
            host = packed.cpu().numpy()  # the one device-to-host copy (and sync) per batch
        outputs, start = {}, 0
        for key, tensor in tensors.items():
            width = tensor[0].numel()
            outputs[key] = host[:, start : start + width].reshape(tensor.shape)
            start += width
        return outputs

    def _smooth(self, prediction: Prediction, t: float) -> None:
        for name, hand in (
            ("right_joints", prediction.right_hand),
            ("left_joints", prediction.left_hand),
        ):
            if hand.detected:
                hand.joints = self._filters[name].filter(hand.joints, t)
            else:
                self._filters[name].reset()
        obj = prediction.object
        if obj.detected:
            obj.translation = self._filters["object_translation"].filter(obj.translation, t)
            quaternion = geometry.matrix_to_quaternion(obj.rotation)
            previous = self._filters["object_rotation"]._value
            if previous is not None and np.dot(previous, quaternion) < 0:
                quaternion = -quaternion  # q and -q are one rotation: filter the nearer one
            quaternion = self._filters["object_rotation"].filter(quaternion, t)
            obj.rotation = geometry.quaternion_to_matrix(quaternion / np.linalg.norm(quaternion))
        else:
            self._filters["object_translation"].reset()
            self._filters["object_rotation"].reset()


# --- preparing the network ----------------------------------------------------------------------


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


# --- preprocessing (torch) --------------------------------------------------------------------


def _select_warp(requested: str, device: torch.device) -> str:
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


class _Staging:
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


# --- decoding (numpy) ------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _decode(
    outputs, i, transform, K, lens, hand_threshold, object_threshold, token_radius=12.0
) -> Prediction:
    """The Prediction of batch item ``i``; ``token_radius`` (crop px) is the estimator's
    TOKEN_RADIUS_FACTOR x identity radius (12 px for a 256-px input)."""
    to_image = geometry.invert_affine(transform)
    prediction = Prediction()
    hand_probability = _sigmoid(outputs["hand_presence"][i])
    joints_crop = outputs["joints_2d"][i]
    if "joint_peaks" in outputs:  # confident heatmap peaks are the better 2D joints
        confident = outputs["joint_confidence"][i] >= PEAK_CONFIDENCE
        joints_crop = np.where(confident[:, None], outputs["joint_peaks"][i], joints_crop)
    joints_2d = geometry.apply_affine(to_image, joints_crop)
    handedness = np.full(NUM_HANDS, NO_EVIDENCE)
    if "token_hand_mass" in outputs:
        handedness = slot_handedness(
            outputs["token_xy"][i], outputs["token_hand_mass"][i], joints_crop, token_radius
        )
    for hand in range(NUM_HANDS):
        if hand_probability[hand] < hand_threshold:
            continue
        estimate = _decode_hand(
            hand,
            float(hand_probability[hand]),
            joints_2d[hand_slice(hand)],
            outputs["joints_3d"][i][hand_slice(hand)].astype(np.float64),
            outputs["joint_confidence"][i][hand_slice(hand)].astype(np.float64),
            K,
            lens,
        )
        if estimate is not None:
            estimate.handedness = float(handedness[hand])
            estimate.joint_visibility = (
                outputs["joint_visibility"][i][hand_slice(hand)].astype(np.float64)
                if "joint_visibility" in outputs
                else np.full(NUM_JOINTS, VISIBILITY_UNKNOWN)
            )
            setattr(prediction, f"{HAND_NAMES[hand]}_hand", estimate)
    if "object_presence" in outputs:
        probability = float(_sigmoid(outputs["object_presence"][i]))
        if probability >= object_threshold:
            wrist = _reference_wrist(prediction)
            prediction.object = _decode_object(outputs, i, to_image, K, lens, probability, wrist)
    return prediction


def _reference_wrist(prediction: Prediction) -> np.ndarray | None:
    """The wrist the object translation head is relative to: the right one, else the left
    (data/targets.py trains it so), or None when no hand was placed."""
    for hand in (prediction.right_hand, prediction.left_hand):
        if hand.detected:
            return hand.joints[0]
    return None


def _pinhole(uv: np.ndarray, K: np.ndarray, lens: geometry.LensDistortion | None) -> np.ndarray:
    """Raw-image pixels as a pinhole camera with ``K`` sees them (the 3D fit is pinhole)."""
    return uv if lens is None else lens.undistort(uv, K)


def _decode_hand(hand, probability, uv, joints_rel, confidence, K, lens) -> HandEstimate | None:
    try:
        root = geometry.solve_translation(
            _pinhole(uv, K, lens), joints_rel, K, weights=confidence + MIN_JOINT_WEIGHT
        )
    except ValueError:
        return None  # degenerate 2D/3D: not a usable detection
    joints = joints_rel + root
    if not np.isfinite(joints).all() or root[2] <= 0:
        return None  # behind the camera: not a physical hand
    try:
        wrist_rotation = geometry.palm_orientation(joints, left=hand == LEFT)
    except ValueError:
        wrist_rotation = np.eye(3)
    return HandEstimate(
        detected=True,
        confidence=probability,
        joints=joints,
        keypoints_2d=uv,
        joint_confidence=confidence,
        wrist_rotation=wrist_rotation,
    )


def _decode_object(outputs, i, to_image, K, lens, probability, wrist=None) -> ObjectEstimate:
    """The object's pose. Its origin is the placed wrist plus the translation head's offset
    (KT's relative translation) when a hand was placed, else solved from its 2D box corners,
    which are coarser (MODEL_CARD.md, "Decoding choices")."""
    rotation = outputs["object_rotation"][i].astype(np.float64)
    if wrist is not None and "object_translation" in outputs:
        origin = wrist + outputs["object_translation"][i].astype(np.float64)
    else:
        corners_2d = geometry.apply_affine(to_image, outputs["object_corners_2d"][i])
        corners_rel = outputs["object_corners_rel"][i].astype(np.float64)
        try:
            origin = geometry.solve_translation(_pinhole(corners_2d, K, lens), corners_rel, K)
        except ValueError:
            return ObjectEstimate()
    centre = origin + rotation @ outputs["object_box_centre"][i].astype(np.float64)
    if not np.isfinite(centre).all() or centre[2] <= 0:
        return ObjectEstimate()
    return ObjectEstimate(
        detected=True,
        confidence=probability,
        rotation=rotation,
        translation=centre,
        box_size=2.0 * np.abs(outputs["object_box_half_extent"][i].astype(np.float64)),
    )


def _anything_detected(prediction: Prediction) -> bool:
    return any(h.detected for h in prediction.hands) or prediction.object.detected


def _tracked_points(prediction: Prediction, K: np.ndarray, lens=None) -> np.ndarray | None:
    """The 2D points (raw image) the next frame's ROI is built around, or None when nothing
    was found."""
    points = [h.keypoints_2d for h in prediction.hands if h.detected]
    if prediction.object.detected:
        corners = prediction.object.corners
        points.append(geometry.project(corners, K) if lens is None else lens.project(corners, K))
    return np.concatenate(points) if points else None


def _check_image(rgb: np.ndarray) -> None:
    if (
        not isinstance(rgb, np.ndarray)
        or rgb.dtype != np.uint8
        or rgb.ndim != 3
        or rgb.shape[2] != 3
    ):
        raise EstimatorError(
            f"expected an RGB uint8 image [H, W, 3], got {getattr(rgb, 'dtype', type(rgb))} "
            f"{getattr(rgb, 'shape', '')}"
        )
    if rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise EstimatorError(f"image too small: {rgb.shape[1]}x{rgb.shape[0]}")


def _is_flat(rgb: np.ndarray) -> bool:
    """Whether the frame is one flat colour (FLAT_IMAGE_RANGE). Every 4th row and column:
    a hand or an object covers far more than 4x4 pixels."""
    sample = rgb[::4, ::4].reshape(-1, 3)
    return int((sample.max(axis=0) - sample.min(axis=0)).max()) <= FLAT_IMAGE_RANGE  # max >= min


def _check_intrinsics(K: np.ndarray) -> np.ndarray:
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise EstimatorError(f"intrinsics must be a finite 3x3 matrix with fx, fy > 0, got {K}")
    return K
