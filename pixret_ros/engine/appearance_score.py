"""How much a segmented region looks like the registered object, as a number in [0, 1].

Two steps: the raw agreement of a mask with the view's appearance (`agreement`), then its
tail probability among the agreements the same model reaches on background photos
(`tail_probability`), so that it reads as "how unusual is this much agreement for a region
that is not the object". Without a background null a fixed logistic stands in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, Float32

MATCH_SIMILARITY = 0.8  # a view prototype counts as found under a mask at this cosine
UNCALIBRATED_CENTRE = 0.45
UNCALIBRATED_SCALE = 0.05


def agreement(cell_sims: Float32, cell_xy: Float32, colour_llr: Float32, mask: BoolMask) -> float:
    """Appearance agreement of a working-resolution mask (raw, about 0..1.5).

    Coverage: the fraction of the view's object prototypes that find a close match
    (cosine > MATCH_SIMILARITY) among the dense cells under the mask. A true object region
    holds cells like many parts of the view; a background region resembles a few parts at
    best. Plus half the sigmoid of the mean colour log-likelihood ratio inside the mask.
    On DAVIS with keypoint priors this separates masks with IoU > 0.5 from the rest at
    ROC AUC 0.91 (coverage alone 0.85, mean colour alone 0.84).

    Args:
        cell_sims: (Kf, n) similarities of the region's dense cells to the object prototypes.
        cell_xy: (n, 2) working-pixel centres (x, y) of those cells.
        colour_llr: (h, w) colour log-likelihood ratio of each working pixel.
        mask: (h, w) bool working-resolution mask.
    """
    if not mask.any():
        return 0.0
    h, w = mask.shape
    xy = np.round(cell_xy - 0.5).astype(int)
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    under = np.zeros(len(xy), bool)
    under[ok] = mask[xy[ok, 1], xy[ok, 0]]
    if not under.any():  # a mask smaller than a cell: take the cell nearest its centre
        cy, cx = np.argwhere(mask).mean(axis=0)
        under[np.argmin(np.hypot(xy[:, 0] - cx, xy[:, 1] - cy))] = True
    coverage = float(np.mean(cell_sims[:, under].max(axis=1) > MATCH_SIMILARITY))
    colour = float(np.mean(colour_llr[mask]))
    return coverage + 0.5 / (1.0 + float(np.exp(-colour)))


def tail_probability(raw: float, null_scores: Float32) -> float:
    """Tail probability of `raw` among the sorted background agreements, mapped into [0, 1]."""
    if len(null_scores) == 0:  # centred on the 95th percentile of DAVIS negatives (bench)
        return float(1 / (1 + np.exp(-(raw - UNCALIBRATED_CENTRE) / UNCALIBRATED_SCALE)))
    rank = np.searchsorted(null_scores, raw, side="left") / len(null_scores)
    # beyond the largest background score, keep ordering by distance (in background spreads)
    spread = max(float(null_scores[-1] - np.median(null_scores)), 1e-3)
    excess = (raw - float(null_scores[-1])) / spread
    return float(0.9 * rank + 0.1 * (1 / (1 + np.exp(-excess))))
