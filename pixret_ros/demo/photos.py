"""The demo's raw material: object instances and backgrounds cut from scikit-image's photos.

Why: the demo must install with the project (no download), so every pixel comes from the real
photographs that ship inside scikit-image. Each instance is a clean source image plus a mask
derived deterministically (a hand-chosen box refined by GrabCut with a fixed seed, an ellipse,
the alpha channel of a logo, a whole planar print, or stereo disparity for the motorcycle);
the masks were checked visually. Images are RGB uint8 (H, W, 3), masks bool (H, W), indexed
[row, col]; boxes and centres below are (x, y) pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt
import skimage.data
from scipy import ndimage

from pixret_ros.engine.types import BoolMask, RGBImage

# GrabCut uses OpenCV's global RNG (k-means initialisation): fixed so masks never change.
_GRABCUT_SEED = 1234
_GRABCUT_ITERATIONS = 8


#: The registered instances of the demo, in name order (what `instances()` returns).
INSTANCE_NAMES = (
    "cameraman_print",
    "chelsea_face",
    "coffee_cup",
    "ihc_slide",
    "motorcycle",
    "page",
    "rocket",
    "skimage_logo",
)


@dataclass(frozen=True)
class Instance:
    """A registered object of the demo: its clean view (what the gallery gets) and mask.

    Attributes:
        name: instance name (gallery folder, COCO category).
        image: the view, RGB uint8, cropped around the object with some context.
        mask: bool, same size, True on the object.
        description: one line for the manifest and the README of the demo folder.
    """

    name: str
    image: RGBImage
    mask: BoolMask
    description: str


@dataclass(frozen=True)
class StereoScene:
    """The motorcycle seen from the right camera, with its exact mask in that view."""

    image: RGBImage
    mask: BoolMask


def _rgb(gray_or_rgb: npt.NDArray[np.uint8]) -> RGBImage:
    """Grey photos (page, brick, camera) become three equal channels."""
    if gray_or_rgb.ndim == 2:
        return np.repeat(gray_or_rgb[:, :, None], 3, axis=2)
    return np.ascontiguousarray(gray_or_rgb[:, :, :3])


def _grabcut(image: RGBImage, box: tuple[int, int, int, int]) -> BoolMask:
    """Foreground of `image` inside `box` (x, y, width, height) by GrabCut with a fixed seed."""
    cv2.setRNGSeed(_GRABCUT_SEED)
    labels = np.zeros(image.shape[:2], np.uint8)
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        np.ascontiguousarray(image[:, :, ::-1]),
        labels,
        box,
        background,
        foreground,
        _GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    return np.asarray((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD), dtype=bool)


def _ellipse(
    shape: tuple[int, int], centre: tuple[float, float], axes: tuple[float, float]
) -> BoolMask:
    """Pixels whose centre lies inside the axis-aligned ellipse (centre and semi-axes in x, y)."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    inside = ((cols - centre[0]) / axes[0]) ** 2 + ((rows - centre[1]) / axes[1]) ** 2 <= 1.0
    return np.asarray(inside, dtype=bool)


def _fill_small_holes(mask: BoolMask, max_area: int) -> BoolMask:
    """Fill holes up to `max_area` pixels (cracks of a disparity map), keep real openings."""
    holes = ndimage.binary_fill_holes(mask) & ~mask
    labels, count = ndimage.label(holes)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    small = sizes <= max_area
    small[0] = False
    return np.asarray(mask | small[labels], dtype=bool)


def _drop_small_parts(mask: BoolMask, min_area: int) -> BoolMask:
    """Remove connected parts smaller than `min_area` pixels (speckle of a disparity map)."""
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_area
    keep[0] = False
    return np.asarray(keep[labels], dtype=bool)


def crop_to_mask(image: RGBImage, mask: BoolMask, margin: float = 0.1) -> tuple[RGBImage, BoolMask]:
    """Crop to the mask's bounding box plus `margin` of its size per side (context stays)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    pad_y = round(margin * (rows[-1] - rows[0] + 1))
    pad_x = round(margin * (cols[-1] - cols[0] + 1))
    y0, y1 = max(rows[0] - pad_y, 0), min(rows[-1] + pad_y + 1, mask.shape[0])
    x0, x1 = max(cols[0] - pad_x, 0), min(cols[-1] + pad_x + 1, mask.shape[1])
    return np.ascontiguousarray(image[y0:y1, x0:x1]), np.ascontiguousarray(mask[y0:y1, x0:x1])


def _coffee_cup() -> Instance:
    image = skimage.data.coffee()
    mask = _grabcut(image, (60, 10, 440, 390))
    # GrabCut leaks into the table's shadow below the saucer: cut at the saucer's ellipse there.
    rows = np.arange(image.shape[0])[:, None]
    mask &= _ellipse(mask.shape, (272, 232), (205, 155)) | (rows < 250)
    view, view_mask = crop_to_mask(image, mask)
    return Instance("coffee_cup", view, view_mask, "espresso cup on its saucer, with spoon")


def _chelsea_face() -> Instance:
    image = skimage.data.chelsea()
    mask = _ellipse(image.shape[:2], (250, 160), (140, 140))
    view, view_mask = crop_to_mask(image, mask, margin=0.05)
    return Instance("chelsea_face", view, view_mask, "face of Chelsea the cat (elliptic mask)")


def _rocket() -> Instance:
    image = skimage.data.rocket()
    mask = _grabcut(image, (280, 115, 70, 312))
    view, view_mask = crop_to_mask(image, mask, margin=0.25)
    return Instance("rocket", view, view_mask, "Falcon 9 rocket on its pad: thin, low texture")


def _skimage_logo() -> Instance:
    image = np.ascontiguousarray(skimage.data.logo()[:, :, :3])
    # The logo is an ellipse on white: its mask is the convex hull of the non-white pixels.
    ink = np.argwhere(image.min(axis=2) < 230)[:, ::-1].astype(np.int32)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(ink), 1)
    view, view_mask = crop_to_mask(image, mask.astype(bool), margin=0.05)
    return Instance("skimage_logo", view, view_mask, "scikit-image logo (convex, on white)")


def _page() -> Instance:
    image = _rgb(skimage.data.page())
    return Instance(
        "page", image, np.ones(image.shape[:2], bool), "printed page of text (planar, grey)"
    )


def _cameraman_print() -> Instance:
    image = _rgb(cv2.resize(skimage.data.camera(), (320, 320), interpolation=cv2.INTER_AREA))
    return Instance(
        "cameraman_print",
        image,
        np.ones(image.shape[:2], bool),
        "framed print of the cameraman photo (planar, grey)",
    )


def _ihc_slide() -> Instance:
    image = np.ascontiguousarray(skimage.data.immunohistochemistry()[40:300, 60:420])
    return Instance(
        "ihc_slide",
        image,
        np.ones(image.shape[:2], bool),
        "poster of a stained tissue slide (planar, colour)",
    )


@cache
def _motorcycle_masks() -> tuple[BoolMask, BoolMask]:
    """Motorcycle masks in the left and the right view of the Middlebury stereo pair.

    Left: pixels whose disparity is both large (near the camera) and above the floor plane
    (fitted robustly to the bottom rows), minus speckle. Right: the left mask carried over by
    its disparity (x_right = x_left - d) with a z-buffer, so that whatever is nearer wins.
    """
    _, _, disparity = skimage.data.stereo_motorcycle()
    valid = np.isfinite(disparity)
    height, width = disparity.shape
    rows, cols = np.mgrid[0:height, 0:width]
    # Floor plane d = a*row + b*col + c from the bottom rows, refitted on the best 70 %.
    floor = valid & (rows > 440)
    design = np.c_[rows[floor], cols[floor], np.ones(int(floor.sum()))].astype(np.float64)
    target = disparity[floor].astype(np.float64)
    for _ in range(5):
        coef = np.linalg.lstsq(design, target, rcond=None)[0]
        residual = np.abs(design @ coef - target)
        keep = residual < np.percentile(residual, 70)
        design, target = design[keep], target[keep]
    plane = coef[0] * rows + coef[1] * cols + coef[2]
    near = np.where(valid, disparity, 0.0)
    left = (near > plane + 2.5) & (near > 38.0)
    left = _drop_small_parts(ndimage.binary_opening(left, iterations=2), 300)
    left = ndimage.binary_closing(left, iterations=3)
    left = _fill_small_holes(left, 4000)
    # Carry the left mask into the right view; invalid disparities take the nearest valid one.
    nearest = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    filled = disparity[nearest[0], nearest[1]]
    target_col = np.round(cols - filled).astype(np.int64)
    inside = (target_col >= 0) & (target_col < width)
    key = np.round(filled * 16).astype(np.int64) * 2 + left.astype(np.int64)
    zbuffer = np.full(height * width, -1, np.int64)
    np.maximum.at(zbuffer, (rows * width + target_col)[inside], key[inside])
    zbuffer = zbuffer.reshape(height, width)
    right = (zbuffer >= 0) & (zbuffer % 2 == 1)
    right = ndimage.binary_closing(right, iterations=2)
    right = _fill_small_holes(_drop_small_parts(right, 300), 4000)
    return left.astype(bool), right.astype(bool)


def _motorcycle() -> Instance:
    left, _, _ = skimage.data.stereo_motorcycle()
    mask, _ = _motorcycle_masks()
    view, view_mask = crop_to_mask(left, mask, margin=0.04)
    return Instance(
        "motorcycle", view, view_mask, "motorcycle, left stereo view (3-D; frames use the right)"
    )


def motorcycle_right_view() -> StereoScene:
    """The right image of the stereo pair and the motorcycle's mask in it (the 3-D case)."""
    _, right, _ = skimage.data.stereo_motorcycle()
    return StereoScene(np.ascontiguousarray(right), _motorcycle_masks()[1].copy())


def _frozen(*arrays: npt.NDArray[np.generic]) -> None:
    """Make cached arrays read-only, so that no caller can change them for the next one."""
    for array in arrays:
        array.flags.writeable = False


@cache
def instances() -> dict[str, Instance]:
    """Every demo instance by name, in name order (cached: GrabCut takes a few seconds)."""
    made = [
        _cameraman_print(),
        _chelsea_face(),
        _coffee_cup(),
        _ihc_slide(),
        _motorcycle(),
        _page(),
        _rocket(),
        _skimage_logo(),
    ]
    by_name = {inst.name: inst for inst in sorted(made, key=lambda inst: inst.name)}
    for inst in made:
        _frozen(inst.image, inst.mask)
    if tuple(by_name) != INSTANCE_NAMES:
        raise AssertionError(f"INSTANCE_NAMES is out of date: {tuple(by_name)}")
    return by_name


def distractors() -> dict[str, tuple[RGBImage, BoolMask]]:
    """Objects that are not registered: they occlude instances and tempt false positives."""
    coins = _rgb(skimage.data.coins())
    text = _rgb(skimage.data.text())
    wheel = _rgb(skimage.data.colorwheel())
    wheel_mask = np.zeros(wheel.shape[:2], np.uint8)  # the disc on black: convex hull of colour
    colour = np.argwhere(wheel.max(axis=2) > 40)[:, ::-1].astype(np.int32)
    cv2.fillConvexPoly(wheel_mask, cv2.convexHull(colour), 1)
    return {
        "coins": (coins, np.ones(coins.shape[:2], bool)),
        "text": (text, np.ones(text.shape[:2], bool)),
        "colorwheel": crop_to_mask(wheel, wheel_mask.astype(bool), margin=0.0),
    }


def backgrounds() -> dict[str, RGBImage]:
    """Scenes to place objects in, at least 640x480 after the scaling the sequences use."""
    brick = _rgb(skimage.data.brick())
    # A warm tint: the grey brick texture reads as a wall, and colour differs from the prints.
    warm = np.clip(brick.astype(np.float32) * np.array([1.05, 0.85, 0.7], np.float32), 0, 255)
    gravel = _rgb(skimage.data.gravel())
    return {
        "brick_wall": warm.astype(np.uint8),
        "gravel": gravel,
        "hubble": skimage.data.hubble_deep_field(),
        "retina": skimage.data.retina(),
        "astronaut": skimage.data.astronaut(),
        "grass": _rgb(skimage.data.grass()),
    }
