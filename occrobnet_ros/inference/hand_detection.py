"""Hands in an RGB image with MediaPipe's palm detector, and the crops its landmark net wants.

    detections = detect_hands(rgb)              # rgb: uint8 [H, W, 3]
    detections[0].box, .keypoints, .roi_center, .roi_size, .roi_rotation   # image pixels
    hand = HandDetector().landmarks(rgb, detections[0])   # 21 landmarks in image pixels

The steps and their parameters are those of MediaPipe's hand graphs (mediapipe 0.10.21 /
google-ai-edge/mediapipe ``mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt`` and
``mediapipe/modules/hand_landmark/palm_detection_detection_to_roi.pbtxt``); the code is
this project's own:

1. letterbox the whole image into the detector's 192x192 input (aspect kept, black borders,
   bilinear sampling, values in [0, 1]);
2. run :class:`~occrobnet_ros.model.palm_detector.MediaPipePalmDetector`;
3. decode its 2016 regressors against SSD anchors (:data:`PALM_ANCHORS`): box centre and
   keypoints ``raw / 192 * anchor_size + anchor_centre``, size ``raw / 192 * anchor_size``
   (x before y), score ``sigmoid(clip(logit, +-100))``, kept at >= 0.5;
4. weighted non-max suppression (IoU > 0.3 merges; the merged box and keypoints are the
   score-weighted means, the score the best one's);
5. the hand ROI: rotation that turns the wrist -> middle-finger MCP vector (keypoints 0 and
   2) to point up, centre shifted by half the box height along that direction, a square of
   2.6 times the box's longer side.

Coordinates: continuous image pixels, x right, y down, (0, 0) the top-left corner of the
top-left pixel (a pixel's centre is at +0.5). Rotations are radians; a crop of rotation
``r`` maps crop offsets ``(u, v)`` to image offsets ``R(r) (u, v)`` with
``R(r) = [[cos r, -sin r], [sin r, cos r]]``.

Needs numpy and torch only (no OpenCV): the crops are sampled by :func:`warp_rect`.
"""

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import torch

from occrobnet_ros.model.checkpoint import CheckpointError, load_state_strict, read_safetensors
from occrobnet_ros.model.mediapipe_hand import MediaPipeHandLandmark
from occrobnet_ros.model.palm_detector import NUM_KEYPOINTS, MediaPipePalmDetector
from occrobnet_ros.resources import require_shipped_file

WEIGHTS_FORMAT = "mediapipe-tflite-converted-1"  # written by tools/convert_mediapipe.py
PALM_INPUT_SIZE = 192
LANDMARK_INPUT_SIZE = 224


@dataclasses.dataclass(frozen=True)
class SsdAnchorOptions:
    """The fields of MediaPipe's ``SsdAnchorsCalculatorOptions`` the palm graph uses."""

    input_size: int
    min_scale: float
    max_scale: float
    strides: tuple[int, ...]
    aspect_ratios: tuple[float, ...]
    anchor_offset: float = 0.5
    interpolated_scale_aspect_ratio: float = 1.0  # the proto's default
    fixed_anchor_size: bool = False


# palm_detection_cpu.pbtxt, SsdAnchorsCalculator (num_layers 4 = len(strides)).
PALM_ANCHORS = SsdAnchorOptions(
    input_size=PALM_INPUT_SIZE,
    min_scale=0.1484375,
    max_scale=0.75,
    strides=(8, 16, 16, 16),
    aspect_ratios=(1.0,),
    fixed_anchor_size=True,
)
# palm_detection_cpu.pbtxt, TensorsToDetectionsCalculator and NonMaxSuppressionCalculator.
BOX_SCALE = 192.0  # x_scale = y_scale = w_scale = h_scale
SCORE_CLIPPING = 100.0
MIN_SCORE = 0.5
NMS_IOU = 0.3  # min_suppression_threshold, INTERSECTION_OVER_UNION, WEIGHTED
# palm_detection_detection_to_roi.pbtxt.
WRIST_KEYPOINT, MIDDLE_MCP_KEYPOINT = 0, 2
ROI_TARGET_ANGLE = math.pi / 2
ROI_SCALE = 2.6
ROI_SHIFT_Y = -0.5  # of the box height, along the hand's direction
# hand_landmark_cpu.pbtxt (ThresholdingCalculator) and hand_landmark_tracking_cpu.pbtxt.
PRESENCE_THRESHOLD = 0.5
MAX_HANDS = 2


@dataclasses.dataclass
class HandDetection:
    """One palm, in image pixels: ``box`` = (xmin, ymin, xmax, ymax), ``keypoints`` (7, 2)
    (MediaPipe documents 0 = wrist centre and 2 = middle-finger MCP), and the rotated square
    the landmark net should see (centre, side, rotation in radians)."""

    score: float
    box: np.ndarray
    keypoints: np.ndarray
    roi_center: np.ndarray
    roi_size: float
    roi_rotation: float


# ---------------------------------------------------------------------------------- anchors


def _anchor_scale(options: SsdAnchorOptions, index: int) -> float:
    count = len(options.strides)
    if count == 1:
        return (options.min_scale + options.max_scale) / 2
    return options.min_scale + (options.max_scale - options.min_scale) * index / (count - 1)


def _layer_anchor_sizes(options: SsdAnchorOptions, first: int, last: int) -> list[tuple]:
    """(width, height) of every anchor of a cell for the layers first..last (same stride)."""
    sizes = []
    for layer in range(first, last + 1):
        scale = _anchor_scale(options, layer)
        shapes = [(scale, ratio) for ratio in options.aspect_ratios]
        if options.interpolated_scale_aspect_ratio > 0:
            following = (
                1.0 if layer == len(options.strides) - 1 else _anchor_scale(options, layer + 1)
            )
            shapes.append((math.sqrt(scale * following), options.interpolated_scale_aspect_ratio))
        sizes += [(s * math.sqrt(r), s / math.sqrt(r)) for s, r in shapes]
    return sizes


def _same_stride_groups(strides: tuple[int, ...]) -> list[tuple[int, int]]:
    """(first, last) layer index of each run of consecutive layers with the same stride."""
    groups = []
    for index, stride in enumerate(strides):
        if groups and strides[groups[-1][1]] == stride:
            groups[-1] = (groups[-1][0], index)
        else:
            groups.append((index, index))
    return groups


def ssd_anchors(options: SsdAnchorOptions = PALM_ANCHORS) -> np.ndarray:
    """Anchors ``(N, 4)`` as (x_centre, y_centre, width, height), normalised to the input.

    As MediaPipe's SsdAnchorsCalculator: consecutive layers with the same stride share one
    grid, their anchors interleaved per cell; cells row by row.
    """
    anchors = []
    for first, last in _same_stride_groups(options.strides):
        sizes = _layer_anchor_sizes(options, first, last)
        cells = math.ceil(options.input_size / options.strides[first])
        for y in range(cells):
            for x in range(cells):
                centre = ((x + options.anchor_offset) / cells, (y + options.anchor_offset) / cells)
                for width, height in sizes:
                    size = (1.0, 1.0) if options.fixed_anchor_size else (width, height)
                    anchors.append((*centre, *size))
    return np.asarray(anchors, dtype=np.float32)


# --------------------------------------------------------------------------------- decoding


def decode_palms(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    min_score: float = MIN_SCORE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The detector's raw outputs for one image -> (scores (M,), boxes (M, 4) as xmin, ymin,
    xmax, ymax, keypoints (M, 7, 2)), normalised to the detector input, score >= min_score."""
    raw_boxes = np.asarray(raw_boxes, np.float32).reshape(len(anchors), -1)
    logits = np.clip(
        np.asarray(raw_scores, np.float32).reshape(len(anchors)), -SCORE_CLIPPING, SCORE_CLIPPING
    )
    scores = 1.0 / (1.0 + np.exp(-logits))
    anchor_xy, anchor_wh = anchors[:, :2], anchors[:, 2:]
    centre = raw_boxes[:, 0:2] / BOX_SCALE * anchor_wh + anchor_xy  # x before y
    size = raw_boxes[:, 2:4] / BOX_SCALE * anchor_wh
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    points = raw_boxes[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2)
    keypoints = points / BOX_SCALE * anchor_wh[:, None] + anchor_xy[:, None]
    # MediaPipe drops boxes decoded with a negative or NaN size.
    keep = (scores >= min_score) & np.all(size >= 0, axis=1)
    return scores[keep], boxes[keep], keypoints[keep]


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (xmin, ymin, xmax, ymax) box with each of ``boxes``."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    intersection = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, iou_threshold: float = NMS_IOU
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's weighted NMS: best-first, each kept detection is the score-weighted mean
    box and keypoints of every remaining one overlapping it by IoU > ``iou_threshold`` (itself
    included), with the best score; those are removed. Returns (score, box, keypoints)."""
    remaining = np.argsort(-scores, kind="stable")
    kept = []
    while remaining.size:
        best = remaining[0]
        overlapping = box_iou(boxes[best], boxes[remaining]) > iou_threshold
        overlapping[0] = True  # a box overlaps itself, even a degenerate one
        group = remaining[overlapping]
        weights = scores[group] / scores[group].sum()
        box = np.tensordot(weights, boxes[group], axes=1)
        points = np.tensordot(weights, keypoints[group], axes=1)
        kept.append((float(scores[best]), box, points))
        remaining = remaining[~overlapping]
    return kept


# ------------------------------------------------------------------------------------- ROI


def normalize_radians(angle: float) -> float:
    """The same angle in [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def palm_rotation(keypoints: np.ndarray) -> float:
    """Rotation (radians) that makes the wrist -> middle-finger MCP vector point up."""
    dx, dy = keypoints[MIDDLE_MCP_KEYPOINT] - keypoints[WRIST_KEYPOINT]
    return normalize_radians(ROI_TARGET_ANGLE - math.atan2(-dy, dx))


def hand_roi(box: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(centre, side, rotation) of the landmark crop for a palm, in image pixels."""
    rotation = palm_rotation(keypoints)
    width, height = box[2] - box[0], box[3] - box[1]
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float64)
    shift = np.array([0.0, ROI_SHIFT_Y * height])  # in the rotated frame (x: 0 * width)
    centre += _rotation_matrix(rotation) @ shift
    return centre, float(max(width, height) * ROI_SCALE), rotation


def _rotation_matrix(angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, -sin], [sin, cos]])


# ----------------------------------------------------------------------------------- crops


def warp_rect(
    image: np.ndarray,
    centre: np.ndarray,
    size: float,
    rotation: float,
    out_size: int,
    replicate_border: bool,
) -> np.ndarray:
    """The rotated square (``centre``, side ``size``, ``rotation``) of an RGB uint8 image,
    bilinearly resampled to ``out_size`` x ``out_size``, float32 in [0, 1]. Outside the image:
    the nearest edge pixel (``replicate_border``) or black."""
    offsets = ((np.arange(out_size) + 0.5) / out_size - 0.5) * size
    u, v = np.meshgrid(offsets, offsets)
    (a, b), (c, d) = _rotation_matrix(rotation)
    # Image position of each output pixel centre, in pixel-index units (centres at integers).
    x = centre[0] + a * u + b * v - 0.5
    y = centre[1] + c * u + d * v - 0.5
    return _bilinear(image, x, y, replicate_border)


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray, replicate: bool) -> np.ndarray:
    """``image`` (uint8 HxWx3) sampled at (x, y) in pixel-index units, float32 in [0, 1].
    torch's grid_sample: its align_corners=False grid puts index x at (2x + 1) / W - 1;
    "border" clamps to the edge pixels, "zeros" weights the pixels outside by 0."""
    height, width = image.shape[:2]
    grid = np.stack([(2 * x + 1) / width - 1, (2 * y + 1) / height - 1], axis=-1)
    # torch wants a writable array (a read-only one, e.g. a message's buffer, is copied).
    pixels = torch.from_numpy(np.require(image, requirements=["C", "W"]))
    pixels = pixels.permute(2, 0, 1)[None].float() / 255
    out = torch.nn.functional.grid_sample(
        pixels,
        torch.from_numpy(grid.astype(np.float32))[None],
        mode="bilinear",
        padding_mode="border" if replicate else "zeros",
        align_corners=False,
    )
    return out[0].permute(1, 2, 0).numpy()


def letterbox(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The whole image fitted into the palm detector's square input (black borders).

    Returns (input HxWx3 float32, the square's centre, its side) in image pixels: a point
    ``n`` normalised to the input is at ``centre + (n - 0.5) * side`` in the image.
    """
    height, width = image.shape[:2]
    centre = np.array([width / 2, height / 2])
    side = float(max(width, height))
    crop = warp_rect(image, centre, side, 0.0, PALM_INPUT_SIZE, replicate_border=False)
    return crop, centre, side


def palm_in_image(
    score: float, box: np.ndarray, keypoints: np.ndarray, centre: np.ndarray, side: float
) -> HandDetection:
    """A palm decoded in the letterboxed input (normalised) as a detection in image pixels."""
    origin = centre - side / 2  # the letterbox square's top-left corner in the image
    box = np.concatenate([origin + box[:2] * side, origin + box[2:] * side])
    keypoints = origin + keypoints * side
    roi_center, roi_size, roi_rotation = hand_roi(box, keypoints)
    return HandDetection(score, box, keypoints, roi_center, roi_size, roi_rotation)


# ---------------------------------------------------------------------------------- models


def mediapipe_weights_path(name: str) -> Path:
    """A shipped ``weights/mediapipe/<name>.safetensors``, installed or in the source tree."""
    return require_shipped_file("weights", "mediapipe", f"{name}.safetensors")


def load_mediapipe_model(name: str, path: str | Path | None = None) -> torch.nn.Module:
    """``hand_landmark_{full,lite}`` or ``palm_detection_{full,lite}``, float32, eval mode."""
    kind, _, variant = name.rpartition("_")
    builders = {"hand_landmark": MediaPipeHandLandmark, "palm_detection": MediaPipePalmDetector}
    if kind not in builders:
        raise ValueError(f"unknown MediaPipe model {name!r}")
    path = Path(path) if path is not None else mediapipe_weights_path(name)
    metadata, tensors = read_safetensors(path)
    if metadata.get("format") != WEIGHTS_FORMAT:
        raise CheckpointError(
            f"{path}: not a converted MediaPipe model (format != {WEIGHTS_FORMAT})"
        )
    model = builders[kind](variant)
    load_state_strict(model, {k: v.float() for k, v in tensors.items()}, str(path))
    return model.eval()


class HandDetector:
    """MediaPipe's palm detector and landmark net ("full" or "lite") with the decoding."""

    def __init__(self, variant: str = "full", device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.variant = variant
        # channels_last: the faster layout for these convolutions on the CPU (docs/performance.md).
        self.palm_model = self._ready(load_mediapipe_model(f"palm_detection_{variant}"))
        self.anchors = ssd_anchors(PALM_ANCHORS)

    @functools.cached_property
    def landmark_model(self) -> torch.nn.Module:
        """Loaded on first use: the estimator needs only the palm detector."""
        return self._ready(load_mediapipe_model(f"hand_landmark_{self.variant}"))

    def _ready(self, model: torch.nn.Module) -> torch.nn.Module:
        return model.to(self.device, memory_format=torch.channels_last)

    @torch.inference_mode()
    def detect(
        self, rgb: np.ndarray, min_score: float = MIN_SCORE, max_hands: int | None = MAX_HANDS
    ) -> list[HandDetection]:
        """Palms in an RGB uint8 image, best first, at most ``max_hands``."""
        tensor, centre, side = letterbox(rgb)
        outputs = self.palm_model(self._batch(tensor))
        scores, boxes, keypoints = decode_palms(
            outputs["boxes"][0].cpu().numpy(),
            outputs["scores"][0].cpu().numpy(),
            self.anchors,
            min_score,
        )
        palms = weighted_nms(scores, boxes, keypoints)[:max_hands]
        return [palm_in_image(score, box, points, centre, side) for score, box, points in palms]

    def crop(self, rgb: np.ndarray, detection: HandDetection) -> np.ndarray:
        """The landmark net's 224x224 input for a detection (edges replicated, as MediaPipe)."""
        return warp_rect(
            rgb,
            detection.roi_center,
            detection.roi_size,
            detection.roi_rotation,
            LANDMARK_INPUT_SIZE,
            replicate_border=True,
        )

    @torch.inference_mode()
    def landmarks(self, rgb: np.ndarray, detection: HandDetection) -> dict[str, np.ndarray]:
        """The landmark net on a detection's crop; ``landmarks`` (21, 3) back in image pixels
        (z on the x scale), ``world_landmarks`` (21, 3) metres with image-aligned x, y axes,
        ``presence`` and ``handedness`` (see model/mediapipe_hand.py) as floats."""
        out = self.landmark_model(self._batch(self.crop(rgb, detection)))
        crop_points = out["landmarks"][0].cpu().numpy().astype(np.float64)
        scale = detection.roi_size / LANDMARK_INPUT_SIZE
        rotation = _rotation_matrix(detection.roi_rotation)
        offsets = (crop_points[:, :2] - LANDMARK_INPUT_SIZE / 2) * scale
        image_xy = detection.roi_center + offsets @ rotation.T
        world = out["world_landmarks"][0].cpu().numpy().astype(np.float64)
        world[:, :2] = world[:, :2] @ rotation.T
        return {
            "landmarks": np.concatenate([image_xy, crop_points[:, 2:] * scale], axis=1),
            "world_landmarks": world,
            "presence": float(out["presence"][0]),
            "handedness": float(out["handedness"][0]),
        }

    def _batch(self, image: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(image).permute(2, 0, 1)[None].to(self.device)
        return batch.contiguous(memory_format=torch.channels_last)


def hand_under(points_2d: np.ndarray, detections: list[HandDetection]) -> int | None:
    """The index of the detection whose hand square (the rotated ROI, 2.6x the palm: it
    covers the fingers and what they hold) holds the median of ``points_2d`` [N, 2] (px), the
    one with the nearest centre if several do; None if none does."""
    centre = np.median(np.asarray(points_2d, np.float64), axis=0)
    best, best_distance = None, np.inf
    for index, detection in enumerate(detections):
        # Into the square's own axes: R(r)^T (p - c), then compare with half its side.
        offset = (centre - detection.roi_center) @ _rotation_matrix(detection.roi_rotation)
        distance = float(np.linalg.norm(offset))
        if np.all(np.abs(offset) <= detection.roi_size / 2.0) and distance < best_distance:
            best, best_distance = index, distance
    return best


def lies_on_a_hand(points_2d: np.ndarray, detections: list[HandDetection]) -> bool:
    """Whether ``points_2d`` lie on one of the detected hands (``hand_under``)."""
    return hand_under(points_2d, detections) is not None


@functools.lru_cache(maxsize=2)
def default_detector(variant: str = "full") -> HandDetector:
    return HandDetector(variant)


def detect_hands(
    rgb_image: np.ndarray,
    variant: str = "full",
    min_score: float = MIN_SCORE,
    max_hands: int | None = MAX_HANDS,
) -> list[HandDetection]:
    """Palms (with their landmark ROIs) in an RGB uint8 image, best first."""
    return default_detector(variant).detect(rgb_image, min_score, max_hands)
