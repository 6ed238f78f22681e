"""What one stream has shown of each instance: appearance samples from its confident frames.

Why: a registered view shows one side of an object; a stream shows it turning. While a
track is confident, the object's dense cells and colours in the frame are kept as extra
appearance models (bounded per instance, spread over time), so that (a) the tracker's
correction recognizes the object in poses the gallery never saw, and (b) after a loss the
appearance search re-finds the same instance in those poses. The memory lives only as long
as the stream (reset with it) and never writes into the gallery.
"""

from __future__ import annotations

import cv2
import numpy as np

from pixret_ros.engine.appearance import (
    BG_CELL_FRACTION,
    FG_CELL_FRACTION,
    MAX_BG_PROTOTYPES,
    MAX_FG_PROTOTYPES,
    AppearanceModel,
    cell_fraction,
    colour_histogram,
    spread_rows,
)
from pixret_ros.engine.types import BoolMask, Box, Float32, RGBImage


def frame_model(image: RGBImage, dense: Float32, mask: BoolMask) -> AppearanceModel | None:
    """Appearance model of the object under `mask` in a frame (None if too small to model).

    `image` and `mask` are at the working resolution; `dense` is the frame's unit XFeat
    dense map (64, h, w) covering the whole image. Uncalibrated, like the gallery's models.
    """
    if not mask.any():
        return None
    grid = dense.shape[1:]
    frac = cell_fraction(mask, (int(grid[0]), int(grid[1]))).reshape(-1)
    cells = dense.reshape(64, -1).T
    fg = cells[frac >= FG_CELL_FRACTION]
    if len(fg) < 2:
        return None
    bg = cells[frac <= BG_CELL_FRACTION]
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    box = Box.of_mask(mask)
    area = float(mask.sum())
    return AppearanceModel(
        fg_prototypes=np.ascontiguousarray(spread_rows(fg, MAX_FG_PROTOTYPES), np.float32),
        bg_prototypes=np.ascontiguousarray(spread_rows(bg, MAX_BG_PROTOTYPES), np.float32),
        fg_colour=colour_histogram(image[inner if inner.sum() >= 0.3 * area else mask]),
        bg_colour=colour_histogram(image[~mask]),
        null_scores=np.zeros(0, np.float32),
        shape=np.array([box.height / box.width, area / (box.width * box.height), area], np.float32),
    )


class StreamMemory:
    """Bounded appearance samples per instance, taken every `every` confident frames."""

    def __init__(self, size: int, every: int) -> None:
        self.size = size
        self.every = every
        self._samples: dict[int, list[AppearanceModel]] = {}
        self._since: dict[int, int] = {}

    def reset(self) -> None:
        """Forget the stream."""
        self._samples = {}
        self._since = {}

    def seen(self, instance: int) -> bool:
        """The instance was confidently tracked earlier in this stream."""
        return instance in self._samples

    def instances(self) -> list[int]:
        """Instances with samples, in the order they were first seen."""
        return list(self._samples)

    def samples(self, instance: int) -> list[AppearanceModel]:
        """The instance's samples, oldest first (empty if never tracked)."""
        return list(self._samples.get(instance, []))

    def offer(self, instance: int, model: AppearanceModel | None) -> bool:
        """A confident frame's model; kept (True) if `every` frames passed since the last one.

        When full, the middle sample is dropped, so the memory keeps the stream's first pose,
        its latest ones and some in between instead of only its last seconds.
        """
        if model is None or self.size == 0:
            return False
        since = self._since.get(instance, self.every)
        if since < self.every:
            self._since[instance] = since + 1
            return False
        kept = self._samples.setdefault(instance, [])
        kept.append(model)
        if len(kept) > self.size:
            del kept[1 + (len(kept) - 2) // 2]
        self._since[instance] = 1
        return True
