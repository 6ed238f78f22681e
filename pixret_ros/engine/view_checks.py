"""Checks of the images and masks given to `Gallery.add`, with messages that say the fix.

Everything a registration could trip over later (wrong dtype, channels, sizes, an empty mask)
is refused here, before the gallery on disk is touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pixret_ros.errors import GalleryError

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, RGBImage

MIN_SIDE = 32  # pixels; smaller views carry too few features to be found again
MAX_SIDE = 8192  # pixels per side
MAX_PIXELS = 40_000_000  # per view; larger photos only cost memory and time: downscale


def checked_views(name: str, images: object, masks: object) -> list[tuple[RGBImage, BoolMask]]:
    """Validate `images` and `masks` of `add(name, ...)`; (RGB image, bool mask) per view.

    Images must be RGB uint8 (H, W, 3). Masks may be None (the whole image is the object), or
    one entry per image: None, or bool / uint8 (H, W) with nonzero = object.
    """
    where = f"add({name!r})"
    image_list = _as_list(images, "images", 3, where)
    if not image_list:
        raise GalleryError(f"{where}: no images given; pass a list of RGB uint8 (H, W, 3) arrays")
    mask_list: list[object]
    if masks is None:
        mask_list = [None] * len(image_list)
    else:
        mask_list = _as_list(masks, "masks", 2, where)
        if len(mask_list) != len(image_list):
            raise GalleryError(
                f"{where}: {len(image_list)} images but {len(mask_list)} masks; give one mask "
                "per image (None for a whole image), or masks=None"
            )
    views = []
    for index, (image, mask) in enumerate(zip(image_list, mask_list, strict=True)):
        rgb = _checked_image(image, f"{where}: view {index}")
        views.append((rgb, _checked_mask(mask, rgb.shape[:2], f"{where}: view {index}")))
    return views


def _as_list(items: object, what: str, item_ndim: int, where: str) -> list[object]:
    """`items` as a list, refusing one lone array where a sequence of arrays was meant."""
    if isinstance(items, np.ndarray):
        if items.ndim == item_ndim:
            raise GalleryError(
                f"{where}: {what} is a single array of shape {items.shape}; "
                f"pass a list of them, e.g. [{what[:-1]}]"
            )
        return list(items)
    if isinstance(items, str | bytes) or not hasattr(items, "__iter__"):
        raise GalleryError(
            f"{where}: {what} must be a list of numpy arrays, got {type(items).__name__}"
        )
    return list(items)


def _checked_image(image: object, where: str) -> RGBImage:
    """The image as a C-contiguous RGB uint8 array, or GalleryError saying what was given."""
    if not isinstance(image, np.ndarray):
        raise GalleryError(
            f"{where}: image is a {type(image).__name__}, not a numpy array; "
            "give RGB uint8 (H, W, 3)"
        )
    if image.dtype != np.uint8:
        hint = (
            "scale floats in [0, 1] with (image * 255).round().astype(np.uint8)"
            if image.dtype.kind == "f"
            else "scale to 0..255 and convert with image.astype(np.uint8)"
        )
        raise GalleryError(
            f"{where}: image has dtype {image.dtype} and shape {image.shape}; "
            f"it must be RGB uint8 (H, W, 3): {hint}"
        )
    if image.ndim == 2:
        raise GalleryError(
            f"{where}: image is grayscale with shape {image.shape}; it must be RGB uint8 "
            "(H, W, 3): use np.repeat(image[..., None], 3, axis=2)"
        )
    if image.ndim == 3 and image.shape[2] == 4:
        raise GalleryError(
            f"{where}: image has 4 channels (RGBA?) with shape {image.shape}; it must be RGB "
            "uint8 (H, W, 3): drop alpha with image[..., :3]"
        )
    if image.ndim != 3 or image.shape[2] != 3:
        raise GalleryError(f"{where}: image has shape {image.shape}; it must be RGB (H, W, 3)")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise GalleryError(
            f"{where}: image is {width}x{height} pixels; both sides must be at least "
            f"{MIN_SIDE} pixels: use a larger photo of the object"
        )
    if max(height, width) > MAX_SIDE or height * width > MAX_PIXELS:
        raise GalleryError(
            f"{where}: image is {width}x{height} pixels ({height * width / 1e6:.1f} MP); the "
            f"limit is {MAX_SIDE} pixels per side and {MAX_PIXELS / 1e6:.0f} MP: downscale it, "
            "e.g. with cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)"
        )
    return np.ascontiguousarray(image)


def _checked_mask(mask: object, shape: tuple[int, ...], where: str) -> BoolMask:
    """The mask as bool (H, W), all True for None; GalleryError if unusable."""
    height, width = shape
    if mask is None:
        return np.ones((height, width), dtype=np.bool_)
    if not isinstance(mask, np.ndarray):
        raise GalleryError(
            f"{where}: mask is a {type(mask).__name__}, not a numpy array; "
            "give bool or uint8 (H, W), or None for the whole image"
        )
    if mask.dtype not in (np.bool_, np.uint8):
        raise GalleryError(
            f"{where}: mask has dtype {mask.dtype}; give bool or uint8 (nonzero = object), "
            "e.g. mask > 0"
        )
    if mask.shape != (height, width):
        if mask.ndim == 3 and mask.shape[:2] == (height, width):
            raise GalleryError(
                f"{where}: mask has shape {mask.shape}; give one channel (H, W), e.g. mask[..., 0]"
            )
        raise GalleryError(
            f"{where}: mask has shape {mask.shape} but its image is {width}x{height} "
            f"(shape ({height}, {width})); a mask must have its image's size"
        )
    result: BoolMask = mask != 0
    if not result.any():
        raise GalleryError(
            f"{where}: mask is empty (no object pixels); mark the object with nonzero values, "
            "or pass None for a view where the whole image is the object"
        )
    return result
