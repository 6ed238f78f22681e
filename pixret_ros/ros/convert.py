"""sensor_msgs <-> numpy conversion for the node, without cv_bridge and without DDS.

Why here and not cv_bridge: the PyPI cv_bridge is broken with numpy >= 2.3 and OpenCV 5 and
returns wrong data for 16UC1 (shared/ROS_ENV.md). Everything here is plain numpy + OpenCV, so
it is tested without starting ROS.

Conventions: arrays are indexed [row, col]; colour arrays for the engine are RGB uint8
(H, W, 3); `step` (bytes per row, padding allowed) and `is_bigendian` are always honoured.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import CompressedImage, Image

from pixret_ros.errors import ConversionError

if TYPE_CHECKING:
    from std_msgs.msg import Header

    from pixret_ros.engine.types import BoolMask, RGBImage

Pixels = npt.NDArray[np.uint8] | npt.NDArray[np.uint16]

#: Frames above this many pixels are refused unless the caller passes another limit.
DEFAULT_MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class _Layout:
    """How one encoding lays out a pixel: dtype of a channel and channels per pixel."""

    dtype: type[np.uint8 | np.uint16]
    channels: int

    @property
    def bytes_per_pixel(self) -> int:
        return np.dtype(self.dtype).itemsize * self.channels


_U8, _U16 = np.uint8, np.uint16
# yuv422 (= uyvy) and yuv422_yuy2 (= yuyv) pack 2 pixels into 4 bytes: 2 bytes per pixel.
_LAYOUTS: dict[str, _Layout] = {
    "rgb8": _Layout(_U8, 3),
    "bgr8": _Layout(_U8, 3),
    "rgba8": _Layout(_U8, 4),
    "bgra8": _Layout(_U8, 4),
    "mono8": _Layout(_U8, 1),
    "8UC1": _Layout(_U8, 1),
    "mono16": _Layout(_U16, 1),
    "16UC1": _Layout(_U16, 1),
    "yuv422": _Layout(_U8, 2),
    "uyvy": _Layout(_U8, 2),
    "yuv422_yuy2": _Layout(_U8, 2),
    "yuyv": _Layout(_U8, 2),
}
_TO_RGB: dict[str, int] = {
    "bgr8": cv2.COLOR_BGR2RGB,
    "rgba8": cv2.COLOR_RGBA2RGB,
    "bgra8": cv2.COLOR_BGRA2RGB,
    "mono8": cv2.COLOR_GRAY2RGB,
    "8UC1": cv2.COLOR_GRAY2RGB,
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "uyvy": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
    "yuyv": cv2.COLOR_YUV2RGB_YUY2,
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_LAYOUTS)
_MASK_ENCODINGS = ("mono8", "8UC1", "mono16", "16UC1")


def _layout(encoding: str) -> _Layout:
    layout = _LAYOUTS.get(encoding)
    if layout is None:
        raise ConversionError(
            f"unsupported image encoding {encoding!r}; publish one of "
            f"{', '.join(SUPPORTED_ENCODINGS)} (e.g. convert with cv2.cvtColor to rgb8)"
        )
    return layout


def check_size(width: int, height: int, max_pixels: int, what: str = "image") -> None:
    """Refuse empty images and images above `max_pixels` before any large allocation."""
    if width <= 0 or height <= 0:
        raise ConversionError(f"{what} is empty ({width}x{height}); send at least 1x1 pixels")
    if width * height > max_pixels:
        raise ConversionError(
            f"{what} of {width}x{height} = {width * height} pixels is larger than "
            f"max_image_pixels={max_pixels}; downscale it or raise the max_image_pixels parameter"
        )


def image_to_array(msg: Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> Pixels:
    """The pixels of `msg` as (H, W, C) in the encoding's own channel order, native byte order.

    Honours `step` (row padding) and `is_bigendian`; checks that `data` holds exactly
    `step * height` bytes, so a header that promises more than the data holds is refused.
    """
    layout = _layout(msg.encoding)
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    check_size(width, height, max_pixels)
    if layout.channels == 2 and width % 2:
        raise ConversionError(f"{msg.encoding} packs 2 pixels in 4 bytes: width {width} is odd")
    row_bytes = width * layout.bytes_per_pixel
    if step < row_bytes:
        raise ConversionError(
            f"{msg.encoding} image {width}x{height}: step {step} is smaller than "
            f"width * {layout.bytes_per_pixel} bytes = {row_bytes}; set step to the bytes per row"
        )
    if len(msg.data) != step * height:
        raise ConversionError(
            f"{msg.encoding} image {width}x{height}, step {step}: data holds {len(msg.data)} "
            f"bytes but step * height = {step * height}; send the whole image"
        )
    dtype = np.dtype(layout.dtype).newbyteorder(">" if msg.is_bigendian else "<")
    itemsize = dtype.itemsize
    view: Pixels = np.ndarray(
        (height, width, layout.channels),
        dtype=dtype,
        buffer=memoryview(msg.data).cast("B"),
        strides=(step, itemsize * layout.channels, itemsize),
    )
    return np.ascontiguousarray(view, dtype=np.dtype(layout.dtype))


def image_to_rgb(msg: Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> RGBImage:
    """An engine frame (RGB uint8, (H, W, 3)) from any supported `sensor_msgs/Image`.

    16-bit mono images are scaled to 8 bits by dropping the low byte (value // 256), as
    cv_bridge does for mono16 -> mono8, so a full-range 16-bit camera keeps its contrast.
    """
    raw = image_to_array(msg, max_pixels)
    encoding = msg.encoding
    if raw.dtype == np.uint16:
        pixels = (raw >> 8).astype(np.uint8)
        encoding = "mono8"
    else:
        pixels = raw.astype(np.uint8, copy=False)
    if encoding == "rgb8":
        return pixels
    code = _TO_RGB[encoding]
    return np.asarray(cv2.cvtColor(pixels, code), dtype=np.uint8).reshape(*pixels.shape[:2], 3)


def mask_from_image(msg: Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> BoolMask:
    """A registration mask (bool (H, W), True = object) from a mono8 (or 16-bit mono) image."""
    if msg.encoding not in _MASK_ENCODINGS:
        raise ConversionError(
            f"mask encoding {msg.encoding!r} is not supported; send masks as mono8 "
            "(0 = background, nonzero = object)"
        )
    return np.asarray(image_to_array(msg, max_pixels)[:, :, 0] != 0)


def to_image_msg(
    pixels: npt.NDArray[np.generic], encoding: str, header: Header | None = None
) -> Image:
    """A `sensor_msgs/Image` holding `pixels` ((H, W) or (H, W, C), dtype of the encoding).

    Used for the node's outputs (mono16 label mask, rgb8 debug overlay) and by tests to
    build inputs of every encoding; rows are packed (step = width * bytes per pixel).
    """
    layout = _layout(encoding)
    array = pixels if pixels.ndim == 3 else pixels[:, :, np.newaxis]
    if array.dtype != layout.dtype or array.shape[2] != layout.channels:
        raise ConversionError(
            f"{encoding} needs {layout.channels} channel(s) of {np.dtype(layout.dtype).name}, "
            f"got an array of shape {pixels.shape} and dtype {pixels.dtype}"
        )
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(sys.byteorder == "big")
    msg.step = msg.width * layout.bytes_per_pixel
    msg.data = np.ascontiguousarray(array).tobytes()
    return msg


def _compressed_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header without decoding; None if not found."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + length
    return None


def compressed_to_rgb(msg: CompressedImage, max_pixels: int = DEFAULT_MAX_PIXELS) -> RGBImage:
    """An engine frame from a jpeg or png `CompressedImage` (image_transport format strings ok).

    The size is read from the file header first, so an oversized image is refused before
    OpenCV allocates it.
    """
    fmt = msg.format.lower()
    if fmt and not any(kind in fmt for kind in ("jpeg", "jpg", "png")):
        raise ConversionError(
            f"compressed format {msg.format!r} is not supported; send jpeg or png "
            "(image_transport 'compressed' does)"
        )
    data = bytes(msg.data)
    size = _compressed_size(data)
    if size is None:
        raise ConversionError(
            f"compressed image ({len(data)} bytes, format {msg.format!r}) is neither a png "
            "nor a jpeg file; check the publisher's format"
        )
    check_size(*size, max_pixels, what="compressed image")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConversionError(
            f"could not decode the {msg.format or 'compressed'} image ({len(data)} bytes); "
            "the data is corrupt or truncated"
        )
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def any_to_rgb(msg: Image | CompressedImage, max_pixels: int = DEFAULT_MAX_PIXELS) -> RGBImage:
    """An engine frame from whichever of the two camera messages arrived."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg, max_pixels)
    return image_to_rgb(msg, max_pixels)


def rgb_to_compressed(
    rgb: RGBImage, fmt: str = "jpeg", header: Header | None = None, quality: int = 90
) -> CompressedImage:
    """A `CompressedImage` (jpeg or png) of an RGB frame, format named as image_transport does."""
    if fmt not in ("jpeg", "png"):
        raise ConversionError(f"compressed format {fmt!r} is not supported; use 'jpeg' or 'png'")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpeg" else []
    ok, encoded = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", rgb[:, :, ::-1], params)
    if not ok:
        raise ConversionError(f"OpenCV could not encode a {rgb.shape} image as {fmt}")
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = f"rgb8; {fmt} compressed bgr8"
    msg.data = encoded.tobytes()
    return msg
