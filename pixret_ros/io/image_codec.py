"""The one image codec: sensor_msgs Image / CompressedImage fields <-> numpy, live and offline.

Why one: the node (rclpy messages) and the evaluator (rosbags messages read from bags) must
turn the same bytes into the same RGB frame, or offline numbers are not the node's numbers.
So every function here works on the plain message fields (`RawImage`, `CompressedData`),
which both kinds of message have, and nothing here imports ROS or cv_bridge (the PyPI
cv_bridge is broken with numpy >= 2.3 and OpenCV 5, shared/ROS_ENV.md).

The decoding rule per encoding, to RGB uint8 (H, W, 3):
- rgb8, bgr8, rgba8, bgra8: channels reordered, alpha dropped (exact);
- mono8, 8UC1: the grey value in all three channels;
- yuv422 (= uyvy), yuv422_yuy2 (= yuyv): OpenCV's BT.601 conversion; the width must be even;
- bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8: OpenCV's bilinear demosaicing;
- the 16-bit ones (mono16, 16UC1, rgb16, bgr16, rgba16, bgra16, bayer_*16): every sample is
  first cut to 8 bits by dropping its low byte (value >> 8, exact integer arithmetic, so a
  mono16 frame written as grey * 257 reads back as grey), then decoded as its 8-bit twin;
- `step` may pad rows (padding is ignored), `data` must hold exactly step * height bytes,
  `is_bigendian` is honoured; frames above `max_pixels` are refused before any allocation.
Compressed: png or jpeg only (format as image_transport writes it, or empty), decoded by
OpenCV straight to RGB; the size is read from the file header first.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.errors import PixretError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixret_ros.engine.types import BoolMask, RGBImage

Pixels = npt.NDArray[np.uint8] | npt.NDArray[np.uint16]

#: Frames above this many pixels are refused unless the caller passes another limit.
DEFAULT_MAX_PIXELS = 4096 * 4096


class ConversionError(PixretError):
    """A message could not be turned into an image: names the encoding or size and the fix."""


class RawImage(Protocol):
    """The fields of a sensor_msgs/Image, as rclpy and rosbags messages both carry them."""

    @property
    def encoding(self) -> str:
        """ROS encoding name, e.g. rgb8."""

    @property
    def height(self) -> int:
        """Rows."""

    @property
    def width(self) -> int:
        """Columns."""

    @property
    def step(self) -> int:
        """Bytes per row, padding included."""

    @property
    def is_bigendian(self) -> int:
        """1 where 16-bit samples are stored most significant byte first."""

    @property
    def data(self) -> object:
        """The pixels: bytes, an array.array (rclpy) or a numpy uint8 array (rosbags)."""


class CompressedData(Protocol):
    """The fields of a sensor_msgs/CompressedImage."""

    @property
    def format(self) -> str:
        """What the data is, e.g. `jpeg` or image_transport's `rgb8; jpeg compressed bgr8`."""

    @property
    def data(self) -> object:
        """The file bytes, as in `RawImage.data`."""


@dataclass(frozen=True)
class PackedImage:
    """Image fields ready to copy into a message of either kind (rows packed, native order).

    It is a `RawImage` itself, so it decodes without building a message.
    """

    encoding: str
    height: int
    width: int
    step: int
    is_bigendian: int
    data: bytes


def _mosaic(pattern: str) -> Callable[[RGBImage], npt.NDArray[np.uint8]]:
    """RGB -> one Bayer plane of `pattern` (e.g. 'rggb': row 0 R G, row 1 G B)."""
    channel = {"r": 0, "g": 1, "b": 2}

    def sample(rgb: RGBImage) -> npt.NDArray[np.uint8]:
        plane = np.empty(rgb.shape[:2], np.uint8)
        for i, colour in enumerate(pattern):
            row, col = divmod(i, 2)
            plane[row::2, col::2] = rgb[row::2, col::2, channel[colour]]
        return plane

    return sample


def _convert(code: int) -> Callable[[RGBImage], npt.NDArray[np.uint8]]:
    return lambda rgb: np.asarray(cv2.cvtColor(rgb, code), dtype=np.uint8)


@dataclass(frozen=True)
class _Layout:
    """One encoding: sample type, channels per pixel, and its 8-bit pixels <-> RGB."""

    dtype: type[np.uint8 | np.uint16]
    channels: int
    to_rgb: int | None  # OpenCV code from the 8-bit pixels to RGB; None: they are RGB
    from_rgb: Callable[[RGBImage], npt.NDArray[np.uint8]]

    @property
    def bytes_per_pixel(self) -> int:
        return np.dtype(self.dtype).itemsize * self.channels


def _layouts() -> dict[str, _Layout]:
    """Every supported encoding; 16-bit ones share their 8-bit twin's conversion."""
    eight: dict[str, tuple[int, int | None, Callable[[RGBImage], npt.NDArray[np.uint8]]]] = {
        "rgb8": (3, None, lambda rgb: rgb),
        "bgr8": (3, cv2.COLOR_BGR2RGB, _convert(cv2.COLOR_RGB2BGR)),
        "rgba8": (4, cv2.COLOR_RGBA2RGB, _convert(cv2.COLOR_RGB2RGBA)),
        "bgra8": (4, cv2.COLOR_BGRA2RGB, _convert(cv2.COLOR_RGB2BGRA)),
        "mono8": (1, cv2.COLOR_GRAY2RGB, _convert(cv2.COLOR_RGB2GRAY)),
        "8UC1": (1, cv2.COLOR_GRAY2RGB, _convert(cv2.COLOR_RGB2GRAY)),
        # yuv422 (= uyvy) and yuv422_yuy2 (= yuyv) pack 2 pixels into 4 bytes.
        "yuv422": (2, cv2.COLOR_YUV2RGB_UYVY, _convert(cv2.COLOR_RGB2YUV_UYVY)),
        "uyvy": (2, cv2.COLOR_YUV2RGB_UYVY, _convert(cv2.COLOR_RGB2YUV_UYVY)),
        "yuv422_yuy2": (2, cv2.COLOR_YUV2RGB_YUY2, _convert(cv2.COLOR_RGB2YUV_YUY2)),
        "yuyv": (2, cv2.COLOR_YUV2RGB_YUY2, _convert(cv2.COLOR_RGB2YUV_YUY2)),
        "bayer_rggb8": (1, cv2.COLOR_BayerRGGB2RGB, _mosaic("rggb")),
        "bayer_bggr8": (1, cv2.COLOR_BayerBGGR2RGB, _mosaic("bggr")),
        "bayer_gbrg8": (1, cv2.COLOR_BayerGBRG2RGB, _mosaic("gbrg")),
        "bayer_grbg8": (1, cv2.COLOR_BayerGRBG2RGB, _mosaic("grbg")),
    }
    sixteen = {"mono16": "mono8", "16UC1": "8UC1", "rgb16": "rgb8", "bgr16": "bgr8"}
    sixteen |= {"rgba16": "rgba8", "bgra16": "bgra8"}
    sixteen |= {f"bayer_{p}16": f"bayer_{p}8" for p in ("rggb", "bggr", "gbrg", "grbg")}
    table = {name: _Layout(np.uint8, *spec) for name, spec in eight.items()}
    table |= {name: _Layout(np.uint16, *eight[twin]) for name, twin in sixteen.items()}
    return table


_LAYOUTS = _layouts()
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_LAYOUTS)
MASK_ENCODINGS = ("mono8", "8UC1", "mono16", "16UC1")


def _layout(encoding: str) -> _Layout:
    layout = _LAYOUTS.get(encoding)
    if layout is None:
        raise ConversionError(
            f"unsupported image encoding {encoding!r}; use rgb8 or one of "
            f"{', '.join(SUPPORTED_ENCODINGS[1:])} (e.g. convert with cv2.cvtColor)"
        )
    return layout


def _byte_view(data: object) -> memoryview:
    """A flat byte view of a message payload without copying it."""
    try:
        return memoryview(data).cast("B")  # type: ignore[arg-type]
    except TypeError:
        raise ConversionError(
            f"image data of type {type(data).__name__} is not a byte buffer"
        ) from None


def check_size(width: int, height: int, max_pixels: int | None, what: str = "image") -> None:
    """Refuse empty images and images above `max_pixels` (None: no limit) before allocating."""
    if width <= 0 or height <= 0:
        raise ConversionError(f"{what} is empty ({width}x{height}); send at least 1x1 pixels")
    if max_pixels is not None and width * height > max_pixels:
        raise ConversionError(
            f"{what} of {width}x{height} = {width * height} pixels is larger than "
            f"max_image_pixels={max_pixels}; downscale it or raise the max_image_pixels parameter"
        )


def image_to_array(msg: RawImage, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Pixels:
    """The pixels of `msg` as (H, W, C) in the encoding's own channel order, native byte order.

    Honours `step` (row padding) and `is_bigendian`; checks that `data` holds exactly
    `step * height` bytes, so a header that promises more than the data holds is refused.
    """
    encoding = str(msg.encoding)
    layout = _layout(encoding)
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    check_size(width, height, max_pixels)
    if layout.channels == 2 and width % 2:
        raise ConversionError(f"{encoding} packs 2 pixels in 4 bytes: width {width} is odd")
    row_bytes = width * layout.bytes_per_pixel
    if step < row_bytes:
        raise ConversionError(
            f"{encoding} image {width}x{height}: step {step} is smaller than "
            f"width * {layout.bytes_per_pixel} bytes = {row_bytes}; set step to the bytes per row"
        )
    buffer = _byte_view(msg.data)
    if len(buffer) != step * height:
        raise ConversionError(
            f"image {width}x{height} {encoding} needs {row_bytes} bytes per row, has step {step} "
            f"and data holds {len(buffer)} bytes but step * height = {step * height}: the "
            "message is broken; send the whole image"
        )
    dtype = np.dtype(layout.dtype).newbyteorder(">" if msg.is_bigendian else "<")
    itemsize = dtype.itemsize
    view: Pixels = np.ndarray(
        (height, width, layout.channels),
        dtype=dtype,
        buffer=buffer,
        strides=(step, itemsize * layout.channels, itemsize),
    )
    return np.ascontiguousarray(view, dtype=np.dtype(layout.dtype))


def image_to_rgb(msg: RawImage, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> RGBImage:
    """An engine frame (RGB uint8, (H, W, 3)) from any supported Image (module docstring)."""
    raw = image_to_array(msg, max_pixels)
    pixels = (
        (raw >> 8).astype(np.uint8) if raw.dtype == np.uint16 else raw.astype(np.uint8, copy=False)
    )
    code = _LAYOUTS[str(msg.encoding)].to_rgb
    if code is None:
        return pixels
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]  # OpenCV's Bayer conversions want a 2-D plane
    rgb = cv2.cvtColor(pixels, code)
    return np.asarray(rgb, dtype=np.uint8).reshape(*pixels.shape[:2], 3)


def mask_from_image(msg: RawImage, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> BoolMask:
    """A registration mask (bool (H, W), True = object) from a mono8 (or 16-bit mono) image."""
    if msg.encoding not in MASK_ENCODINGS:
        raise ConversionError(
            f"mask encoding {msg.encoding!r} is not supported; send masks as mono8 "
            "(0 = background, nonzero = object)"
        )
    return np.asarray(image_to_array(msg, max_pixels)[:, :, 0] != 0)


def rgb_to_pixels(rgb: RGBImage, encoding: str) -> Pixels:
    """An RGB uint8 frame as the pixels of `encoding` (16-bit: each 8-bit sample * 257).

    The inverse of `image_to_rgb` up to what the encoding keeps (grey, chroma subsampling,
    the Bayer mosaic): writers of test bags and messages use it.
    """
    layout = _layout(encoding)
    if layout.channels == 2 and rgb.shape[1] % 2:  # the yuv422 family
        raise ConversionError(f"{encoding} packs 2 pixels in 4 bytes: width {rgb.shape[1]} is odd")
    pixels = layout.from_rgb(np.ascontiguousarray(rgb, dtype=np.uint8))
    if layout.dtype is np.uint16:
        return pixels.astype(np.uint16) * np.uint16(257)
    return pixels


def pack_pixels(pixels: npt.NDArray[np.generic], encoding: str) -> PackedImage:
    """The Image fields holding `pixels` ((H, W) or (H, W, C), dtype of the encoding).

    Rows are packed (step = width * bytes per pixel), samples in this machine's byte order.
    """
    layout = _layout(encoding)
    array = pixels if pixels.ndim == 3 else pixels[:, :, np.newaxis]
    if array.dtype != layout.dtype or array.shape[2] != layout.channels:
        raise ConversionError(
            f"{encoding} needs {layout.channels} channel(s) of {np.dtype(layout.dtype).name}, "
            f"got an array of shape {pixels.shape} and dtype {pixels.dtype}"
        )
    height, width = int(array.shape[0]), int(array.shape[1])
    return PackedImage(
        encoding=encoding,
        height=height,
        width=width,
        step=width * layout.bytes_per_pixel,
        is_bigendian=int(sys.byteorder == "big"),
        data=np.ascontiguousarray(array).tobytes(),
    )


def compressed_size(data: bytes) -> tuple[int, int] | None:
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


def decode_image(data: bytes | memoryview | npt.NDArray[np.uint8]) -> RGBImage | None:
    """Decode PNG/JPEG bytes to RGB uint8 (H, W, 3); None where they are not an image.

    Grey and 16-bit images become 8-bit RGB, as OpenCV's IMREAD_COLOR(_RGB) does.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if not buffer.size:
        return None
    # Straight to RGB: a BGR decode and a cvtColor cost 4 ms more on a 1 MB PNG frame.
    rgb = cv2.imdecode(buffer, cv2.IMREAD_COLOR_RGB)
    if rgb is None:
        return None
    return np.asarray(rgb, dtype=np.uint8)


def compressed_to_rgb(msg: CompressedData, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> RGBImage:
    """An engine frame from a jpeg or png CompressedImage (image_transport format strings ok).

    The size is read from the file header first, so an oversized image is refused before
    OpenCV allocates it.
    """
    fmt = str(msg.format).lower()
    if fmt and not any(kind in fmt for kind in ("jpeg", "jpg", "png")):
        raise ConversionError(
            f"compressed format {msg.format!r} is not supported; send jpeg or png "
            "(image_transport 'compressed' does)"
        )
    data = bytes(_byte_view(msg.data))
    size = compressed_size(data)
    if size is None:
        raise ConversionError(
            f"compressed image ({len(data)} bytes, format {msg.format!r}) is neither a png "
            "nor a jpeg file; check the publisher's format"
        )
    check_size(*size, max_pixels, what="compressed image")
    rgb = decode_image(data)
    if rgb is None:
        raise ConversionError(
            f"could not decode the {msg.format or 'compressed'} image ({len(data)} bytes); "
            "the data is corrupt or truncated"
        )
    return rgb


def compress_rgb(rgb: RGBImage, fmt: str = "jpeg", quality: int = 95) -> bytes:
    """An RGB frame as jpeg (at `quality`) or png file bytes."""
    if fmt not in ("jpeg", "png"):
        raise ConversionError(f"compressed format {fmt!r} is not supported; use 'jpeg' or 'png'")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpeg" else []
    ok, encoded = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", rgb[:, :, ::-1], params)
    if not ok:
        raise ConversionError(f"OpenCV could not encode a {rgb.shape} image as {fmt}")
    return bytes(encoded.tobytes())
