"""The procedural generator: hand-object frames with exact ground truth (generator.py).

Its parts: the articulated hand (hand_model.py), the objects (objects.py), the scene layouts
and grasps (scene.py), the z-buffer renderer (render.py) and backgrounds, blur and noise
(appearance.py). Callers use the API below; the parts are the generator's.
"""

from .generator import (
    TRAIN_SEED_START,
    SyntheticConfig,
    benchmark_seeds,
    generate_sample,
    iterate,
    training_seeds,
)

__all__ = [
    "TRAIN_SEED_START",
    "SyntheticConfig",
    "benchmark_seeds",
    "generate_sample",
    "iterate",
    "training_seeds",
]
