"""Real photos behind the rendered hands, and real textures for objects, from a folder.

The folder is what install_backgrounds.py writes (``photos/*.jpg``, ``textures/*.png``,
``ATTRIBUTION.tsv``), or any folder of images (``*.jpg``, ``*.png``, used as photos). Every
photo must be free of hands: hand-free frames are photos alone, negatives for hand presence.
"""

import functools
from pathlib import Path

import cv2
import numpy as np

_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


class BackgroundPool:
    """The photos and textures of one folder, in a fixed (sorted) order."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        photos_dir = self.folder / "photos"
        source = photos_dir if photos_dir.is_dir() else self.folder
        self.photos = _images(source)
        self.textures = _images(self.folder / "textures")
        if not self.photos:
            raise FileNotFoundError(
                f"no background photos in {self.folder}: install them with "
                "`python -m occrobnet_ros.data.rendered.install_backgrounds --cache "
                f"{self.folder}` (scripts/get_backgrounds.sh), or point to a folder of "
                "hand-free photos"
            )

    def sample(self, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        """A random photo, randomly cropped (60-100 % of its side), maybe mirrored, resized
        to ``width`` x ``height``: uint8 RGB."""
        photo = load_image(str(self.photos[int(rng.integers(len(self.photos)))]))
        h, w = photo.shape[:2]
        scale = min(w / width, h / height) * rng.uniform(0.6, 1.0)
        crop_w, crop_h = int(width * scale), int(height * scale)
        x0 = int(rng.integers(0, w - crop_w + 1))
        y0 = int(rng.integers(0, h - crop_h + 1))
        crop = photo[y0 : y0 + crop_h, x0 : x0 + crop_w]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)

    def texture(self, rng: np.random.Generator, size: int = 128) -> np.ndarray | None:
        """A random ``size`` x ``size`` crop of a texture (tiled when smaller), or None."""
        if not self.textures:
            return None
        texture = load_image(str(self.textures[int(rng.integers(len(self.textures)))]))
        reps = (size // texture.shape[0] + 1, size // texture.shape[1] + 1, 1)
        tiled = np.tile(texture, reps)
        y0 = int(rng.integers(0, tiled.shape[0] - size + 1))
        x0 = int(rng.integers(0, tiled.shape[1] - size + 1))
        return np.ascontiguousarray(tiled[y0 : y0 + size, x0 : x0 + size])


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _PHOTO_SUFFIXES)


@functools.lru_cache(maxsize=64)  # ~60 MB of 640x480 photos per process
def load_image(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read image {path}")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    image.setflags(write=False)
    return image


@functools.lru_cache(maxsize=8)
def pool(folder: str) -> BackgroundPool:
    """One pool per folder and process."""
    return BackgroundPool(folder)
