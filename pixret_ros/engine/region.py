"""The segmenter's region of interest: a box of the frame worked on at a small resolution.

Segmenting the whole frame at full size would cost far more than the object needs; the
segmenter crops a margin around the prior and works at a fixed long side. These helpers map
frames, dense cell grids and masks between frame pixels and that working grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, Box, Float32, RGBImage


@dataclass(frozen=True)
class Region:
    """Region of interest (frame pixels, x0 y0 inclusive, x1 y1 exclusive) at working size."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float  # working pixels per frame pixel
    size: tuple[int, int]  # working (width, height)


def region_around(box: Box, shape: tuple[int, int], *, margin: float, work_side: int) -> Region:
    """`box` grown by `margin` per side (+8 px), clipped to the frame, long side `work_side`."""
    h, w = shape
    pad_x = margin * box.width + 8
    pad_y = margin * box.height + 8
    x0 = max(0, int(box.x - pad_x))
    y0 = max(0, int(box.y - pad_y))
    x1 = min(w, int(np.ceil(box.x + box.width + pad_x)))
    y1 = min(h, int(np.ceil(box.y + box.height + pad_y)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    scale = min(1.0, work_side / max(x1 - x0, y1 - y0))
    size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
    return Region(x0, y0, x1, y1, scale, size)


def cells_to_work(values: Float32, region: Region, cell: tuple[float, float]) -> Float32:
    """Resample a full-frame cell grid (h, w) onto the working grid of `region` (bilinear)."""
    sx, sy = cell
    # working pixel u -> frame x = x0 + (u + 0.5) / s - 0.5 -> cell coordinate x / sx + c.
    ax = 1.0 / (region.scale * sx)
    bx = (region.x0 + 0.5 / region.scale - 0.5 + 0.5) / sx - 0.5
    ay = 1.0 / (region.scale * sy)
    by = (region.y0 + 0.5 / region.scale - 0.5 + 0.5) / sy - 0.5
    matrix = np.array([[ax, 0, bx], [0, ay, by]], np.float64)
    return np.asarray(
        cv2.warpAffine(
            values,
            matrix,
            region.size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        ),
        np.float32,
    )


def context_pixels(frame: RGBImage, region: Region) -> RGBImage:
    """Frame pixels outside the region, subsampled (a background colour sample)."""
    step = 4
    sub = frame[::step, ::step]
    keep = np.ones(sub.shape[:2], bool)
    keep[region.y0 // step : -(-region.y1 // step), region.x0 // step : -(-region.x1 // step)] = (
        False
    )
    return sub[keep]


def to_work(mask: BoolMask, region: Region) -> BoolMask:
    """A frame mask cropped to the region at working size (area average >= 0.5)."""
    crop = mask[region.y0 : region.y1, region.x0 : region.x1].astype(np.float32)
    return np.asarray(cv2.resize(crop, region.size, interpolation=cv2.INTER_AREA) >= 0.5)


def to_frame(work: BoolMask, region: Region, shape: tuple[int, int]) -> BoolMask:
    """A working mask back in frame pixels (bilinear >= 0.5), False outside the region."""
    out = np.zeros(shape, bool)
    size = (region.x1 - region.x0, region.y1 - region.y0)
    up = cv2.resize(work.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    out[region.y0 : region.y1, region.x0 : region.x1] = up >= 0.5
    return out
