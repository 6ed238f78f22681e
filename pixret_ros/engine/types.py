"""Records that cross module boundaries, the gallery protocols and the array aliases.

What the engine reports for one frame, what it reads from a gallery, and the registered
templates it matches frames against.

Conventions (for the whole package): images are numpy arrays indexed [row, col]; colour
frames are RGB uint8 of shape (H, W, 3); masks are bool (H, W). Coordinates passed between
functions are (x, y) pixels of the *input* frame, whatever resolution the engine worked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from collections.abc import Sequence

BoolMask = npt.NDArray[np.bool_]
RGBImage = npt.NDArray[np.uint8]
Homography = npt.NDArray[np.float64]
# The package's one set of array aliases: modules import these instead of defining their own.
Float32 = npt.NDArray[np.float32]
Float64 = npt.NDArray[np.float64]
Int64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Box:
    """Tight box of a mask in input-frame pixels: columns x..x+width-1, rows y..y+height-1."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def of_mask(cls, mask: BoolMask) -> Box:
        """The tight box of the True pixels of `mask` (all zero for an empty mask)."""
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            return cls(0, 0, 0, 0)
        return cls(
            int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)
        )

    def iou(self, other: Box) -> float:
        """Intersection over union with `other` (as pixel sets)."""
        width = min(self.x + self.width, other.x + other.width) - max(self.x, other.x)
        height = min(self.y + self.height, other.y + other.height) - max(self.y, other.y)
        inter = max(0, width) * max(0, height)
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


def mask_iou(a: BoolMask, b: BoolMask) -> float:
    """Intersection over union of two masks of one shape (0 when both are empty)."""
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 0.0


@dataclass(frozen=True)
class Detection:
    """One registered instance found in one frame.

    Attributes:
        name: registered instance name.
        score: calibrated confidence in [0, 1]; comparable across instances and frames.
        box: tight box of `mask` in input-frame pixels.
        mask: (H, W) bool, full input-frame size.
        inliers: number of geometrically verified correspondences (0 if found by appearance only).
        homography: 3x3 float64 view -> frame (input pixels), or None where no warp was verified.
        view_index: which registered view matched best.
        accepted: score reached the engine's `score_threshold` (what the node publishes).
        tracked: stream mode: the detection is a track's (its mask carried from earlier frames
            and corrected on this one, its score the track's confidence), not a fit of this
            frame alone.
    """

    name: str
    score: float
    box: Box
    mask: BoolMask
    inliers: int
    homography: Homography | None
    view_index: int
    accepted: bool
    tracked: bool = False


class ViewLike(Protocol):
    """What the engine reads from a registered view (gallery.View)."""

    @property
    def index(self) -> int:
        """Position of the view within its instance."""

    @property
    def image(self) -> RGBImage:
        """The view, RGB uint8 (H, W, 3)."""

    @property
    def mask(self) -> BoolMask:
        """The object's pixels, bool (H, W)."""


class GalleryLike(Protocol):
    """The part of `Gallery` the engine uses (DESIGN section 4; engine/gallery.py)."""

    def names(self) -> list[str]:
        """Registered instance names, sorted."""

    def views(self, name: str) -> Sequence[ViewLike]:
        """Every view of `name`."""

    def signature(self) -> str:
        """Changes whenever the gallery on disk changes."""

    def views_token(self, name: str) -> str:
        """Changes whenever the views of `name` change."""

    def read_cache(self, name: str, key: str) -> dict[str, npt.NDArray[np.generic]] | None:
        """Arrays stored with `write_cache`, or None."""

    def write_cache(self, name: str, key: str, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        """Store engine arrays inside the instance folder."""


@dataclass(frozen=True)
class ViewTemplate:
    """Registered features of one view: keypoints in view pixels (all scales merged).

    Descriptors are held as float16 (as cached): half the memory with 1000 instances, and a
    fresh registration behaves exactly like one loaded from the cache.
    """

    instance: int
    view_index: int
    keypoints: Float32
    descriptors: npt.NDArray[np.float16]
    mask: BoolMask
    ranks: npt.NDArray[np.int32]  # rank of each keypoint by strength within its scale
    rotation: float = 0.0  # the view was turned clockwise by this (orientation.rotated)
    scale: float = 1.0  # and resized by this before feature extraction
    # Upright at one of `view_scales`: voted and verified for every frame. The others (turned
    # copies, extra small scales) form the second pass (loaded_gallery.py).
    primary: bool = True
