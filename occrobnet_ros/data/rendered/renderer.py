"""Headless OpenGL rendering with moderngl (EGL; Mesa's llvmpipe on machines without a GPU).

One ``Renderer`` per process and image size. A frame is a shadow pass (the meshes' depth
seen from the key light, for shadows on the hands and the object) and one main pass into two
colour targets:

- the image: the background photo as a full-screen quad, then the meshes, lit
  (``Lighting``: a directional light, a hemisphere ambient taken from the photo's colours,
  soft specular, a wrapped diffuse term for skin);
- per pixel, the camera z and the label (0 background, 1 right hand, 2 left hand, 3 object)
  of the surface drawn there, so masks, depth, joint visibility and the image agree pixel for
  pixel.

No multisampling: on llvmpipe 4x MSAA made a frame 2-3x slower. Instead, silhouettes are
softened afterwards where the label changes (``soften_edges``), and the camera model blurs
the whole frame.

Camera: the OpenCV optical frame (x right, y down, z forward) and a pinhole ``K``, pixel
centres at integer coordinates. ``clip_matrix`` maps camera points straight to clip space with
image row 0 in the framebuffer's first row, so a readback needs no flip and a camera point
``p`` lands on the pixel ``geometry.project(p, K)`` rounds to.
"""

import os
from dataclasses import dataclass

import numpy as np

NEAR, FAR = 0.05, 20.0  # metres (data/render.NEAR is the procedural renderer's near plane)
SHADOW_SIZE = 1024  # texels of the key light's shadow map
SHADOW_BIAS = 0.002  # metres: keeps lit surfaces from shadowing themselves

_VERTEX_SHADER = """
#version 330
uniform mat4 clip_from_camera;
in vec3 position;
in vec3 normal;
in vec3 albedo;
in vec2 uv;
in float gloss;
out vec3 v_position;
out vec3 v_normal;
out vec3 v_albedo;
out vec2 v_uv;
out float v_gloss;
void main() {
    v_position = position;
    v_normal = normal;
    v_albedo = albedo;
    v_uv = uv;
    v_gloss = gloss;
    gl_Position = clip_from_camera * vec4(position, 1.0);
}
"""

# Lighting in linear RGB, output in sRGB (the photo's space). ``gloss`` per vertex: specular
# strength (skin ~0.25, cardboard ~0.1, plastic ~0.5). ``wrap``: how far diffuse light wraps
# past the terminator (subsurface scattering of skin softens its shading).
_FRAGMENT_SHADER = """
#version 330
uniform vec3 light_direction;
uniform vec3 light_colour;
uniform vec3 sky_colour;
uniform vec3 ground_colour;
uniform vec3 up;
uniform float wrap;  // per mesh
uniform float shininess;  // per mesh
uniform float use_texture;
uniform sampler2D texture0;
uniform sampler2DShadow shadow_map;
uniform mat4 light_from_camera;  // camera point -> shadow map coordinates (0..1, depth 0..1)
uniform float shadow_bias;
uniform float shadow_texel;
in vec3 v_position;
in vec3 v_normal;
in vec3 v_albedo;
in vec2 v_uv;
in float v_gloss;
uniform float label;
layout(location = 0) out vec4 colour;
layout(location = 1) out vec2 depth_label;
// Share of the key light reaching this point: 3x3 percentage-closer filtering of the
// shadow map, the bias growing on surfaces the light grazes.
float lit_fraction(vec3 n, vec3 l) {
    vec3 p = (light_from_camera * vec4(v_position, 1.0)).xyz;
    if (any(lessThan(p, vec3(0.0))) || any(greaterThan(p, vec3(1.0)))) return 1.0;
    float bias = shadow_bias * (1.0 + 2.0 * (1.0 - abs(dot(n, l))));
    float sum = 0.0;
    for (int i = -1; i <= 1; i++)
        for (int j = -1; j <= 1; j++)
            sum += texture(shadow_map, vec3(p.xy + vec2(i, j) * shadow_texel, p.z - bias));
    return sum / 9.0;
}
void main() {
    depth_label = vec2(v_position.z, label);
    vec3 n = normalize(v_normal);
    vec3 view = normalize(-v_position);
    if (dot(n, view) < 0.0) n = -n;  // back faces (inside a cylinder) face the camera too
    vec3 albedo = pow(v_albedo, vec3(2.2));
    if (use_texture > 0.5) albedo *= pow(texture(texture0, v_uv).rgb, vec3(2.2));
    vec3 l = -light_direction;
    float diffuse = max((dot(n, l) + wrap) / (1.0 + wrap), 0.0);
    float lit = lit_fraction(n, l);
    diffuse = mix(0.2 * diffuse, diffuse, lit);  // shadows keep a little light (bounce)
    vec3 ambient = mix(ground_colour, sky_colour, 0.5 + 0.5 * dot(n, up));
    vec3 half_vector = normalize(l + view);
    float fresnel = 0.04 + 0.96 * pow(1.0 - max(dot(n, view), 0.0), 5.0);
    float specular = v_gloss * (0.25 + fresnel) * pow(max(dot(n, half_vector), 0.0), shininess);
    vec3 linear = albedo * (diffuse * light_colour + ambient) + lit * specular * light_colour;
    colour = vec4(pow(clamp(linear, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
"""

_SHADOW_VERTEX_SHADER = """
#version 330
uniform mat4 light_clip;
in vec3 position;
void main() {
    gl_Position = light_clip * vec4(position, 1.0);
}
"""

_SHADOW_FRAGMENT_SHADER = """
#version 330
void main() {}
"""

_BACKGROUND_VERTEX_SHADER = """
#version 330
in vec2 corner;
out vec2 v_uv;
void main() {
    v_uv = vec2(0.5 * corner.x + 0.5, 0.5 * corner.y + 0.5);
    gl_Position = vec4(corner, 0.0, 1.0);
}
"""

_BACKGROUND_FRAGMENT_SHADER = """
#version 330
uniform sampler2D photo;
in vec2 v_uv;
layout(location = 0) out vec4 colour;
layout(location = 1) out vec2 depth_label;
void main() {
    colour = vec4(texture(photo, v_uv).rgb, 1.0);
    depth_label = vec2(0.0, 0.0);
}
"""


@dataclass
class Lighting:
    """Light in the camera frame: direction (where it travels), colours (linear RGB)."""

    direction: np.ndarray
    colour: np.ndarray
    sky: np.ndarray
    ground: np.ndarray
    up: np.ndarray  # camera-frame direction the sky lies in


@dataclass
class Mesh:
    """Triangles to draw: per-vertex position (camera frame), normal, albedo (sRGB 0..1),
    texture coordinates and gloss; an optional texture (uint8 RGB) and a label."""

    positions: np.ndarray  # [V, 3]
    normals: np.ndarray  # [V, 3]
    albedo: np.ndarray  # [V, 3]
    faces: np.ndarray  # [F, 3]
    label: int
    uv: np.ndarray | None = None  # [V, 2]
    gloss: np.ndarray | float = 0.2
    shininess: float = 24.0  # Blinn-Phong exponent: low is a broad sheen, high a sharp glint
    wrap: float = 0.0  # diffuse wrap (see the fragment shader): ~0.3 for skin
    texture: np.ndarray | None = None

    def interleaved(self) -> np.ndarray:
        count = len(self.positions)
        uv = self.uv if self.uv is not None else np.zeros((count, 2))
        gloss = np.broadcast_to(np.asarray(self.gloss, dtype=np.float64), (count,))[:, None]
        data = np.concatenate([self.positions, self.normals, self.albedo, uv, gloss], axis=1)
        return data[self.faces.reshape(-1)].astype(np.float32)


@dataclass
class Frame:
    """A rendered frame: image uint8 [H, W, 3] RGB, depth float32 [H, W] (inf where nothing
    was drawn), label uint8 [H, W]."""

    image: np.ndarray
    depth: np.ndarray
    label: np.ndarray


def clip_matrix(K: np.ndarray, width: int, height: int) -> np.ndarray:
    """4x4 camera (OpenCV) -> clip space; row v of the image is framebuffer row v."""
    fx, skew, cx = K[0]
    fy, cy = K[1, 1], K[1, 2]
    a = (FAR + NEAR) / (FAR - NEAR)
    b = -2.0 * FAR * NEAR / (FAR - NEAR)
    # Window x of pixel centre u is u + 0.5; NDC x = 2 (u + 0.5) / W - 1, times w = z.
    return np.array(
        [
            [2.0 * fx / width, 2.0 * skew / width, 2.0 * (cx + 0.5) / width - 1.0, 0.0],
            [0.0, 2.0 * fy / height, 2.0 * (cy + 0.5) / height - 1.0, 0.0],
            [0.0, 0.0, a, b],
            [0.0, 0.0, 1.0, 0.0],
        ]
    )


def light_matrix(points: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, float]:
    """(4x4 orthographic camera -> clip space of a light travelling along ``direction`` that
    just holds ``points``, the depth range it spans in metres)."""
    w = direction / np.linalg.norm(direction)
    helper = np.array([1.0, 0.0, 0.0]) if abs(w[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(w, helper)
    u /= np.linalg.norm(u)
    basis = np.stack([u, np.cross(w, u), w])  # rows: light x, y, depth
    local = points @ basis.T
    low, high = local.min(axis=0) - 0.01, local.max(axis=0) + 0.01
    scale = 2.0 / (high - low)
    ortho = np.eye(4)
    ortho[:3, :3] = basis * scale[:, None]
    ortho[:3, 3] = -1.0 - low * scale
    return ortho, float(high[2] - low[2])


class Renderer:
    """An EGL context with the programs and framebuffers for one image size."""

    def __init__(self, width: int, height: int) -> None:
        import moderngl

        self.width, self.height = width, height
        self.ctx = moderngl.create_standalone_context(backend="egl")
        self.program = self.ctx.program(
            vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER
        )
        self.background_program = self.ctx.program(
            vertex_shader=_BACKGROUND_VERTEX_SHADER, fragment_shader=_BACKGROUND_FRAGMENT_SHADER
        )
        size = (width, height)
        self.fbo = self.ctx.framebuffer(
            color_attachments=[
                self.ctx.renderbuffer(size, 4),
                self.ctx.renderbuffer(size, 2, dtype="f4"),
            ],
            depth_attachment=self.ctx.depth_renderbuffer(size),
        )
        corners = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype=np.float32)
        self.quad = self.ctx.vertex_array(
            self.background_program, [(self.ctx.buffer(corners.tobytes()), "2f", "corner")]
        )
        self.shadow_program = self.ctx.program(
            vertex_shader=_SHADOW_VERTEX_SHADER, fragment_shader=_SHADOW_FRAGMENT_SHADER
        )
        self.shadow_map = self.ctx.depth_texture((SHADOW_SIZE, SHADOW_SIZE))
        self.shadow_map.compare_func = "<="  # a sampler2DShadow: texture() returns lit 0/1
        self.shadow_map.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.shadow_fbo = self.ctx.framebuffer(depth_attachment=self.shadow_map)
        self.program["texture0"].value = 0
        self.program["shadow_map"].value = 1
        self.program["shadow_texel"].value = 1.0 / SHADOW_SIZE
        self.photo = self.ctx.texture(size, 3, alignment=1)
        self.blank = self.ctx.texture((1, 1), 3, data=bytes([255, 255, 255]))

    def render(self, K, background: np.ndarray, meshes: list[Mesh], lighting: Lighting) -> Frame:
        """Draw ``meshes`` over ``background`` (uint8 RGB [H, W, 3]) through camera ``K``."""
        clip = clip_matrix(np.asarray(K, np.float64), self.width, self.height)
        buffers = [self.ctx.buffer(mesh.interleaved().tobytes()) for mesh in meshes]
        try:
            self._shadow_pass(meshes, buffers, lighting.direction)
            return self._main_pass(clip, background, meshes, buffers, lighting)
        finally:
            for buffer in buffers:
                buffer.release()

    def _shadow_pass(self, meshes, buffers, direction) -> None:
        """Depth of every mesh seen from the key light, into the shadow map."""
        light_clip, depth_range = light_matrix(
            np.concatenate([mesh.positions for mesh in meshes]) if meshes else np.zeros((1, 3)),
            np.asarray(direction, np.float64),
        )
        self.shadow_fbo.use()
        self.shadow_fbo.clear(depth=1.0)
        self.ctx.enable(self.ctx.DEPTH_TEST)
        self.shadow_program["light_clip"].write(light_clip.T.astype(np.float32).tobytes())
        for buffer in buffers:
            vao = self.ctx.vertex_array(
                self.shadow_program, [(buffer, _LAYOUT, *_ATTRIBUTES)], skip_errors=True
            )
            vao.render()
            vao.release()
        # Clip space -> texture coordinates and depth in 0..1.
        to_texture = np.array(
            [[0.5, 0, 0, 0.5], [0, 0.5, 0, 0.5], [0, 0, 0.5, 0.5], [0, 0, 0, 1.0]]
        )
        self.program["light_from_camera"].write(
            (to_texture @ light_clip).T.astype(np.float32).tobytes()
        )
        self.program["shadow_bias"].value = SHADOW_BIAS / depth_range

    def _main_pass(self, clip, background, meshes, buffers, lighting) -> Frame:
        self.fbo.use()
        self.fbo.clear(depth=1.0)
        # The photo first, without the depth test (so it writes no depth), then the meshes.
        self.ctx.disable(self.ctx.DEPTH_TEST | self.ctx.CULL_FACE)
        self.photo.write(np.ascontiguousarray(background, dtype=np.uint8).tobytes(), alignment=1)
        self.photo.use(0)
        self.quad.render(mode=self.ctx.TRIANGLE_STRIP)
        self.ctx.enable(self.ctx.DEPTH_TEST)
        self.program["clip_from_camera"].write(
            clip.T.astype(np.float32).tobytes()
        )  # GLSL: columns
        self._set_lighting(lighting)
        self.shadow_map.use(1)
        for mesh, buffer in zip(meshes, buffers):
            self._draw(mesh, buffer)
        image = np.frombuffer(self.fbo.read(components=3, attachment=0), np.uint8)
        raw = np.frombuffer(self.fbo.read(components=2, attachment=1, dtype="f4"), np.float32)
        raw = raw.reshape(self.height, self.width, 2)
        label = raw[..., 1].round().astype(np.uint8)
        depth = np.where(label > 0, raw[..., 0], np.inf).astype(np.float32)
        image = image.reshape(self.height, self.width, 3).copy()
        return Frame(image, depth, label)

    def _draw(self, mesh: Mesh, buffer) -> None:
        vao = self.ctx.vertex_array(self.program, [(buffer, _LAYOUT, *_ATTRIBUTES)])
        texture = self._texture(mesh)
        texture.use(0)
        self.program["use_texture"].value = float(mesh.texture is not None)
        self.program["shininess"].value = float(mesh.shininess)
        self.program["wrap"].value = float(mesh.wrap)
        self.program["label"].value = float(mesh.label)
        vao.render()
        vao.release()
        if texture is not self.blank:
            texture.release()

    def _set_lighting(self, lighting: Lighting) -> None:
        values = {
            "light_direction": lighting.direction,
            "light_colour": lighting.colour,
            "sky_colour": lighting.sky,
            "ground_colour": lighting.ground,
            "up": lighting.up,
        }
        for name, value in values.items():
            self.program[name].value = tuple(float(v) for v in value)

    def _texture(self, mesh: Mesh):
        if mesh.texture is None:
            return self.blank
        texture = np.ascontiguousarray(mesh.texture, dtype=np.uint8)
        height, width = texture.shape[:2]
        # No mipmaps: llvmpipe takes ~50 ms to build them; object textures are small anyway.
        return self.ctx.texture((width, height), 3, data=texture.tobytes(), alignment=1)


_LAYOUT = "3f 3f 3f 2f 1f"  # position, normal, albedo, uv, gloss
_ATTRIBUTES = ("position", "normal", "albedo", "uv", "gloss")
_RENDERERS: dict[tuple[int, int, int], Renderer] = {}


def renderer(width: int, height: int) -> Renderer:
    """This process's renderer for one image size, made on first use.

    EGL does not survive a fork: a process forked from one that has rendered cannot open a
    context of its own (Mesa 22 hangs in eglInitialize). A DataLoader with forked workers is
    fine as long as the parent never rendered; otherwise use
    ``multiprocessing_context="spawn"`` (or "forkserver"). This raises instead of hanging."""
    for owner, *_ in _RENDERERS:
        if owner != os.getpid():
            raise RuntimeError(
                "this process was forked from one that had rendered with EGL, which cannot "
                "work: render only in the workers (not in the parent before the DataLoader "
                "starts), or give the DataLoader multiprocessing_context='spawn'"
            )
    key = (os.getpid(), width, height)
    if key not in _RENDERERS:
        _RENDERERS[key] = Renderer(width, height)
    return _RENDERERS[key]


def soften_edges(image: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Anti-alias silhouettes: a 3x3 blur of the pixels where the label changes, which is
    what multisampling would have mixed there (a cheap stand-in for it)."""
    import cv2

    edges = cv2.morphologyEx(label, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    blurred = cv2.GaussianBlur(image, (3, 3), 0.8)
    out = image.copy()
    out[edges] = blurred[edges]
    return out


def egl_available() -> tuple[bool, str]:
    """(True, "") when moderngl can open a headless EGL context here, else (False, why)."""
    try:
        import moderngl
    except ImportError as error:
        return False, f"moderngl is not installed ({error})"
    try:
        moderngl.create_standalone_context(backend="egl").release()
    except Exception as error:  # no libEGL, no driver
        return False, f"no EGL context: {error}"
    return True, ""
