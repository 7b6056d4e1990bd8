"""sensor_msgs Image / CompressedImage <-> RGB uint8 arrays, without cv_bridge.

The estimator takes one thing: an RGB uint8 array ``[H, W, 3]``. This module turns every colour
encoding a ROS camera driver publishes into that array, and refuses everything else with an
:class:`ImageConversionError` whose ``.reason`` is a stable code for diagnostics counters
(DESIGN.md section 5: a bad frame is logged, counted and skipped; the node keeps serving).

cv_bridge is deliberately not used, even where it is importable: this numpy/OpenCV path is the
one that is tested, it behaves the same with or without a ROS install, and the PyPI cv-bridge
is broken on numpy 2 (ENVIRONMENT.md). The raw path reads ``msg.data`` with ``np.frombuffer`` and
honours ``step`` with a strided view, so ``rgb8`` costs no copy at all and ``bgr8`` one
``cv2.cvtColor``. Results may be read-only views of ``msg.data``: copy before drawing on them.

16-bit encodings keep their high byte (``value >> 8``), read straight from the buffer in the
byte order ``is_bigendian`` names. Bayer mosaics are demosaiced with OpenCV's bilinear method
(16-bit mosaics are reduced to 8 bit first). ``yuv422`` is UYVY and ``yuv422_yuy2`` is YUYV, as
in sensor_msgs/image_encodings.hpp.
"""

import array
import re
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

# Larger images are refused before any allocation (a corrupt header must not exhaust memory).
MAX_SIDE = 16384
MAX_PIXELS = 1 << 28  # 256 Mpx, 16384 x 16384

# Every reason an ImageConversionError can carry, so diagnostics can pre-create counters.
REASONS = (
    "unknown_encoding",  # not an image encoding we know
    "unsupported_encoding",  # a ROS encoding we do not convert (nv12, generic 8UC3, ...)
    "depth_encoding",  # a depth image (16UC1, 32FC1, compressedDepth), not a colour image
    "bad_field",  # width / height / step / encoding of the wrong type
    "bad_data",  # data that is not a byte buffer
    "zero_size",
    "too_large",
    "bad_dimensions",  # dimensions the encoding cannot have (odd width for YUV 4:2:2)
    "step_mismatch",  # step < width * bytes per pixel
    "size_mismatch",  # len(data) < step * height
    "decode_failed",  # compressed data OpenCV cannot decode
    "bad_array",  # rgb_to_*_msg given something other than uint8 [H, W, 3]
)


class ImageConversionError(ValueError):
    """A message that cannot become an RGB image; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class _Encoding:
    """How one encoding is laid out in ``data`` and how its pixels become RGB."""

    channels: int
    bytes_per_channel: int
    to_rgb: Callable[[np.ndarray], np.ndarray]

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.bytes_per_channel


def _cvt(code: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda pixels: cv2.cvtColor(pixels, code)


def _identity(pixels: np.ndarray) -> np.ndarray:
    return pixels


def _gray(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(pixels[..., 0], cv2.COLOR_GRAY2RGB)


def _bayer(code: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda pixels: cv2.cvtColor(pixels[..., 0], code)


# OpenCV's Bayer names follow the pattern's second row; its RGGB-style aliases (used here) name
# the first two rows like ROS does, e.g. COLOR_BayerRGGB2RGB == COLOR_BayerBG2RGB.
_BAYER = {
    "rggb": cv2.COLOR_BayerRGGB2RGB,
    "bggr": cv2.COLOR_BayerBGGR2RGB,
    "gbrg": cv2.COLOR_BayerGBRG2RGB,
    "grbg": cv2.COLOR_BayerGRBG2RGB,
}

_ENCODINGS: dict[str, _Encoding] = {
    "mono8": _Encoding(1, 1, _gray),
    "mono16": _Encoding(1, 2, _gray),
    "rgb8": _Encoding(3, 1, _identity),
    "rgb16": _Encoding(3, 2, _identity),
    "bgr8": _Encoding(3, 1, _cvt(cv2.COLOR_BGR2RGB)),
    "bgr16": _Encoding(3, 2, _cvt(cv2.COLOR_BGR2RGB)),
    "rgba8": _Encoding(4, 1, _cvt(cv2.COLOR_RGBA2RGB)),
    "rgba16": _Encoding(4, 2, _cvt(cv2.COLOR_RGBA2RGB)),
    "bgra8": _Encoding(4, 1, _cvt(cv2.COLOR_BGRA2RGB)),
    "bgra16": _Encoding(4, 2, _cvt(cv2.COLOR_BGRA2RGB)),
    "uyvy": _Encoding(2, 1, _cvt(cv2.COLOR_YUV2RGB_UYVY)),
    "yuv422": _Encoding(2, 1, _cvt(cv2.COLOR_YUV2RGB_UYVY)),
    "yuyv": _Encoding(2, 1, _cvt(cv2.COLOR_YUV2RGB_YUYV)),
    "yuv422_yuy2": _Encoding(2, 1, _cvt(cv2.COLOR_YUV2RGB_YUYV)),
    **{f"bayer_{p}8": _Encoding(1, 1, _bayer(code)) for p, code in _BAYER.items()},
    **{f"bayer_{p}16": _Encoding(1, 2, _bayer(code)) for p, code in _BAYER.items()},
}
_PAIRED_PIXELS = ("uyvy", "yuv422", "yuyv", "yuv422_yuy2")  # two pixels share one U and V
_DEPTH = ("16uc1", "32fc1")  # REP 118 depth images
_GENERIC = re.compile(r"(8|16|32|64)(u|s|f)c\d*")  # OpenCV types: channel order unknown
_KNOWN_UNSUPPORTED = ("nv12", "nv21", "nv24")
_BAYER_NAME = re.compile(r"bayer_(rggb|bggr|gbrg|grbg)(8|16)")


def image_to_rgb(
    msg: Image, *, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` to an RGB uint8 array ``[H, W, 3]``.

    ``rgb8`` returns a zero-copy, read-only view of ``msg.data`` (strided when ``step`` pads the
    rows). Raises :class:`ImageConversionError` for anything that is not a valid colour image.
    """
    encoding = _lookup(msg.encoding)
    width, height, step = _int_field(msg.width), _int_field(msg.height), _int_field(msg.step)
    _check_size(width, height, max_side, max_pixels)
    if msg.encoding.strip().lower() in _PAIRED_PIXELS and width % 2:
        raise ImageConversionError("bad_dimensions", f"{msg.encoding} needs an even width")
    row_bytes = width * encoding.bytes_per_pixel
    if step < row_bytes:
        raise ImageConversionError(
            "step_mismatch", f"step {step} < width {width} x {encoding.bytes_per_pixel} bytes"
        )
    buffer = _byte_view(msg.data)
    if buffer.size < step * height:
        raise ImageConversionError(
            "size_mismatch", f"{buffer.size} data bytes < step {step} x height {height}"
        )
    rows = buffer[: step * height].reshape(height, step)[:, :row_bytes]
    pixels = rows.reshape(height, width, encoding.channels * encoding.bytes_per_channel)
    if encoding.bytes_per_channel == 2:
        pixels = _high_bytes(pixels, bool(msg.is_bigendian))
    rgb = encoding.to_rgb(pixels)
    if np.may_share_memory(rgb, buffer):
        rgb.flags.writeable = False  # a view of msg.data: writing to it would edit the message
    return rgb


def compressed_to_rgb(
    msg: CompressedImage, *, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG, ...) to an RGB uint8 array.

    ``format`` follows compressed_image_transport: ``"<encoding>; <codec> compressed <order>"``
    (e.g. ``"rgb8; jpeg compressed bgr8"``) or just ``"jpeg"``. The compressed pixels are in BGR
    order unless the part after ``;`` says ``rgb``; a one-channel image whose encoding is a
    Bayer pattern is demosaiced. compressedDepth (depth_image_transport) is refused.
    """
    fmt = msg.format if isinstance(msg.format, str) else ""
    source, _, compressed = (part.strip().lower() for part in fmt.partition(";"))
    if "depth" in compressed or source in _DEPTH:
        raise ImageConversionError("depth_encoding", f"'{fmt}' is a depth image, not colour")
    buffer = _byte_view(msg.data)
    declared = _declared_size(buffer)
    if declared is not None and _too_large(*declared, max_side, max_pixels):
        raise ImageConversionError("too_large", "header declares {}x{}".format(*declared))
    try:
        decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    except cv2.error:
        decoded = None
    if decoded is None or decoded.dtype not in (np.uint8, np.uint16) or decoded.size == 0:
        raise ImageConversionError("decode_failed", f"cannot decode {buffer.size} bytes '{fmt}'")
    _check_size(decoded.shape[1], decoded.shape[0], max_side, max_pixels)
    if decoded.dtype == np.uint16:
        decoded = (decoded >> 8).astype(np.uint8)
    pixels = decoded.reshape(decoded.shape[0], decoded.shape[1], -1)
    encoding = _decoded_encoding(pixels.shape[2], source, rgb_order="rgb" in compressed)
    return _ENCODINGS[encoding].to_rgb(pixels)


def rgb_to_image_msg(rgb: np.ndarray, header: Header | None = None) -> Image:
    """Build an ``rgb8`` ``sensor_msgs/Image`` from an RGB uint8 array ``[H, W, 3]``.

    ``data`` is filled with an ``array.array('B')`` holding a copy of the pixels: assigning the
    ndarray itself costs ~50 ms per VGA frame in rclpy's element checks (ENVIRONMENT.md), while
    an ``array.array`` of the right type code skips them (~1 ms).
    """
    _check_rgb_array(rgb)
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0)
    msg.step = rgb.shape[1] * 3
    msg.data = _byte_array(rgb)
    if header is not None:
        msg.header = header
    return msg


def rgb_to_compressed_msg(
    rgb: np.ndarray, header: Header | None = None, fmt: str = "jpeg", quality: int = 90
) -> CompressedImage:
    """Encode an RGB uint8 array ``[H, W, 3]`` as a JPEG or PNG ``sensor_msgs/CompressedImage``.

    ``format`` is written the way compressed_image_transport writes it
    (``"rgb8; jpeg compressed bgr8"``), so image_transport republishers decode it too.
    """
    _check_rgb_array(rgb)
    codec = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png"}.get(fmt.lower())
    if codec is None:
        raise ValueError(f"fmt must be 'jpeg' or 'png', not {fmt!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if codec == "jpeg" else []
    # imencode takes BGR, so the stored pixels are standard-colour JPEG / PNG ("compressed bgr8").
    ok, encoded = cv2.imencode(f".{codec}", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageConversionError("bad_array", f"OpenCV could not encode {codec}")
    msg = CompressedImage(format=f"rgb8; {codec} compressed bgr8")
    msg.data = _byte_array(encoded)
    if header is not None:
        msg.header = header
    return msg


def _lookup(name) -> _Encoding:
    """The layout of an encoding name, or the reason it cannot be converted."""
    if not isinstance(name, str):
        raise ImageConversionError("bad_field", f"encoding is {type(name).__name__}, not str")
    key = name.strip().lower()
    if key in _ENCODINGS:
        return _ENCODINGS[key]
    if key in _DEPTH:
        raise ImageConversionError("depth_encoding", f"{name} is a depth image, not colour")
    if _GENERIC.fullmatch(key):
        raise ImageConversionError(
            "unsupported_encoding", f"{name} is a generic type with no channel order"
        )
    if key in _KNOWN_UNSUPPORTED:
        raise ImageConversionError("unsupported_encoding", f"{name} is not supported")
    raise ImageConversionError("unknown_encoding", f"unknown encoding {name[:32]!r}")


def _int_field(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ImageConversionError("bad_field", f"{value!r} is not a non-negative integer")
    return int(value)


def _check_size(width: int, height: int, max_side: int, max_pixels: int) -> None:
    if width == 0 or height == 0:
        raise ImageConversionError("zero_size", f"image is {width}x{height}")
    if _too_large(width, height, max_side, max_pixels):
        raise ImageConversionError("too_large", f"image is {width}x{height}")


def _too_large(width: int, height: int, max_side: int, max_pixels: int) -> bool:
    return max(width, height) > max_side or width * height > max_pixels


def _byte_view(data) -> np.ndarray:
    """``data`` as a flat uint8 array, without a copy for any buffer (bytes, array, ndarray)."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        pass
    try:
        return np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
    except (TypeError, ValueError, OverflowError) as error:
        raise ImageConversionError("bad_data", f"data is not bytes: {error}") from None


def _high_bytes(pixels: np.ndarray, big_endian: bool) -> np.ndarray:
    """The high byte of each 16-bit channel: exactly ``value >> 8``, read in place."""
    return np.ascontiguousarray(pixels[..., 0 if big_endian else 1 :: 2])


def _decoded_encoding(channels: int, source: str, rgb_order: bool) -> str:
    """The encoding of what ``cv2.imdecode`` returned, given the ``format`` string's parts."""
    if channels == 1:
        bayer = _BAYER_NAME.fullmatch(source)
        return f"bayer_{bayer[1]}8" if bayer else "mono8"
    if channels in (3, 4):
        return ("rgb" if rgb_order else "bgr") + ("a" if channels == 4 else "") + "8"
    raise ImageConversionError("decode_failed", f"decoded image has {channels} channels")


def _declared_size(data: np.ndarray) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, read before decoding; None if not found."""
    head = data[:65536].tobytes()
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if not head.startswith(b"\xff\xd8"):
        return None
    # Walk the JPEG marker segments to the first start-of-frame (SOF0..SOF15 but DHT, JPG, DAC).
    at = 2
    while at + 9 <= len(head) and head[at] == 0xFF:
        marker, length = head[at + 1], int.from_bytes(head[at + 2 : at + 4], "big")
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(head[at + 7 : at + 9], "big"), int.from_bytes(
                head[at + 5 : at + 7], "big"
            )
        at += 2 + length
    return None


def _byte_array(values: np.ndarray) -> array.array:
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(values).data)
    return data


def _check_rgb_array(rgb) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3:
        raise ImageConversionError("bad_array", "expected a uint8 array [H, W, 3]")
    if rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageConversionError("bad_array", f"expected [H, W, 3], got {rgb.shape}")
