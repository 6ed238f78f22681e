"""Region-level appearance of a registered view: what its object looks like, cell by cell.

Keypoints and one warp cannot follow objects that turn and deform; their dense XFeat cells
and colours still resemble the view's. A model holds, per view:

- dense prototypes: XFeat's 64-d dense descriptors of the view's object cells (foreground) and
  of its margin (background), taken at several view scales so that an object seen larger or
  smaller in a frame still meets cells of its own size;
- colour histograms (quantized RGB) of the object and of its margin;
- optionally, its background null: the raw appearance agreement it reaches on background
  photos that do not show it (`calibration.with_appearance_null`), so that the score of
  `segment` is a tail probability comparable across instances and frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.types import BoolMask, Float32, RGBImage

DenseFn = Callable[[RGBImage], Float32]

COLOUR_BINS = 16  # per RGB channel; 16^3 bins
FG_CELL_FRACTION = 0.7  # a dense cell counts as object when this much of it is under the mask
BG_CELL_FRACTION = 0.05  # ... and as background when at most this much is
MAX_FG_PROTOTYPES = 192
MAX_BG_PROTOTYPES = 128
VIEW_SCALES = (0.25, 0.5, 1.0, 2.0)
MAX_SCALED_SIDE = 720  # a scaled view longer than this is skipped (cost, memory)
MIN_SCALED_SIDE = 32  # XFeat needs at least one 32-pixel block


class DenseFeatures(Protocol):
    """What segmentation needs of `features.Features`: the L2-normalized dense map."""

    @property
    def dense(self) -> Float32:
        """(64, h, w) float32 XFeat dense map covering the whole image, unit norm per cell."""
        ...


@dataclass(frozen=True)
class AppearanceModel:
    """Appearance of one registered view (arrays only, so that it caches in the gallery).

    Attributes:
        fg_prototypes: (Kf, 64) float32 unit dense descriptors of object cells, all scales.
        bg_prototypes: (Kb, 64) float32 unit dense descriptors of the view's margin (may be empty).
        fg_colour: (B, B, B) float32 colour distribution of the object (sums to 1).
        bg_colour: (B, B, B) float32 colour distribution of the margin (sums to 1).
        null_scores: (Q,) float32 sorted raw agreements of this model on background photos
            (its background null); empty when none was computed (then `segment` scores with
            a fixed logistic instead). Cached under the array name "calibration".
        shape: (3,) float32 object box aspect (height / width), mask fill of its box, and
            object area in view pixels (for search proposals and sanity checks).
    """

    fg_prototypes: Float32
    bg_prototypes: Float32
    fg_colour: Float32
    bg_colour: Float32
    null_scores: Float32
    shape: Float32

    def to_arrays(self) -> dict[str, Float32]:
        """The model as named arrays for `Gallery.write_cache`."""
        return {
            "fg_prototypes": self.fg_prototypes,
            "bg_prototypes": self.bg_prototypes,
            "fg_colour": self.fg_colour,
            "bg_colour": self.bg_colour,
            "calibration": self.null_scores,
            "shape": self.shape,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[np.generic]]) -> AppearanceModel:
        """Inverse of `to_arrays`; raises ValueError naming a missing or malformed array."""
        names = ("fg_prototypes", "bg_prototypes", "fg_colour", "bg_colour", "calibration", "shape")
        missing = [n for n in names if n not in arrays]
        if missing:
            raise ValueError(f"appearance cache lacks arrays {missing}: rebuild the model")
        values = {n: np.asarray(arrays[n], dtype=np.float32) for n in names}
        bins = (COLOUR_BINS,) * 3
        if values["fg_prototypes"].ndim != 2 or values["fg_prototypes"].shape[1] != 64:
            raise ValueError(
                f"appearance cache: fg_prototypes has shape {values['fg_prototypes'].shape}, "
                "expected (K, 64): rebuild the model"
            )
        if values["fg_colour"].shape != bins or values["bg_colour"].shape != bins:
            raise ValueError(f"appearance cache: colour histograms must be {bins}: rebuild")
        values["bg_prototypes"] = values["bg_prototypes"].reshape(-1, 64)
        values["null_scores"] = values.pop("calibration")
        return cls(**values)


def colour_index(rgb: RGBImage) -> npt.NDArray[np.intp]:
    """Flat histogram bin of each pixel (same leading shape as `rgb`)."""
    q = (rgb >> (8 - int(np.log2(COLOUR_BINS)))).astype(np.intp)
    return (q[..., 0] * COLOUR_BINS + q[..., 1]) * COLOUR_BINS + q[..., 2]


def colour_histogram(pixels: RGBImage, smooth: float = 1.0) -> Float32:
    """Smoothed, normalized 3-D colour histogram of (N, 3) pixels (uniform when N == 0)."""
    counts = np.bincount(colour_index(pixels.reshape(-1, 3)), minlength=COLOUR_BINS**3)
    hist = counts.astype(np.float32).reshape((COLOUR_BINS,) * 3)
    if smooth > 0:
        for axis in range(3):
            moved = np.moveaxis(hist, axis, 0)
            blurred = cv2.GaussianBlur(
                np.ascontiguousarray(moved.reshape(COLOUR_BINS, -1)), (1, 5), 0, sigmaY=smooth
            )
            hist = np.moveaxis(np.asarray(blurred, np.float32).reshape(moved.shape), 0, axis)
    hist = hist + 1e-3 * max(float(hist.sum()), 1.0) / hist.size
    return np.asarray(hist / hist.sum(), np.float32)


def xfeat_dense_map(rgb: RGBImage) -> Float32:
    """`features.dense_map` with XFeat's own resize preprocessing: `build_appearance`'s default.

    A module-level function, so that the background bank caches its maps once per process.
    """
    from pixret_ros.engine.features import dense_map  # noqa: PLC0415 (loads torch)

    return dense_map(rgb, preprocess="resize")


def cell_fraction(mask: BoolMask, grid: tuple[int, int]) -> Float32:
    """Fraction of each dense cell (grid = (h, w)) covered by `mask` (area average)."""
    return np.asarray(
        cv2.resize(mask.astype(np.float32), (grid[1], grid[0]), interpolation=cv2.INTER_AREA),
        dtype=np.float32,
    )


def spread_rows(cells: Float32, limit: int) -> Float32:
    """At most `limit` rows, evenly spaced (keeps spatial coverage, deterministic)."""
    if len(cells) <= limit:
        return cells
    keep = np.linspace(0, len(cells) - 1, limit).round().astype(np.intp)
    return cells[keep]


def _scaled_dense(
    rgb: RGBImage, mask: BoolMask, view_dense: Float32 | None, dense_fn: DenseFn
) -> list[tuple[Float32, Float32]]:
    """(dense map, cell fractions) of the view at each of VIEW_SCALES that fits."""
    h, w = mask.shape
    out: list[tuple[Float32, Float32]] = []
    for scale in VIEW_SCALES:
        size = (round(w * scale), round(h * scale))
        if max(size) > MAX_SCALED_SIDE or min(size) < MIN_SCALED_SIDE:
            continue
        if scale == 1.0 and view_dense is not None:
            dense = view_dense
        else:
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            dense = dense_fn(np.asarray(cv2.resize(rgb, size, interpolation=interp), np.uint8))
        out.append((dense, cell_fraction(mask, dense.shape[1:])))
    return out


def build_appearance(
    view_rgb: RGBImage,
    view_mask: BoolMask,
    view_features: DenseFeatures | None,
    *,
    dense_fn: DenseFn | None = None,
) -> AppearanceModel:
    """Appearance model of one view (XFeat passes at the extra scales dominate its cost).

    Args:
        view_rgb: (H, W, 3) uint8 view.
        view_mask: (H, W) bool object mask of the view (non-empty).
        view_features: the view's features at scale 1 (its dense map is reused), or None.
        dense_fn: computes a unit dense map of an RGB image; default: `xfeat_dense_map`.

    The model has no background null (`null_scores` empty); `calibration.with_appearance_null`
    adds one.
    """
    if view_mask.shape != view_rgb.shape[:2] or not view_mask.any():
        raise ValueError(
            f"view mask of shape {view_mask.shape} must match the view {view_rgb.shape[:2]} "
            "and mark at least one pixel"
        )
    fn = dense_fn or xfeat_dense_map
    fg: list[Float32] = []
    bg: list[Float32] = []
    for dense, frac in _scaled_dense(view_rgb, view_mask, _dense_of(view_features), fn):
        cells = dense.reshape(64, -1).T
        flat = frac.reshape(-1)
        fg_cells = cells[flat >= FG_CELL_FRACTION]
        if len(fg_cells) == 0:  # thin objects at small scales: take the best-covered cells
            fg_cells = cells[flat >= max(0.5 * float(flat.max()), 1e-6)]
        fg.append(fg_cells)
        bg.append(cells[flat <= BG_CELL_FRACTION])
    fg_protos = spread_rows(np.concatenate(fg), MAX_FG_PROTOTYPES)
    bg_protos = spread_rows(np.concatenate(bg), MAX_BG_PROTOTYPES).reshape(-1, 64)
    inner = cv2.erode(view_mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    fg_pixels = view_rgb[inner if inner.sum() >= 0.3 * view_mask.sum() else view_mask]
    bg_pixels = view_rgb[~view_mask]
    rows = np.flatnonzero(view_mask.any(axis=1))
    cols = np.flatnonzero(view_mask.any(axis=0))
    box_h, box_w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    area = float(view_mask.sum())
    return AppearanceModel(
        fg_prototypes=np.ascontiguousarray(fg_protos, dtype=np.float32),
        bg_prototypes=np.ascontiguousarray(bg_protos, dtype=np.float32),
        fg_colour=colour_histogram(fg_pixels),
        bg_colour=colour_histogram(bg_pixels),
        null_scores=np.zeros(0, np.float32),
        shape=np.array([box_h / box_w, area / (box_h * box_w), area], np.float32),
    )


def _dense_of(features: DenseFeatures | None) -> Float32 | None:
    if features is None:
        return None
    return np.asarray(features.dense, dtype=np.float32)


def stack_models(models: Sequence[AppearanceModel]) -> AppearanceModel:
    """One model from several views of an instance (prototypes and colours pooled)."""
    if len(models) == 1:
        return models[0]
    fg = np.concatenate([m.fg_prototypes for m in models])
    bg = np.concatenate([m.bg_prototypes for m in models]).reshape(-1, 64)
    null = np.sort(np.concatenate([m.null_scores for m in models]))
    return AppearanceModel(
        fg_prototypes=fg,
        bg_prototypes=bg,
        fg_colour=np.mean([m.fg_colour for m in models], axis=0).astype(np.float32),
        bg_colour=np.mean([m.bg_colour for m in models], axis=0).astype(np.float32),
        null_scores=null.astype(np.float32),
        shape=np.mean([m.shape for m in models], axis=0).astype(np.float32),
    )
