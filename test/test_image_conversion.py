"""Image / CompressedImage -> RGB conversion: every encoding, padded rows, and every refusal."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from occrobnet_ros.ros.image_conversion import (
    MAX_SIDE,
    REASONS,
    ImageConversionError,
    compressed_to_rgb,
    image_to_rgb,
    rgb_to_compressed_msg,
    rgb_to_image_msg,
)

H, W = 6, 8


def _rgb(seed: int = 0, height: int = H, width: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _smooth_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    """A gradient image: JPEG keeps it within a few grey levels."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([4 * x, 5 * y, 2 * (x + y)], axis=-1).clip(0, 255).astype(np.uint8)


def _msg(pixels: np.ndarray, encoding: str, pad: int = 0, big_endian: bool = False) -> Image:
    """An Image holding ``pixels`` (rows of bytes), each row followed by ``pad`` junk bytes."""
    height = pixels.shape[0]
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2" if big_endian else "<u2")
    rows = pixels.reshape(height, -1).view(np.uint8).reshape(height, -1)
    junk = np.full((height, pad), 0xAB, np.uint8)
    data = np.concatenate([rows, junk], axis=1)
    msg = Image(height=height, width=pixels.shape[1], encoding=encoding)
    msg.is_bigendian = int(big_endian)
    msg.step = data.shape[1]
    msg.data = data.tobytes()
    return msg


def _reason(call, *args) -> str:
    with pytest.raises(ImageConversionError) as caught:
        call(*args)
    assert caught.value.reason in REASONS
    assert str(caught.value)  # a short text for the throttled log line
    return caught.value.reason


@pytest.mark.parametrize("pad", [0, 5])
@pytest.mark.parametrize(
    "encoding, order",
    [("rgb8", [0, 1, 2]), ("bgr8", [2, 1, 0]), ("rgba8", [0, 1, 2, None]),
     ("bgra8", [2, 1, 0, None])],
)  # fmt: skip
def test_colour_encodings_give_the_reference_rgb(encoding, order, pad):
    rgb = _rgb()
    alpha = np.full((H, W), 77, np.uint8)
    pixels = np.stack([alpha if c is None else rgb[..., c] for c in order], axis=-1)
    out = image_to_rgb(_msg(pixels, encoding, pad))
    assert out.dtype == np.uint8 and out.shape == (H, W, 3)
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize(
    "encoding, order",
    [
        ("rgb16", [0, 1, 2]),
        ("bgr16", [2, 1, 0]),
        ("rgba16", [0, 1, 2, 0]),
        ("bgra16", [2, 1, 0, 0]),
    ],
)
@pytest.mark.parametrize("big_endian", [False, True])
def test_16_bit_colour_keeps_the_high_byte(encoding, order, big_endian):
    wide = np.random.default_rng(1).integers(0, 65536, (H, W, 3), dtype=np.uint16)
    pixels = np.stack([wide[..., c] for c in order], axis=-1)
    out = image_to_rgb(_msg(pixels, encoding, pad=2, big_endian=big_endian))
    np.testing.assert_array_equal(out, (wide >> 8).astype(np.uint8))


def test_rgb8_is_a_read_only_view_of_the_message_data():
    msg = _msg(_rgb(), "rgb8", pad=3)
    out = image_to_rgb(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
    assert not out.flags.writeable


@pytest.mark.parametrize("pad", [0, 3])
def test_mono8_becomes_grey_rgb(pad):
    grey = _rgb()[..., 0]
    out = image_to_rgb(_msg(grey[..., None], "mono8", pad))
    np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, axis=-1))


@pytest.mark.parametrize("pad", [0, 1])
def test_mono16_big_and_little_endian_agree_and_scale_by_256(pad):
    wide = np.random.default_rng(2).integers(0, 65536, (H, W, 1), dtype=np.uint16)
    little = image_to_rgb(_msg(wide, "mono16", pad, big_endian=False))
    big = image_to_rgb(_msg(wide, "mono16", pad, big_endian=True))
    np.testing.assert_array_equal(little, big)
    np.testing.assert_array_equal(little[..., 1], (wide[..., 0] >> 8).astype(np.uint8))


def _uyvy(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Pack [H, W] luma and [H, W/2] chroma as UYVY bytes [H, W, 2]."""
    packed = np.empty(y.shape + (2,), np.uint8)
    packed[:, 0::2, 0], packed[:, 1::2, 0] = u, v
    packed[..., 1] = y
    return packed


@pytest.mark.parametrize("pad", [0, 6])
def test_yuv422_is_uyvy_and_yuyv_variants_match_opencv(pad):
    rng = np.random.default_rng(3)
    y = rng.integers(16, 236, (H, W), dtype=np.uint8)
    u, v = rng.integers(16, 241, (2, H, W // 2), dtype=np.uint8)
    uyvy = _uyvy(y, u, v)
    yuyv = uyvy[..., ::-1].copy()  # the same samples, luma first
    expected = cv2.cvtColor(uyvy, cv2.COLOR_YUV2RGB_UYVY)
    for encoding, packed in [("uyvy", uyvy), ("yuv422", uyvy), ("yuyv", yuyv),
                             ("yuv422_yuy2", yuyv)]:  # fmt: skip
        np.testing.assert_array_equal(image_to_rgb(_msg(packed, encoding, pad)), expected)


def test_yuv422_with_neutral_chroma_is_grey():
    y = np.arange(H * W, dtype=np.uint8).reshape(H, W) + 60
    neutral = np.full((H, W // 2), 128, np.uint8)
    out = image_to_rgb(_msg(_uyvy(y, neutral, neutral), "yuv422"))
    assert np.ptp(out.astype(int), axis=-1).max() <= 1  # R == G == B
    assert np.all(np.diff(out[..., 1].astype(int).ravel()) >= 0)  # brightness follows luma


def _mosaic(colour: tuple[int, int, int], pattern: str, height: int, width: int) -> np.ndarray:
    """A flat-colour Bayer mosaic; ``pattern`` names the top-left 2x2 cell row by row."""
    value = dict(zip("rgb", colour))
    mosaic = np.zeros((height, width), np.uint16)
    for k, channel in enumerate(pattern):
        mosaic[k // 2 :: 2, k % 2 :: 2] = value[channel]
    return mosaic


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
@pytest.mark.parametrize("bits, pad", [(8, 0), (8, 4), (16, 0), (16, 2)])
def test_bayer_patterns_demosaic_to_the_right_colour(pattern, bits, pad):
    colour = (200, 100, 30)  # all three differ, so a wrong pattern gives a wrong colour
    mosaic = _mosaic(colour, pattern, H, W)
    if bits == 8:
        pixels = mosaic.astype(np.uint8)[..., None]
    else:
        pixels = (mosaic << 8 | 0x5A)[..., None]  # the low byte must not matter
    out = image_to_rgb(_msg(pixels, f"bayer_{pattern}{bits}", pad, big_endian=bits == 16))
    np.testing.assert_array_equal(out, np.broadcast_to(colour, (H, W, 3)))


def test_bayer_matches_opencv_on_a_textured_mosaic():
    mosaic = _rgb(4)[..., 0]
    out = image_to_rgb(_msg(mosaic[..., None], "bayer_grbg8", pad=1))
    np.testing.assert_array_equal(out, cv2.cvtColor(mosaic, cv2.COLOR_BayerGRBG2RGB))


def test_encoding_names_ignore_case_and_spaces():
    rgb = _rgb()
    np.testing.assert_array_equal(image_to_rgb(_msg(rgb, " RGB8 ")), rgb)


@pytest.mark.parametrize(
    "encoding, reason",
    [("nonsense", "unknown_encoding"), ("", "unknown_encoding"),
     ("16UC1", "depth_encoding"), ("32FC1", "depth_encoding"),
     ("8UC3", "unsupported_encoding"), ("nv12", "unsupported_encoding")],
)  # fmt: skip
def test_encodings_that_are_not_colour_images_are_refused(encoding, reason):
    msg = _msg(np.zeros((H, W, 4), np.uint8), "rgb8")
    msg.encoding = encoding
    assert _reason(image_to_rgb, msg) == reason


def test_depth_error_says_so():
    msg = _msg(np.zeros((H, W, 2), np.uint8), "16UC1")
    with pytest.raises(ImageConversionError, match="depth image"):
        image_to_rgb(msg)


def test_bad_geometry_is_refused_with_its_reason():
    good = _msg(_rgb(), "rgb8")
    short_step = _msg(_rgb(), "rgb8")
    short_step.step = W * 3 - 1
    assert _reason(image_to_rgb, short_step) == "step_mismatch"

    truncated = _msg(_rgb(), "rgb8")
    truncated.data = bytes(good.data)[:-1]
    assert _reason(image_to_rgb, truncated) == "size_mismatch"

    padded_but_short = _msg(_rgb(), "rgb8")
    padded_but_short.step = W * 3 + 4  # claims padding the data does not have
    assert _reason(image_to_rgb, padded_but_short) == "size_mismatch"

    for width, height in [(0, H), (W, 0)]:
        empty = Image(width=width, height=height, encoding="rgb8", step=width * 3)
        assert _reason(image_to_rgb, empty) == "zero_size"

    huge = Image(width=MAX_SIDE + 1, height=1, encoding="mono8", step=MAX_SIDE + 1)
    assert _reason(image_to_rgb, huge) == "too_large"
    assert _reason(lambda m: image_to_rgb(m, max_side=W - 1), good) == "too_large"
    assert _reason(lambda m: image_to_rgb(m, max_pixels=H * W - 1), good) == "too_large"

    odd = _msg(np.zeros((H, W - 1, 2), np.uint8), "yuv422")
    assert _reason(image_to_rgb, odd) == "bad_dimensions"


def test_longer_data_than_needed_is_accepted():
    rgb = _rgb()
    msg = _msg(rgb, "rgb8")
    msg.data = bytes(msg.data) + b"\x00" * 7
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)


def test_rgb_to_image_msg_round_trips_and_keeps_the_header():
    rgb = _rgb(5, 7, 9)
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = rgb_to_image_msg(rgb[:, ::-1], header)  # a non-contiguous input
    assert (msg.encoding, msg.width, msg.height, msg.step) == ("rgb8", 9, 7, 27)
    assert msg.header.frame_id == "camera_optical" and msg.header.stamp.nanosec == 345
    np.testing.assert_array_equal(image_to_rgb(msg), rgb[:, ::-1])


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
    ],
)
def test_rgb_to_msgs_refuse_arrays_that_are_not_rgb(bad):
    assert _reason(rgb_to_image_msg, bad) == "bad_array"
    assert _reason(rgb_to_compressed_msg, bad) == "bad_array"


def test_png_round_trip_is_exact():
    rgb = _rgb(6, 20, 30)
    msg = rgb_to_compressed_msg(rgb, fmt="png")
    assert msg.format == "rgb8; png compressed bgr8"
    np.testing.assert_array_equal(compressed_to_rgb(msg), rgb)


def test_jpeg_round_trip_is_close():
    rgb = _smooth_rgb()
    msg = rgb_to_compressed_msg(rgb, Header(frame_id="cam"), fmt="jpeg", quality=95)
    assert msg.format == "rgb8; jpeg compressed bgr8" and msg.header.frame_id == "cam"
    out = compressed_to_rgb(msg)
    assert out.shape == rgb.shape
    assert np.abs(out.astype(int) - rgb).mean() < 2.0


def _compressed(pixels: np.ndarray, fmt: str, ext: str = ".png") -> CompressedImage:
    ok, encoded = cv2.imencode(ext, pixels)
    assert ok
    return CompressedImage(format=fmt, data=encoded.tobytes())


@pytest.mark.parametrize("fmt", ["png", "bgr8; compressed png", "bgr8; png compressed bgr8",
                                 "rgb8; png compressed bgr8", ""])  # fmt: skip
def test_compressed_bgr_pixels_become_rgb(fmt):
    rgb = _rgb(7)
    msg = _compressed(np.ascontiguousarray(rgb[..., ::-1]), fmt)
    np.testing.assert_array_equal(compressed_to_rgb(msg), rgb)


def test_compressed_rgb_order_is_honoured():
    rgb = _rgb(8)
    msg = _compressed(rgb, "rgb8; png compressed rgb8")  # stored in RGB order as it says
    np.testing.assert_array_equal(compressed_to_rgb(msg), rgb)


def test_compressed_mono_alpha_16_bit_and_bayer():
    grey = _rgb(9)[..., 0]
    np.testing.assert_array_equal(
        compressed_to_rgb(_compressed(grey, "mono8; png compressed ")),
        np.repeat(grey[..., None], 3, axis=-1),
    )
    rgb = _rgb(10)
    bgra = np.concatenate([rgb[..., ::-1], np.full((H, W, 1), 9, np.uint8)], axis=-1)
    np.testing.assert_array_equal(compressed_to_rgb(_compressed(bgra, "bgra8; png")), rgb)
    wide = rgb[..., ::-1].astype(np.uint16) << 8 | 0xFF
    out16 = compressed_to_rgb(_compressed(wide, "bgr16; png compressed bgr16"))
    np.testing.assert_array_equal(out16, rgb)
    mosaic = _mosaic((10, 20, 30), "gbrg", H, W).astype(np.uint8)
    out = compressed_to_rgb(_compressed(mosaic, "bayer_gbrg8; png compressed "))
    np.testing.assert_array_equal(out, np.broadcast_to((10, 20, 30), (H, W, 3)))
    not_bayer = compressed_to_rgb(_compressed(mosaic, "gbrg8; png compressed "))
    np.testing.assert_array_equal(not_bayer[..., 0], mosaic)  # an unknown name: grey


def test_bad_compressed_data_is_refused_with_its_reason():
    assert _reason(compressed_to_rgb, CompressedImage(format="jpeg")) == "decode_failed"
    garbage = CompressedImage(format="jpeg", data=b"not an image at all" * 10)
    assert _reason(compressed_to_rgb, garbage) == "decode_failed"
    jpeg = rgb_to_compressed_msg(_smooth_rgb())
    truncated = CompressedImage(format=jpeg.format, data=bytes(jpeg.data)[:100])
    assert _reason(compressed_to_rgb, truncated) == "decode_failed"
    depth = _compressed(np.zeros((H, W), np.uint16), "16UC1; compressedDepth png")
    assert _reason(compressed_to_rgb, depth) == "depth_encoding"


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_compressed_headers_declaring_huge_images_are_refused_before_decoding(fmt):
    msg = rgb_to_compressed_msg(_smooth_rgb(16, 16), fmt=fmt)
    data = bytearray(msg.data)
    if fmt == "png":
        data[16:20] = (MAX_SIDE + 1).to_bytes(4, "big")  # IHDR width
    else:
        sof = data.find(b"\xff\xc0")
        data[sof + 7 : sof + 9] = (MAX_SIDE + 1).to_bytes(2, "big")  # SOF0 width
    assert _reason(compressed_to_rgb, CompressedImage(format=fmt, data=bytes(data))) == "too_large"
    assert _reason(lambda m: compressed_to_rgb(m, max_side=15), msg) == "too_large"


# Bytes per pixel of the encodings the fuzzer favours (0: not a colour image).
_FUZZ_BPP = {
    "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "rgb16": 6, "bgr16": 6, "rgba16": 8,
    "bgra16": 8, "mono8": 1, "mono16": 2, "yuv422": 2, "uyvy": 2, "yuyv": 2, "yuv422_yuy2": 2,
    "bayer_rggb8": 1, "bayer_bggr16": 2, "bayer_gbrg8": 1, "bayer_grbg16": 2,
    "16UC1": 0, "32FC1": 0, "8UC3": 0, "nv21": 0, "": 0,
}  # fmt: skip
_HUGE = st.integers(0, 2**32 - 1)


@st.composite
def _fuzzed_images(draw) -> Image:
    """Mostly nearly-consistent messages (so conversions succeed too), sometimes wild ones."""
    wild = [draw(st.integers(0, 4)) == 4 for _ in range(5)]  # each field wild 1 time in 5
    encoding = draw(st.text(max_size=12) if wild[0] else st.sampled_from(sorted(_FUZZ_BPP)))
    width = draw(_HUGE if wild[1] else st.integers(1, 16))
    height = draw(_HUGE if wild[2] else st.integers(1, 16))
    row_bytes = width * max(_FUZZ_BPP.get(encoding, 1), 1)
    step = draw(_HUGE if wild[3] else st.integers(0, 8).map(lambda pad: row_bytes + pad))
    size = min(step * height, 3000)
    length = draw(st.integers(0, 3000) if wild[4] else st.integers(size, size + 2))
    seed = draw(st.integers(0, 2**32 - 1))
    data = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    return Image(
        width=width,
        height=height,
        step=min(step, 2**32 - 1),
        encoding=encoding,
        is_bigendian=draw(st.integers(0, 1)),
        data=data,
    )


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(msg=_fuzzed_images())
def test_fuzzed_images_only_ever_raise_image_conversion_error(msg):
    try:
        out = image_to_rgb(msg)
    except ImageConversionError as error:
        assert error.reason in REASONS
        return
    assert out.dtype == np.uint8 and out.shape == (msg.height, msg.width, 3)


_FUZZ_BASES = [
    b"",
    bytes(rgb_to_compressed_msg(_rgb(11), fmt="png").data),
    bytes(rgb_to_compressed_msg(_smooth_rgb(16, 24)).data),
    cv2.imencode(".png", _rgb(12)[..., 0])[1].tobytes(),  # one channel: mono or Bayer
]
_FUZZ_FORMATS = [
    "jpeg", "png", "rgb8; jpeg compressed bgr8", "32FC1; x", "rggb8; png", "bayer_bggr16; png",
    "mono16; png", "x; compressed rgb",
]  # fmt: skip


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    fmt=st.one_of(st.sampled_from(_FUZZ_FORMATS), st.text(max_size=20)),
    base=st.sampled_from(_FUZZ_BASES),
    cut=st.integers(0, 2000),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4),
    tail=st.binary(max_size=64),
)
def test_fuzzed_compressed_images_only_ever_raise_image_conversion_error(
    fmt, base, cut, flips, tail
):
    data = bytearray(base[:cut] + tail)
    for at, value in flips:
        if at < len(data):
            data[at] = value
    try:
        out = compressed_to_rgb(CompressedImage(format=fmt, data=bytes(data)))
    except ImageConversionError as error:
        assert error.reason in REASONS
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
