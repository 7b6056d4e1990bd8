"""Colours and textures of the synthetic scenes: skin, backgrounds, object labels, camera noise.

Everything is drawn from the sample's own random generator, except one fixed bank of sensor
noise per image size (built from a constant seed, then cropped at a random offset), so that
per-pixel noise costs a slice instead of millions of random draws.
"""

import functools

import cv2
import numpy as np

# Skin albedos from light to dark (RGB, 0..255); a sample interpolates between neighbours.
SKIN_TONES = np.array(
    [
        [242, 208, 184],
        [226, 184, 152],
        [205, 150, 115],
        [170, 115, 80],
        [125, 80, 52],
        [88, 58, 40],
    ],
    dtype=np.float64,
)
_NOISE_SEED = 20240917
_NOISE_MARGIN = 64


def skin_albedo(rng: np.random.Generator) -> np.ndarray:
    """A skin colour (RGB, float) with a little hue and brightness variation."""
    position = rng.uniform(0.0, len(SKIN_TONES) - 1)
    low = int(position)
    high = min(low + 1, len(SKIN_TONES) - 1)
    tone = SKIN_TONES[low] + (position - low) * (SKIN_TONES[high] - SKIN_TONES[low])
    return np.clip(tone * rng.uniform(0.92, 1.08) + rng.normal(0.0, 4.0, 3), 10, 255)


def random_colour(rng: np.random.Generator, low: float = 20, high: float = 235) -> np.ndarray:
    return rng.uniform(low, high, 3)


# --- backgrounds ------------------------------------------------------------------------------


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A cluttered, textured background ``[H, W, 3]`` uint8 RGB.

    A smooth colour field (walls, lighting gradients), a table-like region, random furniture
    shapes and skin-coloured distractors, drawn at half resolution (it is all low frequency),
    then fine texture from the noise bank at full resolution.
    """
    half_height, half_width = max(height // 2, 1), max(width // 2, 1)
    # Mostly muted colours, as indoors: a grey level per cell plus a moderate tint.
    cells = (int(rng.integers(2, 5)), int(rng.integers(2, 6)))
    grey = rng.uniform(35, 215, size=cells + (1,))
    grid = np.clip(grey + rng.normal(0.0, rng.uniform(10, 45), size=cells + (3,)), 0, 255)
    image = cv2.resize(grid.astype(np.float32), (half_width, half_height))
    if rng.random() < 0.6:  # a table top or floor in the lower part of the image
        horizon = int(rng.uniform(0.35, 0.85) * half_height)
        image[horizon:] = image[horizon:] * 0.3 + np.float32(random_colour(rng) * 0.7)
    for _ in range(int(rng.integers(3, 10))):
        _draw_clutter(rng, image)
    if rng.random() < 0.3:  # skin-coloured distractor blob (a face, another arm)
        centre = (int(rng.integers(0, half_width)), int(rng.integers(0, half_height)))
        axes = (int(rng.integers(10, 45)), int(rng.integers(10, 45)))
        colour = skin_albedo(rng).tolist()
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    image = cv2.resize(cv2.convertScaleAbs(image), (width, height))
    texture = noise_patch(rng, height, width, smooth=True)
    amplitude = float(rng.uniform(2.0, 9.0))
    return cv2.addWeighted(image, 1.0, texture, amplitude, 0.0, dtype=cv2.CV_8U)


def degenerate_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """What a camera sends when nothing is in view or something is wrong ``[H, W, 3]`` uint8:
    per-pixel noise (colour or grey, a lens cap with gain up, a broken stream), a flat
    colour, or a smooth gradient. Empty training frames show these sometimes, so that such
    inputs, which no cluttered scene resembles, are negatives for hand and object presence."""
    kind = int(rng.integers(3))
    if kind == 0:
        channels = 3 if rng.random() < 0.5 else 1
        noise = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        return np.repeat(noise, 3 // channels, axis=2)
    if kind == 1:
        return np.broadcast_to(random_colour(rng).astype(np.uint8), (height, width, 3)).copy()
    ramp = np.linspace(0.0, 1.0, width if rng.random() < 0.5 else height, dtype=np.float32)
    ramp = ramp[None, :, None] if ramp.size == width else ramp[:, None, None]
    start, end = random_colour(rng), random_colour(rng)
    image = start + (end - start) * ramp
    return np.broadcast_to(image, (height, width, 3)).astype(np.uint8)


def _draw_clutter(rng: np.random.Generator, image: np.ndarray) -> None:
    height, width = image.shape[:2]
    colour = random_colour(rng).tolist()
    x0, y0 = int(rng.integers(-25, width)), int(rng.integers(-25, height))
    x1, y1 = x0 + int(rng.integers(10, width // 2)), y0 + int(rng.integers(10, height // 2))
    shape = rng.integers(3)
    if shape == 0:
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1)
    elif shape == 1:
        cv2.circle(image, (x0, y0), int(rng.integers(5, 40)), colour, -1, cv2.LINE_AA)
    else:
        cv2.line(image, (x0, y0), (x1, y1), colour, int(rng.integers(1, 7)), cv2.LINE_AA)


# --- object textures --------------------------------------------------------------------------


def label_texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A packaging-like texture ``[height, width, 3]`` uint8: panels, stripes, print."""
    texture = np.empty((height, width, 3), dtype=np.uint8)
    texture[:] = random_colour(rng)
    for _ in range(int(rng.integers(1, 4))):  # coloured panels and stripes
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = x0 + int(rng.integers(4, width)), y0 + int(rng.integers(3, height // 2 + 4))
        cv2.rectangle(texture, (x0, y0), (x1, y1), random_colour(rng).tolist(), -1)
    for _ in range(int(rng.integers(1, 4))):  # lines of "print"
        text = "".join(chr(int(c)) for c in rng.integers(65, 91, size=int(rng.integers(3, 8))))
        origin = (int(rng.integers(0, width // 2)), int(rng.integers(8, height)))
        scale = float(rng.uniform(0.25, 0.6))
        cv2.putText(
            texture,
            text,
            origin,
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            random_colour(rng, 0, 255).tolist(),
            1,
            cv2.LINE_AA,
        )
    return texture


def symmetric_under_half_turn(texture: np.ndarray) -> np.ndarray:
    """Make a texture invariant to a 180-degree in-plane rotation (left half -> right half)."""
    height, width = texture.shape[:2]
    out = texture.copy()
    out[:, width - width // 2 :] = texture[::-1, : width // 2][:, ::-1]
    if width % 2:  # the middle column maps onto itself, upside down
        middle = width // 2
        out[height - height // 2 :, middle] = out[: height // 2, middle][::-1]
    return out


def band_texture(rng: np.random.Generator, bands: int = 48) -> np.ndarray:
    """Colours ``[bands, 3]`` of a cylinder's side from bottom to top: a can or bottle label."""
    colours = np.empty((bands, 3))
    colours[:] = random_colour(rng)
    start = int(rng.integers(0, bands // 3))
    stop = int(rng.integers(2 * bands // 3, bands + 1))
    colours[start:stop] = random_colour(rng)
    for _ in range(int(rng.integers(0, 4))):
        row = int(rng.integers(0, bands))
        colours[row : row + int(rng.integers(1, 5))] = random_colour(rng)
    return colours


# --- camera -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _noise_bank(height: int, width: int, smooth: bool) -> np.ndarray:
    """Fixed unit-variance noise ``[height + margin, width, 3]``; smooth: blurred, grey."""
    rng = np.random.Generator(np.random.PCG64(_NOISE_SEED))
    bank = rng.standard_normal((height + _NOISE_MARGIN, width, 3), dtype=np.float32)
    if smooth:  # fine grey texture (paper, wood, fabric) rather than sensor noise
        grey = cv2.GaussianBlur(bank[..., 0], (0, 0), 1.5)
        grey /= grey.std()
        bank = np.repeat(grey[..., None], 3, axis=2)
    bank.setflags(write=False)
    return bank


def noise_patch(rng: np.random.Generator, height: int, width: int, smooth: bool = False):
    """Unit noise ``[H, W, 3]`` float32: a contiguous, read-only slice of a fixed noise bank."""
    offset = int(rng.integers(0, _NOISE_MARGIN))
    return _noise_bank(height, width, smooth)[offset : offset + height]


def camera_effects(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Defocus blur and sensor noise on a uint8 RGB image."""
    height, width = image.shape[:2]
    image = cv2.GaussianBlur(image, (5, 5), float(rng.uniform(0.3, 1.3)))
    noise = noise_patch(rng, height, width)
    return cv2.addWeighted(image, 1.0, noise, float(rng.uniform(1.0, 5.0)), 0.0, dtype=cv2.CV_8U)


def exposure(rng: np.random.Generator) -> np.ndarray:
    """Per-channel gain of the camera: exposure times white balance."""
    return rng.uniform(0.75, 1.2) * rng.uniform(0.94, 1.06, 3)
