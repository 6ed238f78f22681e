"""rclpy sensor_msgs <-> numpy: the node's side of the one image codec (`pixret_ros.io`).

Why so thin: the node and the evaluator must decode the same bytes the same way, so every
pixel rule (encodings, step, byte order, size limits, png/jpeg) lives in
`pixret_ros.io.image_codec`, which reads the plain message fields of rclpy and rosbags
messages alike. Here only what needs the rclpy message classes: building Image and
CompressedImage messages, and picking the decoder for whichever of the two arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sensor_msgs.msg import CompressedImage, Image

from pixret_ros.io.image_codec import (
    DEFAULT_MAX_PIXELS,
    compress_rgb,
    compressed_to_rgb,
    image_to_rgb,
    pack_pixels,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from std_msgs.msg import Header

    from pixret_ros.engine.types import RGBImage


def to_image_msg(
    pixels: npt.NDArray[np.generic], encoding: str, header: Header | None = None
) -> Image:
    """A `sensor_msgs/Image` holding `pixels` ((H, W) or (H, W, C), dtype of the encoding).

    Used for the node's outputs (mono16 label mask, rgb8 debug overlay) and by tests to
    build inputs of every encoding; rows are packed (step = width * bytes per pixel).
    """
    packed = pack_pixels(pixels, encoding)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = packed.height, packed.width
    msg.encoding = packed.encoding
    msg.is_bigendian = packed.is_bigendian
    msg.step = packed.step
    msg.data = packed.data
    return msg


def any_to_rgb(msg: Image | CompressedImage, max_pixels: int = DEFAULT_MAX_PIXELS) -> RGBImage:
    """An engine frame from whichever of the two camera messages arrived."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg, max_pixels)
    return image_to_rgb(msg, max_pixels)


def rgb_to_compressed(
    rgb: RGBImage, fmt: str = "jpeg", header: Header | None = None, quality: int = 90
) -> CompressedImage:
    """A `CompressedImage` (jpeg or png) of an RGB frame, format named as image_transport does."""
    data = compress_rgb(rgb, fmt, quality)
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = f"rgb8; {fmt} compressed bgr8"
    msg.data = data
    return msg
