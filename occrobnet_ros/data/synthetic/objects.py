"""Procedural YCB-like objects: boxes, cylinders and spheres, with their symmetry classes.

The object frame has its origin at the object's centre; z is the box's longest side or the
cylinder's axis. Symmetry classes (``Sample.object_symmetry``):

- ``SYMMETRY_NONE`` (0): a box whose six faces carry different textures.
- ``SYMMETRY_Z180`` (1): a box whose textures repeat under a half turn about z (opposite side
  faces equal, top and bottom symmetric), like the cracker and sugar boxes in HO-3D losses.
- ``SYMMETRY_Z_CONTINUOUS`` (2): a cylinder, textured with bands only, so any turn about z
  gives the same image. A sphere is fully symmetric; it gets this class too, and its rotation
  is always the identity (axes aligned with the camera's), so the one remaining rotation is
  canonical and a z-symmetric loss sees no ambiguity.
"""

from dataclasses import dataclass

import numpy as np

from occrobnet_ros.data.synthetic import appearance
from occrobnet_ros.data.synthetic.render import BOX_FACES, box_corners

SYMMETRY_NONE, SYMMETRY_Z180, SYMMETRY_Z_CONTINUOUS = 0, 1, 2
BOX, CYLINDER, SPHERE = "box", "cylinder", "sphere"
KIND_PROBABILITIES = {BOX: 0.45, CYLINDER: 0.4, SPHERE: 0.15}


@dataclass
class SceneObject:
    """One object: its shape, look and pose (object frame -> camera frame)."""

    kind: str
    size: np.ndarray  # [3] extent along the object's x, y, z, metres
    symmetry: int
    rotation: np.ndarray  # [3, 3]
    translation: np.ndarray  # [3] centre in the camera frame
    textures: list  # box: 6 face images; cylinder: [bands, cap colour]; sphere: [colour]

    @property
    def corners_rest(self) -> np.ndarray:
        """The 8 corners of the 3D bounding box in the object frame (render.box_corners order)."""
        return box_corners(self.size)

    @property
    def corners_camera(self) -> np.ndarray:
        return self.corners_rest @ self.rotation.T + self.translation

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (metres, negative inside) of camera-frame points ``[..., 3]``."""
        local = (points - self.translation) @ self.rotation
        half = self.size / 2.0
        if self.kind == SPHERE:
            return np.linalg.norm(local, axis=-1) - half[0]
        if self.kind == CYLINDER:
            radial = np.linalg.norm(local[..., :2], axis=-1) - half[0]
            q = np.stack([radial, np.abs(local[..., 2]) - half[2]], axis=-1)
        else:
            q = np.abs(local) - half
        outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
        return outside + np.minimum(q.max(axis=-1), 0.0)

    def extent_along(self, direction: np.ndarray) -> np.ndarray:
        """Distance from the centre to the surface's supporting plane along a camera-frame unit
        ``direction`` (the support function)."""
        local = np.abs(self.rotation.T @ direction)
        half = self.size / 2.0
        if self.kind == SPHERE:
            return half[0]
        if self.kind == CYLINDER:
            return half[0] * np.sqrt(max(1.0 - local[2] ** 2, 0.0)) + half[2] * local[2]
        return float(local @ half)


def sample_object(rng: np.random.Generator) -> SceneObject:
    """An object with YCB-like size and texture; its pose is set by the scene."""
    kinds = list(KIND_PROBABILITIES)
    kind = kinds[rng.choice(len(kinds), p=list(KIND_PROBABILITIES.values()))]
    if kind == BOX:
        # x: width, y: thickness, z: height (cracker 0.16 x 0.06 x 0.21, sugar 0.09 x 0.045 x
        # 0.175, potted meat 0.10 x 0.06 x 0.08).
        size = np.array([rng.uniform(0.06, 0.13), rng.uniform(0.035, 0.07), 0.0])
        size[2] = rng.uniform(max(size[0], 0.08), 0.22)
        symmetric = rng.random() < 0.5
        textures = _box_textures(rng, size, symmetric)
        symmetry = SYMMETRY_Z180 if symmetric else SYMMETRY_NONE
    elif kind == CYLINDER:
        radius = rng.uniform(0.025, 0.048)  # soup can 0.034, mug 0.04, mustard ~0.03-0.05
        size = np.array([2 * radius, 2 * radius, rng.uniform(0.06, 0.2)])
        cap = appearance.random_colour(rng)
        textures = [appearance.band_texture(rng), cap]
        symmetry = SYMMETRY_Z_CONTINUOUS
    else:
        radius = rng.uniform(0.03, 0.055)  # tennis ball 0.033, orange 0.037, softball 0.048
        size = np.full(3, 2 * radius)
        textures = [appearance.random_colour(rng)]
        symmetry = SYMMETRY_Z_CONTINUOUS
    return SceneObject(kind, size, symmetry, np.eye(3), np.zeros(3), textures)


def _box_textures(rng: np.random.Generator, size: np.ndarray, symmetric: bool) -> list:
    """One texture per face (render.BOX_FACES order), sized to the face's aspect ratio."""
    textures = []
    for index, (corners, _) in enumerate(BOX_FACES):
        if symmetric and index in (1, 3):  # -x repeats +x, -y repeats +y (see BOX_FACES)
            textures.append(textures[index - 1])
            continue
        rest = box_corners(size)[list(corners)]
        width = np.linalg.norm(rest[1] - rest[0])
        height = np.linalg.norm(rest[3] - rest[0])
        pixels = 600.0  # texture pixels per metre
        texture = appearance.label_texture(
            rng, max(int(width * pixels), 8), max(int(height * pixels), 8)
        )
        if symmetric and index in (4, 5):
            texture = appearance.symmetric_under_half_turn(texture)
        textures.append(texture)
    return textures


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed rotation matrix (normalised Gaussian quaternion)."""
    x, y, z, w = rng.standard_normal(4) / 1.0
    norm = np.sqrt(x * x + y * y + z * z + w * w)
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
