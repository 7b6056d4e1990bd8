"""A small z-buffer rasteriser for capsules, spheres, boxes and cylinders, in numpy and OpenCV.

Each primitive is drawn over its bounding box in the image only: per pixel we compute the depth
of its front surface (z in the camera frame, metres) and a shading, and write albedo,
brightness, depth and a label wherever it is nearer than what the canvas already holds.
Boxes, spheres and cylinders are ray-cast exactly; capsules (fingers) use the usual impostor
approximation: the silhouette of a sphere swept along the projected segment, with depth and
radius interpolated along it.

Shading is Lambertian with one directional light plus ambient light. The camera is a pinhole
without skew. Per-pixel work is float32; scalars enter as Python floats so that numpy keeps it so.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np

NEAR = 0.05  # metres: geometry nearer than this is not drawn


@dataclass
class Light:
    """A directional light: ``direction`` points from the surface towards the light."""

    direction: np.ndarray
    ambient: float = 0.4
    diffuse: float = 0.6

    def shade(self, nx, ny, nz) -> np.ndarray:
        """Brightness of surfaces with camera-frame normals ``(nx, ny, nz)``."""
        # Python floats keep float32 arrays float32 (numpy scalars would promote them).
        lx, ly, lz = (float(value) for value in self.direction)
        if np.ndim(nx) == 0:
            return self.ambient + self.diffuse * max(nx * lx + ny * ly + nz * lz, 0.0)
        lambert = nx * lx
        lambert += ny * ly
        lambert += nz * lz
        np.maximum(lambert, 0.0, out=lambert)
        lambert *= float(self.diffuse)
        lambert += float(self.ambient)
        return lambert


@dataclass
class Canvas:
    """Depth, label, brightness and albedo buffers of one image, and the camera that sees them.

    Shading is deferred: primitives write their albedo (colour planes, one per channel, which
    keeps every update a contiguous 2D operation) and a brightness; ``image()`` multiplies them.
    """

    K: np.ndarray
    background: np.ndarray  # [H, W, 3] uint8 RGB
    depth: np.ndarray = field(init=False)  # [H, W] float32, inf where nothing was drawn
    label: np.ndarray = field(init=False)  # [H, W] uint8, 0 where nothing was drawn

    def __post_init__(self):
        height, width = self.background.shape[:2]
        self.depth = np.full((height, width), np.inf, dtype=np.float32)
        self.label = np.zeros((height, width), dtype=np.uint8)
        self.brightness = np.ones((height, width), dtype=np.float32)
        self.albedo = list(cv2.split(self.background))  # uint8 planes
        self.fx, self.fy = float(self.K[0, 0]), float(self.K[1, 1])
        self.cx, self.cy = float(self.K[0, 2]), float(self.K[1, 2])

    def window(self, low: np.ndarray, high: np.ndarray):
        """Integer pixel window covering the float box ``[low, high]``, or None when empty."""
        height, width = self.depth.shape
        x0, y0 = max(int(np.floor(low[0])), 0), max(int(np.floor(low[1])), 0)
        x1, y1 = min(int(np.ceil(high[0])) + 1, width), min(int(np.ceil(high[1])) + 1, height)
        if x0 >= x1 or y0 >= y1:
            return None
        return x0, y0, x1, y1

    def rays(self, box):
        """Normalised ray coordinates ``x' = (u - cx) / fx`` (row) and ``y'`` (column)."""
        x0, y0, x1, y1 = box
        rx = ((np.arange(x0, x1, dtype=np.float32) - self.cx) / self.fx)[None, :]
        ry = ((np.arange(y0, y1, dtype=np.float32) - self.cy) / self.fy)[:, None]
        return rx, ry

    def write(self, box, depth, hit, brightness, albedo, label: int) -> None:
        """Z-test ``depth`` over ``hit`` in the window and write the winners.

        ``brightness`` is a window-sized array or a number; ``albedo`` three numbers (RGB) or
        three window-sized planes.
        """
        x0, y0, x1, y1 = box
        zbuffer = self.depth[y0:y1, x0:x1]
        win = hit & (depth < zbuffer)
        np.copyto(zbuffer, depth, where=win)
        np.copyto(self.label[y0:y1, x0:x1], np.uint8(label), where=win)
        np.copyto(self.brightness[y0:y1, x0:x1], brightness, where=win, casting="unsafe")
        for plane, value in zip(self.albedo, albedo):
            np.copyto(plane[y0:y1, x0:x1], value, where=win, casting="unsafe")

    def image(self, gain=(1.0, 1.0, 1.0)) -> np.ndarray:
        """The shaded image ``[H, W, 3]`` uint8 RGB, each channel scaled by ``gain``."""
        return cv2.merge(
            [
                cv2.multiply(plane, self.brightness, scale=float(g), dtype=cv2.CV_8U)
                for plane, g in zip(self.albedo, gain)
            ]
        )


def project_points(canvas: Canvas, points: np.ndarray) -> np.ndarray:
    """Pixels ``[n, 2]`` of camera-frame points ``[n, 3]``."""
    return np.stack(
        [
            canvas.fx * points[:, 0] / points[:, 2] + canvas.cx,
            canvas.fy * points[:, 1] / points[:, 2] + canvas.cy,
        ],
        axis=1,
    )


# --- capsules ---------------------------------------------------------------------------------


def draw_capsules(canvas, a, b, radius_a, radius_b, albedo, light, label, part=None) -> None:
    """Tapered capsules from ``a [n, 3]`` to ``b [n, 3]`` (camera frame) as swept-sphere
    impostors: the silhouette of a sphere moved along the projected segment, with depth and
    radius interpolated along it.

    ``albedo`` is one RGB colour, or ``[k, 3]`` colours with ``part [n]`` giving each capsule's;
    parts are z-tested one after the other, in order. A hand is many small capsules, so they
    are evaluated together: grouped by window size, each group as one ``[n, h, w]`` array.
    Each capsule is then z-tested into the depth and brightness buffers; label and albedo,
    shared by a part, are written once per part.
    """
    albedo = np.atleast_2d(np.asarray(albedo, dtype=np.float64))
    part = np.zeros(len(a), dtype=int) if part is None else np.asarray(part)
    a, b, radius_a, radius_b, keep = _clip_to_near(a, b, radius_a, radius_b)
    part = part[keep]
    if len(a) == 0:
        return
    pa, pb = project_points(canvas, a), project_points(canvas, b)
    focal = 0.5 * (canvas.fx + canvas.fy)
    rho_a, rho_b = focal * radius_a / a[:, 2], focal * radius_b / b[:, 2]
    reach = np.maximum(rho_a, rho_b)[:, None]
    height, width = canvas.depth.shape
    low = np.maximum(np.floor(np.minimum(pa, pb) - reach), 0).astype(int)
    high = np.minimum(np.ceil(np.maximum(pa, pb) + reach) + 1, [width, height]).astype(int)
    size = high - low
    visible = np.flatnonzero((size > 0).all(axis=1))
    params = _CapsuleParams(pa, pb, rho_a, rho_b, a[:, 2], b[:, 2], radius_a, radius_b)
    surfaces = {}  # capsule -> (depth, brightness) over its window
    order = []
    windows = np.concatenate([low, size], axis=1).tolist()  # Python ints slice fastest
    for members in _size_groups(size[visible].tolist(), visible.tolist()):
        members = np.array(members)
        depth, normal = _capsule_group(params, members, low[members], size[members].max(0))
        brightness = light.shade(*normal)
        for k, i in enumerate(members.tolist()):
            w, h = windows[i][2:]
            surfaces[i] = depth[k, :h, :w], brightness[k, :h, :w]
            order.append(i)
    order = np.array(order, dtype=int)
    for index, colour in enumerate(albedo):
        mine = order[part[order] == index]
        if len(mine) == 0:
            continue
        (x0, y0), (x1, y1) = low[mine].min(axis=0).tolist(), high[mine].max(axis=0).tolist()
        before = canvas.depth[y0:y1, x0:x1].copy()
        for i in mine.tolist():
            cx, cy, w, h = windows[i]
            depth, brightness = surfaces[i]
            zbuffer = canvas.depth[cy : cy + h, cx : cx + w]
            win = depth < zbuffer
            np.copyto(zbuffer, depth, where=win)
            np.copyto(canvas.brightness[cy : cy + h, cx : cx + w], brightness, where=win)
        drawn = canvas.depth[y0:y1, x0:x1] < before
        np.copyto(canvas.label[y0:y1, x0:x1], np.uint8(label), where=drawn)
        for plane, value in zip(canvas.albedo, colour):
            np.copyto(plane[y0:y1, x0:x1], value, where=drawn, casting="unsafe")


# Padding a capsule's window into a bigger group is cheaper than a group of its own as long as
# it adds fewer pixels than this (a group costs ~40 numpy calls, a pixel ~30 operations).
_GROUP_PADDING_BUDGET = 3000


def _size_groups(sizes: list, capsules: list) -> list[list]:
    """Capsules grouped greedily by window size ``(w, h)``, so that padding to a group's largest
    window wastes little work: small windows first, a new group when padding costs too much."""
    groups, current, width, height = [], [], 0, 0
    for (w, h), i in sorted(zip(sizes, capsules), key=lambda item: item[0][0] * item[0][1]):
        grown_w, grown_h = max(width, w), max(height, h)
        added = (len(current) + 1) * grown_w * grown_h - len(current) * width * height - w * h
        if current and added > _GROUP_PADDING_BUDGET:
            groups.append(current)
            current, grown_w, grown_h = [], w, h
        current.append(i)
        width, height = grown_w, grown_h
    if current:
        groups.append(current)
    return groups


class _CapsuleParams:
    """Per-capsule numbers as float32 columns ``[n, 1, 1]`` that broadcast over windows."""

    def __init__(self, pa, pb, rho_a, rho_b, za, zb, radius_a, radius_b):
        def column(values):
            return np.asarray(values, dtype=np.float32)[:, None, None]

        self.pa_x, self.pa_y = column(pa[:, 0]), column(pa[:, 1])
        self.dx, self.dy = column(pb[:, 0] - pa[:, 0]), column(pb[:, 1] - pa[:, 1])
        self.rho, self.drho = column(rho_a), column(rho_b - rho_a)
        self.z, self.dz = column(za), column(zb - za)
        self.radius, self.dradius = column(radius_a), column(radius_b - radius_a)


def _capsule_group(p: _CapsuleParams, members, low, shape):
    """Depth (inf off the capsule) ``[n, height, width]`` and surface normal components of the
    capsules ``members``, whose windows start at ``low [n, 2]``; ``shape`` is (width, height).

    Written with in-place operations: this is the generator's innermost loop.
    """
    f32 = np.float32
    start = low.astype(f32)[:, :, None, None]  # window origins; keep everything float32
    u = np.arange(shape[0], dtype=f32)[None, None, :] + (start[:, 0] - p.pa_x[members])
    v = np.arange(shape[1], dtype=f32)[None, :, None] + (start[:, 1] - p.pa_y[members])
    dx, dy = p.dx[members], p.dy[members]
    inv_length2 = 1.0 / np.maximum(dx * dx + dy * dy, f32(1e-6))
    s = u * (dx * inv_length2) + v * (dy * inv_length2)  # position along the segment
    np.clip(s, 0.0, 1.0, out=s)
    inv_rho = s * p.drho[members]
    inv_rho += p.rho[members]
    np.reciprocal(inv_rho, out=inv_rho)
    ex = s * dx  # offset from the axis, in units of the projected radius
    np.subtract(u, ex, out=ex)
    ex *= inv_rho
    ey = s * dy
    np.subtract(v, ey, out=ey)
    ey *= inv_rho
    inside = ex * ex
    inside += ey * ey
    np.subtract(1.0, inside, out=inside)
    nz = np.maximum(inside, 0.0)
    np.sqrt(nz, out=nz)
    np.negative(nz, out=nz)
    depth = s * p.dz[members]
    depth += p.z[members]
    radius = s * p.dradius[members]
    radius += p.radius[members]
    radius *= nz
    depth += radius
    np.copyto(depth, np.inf, where=inside <= 0.0)
    return depth, (ex, ey, nz)


def draw_capsule(canvas, a, b, radius_a, radius_b, albedo, light, label) -> None:
    """One tapered capsule (see draw_capsules)."""
    draw_capsules(
        canvas,
        np.asarray(a)[None],
        np.asarray(b)[None],
        np.array([radius_a]),
        np.array([radius_b]),
        albedo,
        light,
        label,
    )


def _clip_to_near(a, b, radius_a, radius_b):
    """Cut the parts of segments behind the near plane; drop segments entirely behind it."""
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    radius_a, radius_b = np.array(radius_a, np.float64), np.array(radius_b, np.float64)
    keep = (a[:, 2] >= NEAR) | (b[:, 2] >= NEAR)
    for i in np.flatnonzero(keep & ((a[:, 2] < NEAR) | (b[:, 2] < NEAR))):
        s = (NEAR - a[i, 2]) / (b[i, 2] - a[i, 2])
        cut, cut_radius = a[i] + s * (b[i] - a[i]), radius_a[i] + s * (radius_b[i] - radius_a[i])
        if a[i, 2] < NEAR:
            a[i], radius_a[i] = cut, cut_radius
        else:
            b[i], radius_b[i] = cut, cut_radius
    return a[keep], b[keep], radius_a[keep], radius_b[keep], keep


# --- spheres ----------------------------------------------------------------------------------


def draw_sphere(canvas, centre, radius, albedo, light, label) -> None:
    """A sphere, ray-cast exactly, in one colour."""
    if centre[2] - radius < NEAR:
        return
    box = _sphere_window(canvas, centre, radius)
    if box is None:
        return
    rx, ry = canvas.rays(box)
    cx, cy, cz = (float(value) for value in centre)
    radius = float(radius)
    # Rays (x', y', 1) * t: |t d - c|^2 = r^2, and t is the depth.
    dd = rx * rx + ry * ry + 1.0
    dc = rx * cx + ry * cy + cz
    disc = dc * dc - dd * (cx * cx + cy * cy + cz * cz - radius * radius)
    hit = disc > 0.0
    depth = (dc - np.sqrt(np.maximum(disc, 0.0))) / dd
    nx, ny, nz = (rx * depth - cx) / radius, (ry * depth - cy) / radius, (depth - cz) / radius
    canvas.write(box, depth, hit, light.shade(nx, ny, nz), albedo, label)


def _sphere_window(canvas, centre, radius):
    """Pixel window of a ball: the box of the projected corners of its bounding cube."""
    if centre[2] - radius < NEAR:
        height, width = canvas.depth.shape
        return 0, 0, width, height
    pixels = project_points(canvas, centre + radius * (2.0 * box_corners(np.ones(3))))
    return canvas.window(pixels.min(axis=0), pixels.max(axis=0))


# --- boxes ------------------------------------------------------------------------------------

# Faces of a box with corners ordered by (x, y, z) sign bits (see box_corners); each face lists
# its corners counter-clockwise seen from outside, starting at texture (0, 0), then (1, 0),
# (1, 1), (0, 1); texture u runs along the face's first edge.
BOX_FACES = (
    ((1, 3, 7, 5), (1.0, 0.0, 0.0)),  # +x: u along +y, v along +z
    ((2, 0, 4, 6), (-1.0, 0.0, 0.0)),  # -x: u along -y (so +x and -x match under z-180)
    ((3, 2, 6, 7), (0.0, 1.0, 0.0)),  # +y: u along -x
    ((0, 1, 5, 4), (0.0, -1.0, 0.0)),  # -y: u along +x
    ((4, 5, 7, 6), (0.0, 0.0, 1.0)),  # +z: u along +x, v along +y
    ((2, 3, 1, 0), (0.0, 0.0, -1.0)),  # -z
)


def box_corners(size: np.ndarray) -> np.ndarray:
    """The 8 corners ``[8, 3]`` of a box of ``size`` centred at the origin.

    Corner ``k`` has sign ``+`` on axis ``i`` when bit ``i`` of ``k`` is set, so corner 0 is
    ``-size / 2`` and corner 7 is ``+size / 2``.
    """
    signs = np.array([[(k >> i) & 1 for i in range(3)] for k in range(8)], dtype=np.float64)
    return (signs - 0.5) * np.asarray(size, dtype=np.float64)


def draw_box(canvas, corners_cam, rotation, textures, light, label) -> None:
    """A box from its camera-frame corners, each visible face textured by a warped image."""
    for (indices, normal), texture in zip(BOX_FACES, textures):
        quad = corners_cam[list(indices)]
        n = rotation @ np.array(normal)
        if np.dot(n, quad.mean(axis=0)) >= 0.0 or (quad[:, 2] < NEAR).any():
            continue  # back face, or crossing the near plane
        _draw_face(canvas, quad, n, texture, light.shade(*n), label)


def _draw_face(canvas, quad, normal, texture, brightness, label) -> None:
    pixels = project_points(canvas, quad)
    box = canvas.window(pixels.min(axis=0), pixels.max(axis=0))
    if box is None:
        return
    x0, y0, x1, y1 = box
    local = (pixels - [x0, y0]).astype(np.float32)
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillConvexPoly(mask, np.round(local * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    # Depth of a plane n.X = n.p0 along rays (x', y', 1) * z.
    rx, ry = canvas.rays(box)
    nx, ny, nz = (float(value) for value in normal)
    # Rays parallel to the plane (x / 0 = inf) lie outside the face, i.e. outside the mask.
    with np.errstate(divide="ignore"):
        depth = float(np.dot(normal, quad[0])) / (nx * rx + ny * ry + nz)
    height, width = texture.shape[:2]
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]]) - 0.5
    homography = cv2.getPerspectiveTransform(source, local)
    warped = cv2.warpPerspective(
        texture,
        homography,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    canvas.write(box, depth, mask.view(bool), brightness, cv2.split(warped), label)


# --- cylinders --------------------------------------------------------------------------------


def draw_cylinder(canvas, centre, axis, radius, half_height, bands, cap_albedo, light, label):
    """A closed cylinder about unit ``axis``; its side is coloured by height ``bands [N, 3]``."""
    ends = (centre - half_height * axis, centre + half_height * axis)
    if min(ends[0][2], ends[1][2]) - radius < NEAR:
        return
    reach = float(np.hypot(radius, half_height))
    box = _sphere_window(canvas, centre, reach)
    if box is None:
        return
    rx, ry = canvas.rays(box)
    radius, half_height = float(radius), float(half_height)
    c, a = [float(v) for v in centre], [float(v) for v in axis]
    along = float(np.dot(centre, axis))
    # Side: with d = (x', y', 1) and m = -(c - (c.a) a), solve |t w + m| = r for w = d - (d.a)a.
    m = [along * a[k] - c[k] for k in range(3)]
    da = rx * a[0] + ry * a[1] + a[2]
    dm = rx * m[0] + ry * m[1] + m[2]
    ww = rx * rx + ry * ry + 1.0 - da * da
    disc = dm * dm - ww * (m[0] * m[0] + m[1] * m[1] + m[2] * m[2] - radius * radius)
    depth = (-dm - np.sqrt(np.maximum(disc, 0.0))) / np.maximum(ww, 1e-12)
    height = depth * da - along
    hit = (disc > 0.0) & (np.abs(height) <= half_height)
    nx = (rx * depth - c[0] - height * a[0]) / radius
    ny = (ry * depth - c[1] - height * a[1]) / radius
    nz = (depth - c[2] - height * a[2]) / radius
    # Colour by height: a 256-entry lookup table per channel (cv2.LUT) indexed by band.
    band = np.clip((height / (2 * half_height) + 0.5) * len(bands), 0, len(bands) - 1)
    tables = np.zeros((3, 256), dtype=np.uint8)
    tables[:, : len(bands)] = np.asarray(bands).T
    albedo = [cv2.LUT(band.astype(np.uint8), table) for table in tables]
    canvas.write(box, depth, hit, light.shade(nx, ny, nz), albedo, label)
    # The cap that faces the camera.
    for sign, end in ((1.0, ends[1]), (-1.0, ends[0])):
        normal = sign * axis
        if np.dot(normal, end) < 0.0:
            n, e = [float(v) for v in normal], [float(v) for v in end]
            # A ray parallel to the cap (depth inf, or nan from 0 * inf) misses it: the
            # comparisons below are False for inf and nan.
            with np.errstate(divide="ignore", invalid="ignore"):
                depth = float(np.dot(normal, end)) / (n[0] * rx + n[1] * ry + n[2])
                px, py, pz = rx * depth - e[0], ry * depth - e[1], depth - e[2]
                hit = (px * px + py * py + pz * pz <= radius * radius) & (depth > 0)
            canvas.write(box, depth, hit, light.shade(*normal), cap_albedo, label)
