"""Find an instance by appearance alone, where geometry found nothing.

Objects that turn and deform leave too few keypoint inliers for any warp; their dense cells
and colours still resemble the view's. `propose` picks the frame region most like the view
(a box), which `segment` then cuts out (`search` does both).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pixret_ros.engine.appearance import (
    AppearanceModel,
    DenseFeatures,
    colour_histogram,
    colour_index,
    stack_models,
)
from pixret_ros.engine.segment import (
    DEFAULT_CONFIG,
    LLR_CLIP,
    Segmentation,
    SegmentConfig,
    SegmentPrior,
    segment,
)
from pixret_ros.engine.types import Box, Float32, RGBImage

PROPOSAL_BACKGROUND_CELLS = 256  # frame cells sampled as background by `propose`


def search(
    frame_rgb: RGBImage,
    frame_features: DenseFeatures,
    models: Sequence[AppearanceModel],
    *,
    config: SegmentConfig = DEFAULT_CONFIG,
) -> Segmentation:
    """Find and segment the instance by appearance alone, where geometry found nothing.

    Objects that turn and deform leave too few keypoint inliers for any warp; their dense
    cells and colours still resemble the view's. `propose` picks the frame region most like
    the view, which `segment` then cuts out; the score is `segment`'s appearance score of
    the result.
    """
    model = stack_models(models)
    box = propose(frame_rgb, np.asarray(frame_features.dense, np.float32), model, config)
    if box is None:
        return Segmentation(np.zeros(frame_rgb.shape[:2], bool), 0.0)
    return segment(frame_rgb, frame_features, [model], SegmentPrior(box=box), config=config)


def propose(
    frame_rgb: RGBImage,
    dense: Float32,
    model: AppearanceModel,
    config: SegmentConfig = DEFAULT_CONFIG,
) -> Box | None:
    """Box (frame pixels) of the cells that resemble the view's object more than the frame.

    Cell by cell: the best similarity to the object's prototypes minus the best similarity
    to a background drawn from the frame itself (its least object-like half) and the view's
    margin, plus the colour log-likelihood ratio of object vs. the whole frame. The
    connected blob of positive evidence with the largest mass wins.
    """
    _, ch, cw = dense.shape
    cells = dense.reshape(64, -1)
    fg_best = (model.fg_prototypes @ cells).max(axis=0)
    frame_bg = cells[:, fg_best <= np.median(fg_best)]
    step = max(1, frame_bg.shape[1] // PROPOSAL_BACKGROUND_CELLS)
    bg = np.concatenate([model.bg_prototypes.reshape(-1, 64), frame_bg[:, ::step].T])
    bg_best = (bg @ cells).max(axis=0)
    dense_llr = np.clip((fg_best - bg_best) / config.dense_temperature, -LLR_CLIP, LLR_CLIP)
    small = np.asarray(cv2.resize(frame_rgb, (cw, ch), interpolation=cv2.INTER_AREA), np.uint8)
    idx = colour_index(small)
    frame_colour = colour_histogram(small.reshape(-1, 3))
    colour_llr = np.clip(
        np.log(model.fg_colour.reshape(-1)[idx]) - np.log(frame_colour.reshape(-1)[idx]),
        -LLR_CLIP,
        LLR_CLIP,
    )
    logit = dense_llr.reshape(ch, cw) + config.colour_weight * colour_llr
    logit = cv2.GaussianBlur(logit.astype(np.float32), (3, 3), 0)
    count, comp = cv2.connectedComponents((logit > 0).astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    mass = np.bincount(comp.ravel(), weights=np.maximum(logit, 0).ravel(), minlength=count)
    mass[0] = 0
    rows, cols = np.nonzero(comp == int(np.argmax(mass)))
    fh, fw = frame_rgb.shape[:2]
    sx, sy = fw / cw, fh / ch
    x0, y0 = int(cols.min() * sx), int(rows.min() * sy)
    x1, y1 = int(np.ceil((cols.max() + 1) * sx)), int(np.ceil((rows.max() + 1) * sy))
    return Box(x0, y0, min(fw, x1) - x0, min(fh, y1) - y0)
