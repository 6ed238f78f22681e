"""Records that cross module boundaries: what the engine reports for one frame.

Conventions (for the whole package): images are numpy arrays indexed [row, col]; colour
frames are RGB uint8 of shape (H, W, 3); masks are bool (H, W). Coordinates passed between
functions are (x, y) pixels of the *input* frame, whatever resolution the engine worked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
