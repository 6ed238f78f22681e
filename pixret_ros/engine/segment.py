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
4. a score (`appearance_score`): the appearance agreement inside the mask, as a tail
   probability among what the same model reaches on background photos
   (`AppearanceModel.null_scores`).

Planar priors (a verified homography) keep the warped mask: their truths cut through texture
and a segmenter that snaps to image edges only hurts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pixret_ros.engine.appearance import (
    AppearanceModel,
    DenseFeatures,
    colour_histogram,
    colour_index,
    stack_models,
)
from pixret_ros.engine.appearance_score import agreement, tail_probability
from pixret_ros.engine.region import (
    Region,
    cells_to_work,
    context_pixels,
    region_around,
    to_frame,
    to_work,
)
from pixret_ros.engine.types import BoolMask, Box, Float32, RGBImage


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
    points: Float32 | None = None
    planar: bool = False


@dataclass(frozen=True)
class Segmentation:
    """The object's mask in the frame and its appearance score in [0, 1] (`appearance_score`)."""

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
    mask_softness: float = 0.0


DEFAULT_CONFIG = SegmentConfig()
LLR_CLIP = 6.0  # log-likelihood ratios are clipped to +-this many nats


@dataclass(frozen=True)
class Evidence:
    """Per working pixel log-likelihood terms and the per-prototype agreement of cells."""

    dense: Float32  # (h, w) dense log-likelihood ratio
    colour: Float32  # (h, w) colour log-likelihood ratio
    spatial: Float32  # (h, w) log-prior
    fg_sim: Float32  # (h, w) best similarity to an object prototype
    cell_sims: Float32  # (Kf, n) similarities of region cells to object prototypes
    cell_xy: Float32  # (n, 2) working-pixel centres of those cells
    colour_fg: Float32  # (h, w) log colour probability under the object model
    colour_bg: Float32  # (h, w) log colour probability under the background model
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


def gather_evidence(
    frame: RGBImage,
    dense: Float32,
    model: AppearanceModel,
    *,
    region: Region,
    box: Box,
    prior: SegmentPrior,
    config: SegmentConfig,
) -> Evidence:
    """The segmenter's evidence in `region`: dense, colour and spatial log-likelihoods."""
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
    fg_sim = cells_to_work(grid[0], region, cell)
    gap = cells_to_work(grid[1], region, cell)
    dense_llr = np.clip(gap / config.dense_temperature, -LLR_CLIP, LLR_CLIP)

    image = np.asarray(
        cv2.resize(
            frame[region.y0 : region.y1, region.x0 : region.x1],
            region.size,
            interpolation=cv2.INTER_AREA,
        ),
        np.uint8,
    )
    context = context_pixels(frame, region)
    bg_colour = model.bg_colour
    if len(context):
        bg_colour = 0.5 * bg_colour + 0.5 * colour_histogram(context)
    idx = colour_index(image)
    colour_fg = np.log(model.fg_colour.reshape(-1)[idx]).astype(np.float32)
    colour_bg = np.log(bg_colour.reshape(-1)[idx]).astype(np.float32)
    colour_llr = np.clip(colour_fg - colour_bg, -LLR_CLIP, LLR_CLIP)

    spatial = np.full(image.shape[:2], -config.box_bonus, np.float32)
    bx0 = round((box.x - region.x0) * region.scale)
    by0 = round((box.y - region.y0) * region.scale)
    bx1 = round((box.x + box.width - region.x0) * region.scale)
    by1 = round((box.y + box.height - region.y0) * region.scale)
    spatial[max(0, by0) : max(0, by1), max(0, bx0) : max(0, bx1)] = config.box_bonus
    if prior.mask is not None:
        crop = prior.mask[region.y0 : region.y1, region.x0 : region.x1].astype(np.float32)
        warped = cv2.resize(crop, region.size, interpolation=cv2.INTER_AREA)
        if config.mask_softness > 0:
            warped = cv2.GaussianBlur(warped, (0, 0), config.mask_softness)
        spatial = spatial + config.mask_bonus * (2 * warped - 1)

    ys, xs = np.mgrid[cy0:cy1, cx0:cx1]
    cell_xy = np.stack(
        [
            ((xs.ravel() + 0.5) * cell[0] - region.x0) * region.scale,
            ((ys.ravel() + 0.5) * cell[1] - region.y0) * region.scale,
        ],
        axis=1,
    ).astype(np.float32)
    return Evidence(
        dense_llr, colour_llr, spatial, fg_sim, fg_sims, cell_xy, colour_fg, colour_bg, image
    )


def _adapt_background(logit: Float32, evidence: Evidence, config: SegmentConfig) -> Float32:
    """Add the region's own background colours (where the evidence says background)."""
    sure_bg = logit < -1.0
    if sure_bg.sum() < 16:
        return logit
    idx = colour_index(evidence.image)
    local = colour_histogram(evidence.image[sure_bg])
    bg = 0.5 * np.exp(evidence.colour_bg) + 0.5 * local.reshape(-1)[idx]
    fg = np.exp(evidence.colour_fg)
    colour = np.clip(np.log(fg) - np.log(bg), -LLR_CLIP, LLR_CLIP)
    combined = config.dense_weight * evidence.dense + config.colour_weight * colour
    return np.asarray(combined + evidence.spatial, np.float32)


def _smooth(logit: Float32, image: RGBImage, radius: int, eps: float) -> Float32:
    """Edge-aware smoothing of the log-likelihood (guided filter, the region as guide)."""
    return np.asarray(
        cv2.ximgproc.guidedFilter(image, logit.astype(np.float32), radius, eps), np.float32
    )


def _refine(logit: Float32, image: RGBImage, iterations: int, hard: float = 4.0) -> BoolMask:
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


def _keep_components(mask: BoolMask, logit: Float32) -> BoolMask:
    """Drop components whose total evidence is small next to the best one's."""
    count, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    mass = np.bincount(comp.ravel(), weights=np.maximum(logit, 0).ravel() + 0.1, minlength=count)
    mass[0] = 0
    keep = mass >= 0.2 * mass.max()
    keep[0] = False
    return np.asarray(keep[comp], bool)


def raw_agreement(evidence: Evidence, work: BoolMask) -> float:
    """`appearance_score.agreement` of a working-resolution mask on `evidence`."""
    return agreement(evidence.cell_sims, evidence.cell_xy, evidence.colour, work)


def _score(evidence: Evidence, work: BoolMask, model: AppearanceModel) -> float:
    return tail_probability(raw_agreement(evidence, work), model.null_scores)


def segment(
    frame_rgb: RGBImage,
    frame_features: DenseFeatures,
    models: Sequence[AppearanceModel],
    prior: SegmentPrior,
    *,
    config: SegmentConfig = DEFAULT_CONFIG,
) -> Segmentation:
    """Mask of the instance in the frame near `prior`, with its appearance score.

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
    region = region_around(box, shape, margin=config.margin, work_side=config.work_side)
    evidence = gather_evidence(
        frame_rgb, dense, model, region=region, box=box, prior=prior, config=config
    )
    if prior.planar and prior.mask is not None:
        work = to_work(prior.mask, region)
        return Segmentation(prior.mask, _score(evidence, work, model))
    work = solve(evidence, config)
    for _ in range(config.regrow):
        mask = to_frame(work, region, shape)
        if not mask.any():
            break
        grown = SegmentPrior(box=Box.of_mask(mask), points=prior.points)
        box = _box_of(grown) or box
        region = region_around(box, shape, margin=config.margin, work_side=config.work_side)
        evidence = gather_evidence(
            frame_rgb, dense, model, region=region, box=box, prior=grown, config=config
        )
        work = solve(evidence, config)
    score = _score(evidence, work, model)
    return Segmentation(to_frame(work, region, shape), score)


def solve(evidence: Evidence, config: SegmentConfig) -> BoolMask:
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
