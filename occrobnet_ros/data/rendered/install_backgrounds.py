"""Install real photos (backgrounds, hand-free negatives) and textures from Debian packages.

    python -m occrobnet_ros.data.rendered.install_backgrounds [--cache DIR] [--debs DIR]
        [--extra]                      # also mate-backgrounds, plasma-workspace-wallpapers

For each package: ``apt-get download`` (or a ``.deb`` already in ``--debs``), ``dpkg -x`` into
a temporary folder, then the chosen images are cropped to 640x480 (4:3, centred; large
wallpapers also give two zoomed crops) and written as JPEGs to ``DIR/photos/``; GIMP patterns
(``.pat``) become PNG tiles in ``DIR/textures/``. ``DIR/ATTRIBUTION.tsv`` lists every file:
package and version, source path, licence and copyright from the package's
``debian/copyright``. The default ``DIR`` is ``~/.cache/occrobnet_ros/backgrounds``
(``OCCROBNET_BACKGROUNDS`` overrides it).

Licences: the installed images are used at training time only; none is committed. GPL and
CC-BY-SA images (mate-backgrounds, plasma-workspace-wallpapers, some lomiri wallpapers, GIMP's
patterns) must never be committed to the repository; ATTRIBUTION.tsv says which is which.

Photos are chosen, not taken wholesale: they must be real photos without people, so that
every one is a valid hand-free negative. opencv-doc's calibration and sports photos show people
and hands, and its html tree holds hand photos kept for a real-image test elsewhere: only the
listed files of ``examples/data`` are used, never the html tree.
"""

import argparse
import fnmatch
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
JPEG_QUALITY = 92
ZOOM_MIN_WIDTH = 1600  # wallpapers at least this wide also give two zoomed crops
CROP_SEED = 18


def default_cache() -> Path:
    env = os.environ.get("OCCROBNET_BACKGROUNDS")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/occrobnet_ros/backgrounds").expanduser()


def missing_photos(folder: Path) -> str | None:
    """Why ``folder`` cannot serve the rendered generator (with how to fix it), or None."""
    if (Path(folder) / "photos").is_dir():
        return None
    return (
        f"no hand-free photos in {folder}/photos: install them with "
        "scripts/get_backgrounds.sh, or give --backgrounds DIR"
    )


@dataclass(frozen=True)
class Source:
    """Which images of a package to take: under ``root``, names matching ``include`` and not
    ``exclude`` (fnmatch patterns on the path relative to ``root``)."""

    package: str
    root: str
    include: tuple[str, ...] = ("*.jpg", "*.jpeg", "*.png")
    exclude: tuple[str, ...] = ()
    # Where ``root`` is in the package's source tree, which debian/copyright's patterns name.
    source_dir: str = ""
    kind: str = "photo"  # "photo" or "texture"
    optional: bool = False
    one_per_folder: bool = False  # keep only the largest matching file of each folder


# Real photos without people in opencv-doc's examples/data (checked by eye): scenes, objects,
# plants, animals, buildings, documents. Left out: the stereo-calibration series (a person
# holding a chessboard), basketball*, messi5, and drawings, logos and synthetic test images.
OPENCV_PHOTOS = (
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "aloeR.jpg", "apple.jpg", "baboon.jpg",
    "board.jpg", "box.png", "box_in_scene.png", "building.jpg", "butterfly.jpg",
    "chicky_512.png", "ela_modified.jpg", "ela_original.jpg", "fruits.jpg", "graf1.png",
    "graf3.png", "home.jpg", "left.jpg", "leuvenA.jpg", "leuvenB.jpg",
    "licenseplate_motion.jpg", "orange.jpg", "right.jpg", "rubberwhale1.png",
    "rubberwhale2.png", "smarties.png", "squirrel_cls.jpg", "stuff.jpg", "sudoku.png",
    "text_defocus.jpg", "text_motion.jpg",
)  # fmt: skip

# Plasma's wallpapers that are photos (the others are drawings and abstract art).
PLASMA_PHOTOS = (
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
    "Grey", "Kite", "OneStandsOut", "Path", "Shell", "summer_1am",
)  # fmt: skip

SOURCES = (
    Source(
        "opencv-doc",
        "usr/share/doc/opencv-doc/examples/data",
        include=OPENCV_PHOTOS,
        source_dir="samples/data",
    ),
    # Two of its 14 are abstract patterns, not photos.
    Source(
        "lomiri-wallpapers-16.04",
        "usr/share/backgrounds",
        exclude=("analogpattern_*", "umang_*"),
        source_dir="16.04",
    ),
    Source(
        "gimp-data",
        "usr/share/gimp/2.0/patterns",
        include=("*.pat",),
        source_dir="data/patterns",
        kind="texture",
    ),
    Source(
        "mate-backgrounds", "usr/share/backgrounds/mate/nature", source_dir="nature", optional=True
    ),
    Source(
        "plasma-workspace-wallpapers",
        "usr/share/wallpapers",
        include=tuple(f"{name}/contents/images/*.jpg" for name in PLASMA_PHOTOS),
        source_dir="wallpapers",
        optional=True,
        one_per_folder=True,
    ),
)


# --- debian/copyright (DEP-5) ---------------------------------------------------------------


@dataclass
class Stanza:
    files: list[str]
    copyright: str
    licence: str


def parse_copyright(text: str) -> list[Stanza]:
    """The ``Files:`` stanzas of a machine-readable debian/copyright, in file order."""
    stanzas = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "files" in fields:
            licence = fields.get("license", "").split("\n")[0].strip()
            stanzas.append(Stanza(fields["files"].split(), fields.get("copyright", ""), licence))
    return stanzas


def licence_of(path: str, stanzas: list[Stanza]) -> Stanza | None:
    """The last stanza with a pattern matching ``path``, a path in the package's source tree
    (DEP-5: later stanzas win; ``*`` also matches ``/``)."""
    found = None
    for stanza in stanzas:
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in stanza.files):
            found = stanza
    return found


# --- images ---------------------------------------------------------------------------------


def read_gimp_pattern(path: Path) -> np.ndarray:
    """A GIMP ``.pat`` pattern as uint8 RGB [H, W, 3]. The format: a big-endian header (header
    size, version, width, height, bytes per pixel, the magic ``GPAT``, the name), then the
    pixels row by row."""
    data = path.read_bytes()
    header_size, _, width, height, depth = struct.unpack(">5I", data[:20])
    if data[20:24] != b"GPAT":
        raise ValueError(f"{path}: not a GIMP pattern")
    pixels = np.frombuffer(data, np.uint8, width * height * depth, header_size)
    pixels = pixels.reshape(height, width, depth)
    if depth in (1, 2):  # grey (and alpha)
        return np.repeat(pixels[..., :1], 3, axis=2)
    return pixels[..., :3].copy()


def cover_crop(image: np.ndarray, width: int, height: int, zoom=1.0, centre=(0.5, 0.5)):
    """The largest ``width:height`` window (shrunk by ``zoom``) around ``centre`` (fractions),
    resized to ``width`` x ``height``."""
    h, w = image.shape[:2]
    scale = min(w / width, h / height) / zoom
    crop_w, crop_h = int(round(width * scale)), int(round(height * scale))
    x0 = int(round(np.clip(centre[0] * w - crop_w / 2, 0, w - crop_w)))
    y0 = int(round(np.clip(centre[1] * h - crop_h / 2, 0, h - crop_h)))
    crop = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


def photo_crops(image: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    crops = [cover_crop(image, WIDTH, HEIGHT)]
    if image.shape[1] >= ZOOM_MIN_WIDTH:
        for _ in range(2):
            centre = rng.uniform(0.3, 0.7, 2)
            crops.append(cover_crop(image, WIDTH, HEIGHT, rng.uniform(1.6, 2.4), centre))
    return crops


# --- packages -------------------------------------------------------------------------------


def fetch_deb(package: str, debs: Path) -> Path:
    """A ``.deb`` of ``package``: one already in ``debs``, else ``apt-get download`` there."""
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise FileNotFoundError(f"apt-get download {package} left no .deb in {debs}")
    return found[-1]


def install_source(source: Source, deb: Path, cache: Path, rows: list[list[str]]) -> int:
    """Extract one package and write its images; returns how many files were written."""
    version = unquote(deb.name.split("_")[1])  # apt writes the epoch's ':' as %3a
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        root = Path(tmp)
        copyright_file = root / "usr/share/doc" / source.package / "copyright"
        stanzas = parse_copyright(copyright_file.read_text(errors="replace"))
        chosen = _choose(root / source.root, source)
        rng = np.random.default_rng(CROP_SEED)
        written = 0
        for path in chosen:
            relative = path.relative_to(root).as_posix()
            in_source = path.relative_to(root / source.root).as_posix()
            stanza = licence_of(f"{source.source_dir}/{in_source}", stanzas)
            licence = stanza.licence if stanza else "UNKNOWN"
            holder = " ".join(stanza.copyright.split()) if stanza else ""
            for name in _write_images(path, source, cache, rng):
                rows.append([name, source.package, version, relative, licence, holder])
                written += 1
        return written


def _choose(folder: Path, source: Source) -> list[Path]:
    chosen = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if not path.is_file():
            continue
        if not any(fnmatch.fnmatch(relative, p) for p in source.include):
            continue
        if any(fnmatch.fnmatch(relative, p) for p in source.exclude):
            continue
        chosen.append(path)
    if source.one_per_folder:
        largest = {}
        for path in chosen:
            if (
                path.parent not in largest
                or path.stat().st_size > largest[path.parent].stat().st_size
            ):
                largest[path.parent] = path
        chosen = sorted(largest.values())
    return chosen


def _write_images(path: Path, source: Source, cache: Path, rng) -> list[str]:
    stem = f"{source.package}__{path.stem}".replace(" ", "_")
    if source.kind == "texture":
        texture = read_gimp_pattern(path)
        name = f"textures/{stem}.png"
        cv2.imwrite(str(cache / name), cv2.cvtColor(texture, cv2.COLOR_RGB2BGR))
        return [name]
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return []
    names = []
    for index, crop in enumerate(photo_crops(image, rng)):
        name = f"photos/{stem}" + (f"__{index}" if index else "") + ".jpg"
        cv2.imwrite(str(cache / name), crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        names.append(name)
    return names


def install(cache: Path, debs: Path, extra: bool) -> int:
    """Install every source (the optional ones with ``extra``) into ``cache``."""
    staging = cache.with_name(cache.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "photos").mkdir(parents=True)
    (staging / "textures").mkdir()
    rows = [["file", "package", "version", "source", "licence", "copyright"]]
    for source in SOURCES:
        if source.optional and not extra:
            continue
        try:
            deb = fetch_deb(source.package, debs)
        except (subprocess.CalledProcessError, FileNotFoundError) as error:
            if source.optional:
                print(f"skipped {source.package}: {error}")
                continue
            raise
        count = install_source(source, deb, staging, rows)
        print(f"{source.package}: {count} files from {deb.name}")
    with open(staging / "ATTRIBUTION.tsv", "w") as out:
        out.write("\n".join("\t".join(row) for row in rows) + "\n")
    (staging / "README.txt").write_text(
        "Installed by occrobnet_ros.data.rendered.install_backgrounds for training only.\n"
        "Licences per file in ATTRIBUTION.tsv; do not commit GPL or CC-BY-SA files.\n"
    )
    shutil.rmtree(cache, ignore_errors=True)
    staging.rename(cache)
    return len(rows) - 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=default_cache(), help="output folder")
    parser.add_argument(
        "--debs", type=Path, default=None, help="folder with .deb files (downloads go there)"
    )
    parser.add_argument(
        "--extra", action="store_true", help="also mate-backgrounds, plasma-workspace-wallpapers"
    )
    args = parser.parse_args(argv)
    debs = args.debs or args.cache.with_name(args.cache.name + ".debs")
    count = install(args.cache.expanduser(), debs.expanduser(), args.extra)
    print(f"{count} files in {args.cache} (licences: {args.cache / 'ATTRIBUTION.tsv'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
