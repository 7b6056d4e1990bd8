"""``occrobnet predict IMAGE...``: the model on image files, no ROS needed.

A user's first "does it work on my photos": each image on its own (no tracking, no smoothing),
the answer as JSON keyed by each image path as given, and with ``--draw`` the skeletons and
the object box drawn on a copy of each image.

The 3D joints need the camera's intrinsics: a ROS camera calibration file (``--camera-info``,
what ``camera_calibration`` writes and camera drivers load) or a horizontal field of view
(``--fov``, square pixels, principal point at the centre). Without either, ``DEFAULT_FOV_DEG``
is assumed and said, since the depth of every point scales with the focal length.

JSON per image (metres, camera optical frame; pixels with centres at integers)::

    {"right_hand": {"detected", "confidence", "keypoints_2d": [[u, v] x 21],
                    "joints": [[x, y, z] x 21], "joint_visibility": [21], "handedness"},
     "left_hand": {...},
     "object": {"detected", "confidence", "translation": [3], "rotation": [x, y, z, w],
                "box_size": [3]},
     "K": [[3 x 3]], "image_size": [width, height], "inference_time_s"}

An image that cannot be read or used gets ``{"error": "..."}`` instead, the others are still
predicted, and the command exits with 1.
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from occrobnet_ros import geometry
from occrobnet_ros.prediction import HandEstimate, ObjectEstimate, Prediction

# Horizontal field of view assumed without --fov or --camera-info: between a webcam's (~60-70)
# and a RealSense D435 colour camera's (69).
DEFAULT_FOV_DEG = 65.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files (any OpenCV reads)"
    )
    parser.add_argument("--checkpoint", help="safetensors checkpoint (default: the embedded one)")
    camera = parser.add_mutually_exclusive_group()
    camera.add_argument(
        "--fov",
        type=float,
        metavar="DEG",
        help=f"horizontal field of view (default {DEFAULT_FOV_DEG:g})",
    )
    camera.add_argument(
        "--camera-info", type=Path, metavar="YAML", help="ROS camera calibration file (K and lens)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the predictions here")
    parser.add_argument("--draw", type=Path, metavar="DIR", help="write annotated images here")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--hand-threshold", type=float, default=0.5)
    parser.add_argument("--object-threshold", type=float, default=0.5)
    add_hand_detector_argument(parser)


def add_hand_detector_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hand-detector",
        choices=("palm_full", "palm_lite", "none"),
        default="palm_full",
        help="MediaPipe's palm detector chooses the crop and confirms each hand (default "
        "palm_full); none: the whole image, the network's presence alone",
    )


def run(args: argparse.Namespace) -> int:
    from occrobnet_ros.inference.estimator import Estimator, EstimatorError
    from occrobnet_ros.model.checkpoint import CheckpointError

    try:
        calibration = geometry.load_calibration(args.camera_info) if args.camera_info else None
    except (OSError, ValueError) as error:
        print(f"occrobnet predict: {args.camera_info}: {error}", file=sys.stderr)
        return 2
    if args.fov is not None and not 1.0 <= args.fov < 180.0:
        print(
            f"occrobnet predict: --fov must be in [1, 180) degrees, got {args.fov}",
            file=sys.stderr,
        )
        return 2
    if calibration is None and args.fov is None:
        print(
            f"no --fov or --camera-info: assuming a {DEFAULT_FOV_DEG:g} deg horizontal "
            "field of view"
        )
    try:
        estimator = Estimator(
            args.checkpoint,
            device=args.device,
            roi_tracking=False,
            hand_threshold=args.hand_threshold,
            object_threshold=args.object_threshold,
            hand_detector=args.hand_detector,
        )
    except (EstimatorError, CheckpointError) as error:
        print(f"occrobnet predict: {error}", file=sys.stderr)
        return 2
    results, failures = {}, 0
    for name in args.images:
        try:
            results[name] = _predict_file(estimator, name, args, calibration)
        except (OSError, ValueError, EstimatorError) as error:
            results[name] = {"error": str(error)}
            failures += 1
        print(_summary_line(name, results[name]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
        print(f"wrote {args.json}")
    return 1 if failures else 0


def _predict_file(estimator, name: str, args, calibration: geometry.Calibration | None) -> dict:
    rgb = read_rgb(Path(name))
    height, width = rgb.shape[:2]
    if calibration is not None:
        calibration.check_size(width, height)
        K, lens = calibration.K, calibration.distortion
    else:
        K, lens = geometry.intrinsics_from_fov(width, height, args.fov or DEFAULT_FOV_DEG), None
    prediction = estimator.predict_batch([rgb], [K], distortions=[lens])[0]
    if args.draw:
        _write_drawing(args.draw, Path(name), rgb, prediction, K, lens)
    return {
        **prediction_to_json(prediction),
        "K": K.tolist(),
        "image_size": [width, height],
        "inference_time_s": round(prediction.inference_time, 4),
    }


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (colour or grey; alpha dropped), or a ValueError saying why."""
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"not an image OpenCV can read: {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def prediction_to_json(prediction: Prediction) -> dict:
    return {
        "right_hand": _hand_json(prediction.right_hand),
        "left_hand": _hand_json(prediction.left_hand),
        "object": _object_json(prediction.object),
    }


def _hand_json(hand: HandEstimate) -> dict:
    if not hand.detected:
        return {"detected": False, "confidence": round(float(hand.confidence), 4)}
    return {
        "detected": True,
        "confidence": round(float(hand.confidence), 4),
        "keypoints_2d": np.round(hand.keypoints_2d, 2).tolist(),
        "joints": np.round(hand.joints, 5).tolist(),
        "joint_visibility": np.round(hand.joint_visibility, 3).tolist(),
        "handedness": round(float(hand.handedness), 4),
    }


def _object_json(obj: ObjectEstimate) -> dict:
    if not obj.detected:
        return {"detected": False, "confidence": round(float(obj.confidence), 4)}
    return {
        "detected": True,
        "confidence": round(float(obj.confidence), 4),
        "translation": np.round(obj.translation, 5).tolist(),
        "rotation": np.round(geometry.matrix_to_quaternion(obj.rotation), 6).tolist(),
        "box_size": np.round(obj.box_size, 5).tolist(),
    }


def _write_drawing(folder: Path, source: Path, rgb, prediction, K, lens) -> None:
    # Drawing shares the node's debug-image code, which lives with the ROS markers.
    from occrobnet_ros.drawing import draw_prediction

    folder.mkdir(parents=True, exist_ok=True)
    annotated = draw_prediction(rgb, prediction, K, lens)
    cv2.imwrite(
        str(folder / f"{source.stem}_pose.jpg"), cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR)
    )


def _summary_line(name: str, result: dict) -> str:
    if "error" in result:
        return f"{name}: ERROR {result['error']}"
    parts = []
    for key in ("right_hand", "left_hand", "object"):
        entry = result[key]
        state = "found" if entry["detected"] else "none"
        parts.append(f"{key.replace('_', ' ')} {state} ({entry['confidence']:.2f})")
    return f"{name}: " + ", ".join(parts)
