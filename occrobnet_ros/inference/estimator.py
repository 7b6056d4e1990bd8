"""The inference core: an RGB image and its intrinsics in, a Prediction out. No ROS here.

    estimator = Estimator()                      # the embedded checkpoint, CUDA when present
    prediction = estimator.predict(rgb, K)       # rgb: uint8 [H, W, 3]; K: [3, 3]
    prediction.right_hand.joints                 # [21, 3] metres, camera optical frame

Per frame, top to bottom in ``_predict_crops``: choose the crop (crop_policy: the previous
frame's hands and object; else, with a ``hand_detector``, the hands MediaPipe's palm detector
finds on the whole image (hand_detection.py); else the whole image letterboxed), warp it to
the network's square input (preprocess.py), run OccRobNet (model/), bring its outputs to the
host (model/postprocess.py) and decode them into metres in the camera frame (decode.py). Then,
for a stream: the next frame's crop, optional One-Euro smoothing (smoothing.py) and track
ids (tracking.py).

With a ``hand_detector``, hand presence is the network's AND the palm detector's: a hand the
network reports that was not already tracked from the previous frame is kept only if it lies
on a detected hand; tracked hands are checked again ``HAND_RECHECK_FRAMES`` frames after
every hand was last checked (a hand that left the view, or a scene cut, must not be tracked
on). The detector runs when there is nothing to track (its regions choose the crop), when the
network reports a new hand, and on those checks: a steady stream of tracked hands runs it
once per that many frames.
"""

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch

from occrobnet_ros import crop_policy, geometry
from occrobnet_ros.inference.decode import TOKEN_RADIUS_FACTOR, decode_prediction
from occrobnet_ros.inference.hand_detection import HandDetection, HandDetector, hand_under
from occrobnet_ros.inference.preprocess import WARPS, Preprocess, prepare_network
from occrobnet_ros.inference.smoothing import PredictionSmoother
from occrobnet_ros.inference.tracking import TrackIds
from occrobnet_ros.model.checkpoint import (
    check_checkpoint_file,
    checkpoint_version,
    default_checkpoint,
    load_model,
)
from occrobnet_ros.model.postprocess import to_host
from occrobnet_ros.prediction import HandEstimate, Prediction

LOG = logging.getLogger(__name__)
DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# hand_detector -> the MediaPipe palm detector variant (None: no detector).
HAND_DETECTORS = {"none": None, "palm_full": "full", "palm_lite": "lite"}
# Tracked hands are confirmed by the palm detector again after this many frames (0.5 s at
# 30 fps): how long a hand the network keeps seeing in the ROI can outlive the real one.
HAND_RECHECK_FRAMES = 15
# A frame whose pixels all lie within this many levels of each other in every channel (a lens
# cap, a dark or saturated frame) shows no hand and no object: nothing is reported, whatever
# the network says (a trained network has called a black frame an object: MODEL_CARD.md).
FLAT_IMAGE_RANGE = 8


class EstimatorError(RuntimeError):
    """The estimator cannot run as asked (bad input or settings); the message says why."""


def select_device(requested: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without CUDA -> CPU with a warning."""
    if requested not in DEVICES:
        raise EstimatorError(f"device must be one of {DEVICES}, got {requested!r}")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        LOG.warning("device 'cuda' requested but CUDA is not available: running on the CPU")
    return torch.device("cpu")


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
        hand_detector: str = "none",
    ):
        if precision not in PRECISIONS:
            raise EstimatorError(
                f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}"
            )
        if warp not in WARPS:
            raise EstimatorError(f"warp must be one of {WARPS}, got {warp!r}")
        if hand_detector not in HAND_DETECTORS:
            raise EstimatorError(
                f"hand_detector must be one of {tuple(HAND_DETECTORS)}, got {hand_detector!r}"
            )
        self.device = select_device(device)
        if precision != "fp32" and self.device.type != "cuda":
            LOG.warning("precision %s needs CUDA: running in fp32 on the CPU", precision)
            precision = "fp32"
        self.precision = precision
        path = Path(checkpoint) if checkpoint else default_checkpoint()
        check_checkpoint_file(path)
        self.model, self.config = load_model(path, device=self.device)
        self._network = prepare_network(self.model, self.device, compile_model)
        self.input_size = self.config.input_size
        self._preprocess = Preprocess(self.device, warp, self.input_size)
        self.warp = self._preprocess.warp
        self.sync_timings = False  # True: wait for the device between stages (benchmarks)
        self.checkpoint = path
        self.model_name = self.config.name
        self.model_version = checkpoint_version(path)
        self.roi_tracking = roi_tracking
        self.hand_threshold = hand_threshold
        self.object_threshold = object_threshold
        self.smoothing = smoothing
        self._smoothing_settings = (smoothing_min_cutoff, smoothing_beta)
        self.hand_detector = hand_detector
        variant = HAND_DETECTORS[hand_detector]
        self._palms = HandDetector(variant, self.device) if variant else None
        # With a palm detector, the first look at a lone hand is upright, as MediaPipe crops it
        # (crop_policy; tracking stays axis-aligned: upright tracking crops scored lower on the
        # real photos' streams). Only the 3D representation: its outputs turn with the crop's
        # roll, which the decoder undoes (2.5D lifts with unrolled intrinsics).
        self.upright = variant is not None and self.config.pose_representation == "3d"
        self.tracks = TrackIds()  # ids of the streamed frames' hands and object, and counts
        self.reset()

    # --- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the previous frames: ROI, smoothing and track ids restart (e.g. time jumped
        back)."""
        self._track_points: np.ndarray | None = None
        self._tracked_hands: set[int] = set()  # indices into Prediction.hands
        self._frames_since_check = 0  # frames whose tracked hands the detector did not see
        self.tracks.reset()
        self._smoother = PredictionSmoother(*self._smoothing_settings)

    def set_smoothing(self, enabled: bool, min_cutoff: float, beta: float) -> None:
        self.smoothing = enabled
        self._smoothing_settings = (min_cutoff, beta)
        self.reset()

    def close(self) -> None:
        """Free the model (and GPU memory); the estimator cannot be used afterwards."""
        self.model = self._network = self._palms = None
        self._preprocess.release()
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
        use_roi = self.roi_tracking and self._track_points is not None
        self._frames_since_check += 1
        recheck = self._frames_since_check >= HAND_RECHECK_FRAMES
        tracked = self._tracked_hands if use_roi and not recheck else set()
        if use_roi:
            look = _Look(crop_policy.roi_transform(self._track_points, self.input_size))
        else:
            look = self._first_look(rgb)
        prediction = self._predict_crops([rgb], [K], [look.transform], [distortion])[0]
        if use_roi and not _anything_detected(prediction):
            # The ROI lost everything: look at the whole image again within this frame.
            lost = prediction
            look = self._first_look(rgb)
            prediction = self._predict_crops([rgb], [K], [look.transform], [distortion])[0]
            # The frame cost both passes: report both (latency figures and diagnostics).
            prediction.inference_time += lost.inference_time
            for stage, seconds in lost.timings.items():
                prediction.timings[stage] += seconds
            tracked = set()
        if self._confirm_hands(prediction, rgb, look, tracked):
            self._frames_since_check = 0
        self._tracked_hands = {i for i, hand in enumerate(prediction.hands) if hand.detected}
        self._track_points = (
            _tracked_points(prediction, K, distortion) if self.roi_tracking else None
        )
        if self.smoothing:
            self._smoother(prediction, time.monotonic() if stamp_s is None else stamp_s)
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
        looks = [
            self._batch_look(rgb, box, scale)
            for rgb, box, scale in zip(images, boxes, scales, strict=True)
        ]
        predictions = self._predict_crops(
            images, Ks, [look.transform for look in looks], distortions
        )
        for rgb, look, prediction in zip(images, looks, predictions, strict=True):
            if not look.from_box:
                self._confirm_hands(prediction, rgb, look, tracked=set())
        return predictions

    def _batch_look(self, rgb: np.ndarray, box: np.ndarray | None, scale: float) -> "_Look":
        """A dataset box is trusted (its hands are not gated); without one, the first look."""
        if box is not None and np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]:
            return _Look(crop_policy.box_transform(box, self.input_size, scale), from_box=True)
        return self._first_look(rgb)

    def _first_look(self, rgb: np.ndarray) -> "_Look":
        """Where to look with nothing tracked: around the detected hands, or the whole image
        (no detector, or no hand found: the object may still be there)."""
        height, width = rgb.shape[:2]
        full = crop_policy.full_frame_transform(width, height, self.input_size)
        if self._palms is None:
            return _Look(full)
        started = time.perf_counter()
        palms = self._palms.detect(rgb)
        regions = [(palm.roi_center, palm.roi_size, palm.roi_rotation) for palm in palms]
        transform = (
            crop_policy.detection_transform(regions, self.input_size, self.upright)
            if palms
            else full
        )
        return _Look(transform, palms=palms, seconds=time.perf_counter() - started)

    def _confirm_hands(
        self, prediction: Prediction, rgb: np.ndarray, look: "_Look", tracked: set[int]
    ) -> bool:
        """Drop the hands the palm detector does not confirm (module docstring); no-op without
        a detector. The detector's time is counted in the preprocess stage. Returns whether
        every hand the network reported was checked (none was taken on trust from tracking)."""
        if self._palms is None:
            return False
        detected = [i for i, hand in enumerate(prediction.hands) if hand.detected]
        new = [i for i in detected if i not in tracked]
        for i in [i for i in new if _on_a_tracked_hand(prediction, i, tracked)]:
            # The network's other slot on a hand already tracked: the same hand twice (the
            # detector would confirm one hand only); dropped without running it every frame.
            _drop_hand(prediction, i)
            new.remove(i)
            detected.remove(i)
        if new and look.palms is None:
            started = time.perf_counter()
            look.palms = self._palms.detect(rgb)
            look.seconds += time.perf_counter() - started
        # One hand per detected hand: the tracked hands keep theirs, then the new ones take
        # what is left, the most confident first (both slots on one real hand: one stays).
        hands, free = prediction.hands, list(look.palms or [])
        tracked_first = [i for i in detected if i not in new]
        for i in tracked_first + sorted(new, key=lambda i: -hands[i].confidence):
            under = hand_under(hands[i].keypoints_2d, free)
            if under is not None:
                free.pop(under)
            elif i in new:
                _drop_hand(prediction, i)
        prediction.timings["preprocess"] = prediction.timings.get("preprocess", 0.0) + look.seconds
        prediction.inference_time += look.seconds
        return len(new) == len(detected)

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
        reference = self.config.object_reference_hand
        predictions = [
            Prediction()
            if _is_flat(rgb)
            else decode_prediction(outputs, i, A, K, lens, *thresholds, radius, reference)
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

    def _forward(self, batch: torch.Tensor, crop_Ks: torch.Tensor | None) -> dict[str, np.ndarray]:
        """The network on ``batch``, its outputs on the host (one copy)."""
        dtype = PRECISIONS[self.precision]
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None
            ),
        ):
            return to_host(self._network(batch, intrinsics=crop_Ks), self.input_size)


@dataclasses.dataclass
class _Look:
    """Where the network looks at one frame, and the palms found there (None: not run)."""

    transform: np.ndarray  # 2x3 image -> crop
    palms: list[HandDetection] | None = None
    seconds: float = 0.0  # spent in the palm detector
    from_box: bool = False  # a dataset's box


def _on_a_tracked_hand(prediction: Prediction, index: int, tracked: set[int]) -> bool:
    """Whether hand ``index``'s keypoints centre on (inside the 2D box of) a tracked hand."""
    centre = np.median(prediction.hands[index].keypoints_2d, axis=0)
    for other in tracked - {index}:
        if prediction.hands[other].detected:
            points = prediction.hands[other].keypoints_2d
            if np.all(centre >= points.min(axis=0)) and np.all(centre <= points.max(axis=0)):
                return True
    return False


def _drop_hand(prediction: Prediction, index: int) -> None:
    """Replace hand ``index`` of ``prediction.hands`` by an undetected one."""
    if index == 0:
        prediction.right_hand = HandEstimate()
    else:
        prediction.left_hand = HandEstimate()


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
