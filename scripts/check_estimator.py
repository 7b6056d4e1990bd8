"""What the node would report with a checkpoint: presence and absolute positions.

    python scripts/check_estimator.py weights/occrobnet_tiny_synthetic.safetensors [--frames N]

The synthetic benchmark (``occrobnet_ros.evaluation.synthetic_benchmark``) scores root-relative
poses on crops around the true hands. This script runs the estimator the way the node does
(whole frame, then ROI tracking; default thresholds) and prints, as JSON, the figures of the
model card's "Presence" and "Limits" sections:

- presence probabilities on blank (grey, black, white) and uniform-noise 640x480 images;
- how many of 20 empty synthetic frames (a cluttered background, nothing else) report a hand;
- on the first 40 benchmark frames (``--frames N``), each fed 3 times so that ROI tracking
  locks on: hands and objects detected, absent hands reported anyway (the second hand of
  one-hand frames), and the wrist and object-centre position errors (metres, median and 90th
  percentile, camera frame); the handedness of the detected hands that exist and of those that
  do not; the visibility output as a detector of occluded joints, on the hands found;
- the same frames at other ``hand_threshold`` values: present hands missed, absent reported.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

from occrobnet_ros import metrics  # noqa: E402
from occrobnet_ros.data.synthetic import (  # noqa: E402
    SyntheticConfig,
    benchmark_seeds,
    generate_sample,
    training_seeds,
)
from occrobnet_ros.inference.estimator import Estimator  # noqa: E402
from occrobnet_ros.skeleton import NUM_JOINTS, hand_slice  # noqa: E402

K = np.array([[615.0, 0.0, 320.0], [0.0, 615.0, 240.0], [0.0, 0.0, 1.0]])
EMPTY_FRAMES = 20
TRACKED_FRAMES = 40  # the model card's figures; one-hand frames among them hold 14 absent hands
FEEDS = 3  # the first frame searches the whole image, the next ones crop around its answer


def blank_images() -> dict[str, np.ndarray]:
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return {
        "grey": np.full((480, 640, 3), 128, np.uint8),
        "black": np.zeros((480, 640, 3), np.uint8),
        "white": np.full((480, 640, 3), 255, np.uint8),
        "noise": noise,
    }


def presence(estimator: Estimator) -> dict:
    report = {}
    for name, image in blank_images().items():
        estimator.reset()
        p = estimator.predict(image, K)
        report[name] = {
            "right": round(p.right_hand.confidence, 2),
            "left": round(p.left_hand.confidence, 2),
            "object": round(p.object.confidence, 2),
        }
    # Cluttered backgrounds only: noise and flat images are the blank_images above.
    empty = SyntheticConfig(empty_probability=1.0, degenerate_probability=0.0)
    with_hand = 0
    for seed in training_seeds(EMPTY_FRAMES, start=5_000_000):
        sample = generate_sample(int(seed), empty)
        estimator.reset()
        p = estimator.predict(sample.image, sample.K)
        with_hand += int(p.right_hand.detected or p.left_hand.detected)
    report["empty_frames_reporting_a_hand"] = f"{with_hand} of {EMPTY_FRAMES}"
    return report


def tracked_frames(estimator: Estimator, count: int):
    """(sample, prediction after the last of FEEDS feeds) of the first ``count`` benchmark
    frames, the estimator reset before each."""
    for seed in benchmark_seeds()[:count]:
        sample = generate_sample(int(seed))
        estimator.reset()
        for _ in range(FEEDS):
            prediction = estimator.predict(sample.image, sample.K)
        yield sample, prediction


def positions(estimator: Estimator, count: int) -> dict:
    wrist_errors, object_errors = [], []
    hands = objects = hands_found = objects_found = absent_hands = phantom_hands = 0
    handedness = {"real": [], "phantom": []}
    visibility, visible = [], []
    for sample, p in tracked_frames(estimator, count):
        for index, hand in enumerate(p.hands):  # (right, left), as sample.hand_valid
            if sample.hand_valid[index]:
                hands += 1
                if hand.detected:
                    hands_found += 1
                    true_wrist = sample.joints_3d[index * NUM_JOINTS]
                    wrist_errors.append(np.linalg.norm(hand.joints[0] - true_wrist))
                    handedness["real"].append(hand.handedness)
                    visibility.append(hand.joint_visibility)
                    visible.append(sample.joint_visible[hand_slice(index)])
            else:
                absent_hands += 1
                phantom_hands += int(hand.detected)
                if hand.detected:
                    handedness["phantom"].append(hand.handedness)
        if sample.object_valid:
            objects += 1
            if p.object.detected:
                objects_found += 1
                true_centre = sample.object_corners_3d.mean(axis=0)
                object_errors.append(np.linalg.norm(p.object.translation - true_centre))
    return {
        "hands_detected": f"{hands_found} of {hands}",
        "objects_detected": f"{objects_found} of {objects}",
        "absent_hands_reported": f"{phantom_hands} of {absent_hands}",
        "wrist_error_m_median_p90": _median_p90(wrist_errors),
        "object_error_m_median_p90": _median_p90(object_errors),
        "handedness_median_p10_real": _median_p10(handedness["real"]),
        "handedness_median_p10_phantom": _median_p10(handedness["phantom"]),
        "occluded_joints_found_hands": _rounded(
            metrics.occlusion_classification(
                np.array(visibility), np.array(visible), np.ones((len(visible), NUM_JOINTS))
            )
        )
        if visible
        else None,
    }


def threshold_sweep(checkpoint: str, count: int) -> dict:
    """Would another ``hand_threshold`` separate present from absent hands? The presence
    probability of every hand slot over the first ``count`` benchmark frames (3 feeds each,
    every hand decoded), and at each threshold the share of present hands missed and of
    absent hands reported."""
    estimator = Estimator(checkpoint, device="cpu", hand_threshold=0.0)
    present, absent = [], []
    for sample, p in tracked_frames(estimator, count):
        for index, hand in enumerate(p.hands):
            (present if sample.hand_valid[index] else absent).append(hand.confidence)
    present, absent = np.array(present), np.array(absent)
    return {
        f"hand_threshold {t}": {
            "present_missed": f"{np.mean(present < t):.2f}",
            "absent_reported": f"{np.mean(absent >= t):.2f}",
        }
        for t in (0.5, 0.7, 0.8, 0.9, 0.95)
    }


def _median_p10(values: list[float]) -> list[float] | None:
    if not values:
        return None
    return [round(float(np.median(values)), 3), round(float(np.percentile(values, 10)), 3)]


def _rounded(values: dict) -> dict:
    return {k: round(float(v), 3) if isinstance(v, float) else v for k, v in values.items()}


def _median_p90(values: list[float]) -> list[float] | None:
    if not values:
        return None
    return [round(float(np.median(values)), 3), round(float(np.percentile(values, 90)), 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="safetensors model file")
    parser.add_argument(
        "--frames", type=int, default=TRACKED_FRAMES, help="benchmark frames to track"
    )
    args = parser.parse_args()
    estimator = Estimator(args.checkpoint, device="cpu")
    report = {
        "tracked_frames": args.frames,
        **presence(estimator),
        **positions(estimator, args.frames),
        **threshold_sweep(args.checkpoint, args.frames),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
