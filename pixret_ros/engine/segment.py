"""Segment a found instance on the frame's own content, and score how much it looks like it.

Given a prior from localization (inlier points, a box, a warped mask), the mask is grown from
region appearance rather than transferred by one warp, because objects that turn and deform
do not follow a homography:

1. a region of interest around the prior, worked on at a small resolution;
2. a per-pixel object log-likelihood ratio from (a) XFeat dense cells compared with the
   view's object prototypes versus its margin and the frame's own surroundings, and
   (b) the view's object colours versus the margin's and the surroundings' colours, plus a
   spatial prior from the box and the points;
3. boundary refinement by graph cut (`cv2.grabCut`, initialized with that likelihood);
4. a score: the appearance agreement inside the mask, calibrated against what the same model
   reaches on background photos (`AppearanceModel.calibration`), so it reads as "how unusual
   is this much agreement for a region that is not the object".

Planar priors (a verified homography) keep the warped mask: their truths cut through texture
and a segmenter that snaps to image edges only hurts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pixret_ros.engine.appearance import (
    F32,
    AppearanceModel,
    BankImage,
    DenseFeatures,
    colour_histogram,
    colour_index,
    stack_models,
)
from pixret_ros.engine.types import BoolMask, Box, RGBImage


@dataclass(frozen=True)
class SegmentPrior:
    """Where localization thinks the object is (frame pixels; any field may be None).

    Attributes:
        mask: (H, W) bool transferred view mask (e.g. warped by a homography or affinity).
        box: rough box of the object.
        points: (N, 2) float32 matched inlier points (x, y) in the frame.
        planar: a homography was verified: the warped mask is trusted as is.
    """

    mask: BoolMask | None = None
    box: Box | None = None
    points: F32 | None = None
    planar: bool = False


@dataclass(frozen=True)
class Segmentation:
    """The object's mask in the frame and the calibrated appearance agreement in [0, 1]."""

    mask: BoolMask
    score: float


@dataclass(frozen=True)
class SegmentConfig:
    """Tuning of `segment` (defaults measured on the development set, see tools/seg_bench.py).

    What each knob does and its range: pixret_ros/settings/engine_params.py (SEGMENTER_DOCS,
    ENGINE_RANGES); the engine takes them from `EngineConfig.segmenter`, the node and the
    params file as `engine.segmenter.<knob>`.
    """

    work_side: int = 112
    margin: float = 0.2
    dense_temperature: float = 0.08
    dense_weight: float = 1.0
    colour_weight: float = 0.5
    box_bonus: float = 0.5
    grabcut_iterations: int = 0
    context_cells: int = 128
    smooth_radius: int = 6
    hard_labels: float = 4.0
    adapt_background: int = 1
    regrow: int = 0
    smooth_eps: float = 4.0
    mask_bonus: float = 0.5


DEFAULT_CONFIG = SegmentConfig()
_CLIP = 6.0
MATCH_SIMILARITY = 0.8  # a view prototype counts as found under a mask at this cosine
UNCALIBRATED_CENTRE = 0.45
UNCALIBRATED_SCALE = 0.05
PROPOSAL_BACKGROUND_CELLS = 256  # frame cells sampled as background by `propose`


@dataclass(frozen=True)
class _Region:
    """Region of interest (frame pixels, x0 y0 inclusive, x1 y1 exclusive) at working size."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float  # working pixels per frame pixel
    size: tuple[int, int]  # working (width, height)


@dataclass(frozen=True)
class _Evidence:
    """Per working pixel log-likelihood terms and the per-prototype agreement of cells."""

    dense: F32  # (h, w) dense log-likelihood ratio
    colour: F32  # (h, w) colour log-likelihood ratio
    spatial: F32  # (h, w) log-prior
    fg_sim: F32  # (h, w) best similarity to an object prototype
    cell_sims: F32  # (Kf, n) similarities of region cells to object prototypes
    cell_xy: F32  # (n, 2) working-pixel centres of those cells
    colour_fg: F32  # (h, w) log colour probability under the object model
    colour_bg: F32  # (h, w) log colour probability under the background model
    image: RGBImage  # (h, w, 3) the region at working size


def _box_of(prior: SegmentPrior) -> Box | None:
    boxes: list[Box] = []
    if prior.mask is not None and prior.mask.any():
        boxes.append(Box.of_mask(prior.mask))
    if prior.box is not None and prior.box.width > 0 and prior.box.height > 0:
        boxes.append(prior.box)
    if prior.points is not None and len(prior.points) >= 2:
        lo = np.floor(prior.points.min(axis=0)).astype(int)
        hi = np.ceil(prior.points.max(axis=0)).astype(int)
        boxes.append(Box(int(lo[0]), int(lo[1]), int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)))
    if not boxes:
        return None
    x0 = min(b.x for b in boxes)
    y0 = min(b.y for b in boxes)
    x1 = max(b.x + b.width for b in boxes)
    y1 = max(b.y + b.height for b in boxes)
    return Box(x0, y0, x1 - x0, y1 - y0)


def _region(box: Box, shape: tuple[int, int], config: SegmentConfig) -> _Region:
    h, w = shape
    pad_x = config.margin * box.width + 8
    pad_y = config.margin * box.height + 8
    x0 = max(0, int(box.x - pad_x))
    y0 = max(0, int(box.y - pad_y))
    x1 = min(w, int(np.ceil(box.x + box.width + pad_x)))
    y1 = min(h, int(np.ceil(box.y + box.height + pad_y)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    scale = min(1.0, config.work_side / max(x1 - x0, y1 - y0))
    size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
    return _Region(x0, y0, x1, y1, scale, size)


def _cells_to_work(values: F32, region: _Region, cell: tuple[float, float]) -> F32:
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


def _evidence(
    frame: RGBImage,
    dense: F32,
    model: AppearanceModel,
    *,
    region: _Region,
    box: Box,
    prior: SegmentPrior,
    config: SegmentConfig,
) -> _Evidence:
    fh, fw = frame.shape[:2]
    _, ch, cw = dense.shape
    cell = (fw / cw, fh / ch)
    # Region cells (with one cell of slack) and context cells outside the region.
    cx0 = max(0, int(region.x0 / cell[0]) - 1)
    cy0 = max(0, int(region.y0 / cell[1]) - 1)
    cx1 = min(cw, int(np.ceil(region.x1 / cell[0])) + 1)
    cy1 = min(ch, int(np.ceil(region.y1 / cell[1])) + 1)
    inside = np.zeros((ch, cw), bool)
    inside[cy0:cy1, cx0:cx1] = True
    cells = dense[:, cy0:cy1, cx0:cx1].reshape(64, -1)
    fg_sims = model.fg_prototypes @ cells  # (Kf, n)
    fg_best = fg_sims.max(axis=0)
    bg_set = [model.bg_prototypes]
    outside = dense[:, ~inside].T
    if len(outside):
        step = max(1, len(outside) // config.context_cells)
        bg_set.append(outside[::step])
    bg = np.concatenate(bg_set)
    bg_best = (bg @ cells).max(axis=0) if len(bg) else np.zeros_like(fg_best)
    grid = np.zeros((2, ch, cw), np.float32)
    grid[0, cy0:cy1, cx0:cx1] = fg_best.reshape(cy1 - cy0, cx1 - cx0)
    grid[1, cy0:cy1, cx0:cx1] = (fg_best - bg_best).reshape(cy1 - cy0, cx1 - cx0)
    fg_sim = _cells_to_work(grid[0], region, cell)
    gap = _cells_to_work(grid[1], region, cell)
    dense_llr = np.clip(gap / config.dense_temperature, -_CLIP, _CLIP)

    image = np.asarray(
        cv2.resize(
            frame[region.y0 : region.y1, region.x0 : region.x1],
            region.size,
            interpolation=cv2.INTER_AREA,
        ),
        np.uint8,
    )
    context = _context_pixels(frame, region)
    bg_colour = model.bg_colour
    if len(context):
        bg_colour = 0.5 * bg_colour + 0.5 * colour_histogram(context)
    idx = colour_index(image)
    colour_fg = np.log(model.fg_colour.reshape(-1)[idx]).astype(np.float32)
    colour_bg = np.log(bg_colour.reshape(-1)[idx]).astype(np.float32)
    colour_llr = np.clip(colour_fg - colour_bg, -_CLIP, _CLIP)

    spatial = np.full(image.shape[:2], -config.box_bonus, np.float32)
    bx0 = round((box.x - region.x0) * region.scale)
    by0 = round((box.y - region.y0) * region.scale)
    bx1 = round((box.x + box.width - region.x0) * region.scale)
    by1 = round((box.y + box.height - region.y0) * region.scale)
    spatial[max(0, by0) : max(0, by1), max(0, bx0) : max(0, bx1)] = config.box_bonus
    if prior.mask is not None:
        crop = prior.mask[region.y0 : region.y1, region.x0 : region.x1].astype(np.float32)
        warped = cv2.resize(crop, region.size, interpolation=cv2.INTER_AREA)
        spatial = spatial + config.mask_bonus * (2 * warped - 1)

    ys, xs = np.mgrid[cy0:cy1, cx0:cx1]
    cell_xy = np.stack(
        [
            ((xs.ravel() + 0.5) * cell[0] - region.x0) * region.scale,
            ((ys.ravel() + 0.5) * cell[1] - region.y0) * region.scale,
        ],
        axis=1,
    ).astype(np.float32)
    return _Evidence(
        dense_llr, colour_llr, spatial, fg_sim, fg_sims, cell_xy, colour_fg, colour_bg, image
    )


def _context_pixels(frame: RGBImage, region: _Region) -> RGBImage:
    """Frame pixels outside the region, subsampled (a background colour sample)."""
    step = 4
    sub = frame[::step, ::step]
    keep = np.ones(sub.shape[:2], bool)
    keep[region.y0 // step : -(-region.y1 // step), region.x0 // step : -(-region.x1 // step)] = (
        False
    )
    return sub[keep]


def _adapt_background(logit: F32, evidence: _Evidence, config: SegmentConfig) -> F32:
    """Add the region's own background colours (where the evidence says background)."""
    sure_bg = logit < -1.0
    if sure_bg.sum() < 16:
        return logit
    idx = colour_index(evidence.image)
    local = colour_histogram(evidence.image[sure_bg])
    bg = 0.5 * np.exp(evidence.colour_bg) + 0.5 * local.reshape(-1)[idx]
    fg = np.exp(evidence.colour_fg)
    colour = np.clip(np.log(fg) - np.log(bg), -_CLIP, _CLIP)
    combined = config.dense_weight * evidence.dense + config.colour_weight * colour
    return np.asarray(combined + evidence.spatial, np.float32)


def _smooth(logit: F32, image: RGBImage, radius: int, eps: float) -> F32:
    """Edge-aware smoothing of the log-likelihood (guided filter, the region as guide)."""
    return np.asarray(
        cv2.ximgproc.guidedFilter(image, logit.astype(np.float32), radius, eps), np.float32
    )


def _refine(logit: F32, image: RGBImage, iterations: int, hard: float = 4.0) -> BoolMask:
    """Graph cut seeded by the log-likelihood (probable labels by sign, sure ones by size)."""
    mask = logit > 0
    if iterations <= 0 or mask.all() or not mask.any():
        return mask
    labels = np.where(mask, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[logit > hard] = cv2.GC_FGD
    labels[logit < -hard] = cv2.GC_BGD
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(  # type: ignore[call-overload]
            np.ascontiguousarray(image[..., ::-1]),
            labels,
            None,
            bgd,
            fgd,
            iterations,
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error:  # degenerate colour statistics (e.g. a flat region): keep the threshold
        return mask
    return np.asarray((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD), bool)


def _keep_components(mask: BoolMask, logit: F32) -> BoolMask:
    """Drop components whose total evidence is small next to the best one's."""
    count, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    mass = np.bincount(comp.ravel(), weights=np.maximum(logit, 0).ravel() + 0.1, minlength=count)
    mass[0] = 0
    keep = mass >= 0.2 * mass.max()
    keep[0] = False
    return np.asarray(keep[comp], bool)


def raw_score(evidence: _Evidence, mask: BoolMask) -> float:
    """Appearance agreement of a working-resolution mask (uncalibrated, about 0..1.5).

    Coverage: the fraction of the view's object prototypes that find a close match
    (cosine > MATCH_SIMILARITY) among the dense cells under the mask. A true object region
    holds cells like many parts of the view; a background region resembles a few parts at
    best. Plus half the sigmoid of the mean colour log-likelihood ratio inside the mask.
    On DAVIS with keypoint priors this separates masks with IoU > 0.5 from the rest at
    ROC AUC 0.91 (coverage alone 0.85, mean colour alone 0.84).
    """
    if not mask.any():
        return 0.0
    h, w = mask.shape
    xy = np.round(evidence.cell_xy - 0.5).astype(int)
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    under = np.zeros(len(xy), bool)
    under[ok] = mask[xy[ok, 1], xy[ok, 0]]
    if not under.any():  # a mask smaller than a cell: take the cell nearest its centre
        cy, cx = np.argwhere(mask).mean(axis=0)
        under[np.argmin(np.hypot(xy[:, 0] - cx, xy[:, 1] - cy))] = True
    coverage = float(np.mean(evidence.cell_sims[:, under].max(axis=1) > MATCH_SIMILARITY))
    colour = float(np.mean(evidence.colour[mask]))
    return coverage + 0.5 / (1.0 + float(np.exp(-colour)))


def calibrate(raw: float, calibration: F32) -> float:
    """Tail probability of `raw` among the background scores, mapped into [0, 1]."""
    if len(calibration) == 0:  # centred on the 95th percentile of DAVIS negatives (bench)
        return float(1 / (1 + np.exp(-(raw - UNCALIBRATED_CENTRE) / UNCALIBRATED_SCALE)))
    rank = np.searchsorted(calibration, raw, side="left") / len(calibration)
    # beyond the largest background score, keep ordering by distance (in background spreads)
    spread = max(float(calibration[-1] - np.median(calibration)), 1e-3)
    excess = (raw - float(calibration[-1])) / spread
    return float(0.9 * rank + 0.1 * (1 / (1 + np.exp(-excess))))


def segment(
    frame_rgb: RGBImage,
    frame_features: DenseFeatures,
    models: Sequence[AppearanceModel],
    prior: SegmentPrior,
    *,
    config: SegmentConfig = DEFAULT_CONFIG,
) -> Segmentation:
    """Mask of the instance in the frame near `prior`, with its calibrated appearance score.

    Args:
        frame_rgb: (H, W, 3) uint8 frame; the mask is returned at this size.
        frame_features: features of the frame (its dense map may be at any resolution; it is
            taken to cover the whole frame).
        models: appearance models of the instance's views (pooled).
        prior: localization result in frame pixels.
        config: tuning.

    Returns:
        Segmentation; an empty mask with score 0 when the prior gives no location.
    """
    dense = np.asarray(frame_features.dense, np.float32)
    if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
        raise ValueError(
            f"segment: frame must be RGB uint8 (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}"
        )
    if dense.ndim != 3 or dense.shape[0] != 64 or not models:
        raise ValueError(
            f"segment: need a (64, h, w) dense map and at least one model, got dense "
            f"{dense.shape} and {len(models)} models"
        )
    shape = frame_rgb.shape[:2]
    model = stack_models(models)
    box = _box_of(prior)
    if box is None:
        return Segmentation(np.zeros(shape, bool), 0.0)
    region = _region(box, shape, config)
    evidence = _evidence(
        frame_rgb, dense, model, region=region, box=box, prior=prior, config=config
    )
    if prior.planar and prior.mask is not None:
        work = _to_work(prior.mask, region)
        return Segmentation(prior.mask, calibrate(raw_score(evidence, work), model.calibration))
    work = _solve(evidence, config)
    for _ in range(config.regrow):
        mask = _to_frame(work, region, shape)
        if not mask.any():
            break
        grown = SegmentPrior(box=Box.of_mask(mask), points=prior.points)
        box = _box_of(grown) or box
        region = _region(box, shape, config)
        evidence = _evidence(
            frame_rgb, dense, model, region=region, box=box, prior=grown, config=config
        )
        work = _solve(evidence, config)
    score = calibrate(raw_score(evidence, work), model.calibration)
    return Segmentation(_to_frame(work, region, shape), score)


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
    the view, which `segment` then cuts out; the score is the calibrated appearance
    agreement of the result.
    """
    model = stack_models(models)
    box = propose(frame_rgb, np.asarray(frame_features.dense, np.float32), model, config)
    if box is None:
        return Segmentation(np.zeros(frame_rgb.shape[:2], bool), 0.0)
    return segment(frame_rgb, frame_features, [model], SegmentPrior(box=box), config=config)


def propose(
    frame_rgb: RGBImage, dense: F32, model: AppearanceModel, config: SegmentConfig = DEFAULT_CONFIG
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
    dense_llr = np.clip((fg_best - bg_best) / config.dense_temperature, -_CLIP, _CLIP)
    small = np.asarray(cv2.resize(frame_rgb, (cw, ch), interpolation=cv2.INTER_AREA), np.uint8)
    idx = colour_index(small)
    frame_colour = colour_histogram(small.reshape(-1, 3))
    colour_llr = np.clip(
        np.log(model.fg_colour.reshape(-1)[idx]) - np.log(frame_colour.reshape(-1)[idx]),
        -_CLIP,
        _CLIP,
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


def _solve(evidence: _Evidence, config: SegmentConfig) -> BoolMask:
    """Working-resolution mask from the evidence: combine, smooth, cut, clean."""
    logit = (
        config.dense_weight * evidence.dense
        + config.colour_weight * evidence.colour
        + evidence.spatial
    )
    for _ in range(config.adapt_background):
        logit = _adapt_background(logit, evidence, config)
    if config.smooth_radius > 0:
        logit = _smooth(logit, evidence.image, config.smooth_radius, config.smooth_eps)
    work = _refine(logit, evidence.image, config.grabcut_iterations, config.hard_labels)
    return _keep_components(work, logit)


def _to_work(mask: BoolMask, region: _Region) -> BoolMask:
    crop = mask[region.y0 : region.y1, region.x0 : region.x1].astype(np.float32)
    return np.asarray(cv2.resize(crop, region.size, interpolation=cv2.INTER_AREA) >= 0.5)


def _to_frame(work: BoolMask, region: _Region, shape: tuple[int, int]) -> BoolMask:
    out = np.zeros(shape, bool)
    size = (region.x1 - region.x0, region.y1 - region.y0)
    up = cv2.resize(work.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    out[region.y0 : region.y1, region.x0 : region.x1] = up >= 0.5
    return out


def calibration_scores(
    model: AppearanceModel, bank: Sequence[BankImage], config: SegmentConfig = DEFAULT_CONFIG
) -> F32:
    """Raw scores of `model` on background photos, boxes of the object's aspect at 2 sizes."""
    aspect = float(model.shape[0])
    scores: list[float] = []
    for image in bank:
        h, w = image.rgb.shape[:2]
        for frac in (0.3, 0.6):
            bh = frac * h
            bw = min(w * 0.9, bh / max(aspect, 1e-3))
            bh = min(bh, bw * aspect)
            for fx, fy in ((0.25, 0.3), (0.75, 0.7), (0.5, 0.5)):
                box = Box(int(fx * (w - bw)), int(fy * (h - bh)), max(1, int(bw)), max(1, int(bh)))
                prior = SegmentPrior(box=box)
                region = _region(box, (h, w), config)
                ev = _evidence(
                    image.rgb,
                    image.dense,
                    model,
                    region=region,
                    box=box,
                    prior=prior,
                    config=config,
                )
                scores.append(raw_score(ev, _solve(ev, config)))
    return np.asarray(scores, np.float32)
