"""Procedural hand-object images with exact ground truth, for training and benchmarking.

No OccRobNet weights and no dataset can be downloaded where this package must run, so it makes
its own data: two articulated 21-joint hands (hand_model.py: capsules with anatomical bone
lengths, joint limits, nails and a forearm; skin tones vary) and one YCB-like object (objects.py:
textured box, cylinder or sphere), laid out as single-hand, two-hand or interacting scenes with
grasps that wrap the fingers around the object (scene.py), rendered by a small z-buffer
(render.py) over textured backgrounds with blur and sensor noise (appearance.py), through an
HO-3D-like camera (640x480, f = 615 px).

API
---
``SyntheticConfig``
    Image size, focal length, scene-type / object / grasp probabilities, depth range,
    visibility tolerance (frozen dataclass; ``config.K``, ``config.scaled(factor)``).
``generate_sample(seed, config=SyntheticConfig()) -> Sample``
    One frame. The same seed and config give a bit-identical image and ground truth: each
    sample draws only from its own ``numpy.random.Generator(PCG64(seed))``, single-threaded.
``iterate(seeds, config) -> Iterator[Sample]``
    ``generate_sample`` over a sequence of seeds.
``benchmark_seeds() -> np.ndarray``
    The fixed held-out split: 500 seeds (0..499) rendered with the default config. Training
    must use ``training_seeds(count)`` (a ``range``), which start at ``TRAIN_SEED_START``
    (1_000_000).

``Sample`` (data/sample.py) documents the fields of a frame and its ground truth.

Visibility: a joint is visible when it projects inside the image, the pixel it falls in shows
its own hand, and the rendered depth there is no nearer than the joint's own surface (its depth
minus the largest radius of the capsules that meet at it, hand_model.joint_surface_radius)
minus ``config.visibility_tolerance``.

Speed: tens of milliseconds of one CPU core per 640x480 frame, about half of it the hands'
capsules (docs/performance.md, "Training data"; ``scripts/show_synthetic.py --time`` measures
it). ``SyntheticConfig.scaled(0.5)`` renders the same scenes at 320x240 (the layout is drawn in
image fractions, so scaling the camera keeps the scene).

Determinism: everything random comes from the sample's generator or from a fixed, seeded noise
bank; OpenCV's threads split work by rows and do not change results. Frames are identical
across processes and thread counts; across machines this holds as long as numpy and OpenCV
compute the same floating-point results (same pinned versions; transcendental functions may
differ in the last bit between CPU instruction sets, which could move an edge pixel).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from occrobnet_ros.data.sample import Sample
from occrobnet_ros.data.synthetic import appearance, hand_model, render, scene
from occrobnet_ros.data.synthetic.objects import BOX, CYLINDER, SceneObject, sample_object
from occrobnet_ros.geometry import project
from occrobnet_ros.skeleton import LEFT, NUM_HANDS, NUM_JOINTS, RIGHT

TRAIN_SEED_START = 1_000_000
BENCHMARK_SIZE = 500
# Fraction of the present hands' joints that are not visible: below 0.35 "low", below 0.5
# "medium", else "high". Hands hide much of themselves (curled fingers, side views), so the
# thresholds sit near the terciles of the generator's distribution (first 300 benchmark frames:
# 33rd percentile 0.37, 66th 0.52), which keeps the benchmark's buckets of similar size.
OCCLUSION_BUCKETS = (("low", 0.35), ("medium", 0.5), ("high", float("inf")))
SCENES = ("one_hand", "two_hands", "interacting")
EMPTY_SCENE = "empty"  # background only (SyntheticConfig.empty_probability)
OBJECT_LABEL = 3  # hand labels are 1 (right) and 2 (left)
# The order in which the layout places the hands and draws them, each taking its random
# numbers in turn. Left first: the order of the frames the benchmark split was made from
# (when the procedural left hand was still mislabelled right), so its frames stay the same.
PLACEMENT_ORDER = (LEFT, RIGHT)


class PinholeCamera:
    """For a generator's config dataclass with ``width``, ``height`` (px) and ``focal`` (px):
    its camera matrix and the same config at another resolution."""

    @property
    def K(self) -> np.ndarray:
        return np.array(
            [[self.focal, 0.0, self.width / 2.0], [0.0, self.focal, self.height / 2.0], [0, 0, 1]]
        )

    def scaled(self, factor: float):
        """The same scenes seen by a camera with ``factor`` times the resolution."""
        return replace(
            self,
            width=int(round(self.width * factor)),
            height=int(round(self.height * factor)),
            focal=self.focal * factor,
        )


@dataclass(frozen=True)
class SyntheticConfig(PinholeCamera):
    """Camera and scene statistics of the generator."""

    width: int = 640
    height: int = 480
    focal: float = 615.0
    scene_probabilities: tuple[float, float, float] = (0.35, 0.3, 0.35)  # SCENES order
    object_probability: float = 0.85
    held_probability: float = 0.75  # the object is grasped, else placed near a hand
    occluder_probability: float = 0.4  # a placed object goes between camera and hand
    depth_range: tuple[float, float] = (0.3, 0.8)  # palm or object centre, metres
    visibility_tolerance: float = 0.004  # metres
    forearm_probability: float = 0.8
    sleeve_probability: float = 0.5
    # Frames with neither hand nor object (background only): the negatives that teach hand and
    # object presence. 0 by default so that the benchmark split's frames never change;
    # training turns it on (occrobnet train --empty-fraction).
    empty_probability: float = 0.0
    # Of those, the share whose background is noise, a flat colour or a gradient
    # (appearance.degenerate_background) instead of a cluttered scene.
    degenerate_probability: float = 0.3


def benchmark_seeds() -> np.ndarray:
    """The fixed held-out benchmark split: 500 seeds, disjoint from the training seeds."""
    return np.arange(BENCHMARK_SIZE, dtype=np.int64)


def training_seeds(count: int, start: int = TRAIN_SEED_START) -> range:
    """``count`` training seeds, all at or above ``TRAIN_SEED_START``.

    A ``range``, not an array: a long GPU schedule asks for tens of millions of frames, and
    every DataLoader worker receives a pickled copy of its dataset's seeds (with 64 M int64
    seeds for 15 workers, the GPU runs' first step came only after ~100 s).
    """
    if start < TRAIN_SEED_START:
        raise ValueError(f"training seeds must be >= {TRAIN_SEED_START} (held-out split)")
    return range(start, start + count)


def iterate(seeds: Iterable[int], config: SyntheticConfig | None = None) -> Iterator[Sample]:
    """Generate the samples of ``seeds`` in order."""
    config = config or SyntheticConfig()
    for seed in seeds:
        yield generate_sample(int(seed), config)


def generate_sample(seed: int, config: SyntheticConfig | None = None) -> Sample:
    """Render the frame of ``seed`` and its exact ground truth."""
    config = config or SyntheticConfig()
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    # Drawn only when enabled, so that frames of the default config keep their random stream.
    if config.empty_probability > 0 and rng.random() < config.empty_probability:
        kind, hands, obj = EMPTY_SCENE, [None, None], None
    else:
        kind, hands, obj = _layout(rng, config)
    K = config.K
    if kind == EMPTY_SCENE and rng.random() < config.degenerate_probability:
        # The camera's own output (no exposure, blur or sensor model on top): raw noise stays
        # raw, as a real one arrives.
        image = appearance.degenerate_background(rng, config.height, config.width)
        canvas = render.Canvas(K, image)
        return _ground_truth(seed, kind, image, canvas, hands, obj, config)
    canvas = render.Canvas(K, appearance.background(rng, config.height, config.width))
    light = _sample_light(rng)
    skin = appearance.skin_albedo(rng)
    for side in PLACEMENT_ORDER:
        if hands[side] is not None:
            _draw_hand(rng, canvas, hands[side], skin, light, side + 1, config)
    if obj is not None:
        _draw_object(canvas, obj, light)
    image = appearance.camera_effects(rng, canvas.image(appearance.exposure(rng)))
    return _ground_truth(seed, kind, image, canvas, hands, obj, config)


# --- layout -----------------------------------------------------------------------------------


def _layout(rng, config: SyntheticConfig):
    """Scene type, the two hands (None when absent) and the object (None when absent)."""
    kind = SCENES[rng.choice(len(SCENES), p=list(config.scene_probabilities))]
    shapes = {side: hand_model.sample_shape(rng) for side in PLACEMENT_ORDER}
    obj = sample_object(rng) if rng.random() < config.object_probability else None
    held = obj is not None and rng.random() < config.held_probability
    position = _position_sampler(rng, config)
    hands = [None, None]
    if kind == "one_hand":
        side = PLACEMENT_ORDER[int(rng.integers(NUM_HANDS))]
        if held:
            scene.place_object_for_grasp(rng, obj, position((0.3, 0.7)))
            hands[side] = _hold(rng, shapes[side], side == LEFT, obj)
        else:
            hands[side] = scene.free_hand(rng, shapes[side], side == LEFT, position((0.25, 0.75)))
    elif kind == "two_hands":
        # The left hand on the image's right, as a camera facing the person sees it.
        centres = {LEFT: position((0.55, 0.85)), RIGHT: position((0.15, 0.45))}
        holder = PLACEMENT_ORDER[int(rng.integers(NUM_HANDS))]
        for side in PLACEMENT_ORDER:
            if held and side == holder:
                scene.place_object_for_grasp(rng, obj, centres[side])
                hands[side] = _hold(rng, shapes[side], side == LEFT, obj)
            else:
                hands[side] = scene.free_hand(rng, shapes[side], side == LEFT, centres[side])
    else:  # interacting: both hands on one object, or hands overlapping each other
        if held:
            scene.place_object_for_grasp(rng, obj, position((0.35, 0.65)))
            hands[LEFT] = _hold(rng, shapes[LEFT], True, obj)
            hands[RIGHT] = _hold(rng, shapes[RIGHT], False, obj, opposite=hands[LEFT])
        else:
            centre = position((0.35, 0.65))
            hands[LEFT] = scene.free_hand(rng, shapes[LEFT], True, centre)
            offset = rng.normal(0.0, 1.0, 3) * [0.045, 0.045, 0.04]
            hands[RIGHT] = scene.free_hand(rng, shapes[RIGHT], False, centre + offset)
    if obj is not None and not held:
        present = [hands[side] for side in PLACEMENT_ORDER if hands[side] is not None]
        target = present[int(rng.integers(len(present)))]
        scene.place_object_near(rng, obj, target, rng.random() < config.occluder_probability)
    return kind, hands, obj


def _position_sampler(rng, config: SyntheticConfig):
    def position(u_range):
        return scene.sample_position(
            rng, config.K, config.width, config.height, config.depth_range, u_range
        )

    return position


def _hold(rng, shape, left: bool, obj: SceneObject, opposite=None) -> scene.SceneHand:
    """A hand grasping ``obj``; with ``opposite``, from roughly the other side of it."""
    approach_cam, fingers_cam = scene.grasp_directions_in_camera(
        rng, obj, None if opposite is None else opposite.rotation
    )
    return scene.grasp_hand(rng, shape, left, obj, approach_cam, fingers_cam)


def _sample_light(rng) -> render.Light:
    direction = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.9, 0.5), -1.0])
    ambient = rng.uniform(0.3, 0.55)
    return render.Light(direction / np.linalg.norm(direction), ambient, 1.0 - ambient + 0.1)


# --- drawing ----------------------------------------------------------------------------------


def _draw_hand(rng, canvas, hand: scene.SceneHand, skin, light, label: int, config) -> None:
    """Fingers and palm, then nails, then the forearm, as one batch of capsules."""
    points = hand.surface_points
    radii = hand_model.capsule_radii(hand.shape)
    ends = np.array(hand_model.CAPSULES)
    albedo = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 255)
    body = np.arange(len(ends)) != hand_model.FOREARM_CAPSULE
    nail_start, nail_end, nail_radius = hand.nails
    a = [points[ends[body, 0]], nail_start]
    b = [points[ends[body, 1]], nail_end]
    radius_a, radius_b = [radii[body, 0], nail_radius], [radii[body, 1], nail_radius]
    colours = [albedo, 0.55 * albedo + 0.45 * np.array([250.0, 215.0, 210.0])]
    if rng.random() < config.forearm_probability:
        sleeve = rng.random() < config.sleeve_probability
        colours.append(appearance.random_colour(rng) if sleeve else albedo)
        near, far = points[hand_model.FOREARM_NEAR], points[hand_model.FOREARM_FAR]
        near_radius, far_radius = radii[hand_model.FOREARM_CAPSULE]
        # An arm reaching from right next to the lens would fill the frame: cut it short.
        closest = max(0.2, points[0, 2] - 0.15)
        if near[2] > closest > far[2]:
            t = (near[2] - closest) / (near[2] - far[2])
            far, far_radius = near + t * (far - near), near_radius + t * (far_radius - near_radius)
        a, b = a + [near[None]], b + [far[None]]
        radius_a, radius_b = radius_a + [[near_radius]], radius_b + [[far_radius]]
    part = np.repeat(np.arange(len(colours)), [len(points) for points in a])
    render.draw_capsules(
        canvas,
        np.concatenate(a),
        np.concatenate(b),
        np.concatenate(radius_a),
        np.concatenate(radius_b),
        np.array(colours),
        light,
        label,
        part,
    )


def _draw_object(canvas, obj: SceneObject, light) -> None:
    if obj.kind == BOX:
        render.draw_box(
            canvas, obj.corners_camera, obj.rotation, obj.textures, light, OBJECT_LABEL
        )
    elif obj.kind == CYLINDER:
        bands, cap = obj.textures
        radius, half_height = obj.size[0] / 2.0, obj.size[2] / 2.0
        render.draw_cylinder(
            canvas,
            obj.translation,
            obj.rotation[:, 2],
            radius,
            half_height,
            bands,
            cap,
            light,
            OBJECT_LABEL,
        )
    else:
        render.draw_sphere(
            canvas, obj.translation, obj.size[0] / 2.0, obj.textures[0], light, OBJECT_LABEL
        )


# --- ground truth -----------------------------------------------------------------------------


def _ground_truth(seed, kind, image, canvas, hands, obj, config) -> Sample:
    def margin(hand, joints):
        return hand_model.joint_surface_radius(hand.shape) + config.visibility_tolerance

    return assemble_sample(seed, kind, image, canvas, hands, obj, margin)


def assemble_sample(seed, kind, image, canvas, hands, obj: SceneObject | None, margin) -> Sample:
    """A generated frame's Sample (both generators): each placed hand's joints and which of
    them the label pass ``canvas`` (K, depth, label) shows (``joint_visibility``, with
    ``margin(hand, joints)`` [21] m, how far the generator's skin may lie in front of a joint
    it still counts as seen), the masks from the label image (OBJECT_LABEL, hands 1 and 2),
    the object's pose and box (NaN without an object) and the occlusion bucket."""
    K, label, depth = canvas.K, canvas.label, canvas.depth
    joints = np.full((NUM_HANDS * NUM_JOINTS, 3), np.nan)
    visible = np.zeros(NUM_HANDS * NUM_JOINTS, dtype=bool)
    for side, hand in enumerate(hands):
        if hand is not None:
            rows = slice(side * NUM_JOINTS, (side + 1) * NUM_JOINTS)
            joints[rows] = hand.joints
            seen_within = margin(hand, joints[rows])
            visible[rows] = joint_visibility(joints[rows], seen_within, side + 1, canvas)
    hand_valid = np.array([hand is not None for hand in hands])
    if obj is not None:
        rotation, translation = obj.rotation, obj.translation
        corners_rest, corners = obj.corners_rest, obj.corners_camera
        symmetry, size = obj.symmetry, obj.size
    else:
        rotation, translation = np.full((3, 3), np.nan), np.full(3, np.nan)
        corners_rest, corners = np.full((8, 3), np.nan), np.full((8, 3), np.nan)
        symmetry, size = -1, np.full(3, np.nan)
    present = np.repeat(hand_valid, NUM_JOINTS)
    occluded = 1.0 - visible[present].mean() if present.any() else 0.0
    return Sample(
        image=image,
        K=K,
        joints_3d=joints,
        joints_2d=project(joints, K),
        joint_visible=visible,
        hand_valid=hand_valid,
        hand_mask=np.where(label < OBJECT_LABEL, label, 0).astype(np.uint8),
        object_mask=label == OBJECT_LABEL,
        object_valid=obj is not None,
        object_rotation=rotation,
        object_translation=translation,
        object_corners_rest=corners_rest,
        object_corners_3d=corners,
        object_corners_2d=project(corners, K),
        object_symmetry=int(symmetry),
        object_size=size,
        occlusion_bucket=occlusion_bucket(occluded),
        depth=depth,
        scene=kind,
        seed=int(seed),
    )


def joint_visibility(joints, margin, label: int, canvas: render.Canvas) -> np.ndarray:
    """Which joints ``[N, 3]`` the rendered image shows (see the module docstring)."""
    height, width = canvas.depth.shape
    uv = project(joints, canvas.K)
    column, row = np.round(uv[:, 0]), np.round(uv[:, 1])
    inside = (joints[:, 2] > render.NEAR) & (column >= 0) & (column < width)
    inside &= (row >= 0) & (row < height)
    visible = np.zeros(len(joints), dtype=bool)
    r, c = row[inside].astype(int), column[inside].astype(int)
    seen = canvas.depth[r, c] >= joints[inside, 2] - margin[inside]
    visible[inside] = seen & (canvas.label[r, c] == label)
    return visible


def occlusion_bucket(occluded_fraction: float) -> str:
    """``"low"``, ``"medium"`` or ``"high"`` for a fraction of occluded joints."""
    for name, upper in OCCLUSION_BUCKETS:
        if occluded_fraction < upper:
            return name
    return OCCLUSION_BUCKETS[-1][0]
