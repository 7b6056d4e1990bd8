"""Scene layout: where the hands and the object are, and how the fingers close on the object.

A grasp is built object-first: the object gets a pose, a hand approaches it along a direction
(palm towards the object), the palm is placed against the object's surface, and every finger
curls (a closure synergy, hand_model.closure_angles) until it touches the object. Fingers
therefore wrap around the object as in a real grasp, and the object occludes some of them.
"""

import functools
from dataclasses import dataclass

import numpy as np

from occrobnet_ros.data.synthetic import hand_model
from occrobnet_ros.data.synthetic.objects import (
    BOX,
    CYLINDER,
    SPHERE,
    SceneObject,
    random_rotation,
)
from occrobnet_ros.skeleton import NUM_JOINTS

_MIRROR = np.array([1.0, -1.0, 1.0])  # a right hand is the (left-hand) model mirrored in y
_CLOSURE_STEPS = np.linspace(0.0, 1.0, 26)
UP = np.array([0.0, -1.0, 0.35])  # fingers point up and away: arms enter from below
MAX_AWAY = 0.6  # largest z of the finger direction: steeper, the forearm points at the lens
_DEG = np.pi / 180.0


@dataclass(frozen=True)
class SceneHand:
    """One hand: its shape, finger angles and wrist pose (wrist frame -> camera frame)."""

    shape: hand_model.HandShape
    left: bool
    angles: np.ndarray  # [5, 4]
    rotation: np.ndarray  # [3, 3], columns: wrist-frame x, y, z in the camera frame
    wrist: np.ndarray  # [3]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Hand-model points ``[..., 3]`` (wrist frame) to the camera frame."""
        if not self.left:
            points = points * _MIRROR
        return points @ self.rotation.T + self.wrist

    @property
    def joints(self) -> np.ndarray:
        """The 21 joints ``[21, 3]`` in the camera frame."""
        return self.surface_points[:NUM_JOINTS]

    @functools.cached_property
    def nails(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fingernail capsules (hand_model.nails) in the camera frame: start, end, radius."""
        start, end, radius = hand_model.nails(self.shape, self.angles)
        return self.to_camera(start), self.to_camera(end), radius

    @functools.cached_property
    def surface_points(self) -> np.ndarray:
        """Capsule end points (hand_model.surface_points) in the camera frame."""
        local = hand_model.forward_kinematics(self.shape, self.angles)
        points = self.to_camera(hand_model.surface_points(self.shape, local))
        points.setflags(write=False)  # cached: computed once per hand
        return points


def palm_centre(shape: hand_model.HandShape) -> np.ndarray:
    """The middle of the palm in the wrist frame (on the x axis, between wrist and knuckles)."""
    return np.array([0.55 * shape.bases[2, 0], 0.0, 0.0])


def sample_position(rng, K, width, height, depth_range, u_range=(0.2, 0.8), v_range=(0.25, 0.75)):
    """A camera-frame point seen at a random fraction of the image, at a random depth."""
    u = rng.uniform(*u_range) * width
    v = rng.uniform(*v_range) * height
    z = rng.uniform(*depth_range)
    return np.array([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z])


def frame_from(z_axis: np.ndarray, x_hint: np.ndarray) -> np.ndarray:
    """A rotation with the given z axis and x as close as possible to ``x_hint``."""
    z = z_axis / np.linalg.norm(z_axis)
    x = x_hint - np.dot(x_hint, z) * z
    if np.linalg.norm(x) < 1e-6:
        x = np.cross(z, [1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _turn_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation matrix about a unit axis."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _up_hint(rng: np.random.Generator) -> np.ndarray:
    """A finger direction that points mostly up in the image, as when arms enter from below."""
    angle = rng.normal(0.0, 45.0 * _DEG)
    return _turn_about(np.array([0.0, 0.0, 1.0]), angle) @ UP


# --- free hands -------------------------------------------------------------------------------


def free_hand(rng, shape, left: bool, centre: np.ndarray) -> SceneHand:
    """A hand holding nothing, palm centre at ``centre``, in any roll about its own axis."""
    x = _up_hint(rng) + rng.normal(0.0, 0.25, 3)
    x /= np.linalg.norm(x)
    if x[2] > MAX_AWAY:
        x[2] = -x[2]  # not with the forearm pointing into the lens
    # Any roll about the hand's own axis: palm towards the camera, away from it, or sideways.
    z = _turn_about(x, rng.uniform(0.0, 2 * np.pi)) @ _perpendicular(x)
    rotation = np.stack([x, np.cross(z, x), z], axis=1)
    angles = hand_model.sample_free_angles(rng)
    wrist = centre - rotation @ palm_centre(shape)
    return SceneHand(shape, left, angles, rotation, wrist)


def _perpendicular(x: np.ndarray) -> np.ndarray:
    helper = np.array([0.0, 0.0, 1.0]) if abs(x[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    p = np.cross(x, helper)
    return p / np.linalg.norm(p)


# --- grasps -----------------------------------------------------------------------------------


def grasp_directions(rng, obj: SceneObject) -> tuple[np.ndarray, np.ndarray]:
    """An approach direction (object centre -> palm) and a finger direction, object frame."""
    axes = np.eye(3)
    sign = rng.choice([-1.0, 1.0])
    if obj.kind == CYLINDER and rng.random() < 0.8:  # power grasp around the side
        around = rng.uniform(0, 2 * np.pi)
        approach = np.array([np.cos(around), np.sin(around), 0.0])
        fingers = np.cross(axes[2], approach) * sign  # curl around the axis
    elif obj.kind == BOX:
        # Palm on a big face (normal y, the thin side) or on the narrow side; fingers wrap the
        # shorter of the two remaining sides.
        approach_axis = 1 if rng.random() < 0.65 else 0
        other = [a for a in range(3) if a != approach_axis]
        wrap = min(other, key=lambda a: obj.size[a]) if rng.random() < 0.7 else other[0]
        approach, fingers = axes[approach_axis] * sign, axes[wrap] * rng.choice([-1.0, 1.0])
    else:  # sphere, or a cylinder grasped from its top
        approach = axes[2] * sign if obj.kind == CYLINDER else _random_unit(rng)
        fingers = _perpendicular(approach) @ _turn_about(approach, rng.uniform(0, 2 * np.pi)).T
    return approach, fingers


def grasp_directions_in_camera(
    rng, obj: SceneObject, opposite_rotation: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(approach: object centre -> palm, finger direction) in the camera frame. Most arms come
    from below and none points into the lens; with the other hand's rotation (camera <- palm),
    the approach is from the object's far side and the fingers run along the other hand's."""
    approach, fingers = grasp_directions(rng, obj)
    approach, fingers = obj.rotation @ approach, obj.rotation @ fingers
    if opposite_rotation is not None:
        # The other palm's normal points into the object: approach from its far side.
        approach = opposite_rotation[:, 2] + rng.normal(0.0, 0.3, 3)
        approach /= np.linalg.norm(approach)
        if obj.kind in (BOX, CYLINDER):  # snap to the object's side the other palm faces
            local = obj.rotation.T @ approach
            if obj.kind == BOX:
                axis = int(np.argmax(np.abs(local)))
                local = np.eye(3)[axis] * np.sign(local[axis])
            else:
                local[2] = 0.0
                local /= np.linalg.norm(local) + 1e-12
            approach = obj.rotation @ local
        fingers = opposite_rotation[:, 0]
    elif np.dot(fingers, UP) < 0.0 and rng.random() < 0.8:
        fingers = -fingers
    if fingers[2] > MAX_AWAY:
        fingers = -fingers  # not with the forearm pointing into the lens
    return approach, fingers


def _random_unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def grasp_hand(rng, shape, left: bool, obj: SceneObject, approach_cam, fingers_cam) -> SceneHand:
    """A hand whose palm rests on ``obj`` from ``approach_cam`` and whose fingers close on it."""
    rotation = frame_from(-approach_cam, fingers_cam)
    tilt = _turn_about(rotation[:, 2], rng.normal(0.0, 12.0 * _DEG))
    rotation = tilt @ rotation
    gap = hand_model.PALM_HALF_THICKNESS * (shape.radii[0] / 0.014) + rng.uniform(0.0, 0.004)
    centre = obj.translation + approach_cam * (obj.extent_along(approach_cam) + gap)
    # Slide the hand along its fingers a little, so that grasps are not all centred.
    centre = centre + rotation[:, 0] * rng.uniform(-0.03, 0.01)
    wrist = centre - rotation @ palm_centre(shape)
    placed = SceneHand(shape, left, np.zeros((5, 4)), rotation, wrist)
    return SceneHand(shape, left, close_fingers(rng, placed, obj), rotation, wrist)


def close_fingers(rng, hand: SceneHand, obj: SceneObject) -> np.ndarray:
    """Finger angles ``[5, 4]``: each finger curls until its surface touches the object."""
    spread = hand_model.sample_spread(rng, 0.7)
    angles = hand_model.closure_angles(_CLOSURE_STEPS[:, None], spread)  # [steps, 5, 4]
    joints = hand_model.forward_kinematics(hand.shape, angles)  # [steps, 21, 3]
    # Test the joints after the base and the middle of every bone.
    probe = np.concatenate([joints[:, 2:], (joints[:, 2:] + joints[:, 1:-1]) / 2], axis=1)
    radii = np.concatenate([hand.shape.radii[2:], hand.shape.radii[2:]])
    touching = obj.signed_distance(hand.to_camera(probe)) < radii  # [steps, 38]
    finger_of = np.concatenate([(np.arange(2, NUM_JOINTS) - 1) // 4] * 2)
    is_base = np.concatenate([(np.arange(2, NUM_JOINTS) - 1) % 4 == 0] * 2)
    closure = np.empty(5)
    for finger in range(5):
        # A probe point that is actually the next finger's base belongs to the palm: skip it.
        mine = (finger_of == finger) & ~is_base
        hits = np.flatnonzero(touching[:, mine].any(axis=1))
        if len(hits) == 0:
            closure[finger] = rng.uniform(0.4, 0.9)  # nothing in reach: a relaxed curl
        else:
            closure[finger] = _CLOSURE_STEPS[hits[0]]
    result = hand_model.closure_angles(closure, spread)
    return hand_model.clip_angles(result + rng.normal(0.0, 2.0 * _DEG, result.shape))


def place_object_for_grasp(rng, obj: SceneObject, centre: np.ndarray) -> None:
    """Give a held object its pose: a random orientation (identity for a sphere)."""
    obj.rotation = np.eye(3) if obj.kind == SPHERE else random_rotation(rng)
    obj.translation = centre.copy()


def place_object_near(rng, obj: SceneObject, hand: SceneHand, occlude: bool) -> None:
    """Put an object next to a hand, or between the camera and the hand so it hides fingers."""
    obj.rotation = np.eye(3) if obj.kind == SPHERE else random_rotation(rng)
    radius = float(np.linalg.norm(obj.size)) / 2.0
    joints = hand.joints
    if occlude:
        target = joints[rng.integers(1, NUM_JOINTS)]
        depth = target[2] - radius - rng.uniform(0.02, 0.12)
        if depth - radius > 0.2:
            obj.translation = target * (depth / target[2])
            return
    direction = _random_unit(rng)
    direction[2] = abs(direction[2]) * 0.5  # beside or behind the hand, rarely in front
    centre = joints.mean(axis=0) + direction / np.linalg.norm(direction) * (
        radius + rng.uniform(0.06, 0.14)
    )
    centre[2] = max(centre[2], radius + 0.25)
    obj.translation = centre
