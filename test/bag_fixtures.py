"""Shared pieces of the bag tests: a small synthetic source and a tiny checkpoint."""

from pathlib import Path

import numpy as np

from occrobnet_ros.bag.sources import SyntheticSource
from occrobnet_ros.data.synthetic import SyntheticConfig
from occrobnet_ros.inference.estimator import Estimator
from occrobnet_ros.model.checkpoint import save_random_model
from occrobnet_ros.model.config import OccRobNetConfig

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "weights" / "occrobnet_tiny_synthetic.safetensors"
SCALE = 0.25  # 160 x 120 frames: the same scenes, fast to render and to run
FIRST_TORCH_SEED = 7  # the first seed tried (it finds hands with the model of today)


def small_source(frames: int) -> SyntheticSource:
    return SyntheticSource(range(frames), SyntheticConfig().scaled(SCALE))


def tiny_checkpoint(directory: Path) -> Path:
    """The embedded checkpoint when present, else a random reduced tiny model (input 128).

    Random weights rarely place a hand in front of the camera, so the torch seed is the first
    from ``FIRST_TORCH_SEED`` whose model finds a hand (threshold 0) on the first small
    synthetic frame: hand metrics are then numbers rather than NaN (the tests assert that).
    The numbers need not be good, only reproducible.
    """
    if EMBEDDED.is_file():
        return EMBEDDED
    config = OccRobNetConfig.from_yaml(str(REPO / "config" / "model" / "occrobnet_tiny.yaml"))
    config.input_size, config.heatmap_size = 128, 16
    probe = next(iter(small_source(1)))
    for seed in range(FIRST_TORCH_SEED, FIRST_TORCH_SEED + 20):
        path = save_random_model(config, directory / f"tiny_random_{seed}.safetensors", seed)
        estimator = Estimator(path, device="cpu", roi_tracking=False, hand_threshold=0.0)
        if any(hand.detected for hand in estimator.predict(probe.rgb, probe.K).hands):
            return path
    raise AssertionError("no random tiny model finds a hand: look at the decoding")


def stack_joints(predictions) -> tuple[np.ndarray, np.ndarray]:
    """(N, 42, 3) joints and (N, 2) detection flags, right hand first."""
    joints = np.stack(
        [np.concatenate([p.right_hand.joints, p.left_hand.joints]) for p in predictions]
    )
    found = np.array([[p.right_hand.detected, p.left_hand.detected] for p in predictions])
    return joints, found
