"""A procedural articulated hand: anatomical proportions, joint limits, forward kinematics.

The model is a left hand in its wrist frame (the frame of ``geometry.palm_orientation``):
origin at the wrist, x towards the middle-finger MCP, z out of the palm, y = z x x towards the
thumb (a right-handed frame with the thumb at +y and the palm at +z is a left hand's). A right
hand is the same model mirrored in y, placed with a proper rotation, so its y points to the
little finger. Lengths are metres; the defaults are an average adult hand
(metacarpal and phalanx lengths from the anthropometric literature, rounded), varied per sample.

Each finger (thumb first, our skeleton order) is a chain of three bones from its base joint
(thumb CMC, finger MCP). Its pose is four angles in radians: abduction at the base (about the
finger's palm normal, positive towards the thumb side) and the flexion of its three joints
(positive curls towards the palm). ``ANGLE_LIMITS`` holds their anatomical ranges.

For rendering, the hand's surface is a set of tapered capsules (``CAPSULES``): one per finger
bone, a few that fill the palm, one for the forearm, plus a small one per fingernail
(``nails``).
"""

from dataclasses import dataclass

import numpy as np

from occrobnet_ros.skeleton import FINGERTIPS, NUM_JOINTS, WRIST

NUM_FINGERS = 5
DEG = np.pi / 180.0

# Base joints in the model's wrist frame (thumb CMC, then index..little MCP); mm. The MCPs
# lie in the z = 0 palm plane, the middle MCP on the x axis, so palm_orientation() recovers
# the wrist rotation exactly.
_BASES_MM = np.array(
    [
        [30.0, 24.0, 10.0],
        [86.0, 22.0, 0.0],
        [90.0, 0.0, 0.0],
        [85.0, -18.0, 0.0],
        [77.0, -35.0, 0.0],
    ]
)
# Rest direction of each finger in the palm plane (thumb: forward, to the side, out of the palm).
_SPLAY_DEG = np.array([0.0, 6.0, 0.0, -6.0, -13.0])
_THUMB_DIRECTION = np.array([0.62, 0.62, 0.48])
_THUMB_CURL = np.array([0.0, -0.55, 1.0])  # the thumb flexes across and in front of the palm
# Bone lengths (base->second, second->third, third->tip), mm.
_LENGTHS_MM = np.array(
    [
        [44.0, 32.0, 27.0],
        [42.0, 25.0, 21.0],
        [46.0, 29.0, 22.0],
        [43.0, 27.0, 22.0],
        [34.0, 20.0, 20.0],
    ]
)
# Capsule radius at each joint (our order), mm; the wrist's is the palm's half thickness.
_RADII_MM = np.array(
    [14.0]
    + [12.5, 10.5, 9.5, 8.5]
    + [10.0, 9.0, 8.0, 7.2]
    + [10.2, 9.2, 8.2, 7.4]
    + [9.6, 8.7, 7.8, 7.0]
    + [8.8, 7.8, 7.0, 6.4]
)

# Limits of (abduction, flexion 1, flexion 2, flexion 3) per finger, radians.
ANGLE_LIMITS = (
    np.array(
        [
            [[-25, 25], [-15, 50], [-10, 60], [-15, 80]],  # thumb: CMC abd/flex, MCP, IP
            [[-20, 20], [-25, 90], [0, 110], [0, 80]],  # index: MCP abd/flex, PIP, DIP
            [[-15, 15], [-25, 90], [0, 110], [0, 80]],
            [[-15, 15], [-25, 90], [0, 110], [0, 80]],
            [[-20, 20], [-25, 90], [0, 110], [0, 80]],
        ]
    )
    * DEG
)

# Extra surface points (wrist frame, mm): the palm's base corners and the forearm.
_PALM_RADIAL_MM = np.array([12.0, 20.0, 2.0])
_PALM_ULNAR_MM = np.array([12.0, -22.0, 2.0])
_FOREARM_NEAR_MM = np.array([-24.0, 0.0, -2.0])
_FOREARM_FAR_MM = np.array([-260.0, 0.0, -10.0])
PALM_CENTRE = np.array([0.05, 0.0, 0.0])  # wrist frame, metres (for placing objects)
PALM_HALF_THICKNESS = 0.013


@dataclass(frozen=True)
class HandShape:
    """One hand's proportions, in metres, in the model's (left-hand) wrist frame."""

    bases: np.ndarray  # [5, 3] thumb CMC and finger MCP positions
    frames: np.ndarray  # [5, 3, 3] rest frame per finger: columns (direction, lateral, curl)
    lengths: np.ndarray  # [5, 3] bone lengths
    radii: np.ndarray  # [21] capsule radius at each joint
    extras: np.ndarray  # [4, 3] palm radial/ulnar base, forearm near/far ends
    forearm_radii: tuple[float, float]


def default_shape() -> HandShape:
    """The average hand, without variation."""
    return _build_shape(1.0, np.ones((5, 3)), 1.0, np.zeros((5, 3)), 1.0)


def sample_shape(rng: np.random.Generator) -> HandShape:
    """A hand with per-sample variation: overall size, bone lengths, thickness."""
    scale = rng.uniform(0.86, 1.14)
    length_jitter = rng.normal(1.0, 0.04, size=(5, 3)).clip(0.9, 1.1)
    thickness = rng.uniform(0.9, 1.12)
    base_jitter = rng.normal(0.0, 1.5, size=(5, 3)) * [1.0, 1.0, 0.0]  # mm, stay in the palm
    base_jitter[2, 1] = 0.0  # the middle MCP defines the x axis
    return _build_shape(scale, length_jitter, thickness, base_jitter, rng.uniform(0.9, 1.2))


def _build_shape(scale, length_jitter, thickness, base_jitter_mm, forearm_thickness) -> HandShape:
    mm = 1e-3 * scale
    bases = (_BASES_MM + base_jitter_mm) * mm
    extras = np.stack([_PALM_RADIAL_MM, _PALM_ULNAR_MM, _FOREARM_NEAR_MM, _FOREARM_FAR_MM]) * mm
    forearm = (0.019 * scale * forearm_thickness, 0.026 * scale * forearm_thickness)
    return HandShape(
        bases,
        _FRAMES,
        _LENGTHS_MM * length_jitter * mm,
        _RADII_MM * thickness * mm,
        extras,
        forearm,
    )


def _finger_frame(splay: float) -> np.ndarray:
    direction = np.array([np.cos(splay), np.sin(splay), 0.0])
    curl = np.array([0.0, 0.0, 1.0])  # fingers curl towards the palm (+z)
    return np.stack([direction, np.cross(curl, direction), curl], axis=1)


def _thumb_frame() -> np.ndarray:
    direction = _THUMB_DIRECTION / np.linalg.norm(_THUMB_DIRECTION)
    curl = _THUMB_CURL - np.dot(_THUMB_CURL, direction) * direction
    curl /= np.linalg.norm(curl)
    return np.stack([direction, np.cross(curl, direction), curl], axis=1)


_FRAMES = np.stack([_thumb_frame()] + [_finger_frame(a) for a in _SPLAY_DEG[1:] * DEG])
_FRAMES.setflags(write=False)


def clip_angles(angles: np.ndarray) -> np.ndarray:
    """Clamp finger angles ``[..., 5, 4]`` to the anatomical limits."""
    return np.clip(angles, ANGLE_LIMITS[..., 0], ANGLE_LIMITS[..., 1])


def forward_kinematics(shape: HandShape, angles: np.ndarray) -> np.ndarray:
    """Joint positions ``[..., 21, 3]`` of the model's (left) hand in its wrist frame.

    ``angles`` is ``[..., 5, 4]`` (abduction, three flexions per finger); leading dimensions
    are a batch (used to search finger closures in parallel).
    """
    return _chain(shape, angles)[0]


def _chain(shape: HandShape, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joints ``[..., 21, 3]`` and the last bone's frame of every finger ``[..., 5, 3, 3]``.

    The five fingers are chained together, one bone at a time.
    """
    angles = np.asarray(angles, dtype=np.float64)
    batch = angles.shape[:-2]
    joints = np.zeros(batch + (NUM_JOINTS, 3))
    frame = np.broadcast_to(shape.frames, batch + (NUM_FINGERS, 3, 3))
    position = np.broadcast_to(shape.bases, batch + (NUM_FINGERS, 3))
    joints[..., 1::4, :] = position  # thumb CMC and finger MCPs: 1, 5, 9, 13, 17
    for bone in range(3):
        turn = _flexion(angles[..., bone + 1])
        if bone == 0:
            turn = _abduction(angles[..., 0]) @ turn
        frame = frame @ turn
        position = position + frame[..., :, 0] * shape.lengths[:, bone, None]
        joints[..., 2 + bone :: 4, :] = position  # the next joint of every finger
    return joints, frame


def nails(shape: HandShape, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fingernails as small capsules on the back of each last bone (wrist frame).

    Returns start ``[5, 3]``, end ``[5, 3]`` and radius ``[5]``. Nails tell the back of a
    hand from its palm, which capsules alone do not.
    """
    joints, frames = _chain(shape, angles)
    tips, last = joints[list(FINGERTIPS)], joints[[tip - 1 for tip in FINGERTIPS]]
    radius = shape.radii[list(FINGERTIPS)]
    dorsal = -frames[:, :, 2] * (0.62 * radius)[:, None]  # away from the curl: the nail side
    start = last + 0.4 * (tips - last) + dorsal
    end = last + 0.85 * (tips - last) + dorsal
    return start, end, 0.5 * radius


def _abduction(angle: np.ndarray) -> np.ndarray:
    """Rotation about the local curl axis (z) that swings the bone towards local y."""
    c, s = np.cos(angle), np.sin(angle)
    turn = np.zeros(np.shape(angle) + (3, 3))
    turn[..., 0, 0], turn[..., 0, 1], turn[..., 1, 0], turn[..., 1, 1] = c, -s, s, c
    turn[..., 2, 2] = 1.0
    return turn


def _flexion(angle: np.ndarray) -> np.ndarray:
    """Rotation about the local lateral axis (y) that curls the bone towards local z."""
    c, s = np.cos(angle), np.sin(angle)
    turn = np.zeros(np.shape(angle) + (3, 3))
    turn[..., 0, 0], turn[..., 0, 2], turn[..., 2, 0], turn[..., 2, 2] = c, -s, s, c
    turn[..., 1, 1] = 1.0
    return turn


# --- poses -----------------------------------------------------------------------------------

# Flexion of each joint at full closure (closure = 1), per finger; abduction is separate.
_FULL_CURL = np.array([[35, 45, 60], [80, 100, 65], [82, 100, 65], [84, 100, 65], [86, 100, 65]])


def closure_angles(closure: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Finger angles ``[..., 5, 4]`` from a closure in [0, 1] and a spread per finger.

    Closure curls all joints of a finger together (a grasp synergy); spread is the abduction
    in radians. Both broadcast over ``[..., 5]``.
    """
    closure, spread = np.broadcast_arrays(np.asarray(closure, float), np.asarray(spread, float))
    flexion = closure[..., None] * _FULL_CURL * DEG
    return clip_angles(np.concatenate([spread[..., None], flexion], axis=-1))


def sample_spread(rng: np.random.Generator, closure: np.ndarray) -> np.ndarray:
    """Abduction per finger: fingers fan out when open and come together when closed."""
    fan = rng.uniform(-0.3, 1.0) * (1.0 - 0.7 * np.asarray(closure))
    return fan * np.array([10.0, 12.0, 2.0, -8.0, -16.0]) * DEG + rng.normal(0.0, 3.0 * DEG, 5)


def sample_free_angles(rng: np.random.Generator) -> np.ndarray:
    """Finger angles ``[5, 4]`` of a hand that holds nothing: open, relaxed, fist, gestures."""
    style = rng.choice(["open", "relaxed", "fist", "point", "pinch", "random"])
    if style == "open":
        closure = rng.uniform(-0.15, 0.2, 5)
    elif style == "relaxed":
        closure = rng.uniform(0.15, 0.6) + rng.normal(0.0, 0.08, 5)
    elif style == "fist":
        closure = rng.uniform(0.75, 1.0, 5)
    elif style == "point":
        closure = np.concatenate([[rng.uniform(0.3, 0.9)], rng.uniform(-0.1, 0.15, 1)])
        closure = np.concatenate([closure, rng.uniform(0.7, 1.0, 3)])
    elif style == "pinch":
        closure = np.concatenate([rng.uniform(0.4, 0.7, 2), rng.uniform(0.0, 1.0, 3)])
    else:
        closure = rng.uniform(0.0, 1.0, 5)
    angles = closure_angles(closure, sample_spread(rng, closure.clip(0, 1)))
    # Joints do not all follow the synergy exactly.
    return clip_angles(angles + rng.normal(0.0, 5.0 * DEG, angles.shape))


# --- surface: the capsules that render a hand --------------------------------------------------

# Capsules as (point a, point b): indices into the 25 surface points (21 joints, then palm radial
# base 21, palm ulnar base 22, forearm near 23, forearm far 24). Radii come from capsule_radii().
PALM_RADIAL, PALM_ULNAR, FOREARM_NEAR, FOREARM_FAR = 21, 22, 23, 24
CAPSULES = (
    # fingers: every bone of the skeleton except the wrist->base ones
    *[(j - 1, j) for j in range(2, NUM_JOINTS) if (j - 1) % 4 != 0],
    (WRIST, 1),
    # palm: base bar, rays to the knuckles, the knuckle bar, the thumb's root
    (PALM_RADIAL, PALM_ULNAR),
    (PALM_RADIAL, 5),
    (WRIST, 9),
    (WRIST, 13),
    (PALM_ULNAR, 17),
    (5, 9),
    (9, 13),
    (13, 17),
    (PALM_RADIAL, 1),
    # forearm
    (FOREARM_NEAR, FOREARM_FAR),
)
FOREARM_CAPSULE = len(CAPSULES) - 1


def surface_points(shape: HandShape, joints: np.ndarray) -> np.ndarray:
    """The 25 capsule end points ``[25, 3]`` (wrist frame): joints, palm base, forearm."""
    return np.concatenate([joints, shape.extras], axis=0)


def capsule_radii(shape: HandShape) -> np.ndarray:
    """Radius at both ends of every capsule, ``[len(CAPSULES), 2]``."""
    palm = shape.radii[WRIST]
    radius = np.concatenate([shape.radii, [palm, palm], shape.forearm_radii])
    radii = np.array([[radius[a], radius[b]] for a, b in CAPSULES])
    # The palm is thicker than the fingers where they join it.
    for k, (a, b) in enumerate(CAPSULES):
        if a in (PALM_RADIAL, PALM_ULNAR, WRIST) and b != 1:
            radii[k] = [palm, max(radius[b], 0.85 * palm)]
        if (a, b) in ((5, 9), (9, 13), (13, 17)):
            radii[k] = [max(radius[a], 0.8 * palm), max(radius[b], 0.8 * palm)]
    return radii


def joint_surface_radius(shape: HandShape) -> np.ndarray:
    """Per joint ``[21]``: the largest radius of a capsule that ends at it.

    A joint's own surface lies this far in front of it at most, which is the margin the
    visibility test allows (see synthetic.py).
    """
    radii = capsule_radii(shape)
    largest = np.zeros(NUM_JOINTS)
    for k, (a, b) in enumerate(CAPSULES):
        for end, point in enumerate((a, b)):
            if point < NUM_JOINTS:
                largest[point] = max(largest[point], radii[k, end])
    return largest
