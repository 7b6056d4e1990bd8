"""Triangle meshes of the generator's objects (objects.py: box, cylinder, sphere), textured.

A box's faces carry the object's six face textures in render.BOX_FACES order, each mapped as
render.py maps it (texture corners (0, 0), (w, 0), (w, h), (0, h) on the face's corners in
order), so the symmetry classes of objects.py hold for these meshes too. A cylinder's side is
coloured by its bands from bottom (-z) to top, its caps by the cap colour; a sphere is one
colour.
"""

import cv2
import numpy as np

from occrobnet_ros.data.rendered.renderer import Mesh
from occrobnet_ros.data.synthetic.generator import OBJECT_LABEL
from occrobnet_ros.data.synthetic.objects import BOX, CYLINDER, SceneObject
from occrobnet_ros.data.synthetic.render import BOX_FACES

_CELL = 128  # pixels of one box face in the texture atlas
_SEGMENTS = 40  # around a cylinder or sphere
_RINGS = 16  # a sphere's latitude rings


def object_mesh(obj: SceneObject, label: int = OBJECT_LABEL, gloss=0.2, shininess=20.0):
    """The object's mesh in the camera frame."""
    if obj.kind == BOX:
        positions, normals, uv, faces, texture = _box(obj)
        albedo = np.ones_like(positions)
    elif obj.kind == CYLINDER:
        positions, normals, uv, faces, texture, albedo = _cylinder(obj)
    else:
        positions, normals, faces = _sphere(obj.size[0] / 2.0)
        uv, texture = None, None
        albedo = np.broadcast_to(np.asarray(obj.textures[0]) / 255.0, positions.shape)
    if obj.kind != BOX:
        positions = positions @ obj.rotation.T + obj.translation
        normals = normals @ obj.rotation.T
    return Mesh(positions, normals, albedo, faces, label, uv, gloss, shininess, texture=texture)


def _box(obj: SceneObject):
    corners = obj.corners_camera
    positions, normals, uv, faces = [], [], [], []
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    inset = 0.5 / _CELL + square * (1.0 - 1.0 / _CELL)  # stay inside the cell: no bleeding
    for face, (indices, normal) in enumerate(BOX_FACES):
        start = 4 * face
        positions.append(corners[list(indices)])
        normals.append(np.tile(obj.rotation @ np.array(normal), (4, 1)))
        cell = np.array([face % 3, face // 3])
        uv.append((cell + inset) / [3.0, 2.0])
        faces += [[start, start + 1, start + 2], [start, start + 2, start + 3]]
    atlas = np.zeros((2 * _CELL, 3 * _CELL, 3), np.uint8)
    for face, texture in enumerate(obj.textures):
        row, column = face // 3, face % 3
        cell = cv2.resize(
            np.asarray(texture, np.uint8), (_CELL, _CELL), interpolation=cv2.INTER_AREA
        )
        atlas[row * _CELL : (row + 1) * _CELL, column * _CELL : (column + 1) * _CELL] = cell
    return (
        np.concatenate(positions),
        np.concatenate(normals),
        np.concatenate(uv),
        np.array(faces),
        atlas,
    )


def _cylinder(obj: SceneObject):
    """Side (radial normals, texture by height) and two caps (flat, cap colour)."""
    radius, half = obj.size[0] / 2.0, obj.size[2] / 2.0
    bands, cap = obj.textures
    angle = np.linspace(0.0, 2 * np.pi, _SEGMENTS + 1)
    ring = np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], axis=1)
    side = np.concatenate([ring * radius + [0, 0, -half], ring * radius + [0, 0, half]])
    side_normals = np.concatenate([ring, ring])
    # Texture: column 0 the bands (row 0 the bottom band), column 1 white for the caps.
    texture = np.full((len(bands), 2, 3), 255, np.uint8)
    texture[:, 0] = np.asarray(bands, np.uint8)
    side_uv = np.stack([np.full(len(side), 0.25), np.repeat([0.0, 1.0], len(ring))], axis=1)
    n = len(ring)
    columns = np.arange(_SEGMENTS)
    side_faces = np.concatenate(
        [
            np.stack([columns, columns + 1, columns + n + 1], axis=1),
            np.stack([columns, columns + n + 1, columns + n], axis=1),
        ]
    )
    positions, normals, faces = [side], [side_normals], [side_faces]
    start = len(side)
    for sign in (-1.0, 1.0):
        rim = ring[:-1] * radius + [0, 0, sign * half]
        centre = np.array([[0.0, 0.0, sign * half]])
        positions.append(np.concatenate([centre, rim]))
        normals.append(np.tile([0.0, 0.0, sign], (len(rim) + 1, 1)))
        fan = np.stack([np.zeros(_SEGMENTS, int), columns + 1, (columns + 1) % _SEGMENTS + 1], 1)
        faces.append(fan + start)
        start += len(rim) + 1
    positions, normals = np.concatenate(positions), np.concatenate(normals)
    uv = np.concatenate([side_uv, np.tile([0.75, 0.5], (len(positions) - len(side), 1))])
    albedo = np.ones_like(positions)
    albedo[len(side) :] = np.asarray(cap) / 255.0
    return positions, normals, uv, np.concatenate(faces), texture, albedo


def _sphere(radius: float):
    theta = np.linspace(0.0, np.pi, _RINGS + 1)[:, None]
    phi = np.linspace(0.0, 2 * np.pi, _SEGMENTS + 1)[None, :]
    unit = np.stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta) + 0 * phi], -1
    ).reshape(-1, 3)
    width = _SEGMENTS + 1
    r, c = np.meshgrid(np.arange(_RINGS), np.arange(_SEGMENTS), indexing="ij")
    a = (r * width + c).ravel()
    faces = np.concatenate(
        [np.stack([a, a + width, a + width + 1], 1), np.stack([a, a + width + 1, a + 1], 1)]
    )
    return unit * radius, unit, faces
