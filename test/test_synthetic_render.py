"""Tests of the z-buffer rasteriser used by the synthetic generator (data/synthetic/render.py)."""

import numpy as np
import pytest

from occrobnet_ros import geometry
from occrobnet_ros.data.synthetic import generator, objects, render

K = np.array([[300.0, 0.0, 80.0], [0.0, 300.0, 60.0], [0.0, 0.0, 1.0]])
LIGHT = render.Light(np.array([0.0, 0.0, -1.0]), ambient=0.2, diffuse=0.8)


def canvas():
    return render.Canvas(K, np.full((120, 160, 3), 50, dtype=np.uint8))


def pixel(point):
    col, row = np.round(geometry.project(point, K)).astype(int)
    return row, col


def test_sphere_depth_is_exact_and_silhouette_has_the_right_size():
    c = canvas()
    centre = np.array([0.0, 0.0, 0.5])
    render.draw_sphere(c, centre, 0.05, (200, 100, 50), LIGHT, 3)
    assert c.depth[60, 80] == pytest.approx(0.45, abs=1e-6)
    # Radius in pixels along the row through the centre: f * r / sqrt(z^2 - r^2).
    width = (c.label[60] == 3).sum()
    assert width == pytest.approx(2 * 300 * 0.05 / np.sqrt(0.5**2 - 0.05**2), abs=2)
    # Facing the light head-on: brightest at the centre, darker towards the rim.
    image = c.image()
    assert image[60, 80, 0] == 200 and image[60, 80 + width // 2 - 1, 0] < 150
    assert (image[0, 0] == 50).all()


def test_nearer_primitive_wins_in_any_drawing_order():
    for order in (0, 1):
        c = canvas()
        draws = [
            lambda: render.draw_sphere(c, np.array([0.0, 0.0, 0.4]), 0.03, (255, 0, 0), LIGHT, 1),
            lambda: render.draw_capsule(
                c,
                np.array([-0.1, 0.0, 0.6]),
                np.array([0.1, 0.0, 0.6]),
                0.02,
                0.02,
                (0, 255, 0),
                LIGHT,
                2,
            ),
        ]
        for draw in draws[:: 1 if order == 0 else -1]:
            draw()
        assert c.label[60, 80] == 1 and c.depth[60, 80] == pytest.approx(0.37, abs=1e-6)
        assert c.label[60, 30] == 2  # the capsule shows beside the sphere
        assert c.depth[60, 30] == pytest.approx(0.58, abs=2e-3)


def test_capsule_surface_lies_one_radius_in_front_of_its_axis():
    c = canvas()
    a, b = np.array([-0.05, 0.02, 0.5]), np.array([0.05, -0.02, 0.55])
    render.draw_capsule(c, a, b, 0.012, 0.008, (200, 150, 120), LIGHT, 1)
    for s in (0.0, 0.5, 1.0):
        point = a + s * (b - a)
        radius = 0.012 + s * (0.008 - 0.012)
        # The impostor interpolates along the projected segment, so it is exact at the ends and
        # off by a little perspective in between.
        assert c.depth[pixel(point)] == pytest.approx(point[2] - radius, abs=2e-3)
    # Parts behind the near plane are cut, not drawn at negative depth.
    c2 = canvas()
    render.draw_capsule(
        c2, np.array([0.0, 0.0, -0.2]), np.array([0.0, 0.0, 0.3]), 0.01, 0.01, (1, 1, 1), LIGHT, 1
    )
    assert np.nanmin(c2.depth) > 0


def test_box_faces_are_planar_and_only_front_faces_drawn():
    c = canvas()
    size = np.array([0.1, 0.1, 0.1])
    translation = np.array([0.0, 0.0, 0.5])
    corners = render.box_corners(size) + translation
    textures = [np.full((8, 8, 3), 40 * (k + 1), dtype=np.uint8) for k in range(6)]
    render.draw_box(c, corners, np.eye(3), textures, LIGHT, 3)
    # Axis-aligned box seen head-on: only the -z face (texture 5 -> value 240) is visible,
    # at depth 0.45 everywhere.
    mask = c.label == 3
    assert c.depth[mask] == pytest.approx(0.45, abs=1e-6)
    assert (c.image()[mask] == 240).all()
    side = mask[60].sum()
    assert side == pytest.approx(300 * 0.1 / 0.45, abs=2)


def test_box_corners_follow_the_sign_bit_order():
    corners = render.box_corners(np.array([2.0, 4.0, 6.0]))
    np.testing.assert_allclose(corners[0], [-1, -2, -3])
    np.testing.assert_allclose(corners[7], [1, 2, 3])
    np.testing.assert_allclose(corners[1], [1, -2, -3])
    np.testing.assert_allclose(corners[4], [-1, -2, 3])


def test_cylinder_side_and_cap():
    c = canvas()
    bands = np.tile(np.array([[10.0, 200.0, 10.0]]), (8, 1))
    # Axis along camera x: the side faces the camera, nearest point one radius in front.
    render.draw_cylinder(
        c,
        np.array([0.0, 0.0, 0.5]),
        np.array([1.0, 0.0, 0.0]),
        0.03,
        0.05,
        bands,
        (255, 0, 0),
        LIGHT,
        3,
    )
    assert c.depth[60, 80] == pytest.approx(0.47, abs=1e-5)
    assert c.image()[60, 80, 1] == 200
    # Axis along camera z: only the near cap is seen, flat at z = 0.45.
    c2 = canvas()
    render.draw_cylinder(
        c2,
        np.array([0.0, 0.0, 0.5]),
        np.array([0.0, 0.0, 1.0]),
        0.03,
        0.05,
        bands,
        (255, 0, 0),
        LIGHT,
        3,
    )
    mask = c2.label == 3
    assert c2.depth[mask] == pytest.approx(0.45, abs=1e-5)


def render_object(obj, rotation):
    obj.rotation, obj.translation = rotation, np.array([0.0, 0.0, 0.6])
    c = canvas()
    generator._draw_object(c, obj, render.Light(np.array([0.3, -0.2, -0.93]) / 0.9975))
    return c.image().astype(float), c.label


def test_symmetry_classes_are_true_to_the_rendered_images():
    """A half turn about z leaves class 1 and 2 objects' images unchanged, not class 0 boxes."""
    rng = np.random.default_rng(5)
    examples = {}
    while len(examples) < 4:
        obj = objects.sample_object(rng)
        examples.setdefault((obj.kind, obj.symmetry), obj)
    half_turn = np.diag([-1.0, -1.0, 1.0])
    for (kind, symmetry), obj in examples.items():
        differences = []
        for _ in range(4):
            rotation = objects.random_rotation(rng)
            before, label_before = render_object(obj, rotation)
            after, label_after = render_object(obj, rotation @ half_turn)
            np.testing.assert_array_equal(label_before, label_after)  # same silhouette
            differences.append(np.abs(before - after)[label_before > 0].mean())
        if symmetry == objects.SYMMETRY_NONE:
            assert max(differences) > 5.0, kind
        else:
            assert max(differences) < 1.0, (kind, symmetry)


def test_a_cap_seen_edge_on_by_some_rays_draws_without_warnings_or_bad_depths():
    """Column 80 of K's image sees the rays parallel to a cap whose normal is the x axis: they
    divide by zero (inf or nan depths), which must miss the cap, not reach the z-buffer, and
    raise no RuntimeWarning (the GPU training logs filled with them)."""
    c = canvas()
    with np.errstate(all="raise"):  # every floating-point warning becomes an error
        render.draw_cylinder(
            c,
            np.array([0.035, 0.0, 0.5]),
            np.array([1.0, 0.0, 0.0]),
            0.03,
            0.03,
            np.array([[200, 100, 50]]),
            (90, 90, 90),
            LIGHT,
            4,
        )
    assert (c.label == 4).any()
    assert not np.isnan(c.depth).any() and (c.depth > 0).all()
