"""~/register_from_camera: register what the user marked on the newest camera frame.

Why a service on the node and not on the CLI side: the frame the user sees (RViz, the
debug image) is the one the node received, and a full frame does not fit on a command line
(`ros2 service call` carries small requests only). The node keeps the last frame message it
received; this module turns a request (name, box, points) into a segmentation on that frame
(engine/prompt_segment.py), one atomic gallery registration (a crop of the frame around the
box, with the learned mask), and an answer with the mask in frame pixels. Every refusal
leaves the gallery as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pixret_ros.engine.names import check_name
from pixret_ros.engine.prompt_segment import Prompt, segment_prompt, view_crop
from pixret_ros.engine.render import overlay
from pixret_ros.engine.types import Box, Detection
from pixret_ros.errors import RequestError
from pixret_ros.ros.convert import to_image_msg

if TYPE_CHECKING:
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from pixret_ros.engine import Gallery
    from pixret_ros.engine.types import BoolMask, RGBImage
    from pixret_ros.srv import RegisterFromCamera


@dataclass(frozen=True)
class Registered:
    """What a registration from the camera did: views now held, the mask, an overlay."""

    num_views: int
    mask: BoolMask
    overlay: RGBImage
    message: str


def prompt_of(request: RegisterFromCamera.Request) -> Prompt:
    """The request's box and points as a Prompt; RequestError when they are malformed."""
    values = [float(v) for v in request.points]
    if len(values) % 2:
        raise RequestError(
            f"points has {len(values)} values; give pairs x0, y0, x1, y1, ... (pixels)"
        )
    points = tuple(zip(values[0::2], values[1::2], strict=True))
    sides = (request.width, request.height)
    if sides == (0, 0):
        box = None
    elif min(sides) <= 0:
        raise RequestError(
            f"box width={request.width} height={request.height}: give both > 0, or both 0 "
            "to segment from the points alone"
        )
    else:
        box = Box(request.x, request.y, request.width, request.height)
    return Prompt(box=box, points=points)


def register_from_frame(
    request: RegisterFromCamera.Request, frame: RGBImage, gallery: Gallery
) -> Registered:
    """Segment the request's prompt on `frame` and store a view of it in `gallery`.

    Raises GalleryError (bad name, refused view), RequestError, PromptError (outside the
    frame, empty segmentation); the gallery is unchanged then.
    """
    name = check_name(request.name)  # before seconds of segmentation
    mask = segment_prompt(frame, prompt_of(request))
    crop = view_crop(Box.of_mask(mask), (frame.shape[0], frame.shape[1]))
    rows = slice(crop.y, crop.y + crop.height)
    cols = slice(crop.x, crop.x + crop.width)
    view, view_mask = np.ascontiguousarray(frame[rows, cols]), mask[rows, cols]
    num_views = gallery.add(name, [view], [view_mask], replace=request.replace)
    learned = Detection(name, 1.0, Box.of_mask(mask), mask, 0, None, 0, accepted=True)
    message = (
        f"registered {name!r} from the camera: {int(mask.sum())} object pixels in a "
        f"{crop.width}x{crop.height} view at x={crop.x} y={crop.y}; {num_views} view(s)"
    )
    return Registered(num_views, mask, overlay(frame, [learned]), message)


def mask_msg(mask: BoolMask, header: Header) -> Image:
    """The learned mask as the answer carries it: mono8, 255 = object, the frame's header."""
    return to_image_msg(mask.astype(np.uint8) * 255, "mono8", header)
