"""rclpy messages through the one image codec, both ways, on real photos and known pixels (no DDS).

The codec itself is tested on every encoding in test/io/test_image_codec.py.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from skimage import data
from std_msgs.msg import Header

from pixret_ros.io.image_codec import (
    SUPPORTED_ENCODINGS,
    ConversionError,
    compressed_to_rgb,
    image_to_array,
    image_to_rgb,
    mask_from_image,
)
from pixret_ros.ros.convert import any_to_rgb, rgb_to_compressed, to_image_msg


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo, odd-sized on purpose (row padding matters), RGB uint8."""
    return np.ascontiguousarray(data.astronaut()[100:341, 50:373])  # 241 x 323


def _padded(msg: Image, pad: int) -> Image:
    """The same image with `pad` garbage bytes at the end of every row."""
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    garbage = np.full((msg.height, pad), 0xAB, np.uint8)
    msg.data = np.hstack([rows, garbage]).tobytes()
    msg.step += pad
    return msg


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(a, b))


@pytest.mark.parametrize("pad", [0, 5])
@pytest.mark.parametrize(
    ("encoding", "from_rgb"),
    [
        ("rgb8", None),
        ("bgr8", cv2.COLOR_RGB2BGR),
        ("rgba8", cv2.COLOR_RGB2RGBA),
        ("bgra8", cv2.COLOR_RGB2BGRA),
    ],
)
def test_colour_encodings_round_trip_exactly(
    photo: np.ndarray, encoding: str, from_rgb: int | None, pad: int
) -> None:
    pixels = photo if from_rgb is None else cv2.cvtColor(photo, from_rgb)
    msg = _padded(to_image_msg(pixels, encoding), pad)
    assert np.array_equal(image_to_array(msg), pixels.reshape(msg.height, msg.width, -1))
    rgb = image_to_rgb(msg)
    assert rgb.dtype == np.uint8
    assert rgb.shape == photo.shape
    assert np.array_equal(rgb, photo)


def test_header_is_kept_and_step_is_packed(photo: np.ndarray) -> None:
    header = Header(frame_id="cam0")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = to_image_msg(photo, "rgb8", header)
    assert (msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec) == (
        "cam0",
        12,
        345,
    )
    assert (msg.width, msg.height, msg.step) == (323, 241, 323 * 3)
    assert len(msg.data) == msg.step * msg.height


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8_becomes_grey_rgb(encoding: str) -> None:
    grey = data.camera()[::4, ::4]
    rgb = image_to_rgb(_padded(to_image_msg(grey, encoding), 3))
    assert rgb.shape == (*grey.shape, 3)
    for channel in range(3):
        assert np.array_equal(rgb[:, :, channel], grey)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
@pytest.mark.parametrize("bigendian", [False, True])
def test_mono16_respects_byte_order_and_scales_to_8_bits(encoding: str, bigendian: bool) -> None:
    values = np.array([[0x0000, 0x1234, 0xFF00], [0x00FF, 0x8001, 0xFFFF]], np.uint16)
    msg = Image(encoding=encoding, height=2, width=3, step=3 * 2 + 2)  # 2 padding bytes per row
    msg.is_bigendian = int(bigendian)
    rows = values.astype(">u2" if bigendian else "<u2").view(np.uint8).reshape(2, 6)
    msg.data = np.hstack([rows, np.zeros((2, 2), np.uint8)]).tobytes()
    assert np.array_equal(image_to_array(msg)[:, :, 0], values)
    rgb = image_to_rgb(msg)
    expected = np.array([[0x00, 0x12, 0xFF], [0x00, 0x80, 0xFF]], np.uint8)
    assert np.array_equal(rgb[:, :, 1], expected)


def test_mono16_output_round_trips() -> None:
    labels = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    msg = to_image_msg(labels, "mono16")
    assert (msg.encoding, msg.step, msg.is_bigendian) == ("mono16", 8, 0)
    assert np.array_equal(image_to_array(msg)[:, :, 0], labels)


@pytest.mark.parametrize(
    ("encoding", "order"),
    [("yuv422", "uyvy"), ("uyvy", "uyvy"), ("yuv422_yuy2", "yuyv"), ("yuyv", "yuyv")],
)
def test_yuv422_known_values(encoding: str, order: str) -> None:
    # BT.601 limited range: white Y=235, black Y=16, pure red Y=81 Cb=90 Cr=240.
    pixels = {"white": (235, 128, 128), "black": (16, 128, 128), "red": (81, 90, 240)}
    expected = {"white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0)}
    row = []
    for y, u, v in pixels.values():
        row += [u, y, v, y] if order == "uyvy" else [y, u, y, v]
    msg = Image(encoding=encoding, height=1, width=6, step=12)
    msg.data = bytes(row)
    rgb = image_to_rgb(msg)
    for i, name in enumerate(pixels):
        for col in (2 * i, 2 * i + 1):
            assert np.abs(rgb[0, col].astype(int) - expected[name]).max() <= 2, (name, rgb[0, col])


def test_yuv422_photo_round_trip(photo: np.ndarray) -> None:
    even = photo[:, :322]
    packed = cv2.cvtColor(even, cv2.COLOR_RGB2YUV_UYVY)
    msg = to_image_msg(packed, "yuv422")
    assert _psnr(image_to_rgb(msg), even) > 30


def test_masks_are_nonzero_pixels() -> None:
    mask = np.zeros((5, 7), np.uint8)
    mask[1:3, 2:6] = 255
    mask[4, 0] = 1
    got = mask_from_image(_padded(to_image_msg(mask, "mono8"), 1))
    assert got.dtype == np.bool_
    assert np.array_equal(got, mask != 0)


def test_mask_of_colour_encoding_is_refused(photo: np.ndarray) -> None:
    with pytest.raises(ConversionError, match=r"mask encoding 'rgb8'.*mono8"):
        mask_from_image(to_image_msg(photo, "rgb8"))


def test_unknown_encoding_names_it_and_the_fix() -> None:
    msg = Image(encoding="nv21", height=2, width=2, step=2)  # bayer_rggb8 is decoded now
    msg.data = bytes(4)
    with pytest.raises(ConversionError, match=r"'nv21'.*rgb8"):
        image_to_rgb(msg)
    assert "rgb8" in SUPPORTED_ENCODINGS


def test_header_promising_more_than_the_data_is_refused() -> None:
    msg = Image(encoding="mono8", height=20000, width=20000, step=20000)
    msg.data = bytes(1000)
    with pytest.raises(ConversionError, match=r"20000x20000.*max_image_pixels"):
        image_to_rgb(msg)
    with pytest.raises(ConversionError, match=r"data holds 1000 bytes but step \* height"):
        image_to_rgb(msg, max_pixels=20000 * 20000)


def test_step_smaller_than_a_row_is_refused() -> None:
    msg = Image(encoding="rgb8", height=2, width=4, step=8)
    msg.data = bytes(16)
    with pytest.raises(ConversionError, match=r"step 8 is smaller than width \* 3 bytes = 12"):
        image_to_rgb(msg)


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0)])
def test_empty_image_is_refused(width: int, height: int) -> None:
    msg = Image(encoding="rgb8", height=height, width=width, step=width * 3)
    with pytest.raises(ConversionError, match="empty"):
        image_to_rgb(msg)


def test_odd_width_yuv_is_refused() -> None:
    msg = Image(encoding="yuv422", height=1, width=3, step=6)
    msg.data = bytes(6)
    with pytest.raises(ConversionError, match="width 3 is odd"):
        image_to_rgb(msg)


def test_wrong_array_for_encoding_is_refused(photo: np.ndarray) -> None:
    with pytest.raises(ConversionError, match=r"mono16 needs 1 channel\(s\) of uint16"):
        to_image_msg(photo, "mono16")


def test_png_round_trip_is_exact(photo: np.ndarray) -> None:
    msg = rgb_to_compressed(photo, "png", Header(frame_id="f"))
    assert msg.format == "rgb8; png compressed bgr8"
    assert msg.header.frame_id == "f"
    assert np.array_equal(compressed_to_rgb(msg), photo)


def test_jpeg_round_trip_is_close(photo: np.ndarray) -> None:
    msg = rgb_to_compressed(photo, "jpeg", quality=95)
    assert msg.format == "rgb8; jpeg compressed bgr8"
    assert bytes(msg.data[:2]) == b"\xff\xd8"
    assert _psnr(compressed_to_rgb(msg), photo) > 30
    bare = CompressedImage(format="jpeg")  # plain format strings work too
    bare.data = msg.data
    assert compressed_to_rgb(bare).shape == photo.shape


def test_decoding_matches_opencv_reading_a_file(photo: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), photo[:, :, ::-1])
    msg = CompressedImage(format="jpeg")
    msg.data = path.read_bytes()
    from_file = cv2.imread(str(path))
    assert from_file is not None
    assert np.array_equal(compressed_to_rgb(msg), from_file[:, :, ::-1])


def test_oversized_compressed_is_refused_before_decoding(photo: np.ndarray) -> None:
    jpeg = rgb_to_compressed(photo, "jpeg")
    with pytest.raises(ConversionError, match=r"323x241 .*max_image_pixels=1000"):
        compressed_to_rgb(jpeg, max_pixels=1000)
    png = rgb_to_compressed(photo[:2, :2], "png")
    raw = bytearray(png.data)
    raw[16:24] = struct.pack(">II", 20000, 20000)  # a 'png bomb' header; refused unread
    png.data = bytes(raw)
    with pytest.raises(ConversionError, match=r"20000x20000"):
        compressed_to_rgb(png)


def test_corrupt_and_unknown_compressed_are_refused(photo: np.ndarray) -> None:
    jpeg = rgb_to_compressed(photo, "jpeg")
    jpeg.data = bytes(jpeg.data[:200])
    with pytest.raises(ConversionError, match="could not decode"):
        compressed_to_rgb(jpeg)
    webp = CompressedImage(format="webp")
    webp.data = b"RIFF0000WEBP"
    with pytest.raises(ConversionError, match=r"'webp' is not supported"):
        compressed_to_rgb(webp)
    garbage = CompressedImage(format="jpeg")
    garbage.data = b"not an image at all"
    with pytest.raises(ConversionError, match="neither a png nor a jpeg"):
        compressed_to_rgb(garbage)


def test_any_to_rgb_picks_the_decoder_of_the_message(photo: np.ndarray) -> None:
    png = rgb_to_compressed(photo, "png")
    assert np.array_equal(any_to_rgb(png), photo)
    assert np.array_equal(any_to_rgb(to_image_msg(photo[:, :, ::-1].copy(), "bgr8")), photo)
