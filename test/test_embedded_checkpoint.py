"""The committed default checkpoint still scores what its model card says: the first 32
benchmark frames, MPJPE and object translation error within 20 % of the card's figures."""

import re
from pathlib import Path

import pytest
import torch

from occrobnet_ros.data.augment import AugmentConfig
from occrobnet_ros.data.dataset import SyntheticDataset
from occrobnet_ros.data.synthetic import benchmark_seeds
from occrobnet_ros.evaluation.synthetic_benchmark import pose_metrics, predict
from occrobnet_ros.model import load_model

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights" / "occrobnet_tiny_synthetic.safetensors"
CARD = ROOT / "weights" / "MODEL_CARD.md"
FRAMES = 32


def card_figures() -> dict[str, float]:
    """The card's line 'Regression check (first 32 benchmark frames): MPJPE X mm, object
    translation Y cm'."""
    line = re.search(r"Regression check \(first (\d+) benchmark frames\): (.*)", CARD.read_text())
    assert line, "the model card has no regression-check line"
    assert int(line.group(1)) == FRAMES
    mpjpe = re.search(r"MPJPE ([\d.]+) mm", line.group(2))
    translation = re.search(r"object translation ([\d.]+) cm", line.group(2))
    return {"mpjpe_mm": float(mpjpe.group(1)), "object_translation_cm": float(translation[1])}


def test_the_embedded_checkpoint_scores_its_model_card_figures():
    torch.set_num_threads(2)
    model, config = load_model(WEIGHTS)
    frames = SyntheticDataset(
        benchmark_seeds()[:FRAMES], config.input_size, None, AugmentConfig.none()
    )
    predictions, gt = predict(model, frames, batch_size=8)
    report = pose_metrics(predictions, gt)
    for key, expected in card_figures().items():
        assert report[key] == pytest.approx(expected, rel=0.2), key
