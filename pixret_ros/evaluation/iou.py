"""Mask IoU and box IoU of two masks: the overlap that decides whether a detection is a hit.

Its own module because the judge, the stream metrics, the PROxford protocol and the tools
all compare a predicted mask with a true one, and none of them needs the ranking metrics.
Masks are (H, W), bool or integer (nonzero = object); bad input raises `InputError`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pixret_ros.engine.types import Box
from pixret_ros.errors import InputError

Mask = npt.NDArray[np.bool_] | npt.NDArray[np.integer]


def _as_mask(array: Mask, what: str) -> npt.NDArray[np.bool_]:
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        shape = getattr(array, "shape", type(array).__name__)
        raise InputError(f"{what} must be a 2-D (H, W) array, got {shape}")
    if array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"{what} must be bool or integer (nonzero = object), got {array.dtype}")
    return array.astype(bool, copy=False)


def _check_pair(pred: Mask, truth: Mask) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    p, t = _as_mask(pred, "predicted mask"), _as_mask(truth, "true mask")
    if p.shape != t.shape:
        raise InputError(f"predicted mask {p.shape} and true mask {t.shape} differ in shape")
    return p, t


def mask_iou(pred: Mask, truth: Mask) -> float:
    """Intersection over union of two masks, counting pixels.

    IoU = |P and T| / |P or T|; 0 when both are empty (a frame without truth and without a
    predicted pixel has nothing to overlap). Masks are (H, W), bool or integer (nonzero =
    object), of equal shape.
    """
    p, t = _check_pair(pred, truth)
    union = int(np.count_nonzero(p | t))
    return int(np.count_nonzero(p & t)) / union if union else 0.0


def _box_area(box: Box) -> int:
    return box.width * box.height


def _box_overlap(a: Box, b: Box) -> float:
    if _box_area(a) == 0 or _box_area(b) == 0:
        return 0.0
    # Inclusive pixel spans: columns x..x+width-1, rows y..y+height-1.
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    inter = max(width, 0) * max(height, 0)
    return inter / (_box_area(a) + _box_area(b) - inter)


def box_iou_of_masks(pred: Mask, truth: Mask) -> float:
    """IoU of the tight bounding boxes of two masks, each box taken as the pixels it covers.

    A box spanning columns x0..x1 and rows y0..y1 covers (x1 - x0 + 1) * (y1 - y0 + 1)
    pixels; IoU = |A and B| / (|A| + |B| - |A and B|). 0 when either mask is empty. Same input
    rules as `mask_iou`.
    """
    p, t = _check_pair(pred, truth)
    return _box_overlap(Box.of_mask(p), Box.of_mask(t))
