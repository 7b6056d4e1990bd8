"""The real-photo check: does a checkpoint find real hands, and stay silent where there is none?

``occrobnet real-photos [--checkpoint CKPT] [--photos DIR] [--json FILE] [--draw DIR]`` runs
the checkpoint on each photo of ``DIR/hands/`` and ``DIR/no_hands/`` (default: the repo's
``test/data/real_photos``, OpenCV's documentation photos, see its README) as
``occrobnet predict`` does (one photo at a time, the default field of view), and compares it
with a reference that has seen real hands: MediaPipe's palm detector and landmark network,
converted to PyTorch (``model/mediapipe_hand.py``, ``model/palm_detector.py``).

Per reference hand (photos in ``hands/``):

- found: one of our detected hands lies on it (its keypoints' median distance to the
  reference's is under ``FOUND_DISTANCE`` of the reference hand's size);
- PCK@0.1 / PCK@0.2: the share of the 21 keypoints within 0.1 / 0.2 of the reference hand's
  size (the longer side of its keypoints' bounding box), 0 for a hand not found;
- 3D: the root-relative error (mm) of our joints against MediaPipe's world landmarks after
  the least-squares scale that best aligns them (both are rough in absolute scale; the
  shape is what is compared), for found hands;
- side: whether the slot of our found hand (right or left) is the side MediaPipe's
  handedness says (its "Left" on a mirrored selfie image is a right hand on these).

On ``no_hands/``: the hands we report (and the reference's, which should be none).

``--rendered-frames N`` scores the same way on N rendered frames (data/rendered/: Anny's
hands on real hand-free photos, held-out seeds) against their ground truth: not real images,
but many more hands than four photos, for comparing checkpoints without choosing by the
photos.

The figures are what the model card quotes; nothing here is tuned to these photos.
"""

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from occrobnet_ros import geometry
from occrobnet_ros.skeleton import HAND_NAMES, WRIST
from occrobnet_ros.tools.predict import DEFAULT_FOV_DEG, add_hand_detector_argument, read_rgb

FOUND_DISTANCE = 0.5  # of the reference hand's size: our hand lies on it
PCK_THRESHOLDS = (0.1, 0.2)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class HandScore:
    """One reference hand against our best-matching detected hand."""

    photo: str
    found: bool
    pck: dict[str, float]  # "0.1", "0.2" -> share of keypoints
    error_3d_mm: float | None  # scale-aligned, root-relative; None when not found
    confidence: float  # of our matching hand (0 when none was detected)
    side_agrees: bool | None = None  # our hand's slot is the reference's side; None: not found


@dataclass
class Report:
    hands: list[HandScore] = field(default_factory=list)
    hand_free_photos: int = 0
    hands_reported_on_hand_free: int = 0
    reference_hands_on_hand_free: int = 0
    hand_free_detail: dict[str, int] = field(default_factory=dict)  # photo -> hands we report

    def summary(self) -> dict:
        found = [hand for hand in self.hands if hand.found]
        errors = [hand.error_3d_mm for hand in found if hand.error_3d_mm is not None]
        return {
            "reference_hands": len(self.hands),
            "hands_found": len(found),
            **{
                f"pck@{t}_mean": _mean([hand.pck[str(t)] for hand in self.hands])
                for t in PCK_THRESHOLDS
            },
            **{
                f"pck@{t}_min": min((hand.pck[str(t)] for hand in self.hands), default=None)
                for t in PCK_THRESHOLDS
            },
            "error_3d_mm_median": float(np.median(errors)) if errors else None,
            "sides_agreeing": sum(bool(hand.side_agrees) for hand in found),
            "hand_free_photos": self.hand_free_photos,
            "hands_reported_on_hand_free": self.hands_reported_on_hand_free,
            "reference_hands_on_hand_free": self.reference_hands_on_hand_free,
        }


# --- metrics ------------------------------------------------------------------------------------


def hand_size(keypoints_2d: np.ndarray) -> float:
    """The longer side (px) of the bounding box of a hand's 2D keypoints."""
    extent = np.ptp(np.asarray(keypoints_2d, dtype=np.float64), axis=0)
    return float(extent.max())


def pck(predicted_2d: np.ndarray, reference_2d: np.ndarray, threshold: float) -> float:
    """The share of keypoints within ``threshold`` x the reference hand's size."""
    distances = np.linalg.norm(np.asarray(predicted_2d) - np.asarray(reference_2d), axis=1)
    return float(np.mean(distances <= threshold * hand_size(reference_2d)))


def scale_aligned_error_mm(joints: np.ndarray, reference: np.ndarray) -> float:
    """Mean joint distance (mm) of root-relative ``joints`` scaled by the least-squares factor
    onto root-relative ``reference`` (both [21, 3] metres; the wrist is the root)."""
    ours = np.asarray(joints, np.float64) - joints[WRIST]
    theirs = np.asarray(reference, np.float64) - reference[WRIST]
    norm = float(np.sum(ours * ours))
    scale = float(np.sum(ours * theirs)) / norm if norm > 0 else 0.0
    return 1000.0 * float(np.mean(np.linalg.norm(scale * ours - theirs, axis=1)))


def score_hand(photo: str, prediction, reference) -> HandScore:
    """``reference`` (keypoints_2d [21, 2] px, world_joints [21, 3] m, side) against the
    detected hand of ``prediction`` (either slot) whose keypoints lie closest to it."""
    detected = [(side, hand) for side, hand in zip(HAND_NAMES, prediction.hands) if hand.detected]
    size = hand_size(reference.keypoints_2d)

    def median_distance(side_hand) -> float:
        hand = side_hand[1]
        return float(np.median(np.linalg.norm(hand.keypoints_2d - reference.keypoints_2d, axis=1)))

    side, best = min(detected, key=median_distance, default=(None, None))
    if best is None or median_distance((side, best)) > FOUND_DISTANCE * size:
        return HandScore(photo, False, {str(t): 0.0 for t in PCK_THRESHOLDS}, None,
                         best.confidence if best else 0.0)  # fmt: skip
    return HandScore(
        photo,
        True,
        {str(t): pck(best.keypoints_2d, reference.keypoints_2d, t) for t in PCK_THRESHOLDS},
        scale_aligned_error_mm(best.joints, reference.world_joints),
        float(best.confidence),
        side == reference.side,
    )


def _agrees(agrees: bool) -> str:
    return "as the reference's" if agrees else "NOT the reference's"


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


# --- the check ----------------------------------------------------------------------------------


def default_photos() -> Path:
    return Path(__file__).resolve().parents[2] / "test" / "data" / "real_photos"


def photos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def check(estimator, reference_model, photos: Path, draw: Path | None = None) -> Report:
    """Score ``estimator`` on ``photos/hands`` and ``photos/no_hands`` against
    ``reference_model`` (a callable: RGB image -> list of reference hands)."""
    report = Report()
    for kind in ("hands", "no_hands"):
        for path in photos_in(photos / kind):
            rgb = read_rgb(path)
            K = geometry.intrinsics_from_fov(rgb.shape[1], rgb.shape[0], DEFAULT_FOV_DEG)
            prediction = estimator.predict_batch([rgb], [K])[0]
            references = reference_model(rgb)
            if draw is not None:
                _draw(draw, path, rgb, prediction, K, references)
            if kind == "hands":
                report.hands += [score_hand(path.name, prediction, ref) for ref in references]
            else:
                reported = sum(hand.detected for hand in prediction.hands)
                report.hand_free_photos += 1
                report.hands_reported_on_hand_free += reported
                report.reference_hands_on_hand_free += len(references)
                report.hand_free_detail[path.name] = reported
    return report


def check_rendered(estimator, count: int, backgrounds: Path) -> Report:
    """The same scores on ``count`` rendered frames (data/rendered/, seeds 0..count-1: never
    training seeds) with their ground truth as the reference: realistic hands on real photos,
    many more than the photos, with exact 2D and 3D (the 3D still scale-aligned, as above).
    Frames without a hand (the generator's hand-free photos) count as hand-free."""
    from occrobnet_ros.data.rendered import RenderedConfig, generate_sample
    from occrobnet_ros.skeleton import NUM_JOINTS

    config = RenderedConfig(background_dir=str(backgrounds))
    report = Report()
    for seed in range(count):
        sample = generate_sample(seed, config)
        prediction = estimator.predict_batch([sample.image], [sample.K])[0]
        references = [
            ReferenceHand(sample.joints_2d[rows], sample.joints_3d[rows], 1.0, HAND_NAMES[side])
            for side in np.flatnonzero(sample.hand_valid)
            for rows in [slice(side * NUM_JOINTS, (side + 1) * NUM_JOINTS)]
        ]
        if references:
            report.hands += [score_hand(f"seed {seed}", prediction, ref) for ref in references]
        else:
            reported = sum(hand.detected for hand in prediction.hands)
            report.hand_free_photos += 1
            report.hands_reported_on_hand_free += reported
            report.hand_free_detail[f"seed {seed}"] = reported
    return report


@dataclass
class ReferenceHand:
    """A hand MediaPipe finds: 2D keypoints (px, our joint order), world joints (m), its
    presence and its side ("right" or "left")."""

    keypoints_2d: np.ndarray
    world_joints: np.ndarray
    presence: float
    side: str


class MediaPipeReference:
    """MediaPipe's hand pipeline as the reference: palms on the whole photo, then the landmark
    network on each palm's rotated square; hands whose presence is under 0.5 are dropped, as
    MediaPipe drops them."""

    def __init__(self, variant: str = "full") -> None:
        from occrobnet_ros.inference.hand_detection import PRESENCE_THRESHOLD, HandDetector

        self.detector = HandDetector(variant)
        self.presence_threshold = PRESENCE_THRESHOLD

    def __call__(self, rgb: np.ndarray) -> list[ReferenceHand]:
        hands = []
        for detection in self.detector.detect(rgb):
            out = self.detector.landmarks(rgb, detection)
            if out["presence"] >= self.presence_threshold:
                # MediaPipe's "Left" assumes a mirrored image: on these it is a right hand.
                side = "right" if out["handedness"] >= 0.5 else "left"
                landmarks = out["landmarks"][:, :2]
                hands.append(
                    ReferenceHand(landmarks, out["world_landmarks"], out["presence"], side)
                )
        return hands


def _draw(folder: Path, path: Path, rgb, prediction, K, references) -> None:
    import cv2

    from occrobnet_ros.drawing import draw_prediction, draw_skeleton

    canvas = draw_prediction(rgb, prediction, K)
    for reference in references:  # the reference in white
        draw_skeleton(canvas, reference.keypoints_2d, (1.0, 1.0, 1.0), 1)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{path.stem}_check.jpg"), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="safetensors checkpoint (default: the embedded one)")
    parser.add_argument("--photos", type=Path, default=None, help="folder with hands/, no_hands/")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--draw", type=Path, help="write annotated photos here (reference white)")
    parser.add_argument("--device", default="auto")
    add_hand_detector_argument(parser)
    parser.add_argument(
        "--rendered-frames",
        type=int,
        metavar="N",
        help="instead of the photos: N rendered frames (data/rendered/) with their ground "
        "truth as the reference (needs moderngl and the installed background photos)",
    )
    parser.add_argument(
        "--backgrounds",
        type=Path,
        metavar="DIR",
        help="with --rendered-frames: the hand-free photos (default: install_backgrounds' "
        "folder, ~/.cache/occrobnet_ros/backgrounds)",
    )


def run(args: argparse.Namespace) -> int:
    from occrobnet_ros.inference.estimator import Estimator

    photos = args.photos or default_photos()
    rendered = args.rendered_frames
    if not rendered and not ((photos / "hands").is_dir() and (photos / "no_hands").is_dir()):
        print(f"occrobnet real-photos: {photos} has no hands/ and no_hands/", file=sys.stderr)
        return 2
    if rendered:
        from occrobnet_ros.data.rendered.install_backgrounds import default_cache, missing_photos

        backgrounds = args.backgrounds or default_cache()
        problem = missing_photos(backgrounds)
        if problem:
            print(f"occrobnet real-photos: {problem}", file=sys.stderr)
            return 2
    estimator = Estimator(
        args.checkpoint, device=args.device, roi_tracking=False, hand_detector=args.hand_detector
    )
    if rendered:
        report = check_rendered(estimator, rendered, backgrounds)
    else:
        report = check(estimator, MediaPipeReference(), photos, args.draw)
    summary = report.summary()
    for hand in [] if rendered else report.hands:
        state = "found" if hand.found else "MISSED"
        print(
            f"{hand.photo}: {state}, PCK@0.1 {hand.pck['0.1']:.2f}, PCK@0.2 {hand.pck['0.2']:.2f}"
            + (f", 3D {hand.error_3d_mm:.1f} mm" if hand.error_3d_mm is not None else "")
            + ("" if hand.side_agrees is None else f", side {_agrees(hand.side_agrees)}")
        )
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "summary": summary,
                    "hands": [asdict(h) for h in report.hands],
                    "hand_free": report.hand_free_detail,
                },
                indent=1,
            )  # fmt: skip
        )
    return 0
