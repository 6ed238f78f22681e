"""Segment the object a user points at in a frame: a box and/or foreground clicks.

Registering from a live camera: nothing is known about the object yet, so the models that
`segment.segment` normally takes from a registered view are learned from the frame itself:
the object's dense XFeat prototypes and colours from a seed (the clicked points, or the
middle of the box), the background's from everything outside the box. The engine's own
segmenter then cuts the object out inside the box (dense and colour likelihoods, snapped to
edges), and GrabCut on the region, seeded by that mask, sharpens the boundary where the two
agree. tools/prompt_seg_bench.py measures this against plain GrabCut on the development set.

What it cannot separate: parts of the background inside the box that look like the object
(same colours and texture: a dog on a similar carpet), objects that fill almost the whole
box so nothing inside it is background, object parts outside the box, thin parts below the
working resolution, and a planar patch of a larger surface (no boundary of its own).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pixret_ros.engine.appearance import (
    MAX_BG_PROTOTYPES,
    MAX_FG_PROTOTYPES,
    AppearanceModel,
    cell_fraction,
    colour_histogram,
)
from pixret_ros.engine.resize import working
from pixret_ros.engine.segment import SegmentConfig, SegmentPrior, segment
from pixret_ros.engine.types import BoolMask, Box, Float32, RGBImage, mask_iou
from pixret_ros.errors import PromptError

DenseFn = Callable[[RGBImage], Float32]

MIN_BOX_SIDE = 8  # pixels; a smaller box holds too few dense cells to learn from
MIN_MASK_PIXELS = 64  # a smaller result is reported as an empty segmentation
DENSE_LONG_SIDE = 640  # the frame is resized to at most this before the dense XFeat pass
SEED_FRACTION = 0.5  # with no clicks, the seed is the ellipse of this fraction of the box
CLICK_RADIUS = 0.08  # seed disk radius around a click, as a fraction of the box's short side
POINT_BOX_FRACTION = 0.3  # clicks without a box: box side, as a fraction of the frame side
MIN_OUTSIDE_FRACTION = 0.05  # the background is learned from the frame outside the box
SAME_SIMILARITY = 0.98  # an object cell this close to a background cell is "the same"
SAME_COLOURS = 0.98  # Bhattacharyya coefficient of seed vs. outside colours: "the same"
# tools/prompt_seg_bench.py: work_side 160 and 2 inner graph-cut passes beat 112 and 0 on the
# dev set (mIoU 0.637 vs 0.625 and 0.586, every 3rd positive); box_bonus 1.0 (the engine's
# default is 0.5: a user's box is a stronger prior than a warped view) was not compared.
PROMPT_CONFIG = SegmentConfig(work_side=160, grabcut_iterations=2, box_bonus=1.0)
GRABCUT_ITERATIONS = 5  # final GrabCut passes on the engine's mask (0 = none)
GRABCUT_SIDE = 320  # pixels, long side of the region GrabCut works on
# GrabCut's result replaces the engine's mask only where they agree this much (IoU): it then
# sharpens the boundary; where they disagree, GrabCut has usually cut a planar region (a
# wall, a poster) down to one colour patch of it (dev set, every 3rd positive: Oxford
# mIoU 0.66 -> 0.08). With this rule: mIoU 0.624 vs 0.611 without GrabCut (all positives).
GRABCUT_AGREEMENT = 0.6


@dataclass(frozen=True)
class Prompt:
    """What the user marked: a box (frame pixels) and/or foreground points (x, y)."""

    box: Box | None = None
    points: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class _Dense:
    """The one field of `features.Features` that `segment` reads."""

    dense: Float32


def prompt_box(prompt: Prompt, shape: tuple[int, int]) -> Box:
    """The prompt's box, clipped to the frame; PromptError says what is wrong with it.

    A box partly outside the frame is clipped (users drag past the border); a box with no
    part inside, a box under MIN_BOX_SIDE or a click outside the frame is refused. Clicks
    alone give a box around them of POINT_BOX_FRACTION of the frame, grown to hold them all.
    """
    height, width = shape
    for x, y in prompt.points:
        if not (0 <= x < width and 0 <= y < height):
            raise PromptError(
                f"point ({x:g}, {y:g}) is outside the {width}x{height} frame; give points "
                "in pixels of the frame (0 <= x < width, 0 <= y < height)"
            )
    if prompt.box is None:
        if not prompt.points:
            raise PromptError("give a box (width and height > 0) and/or at least one point")
        pts = np.asarray(prompt.points, np.float64)
        half = POINT_BOX_FRACTION * min(height, width) / 2
        lo = np.floor(pts.min(axis=0) - half)
        hi = np.ceil(pts.max(axis=0) + half)
        box = Box(int(lo[0]), int(lo[1]), int(hi[0] - lo[0]), int(hi[1] - lo[1]))
    else:
        box = prompt.box
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(width, box.x + box.width), min(height, box.y + box.height)
    if box.width <= 0 or box.height <= 0 or x1 <= x0 or y1 <= y0:
        raise PromptError(
            f"box x={box.x} y={box.y} w={box.width} h={box.height} does not overlap the "
            f"{width}x{height} frame; give a box in pixels of the frame"
        )
    if min(x1 - x0, y1 - y0) < MIN_BOX_SIDE:
        raise PromptError(
            f"box {x1 - x0}x{y1 - y0} (inside the frame) is too small; both sides must be at "
            f"least {MIN_BOX_SIDE} pixels"
        )
    return Box(x0, y0, x1 - x0, y1 - y0)


def seed_mask(
    box: Box,
    points: Sequence[tuple[float, float]],
    shape: tuple[int, int],
    *,
    with_middle: bool = False,
) -> BoolMask:
    """Pixels taken as surely object: disks at the clicks, else the middle of the box."""
    seed = np.zeros(shape, np.uint8)
    if points:
        radius = max(2, round(CLICK_RADIUS * min(box.width, box.height)))
        for x, y in points:
            cv2.circle(seed, (round(x), round(y)), radius, 1, -1)
    if not points or with_middle:
        centre = (box.x + box.width // 2, box.y + box.height // 2)
        axes = (
            max(1, round(SEED_FRACTION * box.width / 2)),
            max(1, round(SEED_FRACTION * box.height / 2)),
        )
        cv2.ellipse(seed, centre, axes, 0, 0, 360, 1, -1)
    return seed.astype(bool)


def frame_model(frame: RGBImage, dense: Float32, seed: BoolMask, box: Box) -> AppearanceModel:
    """Object and background appearance learned from one frame (seed vs. outside the box)."""
    outside = ~_inside(box, (frame.shape[0], frame.shape[1]))
    cells = dense.reshape(64, -1).T
    grid = (dense.shape[1], dense.shape[2])
    seed_frac = cell_fraction(seed, grid).reshape(-1)
    fg = cells[seed_frac >= min(0.5, float(seed_frac.max()))]  # small seeds: best cells
    bg = cells[cell_fraction(outside, grid).reshape(-1) >= 0.95]
    area = float(seed.sum())
    return AppearanceModel(
        fg_prototypes=_spread(fg, MAX_FG_PROTOTYPES),
        bg_prototypes=_spread(bg, MAX_BG_PROTOTYPES).reshape(-1, 64),
        fg_colour=colour_histogram(frame[seed]),
        bg_colour=colour_histogram(frame[outside]),
        null_scores=np.zeros(0, np.float32),
        shape=np.array([box.height / box.width, area / (box.width * box.height), area], np.float32),
    )


def stands_out(model: AppearanceModel) -> bool:
    """Whether the seed differs from the outside at all (in dense cells or in colours).

    A flat wall or a box on empty floor gives a seed whose every cell and colour also
    occurs outside the box; the segmenter would then return the box itself.
    """
    if len(model.bg_prototypes) == 0 or len(model.fg_prototypes) == 0:
        return True
    nearest = (model.fg_prototypes @ model.bg_prototypes.T).max(axis=1)
    same_cells = float(np.mean(nearest > SAME_SIMILARITY))
    same_colours = float(np.sum(np.sqrt(model.fg_colour * model.bg_colour)))
    return same_cells < 0.95 or same_colours < SAME_COLOURS


def _spread(cells: Float32, limit: int) -> Float32:
    """At most `limit` rows, evenly spaced (deterministic, keeps spatial coverage)."""
    keep = np.linspace(0, len(cells) - 1, min(limit, len(cells))).round().astype(np.intp)
    return np.ascontiguousarray(cells[keep], dtype=np.float32)


def _dense_of(frame: RGBImage, dense_fn: DenseFn) -> Float32:
    """The unit dense map of the whole frame, computed at most DENSE_LONG_SIDE pixels long."""
    small = working(frame, DENSE_LONG_SIDE, min_side=32)
    return np.asarray(dense_fn(small), np.float32)


def segment_prompt(
    frame: RGBImage,
    prompt: Prompt,
    *,
    dense_fn: DenseFn | None = None,
    config: SegmentConfig = PROMPT_CONFIG,
    grabcut_iterations: int = GRABCUT_ITERATIONS,
) -> BoolMask:
    """The object's mask (frame size) inside the prompt's box / under its points.

    Raises PromptError for a prompt outside the frame or too small, and when the result
    has fewer than MIN_MASK_PIXELS pixels (nothing in the box stands out from the rest).
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise PromptError(f"frame must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    shape = (frame.shape[0], frame.shape[1])
    box = prompt_box(prompt, shape)
    if dense_fn is None:
        from pixret_ros.engine.features import dense_map  # noqa: PLC0415 (loads torch)

        dense_fn = dense_map
    if box.width * box.height > (1 - MIN_OUTSIDE_FRACTION) * shape[0] * shape[1]:
        raise PromptError(
            f"the box covers {box.width}x{box.height} of the {shape[1]}x{shape[0]} frame, "
            "leaving no background to tell the object from; draw it around the object only"
        )
    dense = _dense_of(frame, dense_fn)
    seed = seed_mask(box, prompt.points, shape, with_middle=prompt.box is not None)
    model = frame_model(frame, dense, seed, box)
    if not stands_out(model):
        raise PromptError(
            f"empty segmentation: the middle of the box x={box.x} y={box.y} w={box.width} "
            f"h={box.height} (or the clicked points) looks like the frame outside the box "
            "(same colours and texture); draw the box around the object or click on it"
        )
    points = np.asarray(prompt.points, np.float32).reshape(-1, 2) if prompt.points else None
    result = segment(
        frame, _Dense(dense), [model], SegmentPrior(box=box, points=points), config=config
    )
    mask = result.mask & _inside(box, shape)
    if grabcut_iterations > 0 and mask.any():
        refined = grabcut_prompt(frame, prompt, init=mask, iterations=grabcut_iterations)
        if mask_iou(refined, mask) >= GRABCUT_AGREEMENT:
            mask = refined
    if int(mask.sum()) < MIN_MASK_PIXELS:
        raise PromptError(
            f"empty segmentation: nothing inside the box x={box.x} y={box.y} w={box.width} "
            f"h={box.height} stands out from the rest of the frame; draw the box tighter "
            "around the object or click on it (--point X Y)"
        )
    return mask


def _inside(box: Box, shape: tuple[int, int]) -> BoolMask:
    inside = np.zeros(shape, bool)
    inside[box.y : box.y + box.height, box.x : box.x + box.width] = True
    return inside


def grabcut_prompt(
    frame: RGBImage,
    prompt: Prompt,
    *,
    init: BoolMask | None = None,
    iterations: int = GRABCUT_ITERATIONS,
    work_side: int = GRABCUT_SIDE,
) -> BoolMask:
    """GrabCut in the box (outside it: background; clicks: object) on a downscaled region.

    `init` (frame size) marks the probable object; None = the whole box (plain GrabCut,
    the benchmark's baseline). The region is the box grown by a quarter per side (the
    background colours are learned there), worked on at most `work_side` pixels long.
    """
    shape = (frame.shape[0], frame.shape[1])
    box = prompt_box(prompt, shape)
    region = view_crop(box, shape)
    rows = slice(region.y, region.y + region.height)
    cols = slice(region.x, region.x + region.width)
    inside = _inside(box, shape)
    probable = inside if init is None else init & inside
    labels = np.where(probable, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[~inside] = cv2.GC_BGD
    if prompt.points:
        labels[seed_mask(box, prompt.points, shape)] = cv2.GC_FGD
    scale = min(1.0, work_side / max(region.width, region.height))
    size = (max(8, round(region.width * scale)), max(8, round(region.height * scale)))
    image = cv2.resize(frame[rows, cols], size, interpolation=cv2.INTER_AREA)
    work = cv2.resize(labels[rows, cols], size, interpolation=cv2.INTER_NEAREST)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    with contextlib.suppress(cv2.error):  # degenerate colours: keep the initial labels
        cv2.grabCut(  # type: ignore[call-overload]
            np.ascontiguousarray(image[..., ::-1]), work, None, bgd, fgd, iterations,
            cv2.GC_INIT_WITH_MASK,
        )  # fmt: skip
    fg = ((work == cv2.GC_FGD) | (work == cv2.GC_PR_FGD)).astype(np.float32)
    up = cv2.resize(fg, (region.width, region.height), interpolation=cv2.INTER_LINEAR)
    out = np.zeros(shape, bool)
    out[rows, cols] = up >= 0.5
    return out & inside


def view_crop(box: Box, shape: tuple[int, int], margin: float = 0.25) -> Box:
    """The part of the frame stored as the view: the box grown by `margin` per side, clipped.

    A view is a photo of the object with some surroundings (the appearance model learns the
    background from that margin), not the whole frame with other things in it.
    """
    height, width = shape
    pad_x, pad_y = round(margin * box.width), round(margin * box.height)
    x0, y0 = max(0, box.x - pad_x), max(0, box.y - pad_y)
    x1 = min(width, box.x + box.width + pad_x)
    y1 = min(height, box.y + box.height + pad_y)
    return Box(x0, y0, x1 - x0, y1 - y0)
