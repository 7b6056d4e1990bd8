"""Hypothesis strategies for what a broken camera driver or a hostile network can send.

Each message is mostly plausible, with each field wild about one time in five, so that both the
accepting and the refusing paths of the node's input code are exercised:

- ``Image``: known, generic, depth and random encodings; sizes up to 2^32 - 1; steps shorter
  or longer than a row; data truncated, exact, overlong or empty;
- ``CompressedImage``: real PNG and JPEG files cut short, with flipped bytes and junk appended,
  random ``format`` strings, and headers that declare huge images;
- ``CameraInfo``: NaN, infinite, zero, negative and huge intrinsics, non-pinhole matrices,
  random sizes, regions of interest and binning (0 included).

The payload of a message is at most :data:`MAX_DATA` bytes, so a live node can be sent
thousands of them quickly; huge *declared* sizes do the damage.
"""

from dataclasses import dataclass

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from hypothesis import strategies as st
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

MAX_DATA = 4096  # bytes of payload at most
UINT32 = 2**32 - 1
# Encodings the node converts (with their bytes per pixel) and a few it must refuse.
ENCODINGS = {
    "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "rgb16": 6, "bgr16": 6, "rgba16": 8,
    "bgra16": 8, "mono8": 1, "mono16": 2, "yuv422": 2, "uyvy": 2, "yuyv": 2, "yuv422_yuy2": 2,
    "bayer_rggb8": 1, "bayer_bggr8": 1, "bayer_gbrg16": 2, "bayer_grbg16": 2,
    "16UC1": 2, "32FC1": 4, "8UC3": 3, "64FC4": 32, "nv12": 1, "RGB8 ": 3, "": 1,
}  # fmt: skip
FORMATS = [
    "jpeg", "png", "rgb8; jpeg compressed bgr8", "bgr8; png compressed rgb8", "mono8; png",
    "bayer_rggb8; png", "16UC1; compressedDepth", "32FC1; compressedDepth png", "", "tiff",
]  # fmt: skip
BAD_FLOATS = [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, -500.0, 1e308, 5e-324]


@dataclass
class HostileFrame:
    """One image and, usually, its CameraInfo, as a camera driver would publish them.

    ``stamp`` None means "stamp it now" (the live fuzz fills it in when publishing); the
    CameraInfo's stamp is the image's plus ``info_offset_ns``, so a non-zero offset is a
    CameraInfo that pairs with nothing.
    """

    image: Image | CompressedImage
    info: CameraInfo | None
    stamp: Time | None = None
    info_offset_ns: int = 0

    def describe(self) -> str:
        """A one-line summary for reports (never the payload)."""
        image = self.image
        if isinstance(image, CompressedImage):
            text = f"CompressedImage(format={image.format[:24]!r}, {len(image.data)} bytes)"
        else:
            text = (
                f"Image({image.encoding[:16]!r}, {image.width}x{image.height}, "
                f"step={image.step}, {len(image.data)} bytes)"
            )
        if self.info is not None:
            k = ", ".join(f"{v:.3g}" for v in self.info.k)
            text += f" + CameraInfo({self.info.width}x{self.info.height}, k=[{k}])"
        return text


def _payload(length: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()


def _wild(draw) -> bool:
    return draw(st.integers(0, 4)) == 4


@st.composite
def images(draw) -> Image:
    """A ``sensor_msgs/Image``, consistent or not (see the module docstring)."""
    encoding = draw(st.text(max_size=12) if _wild(draw) else st.sampled_from(sorted(ENCODINGS)))
    width = draw(st.integers(0, UINT32) if _wild(draw) else st.integers(1, 24))
    height = draw(st.integers(0, UINT32) if _wild(draw) else st.integers(1, 24))
    row_bytes = width * ENCODINGS.get(encoding, 1)
    step = draw(st.integers(0, UINT32) if _wild(draw) else st.integers(0, 8))
    step = step if step > 8 else min(row_bytes + step, UINT32)
    exact = min(step * height, MAX_DATA)
    length = draw(
        st.integers(0, MAX_DATA)
        if _wild(draw)
        else st.sampled_from([exact, min(exact + 3, MAX_DATA)])
    )
    return Image(
        width=width,
        height=height,
        step=step,
        encoding=encoding,
        is_bigendian=draw(st.sampled_from([0, 1, 255])),
        data=_payload(length, draw(st.integers(0, UINT32))),
    )


def _encoded_bases() -> list[bytes]:
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (12, 16), dtype=np.uint8)
    wide = rng.integers(0, 65536, (12, 16), dtype=np.uint16)
    encoded = [
        cv2.imencode(".png", colour)[1],
        cv2.imencode(".jpg", colour)[1],
        cv2.imencode(".png", grey)[1],
        cv2.imencode(".png", wide)[1],
        cv2.imencode(".png", np.dstack([colour, grey]))[1],
    ]
    return [b.tobytes() for b in encoded]


BASES = _encoded_bases()


def _declare_huge(data: bytes, width: int, height: int) -> bytes:
    """``data`` with its PNG IHDR or JPEG SOF0 size fields set to ``width x height``."""
    if data.startswith(b"\x89PNG"):
        return data[:16] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + data[24:]
    at = data.find(b"\xff\xc0")
    if at < 0:
        return data
    size = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return data[: at + 5] + size + data[at + 9 :]


@st.composite
def compressed_images(draw) -> CompressedImage:
    """A ``sensor_msgs/CompressedImage``: a real file, damaged or not."""
    fmt = draw(st.text(max_size=24) if _wild(draw) else st.sampled_from(FORMATS))
    data = draw(st.sampled_from(BASES))
    if _wild(draw):
        side = st.integers(0, 0xFFFF)
        data = _declare_huge(data, draw(side), draw(side))
    if _wild(draw):
        data = data[: draw(st.integers(0, len(data)))]
    flips = draw(st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=3))
    buffer = bytearray(data + (draw(st.binary(max_size=32)) if _wild(draw) else b""))
    for at, value in flips:
        if at < len(buffer):
            buffer[at] = value
    return CompressedImage(format=fmt, data=bytes(buffer[:MAX_DATA]))


@st.composite
def camera_infos(draw, width: int = 16, height: int = 12) -> CameraInfo:
    """A ``sensor_msgs/CameraInfo`` for ``width x height`` images, right or wrong."""
    fx = draw(st.floats(1.0, 2000.0))
    k = [fx, 0.0, (width - 1) / 2, 0.0, fx, (height - 1) / 2, 0.0, 0.0, 1.0]
    if draw(st.booleans()):  # damage a few entries of k
        for index in draw(st.lists(st.integers(0, 8), max_size=3)):
            k[index] = draw(st.one_of(st.sampled_from(BAD_FLOATS), st.floats()))
    p = [*k[:3], 0.0, *k[3:6], 0.0, *k[6:], 0.0]
    # The image's size, the same view at half or double resolution (K is rescaled), or wild.
    scale = draw(st.sampled_from([1.0, 1.0, 0.5, 2.0]))
    width, height = (min(int(side * scale), UINT32) for side in (width, height))
    info = CameraInfo(
        width=draw(st.integers(0, UINT32)) if _wild(draw) else width,
        height=draw(st.integers(0, UINT32)) if _wild(draw) else height,
        distortion_model=draw(st.sampled_from(["plumb_bob", "", "equidistant"])),
        binning_x=draw(st.integers(0, UINT32) if _wild(draw) else st.integers(0, 2)),
        binning_y=draw(st.integers(0, UINT32) if _wild(draw) else st.integers(0, 2)),
    )
    info.k, info.p = k, p
    info.d = draw(st.lists(st.floats(allow_nan=True), max_size=5))
    if _wild(draw):
        roi = info.roi
        roi.x_offset, roi.y_offset, roi.width, roi.height = (
            draw(st.integers(0, UINT32)) for _ in range(4)
        )
    return info


@st.composite
def stamps(draw) -> Time | None:
    """None (stamp it now) four times in five; else any stamp a header can carry."""
    if not _wild(draw):
        return None
    return Time(sec=draw(st.integers(-(2**31), 2**31 - 1)), nanosec=draw(st.integers(0, UINT32)))


KINDS = {"raw": images, "compressed": compressed_images}


@st.composite
def frames(draw, kinds: tuple[str, ...] = ("raw", "compressed")) -> HostileFrame:
    """An image (``kinds``: raw Image, CompressedImage or both) with (usually) a CameraInfo,
    as a driver sends them."""
    image = draw(st.one_of(*(KINDS[kind]() for kind in kinds)))
    width, height = (image.width, image.height) if isinstance(image, Image) else (16, 12)
    info = None if _wild(draw) else draw(camera_infos(min(width, UINT32), min(height, UINT32)))
    offset = draw(st.integers(-(10**9), 10**9)) if _wild(draw) else 0
    image.header.frame_id = "camera_optical_frame"  # as drivers send it; wild: any text
    if _wild(draw):
        image.header.frame_id = draw(st.text(max_size=16))
    return HostileFrame(image=image, info=info, stamp=draw(stamps()), info_offset_ns=offset)
