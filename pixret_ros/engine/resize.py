"""Resizing between the input frame and the resolution the engine works at.

Why one module: the pipeline, the stream tracks and the prompt segmenter all shrink frames
and carry masks back; one rule (area averaging when shrinking) keeps their pixels the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, RGBImage

HALF_COVERED = 128  # of 255: a working pixel at least half covered by the mask is in it


def resized(image: RGBImage, size: tuple[int, int]) -> RGBImage:
    """Resize to (width, height): area averaging when shrinking (no aliasing), else linear."""
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, size, interpolation=method), dtype=np.uint8)


def working(frame: RGBImage, long_side: int, *, min_side: int = 0) -> RGBImage:
    """`frame` shrunk so that its long side is at most `long_side` (as is if smaller).

    `min_side` keeps each side of a shrunk frame at least that many pixels.
    """
    height, width = frame.shape[:2]
    factor = min(1.0, long_side / max(height, width))
    if factor >= 1.0:
        return frame
    size = (max(min_side, round(width * factor)), max(min_side, round(height * factor)))
    return resized(frame, size)


def upscaled(mask: BoolMask, shape: tuple[int, int]) -> BoolMask:
    """A working-resolution mask at the input frame's (height, width), nearest neighbour."""
    up = cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.asarray(up, dtype=bool)


def downscaled(mask: BoolMask, shape: tuple[int, int]) -> BoolMask:
    """A frame mask at the working resolution (h, w): area average, half covered is in.

    Also a working-resolution mask at another working size (stream mode's `acquire_size`).
    """
    if mask.shape == shape:
        return mask
    # In 8 bits (255 = covered; half is 127.5, rounded up): OpenCV's area averaging of uint8
    # is faster than of float32 (0.44 vs 0.70 ms for 854x480 -> 480x270 on 2 cores).
    covered = mask.astype(np.uint8) * np.uint8(255)
    small = cv2.resize(covered, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return np.asarray(small >= HALF_COVERED, bool)
