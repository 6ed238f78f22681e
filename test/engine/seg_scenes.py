"""A non-convex object with an exact mask, cut from one real photo and pasted into others.

The object is chelsea's (the cat photo) fur and face inside scikit-image's horse silhouette:
real pixels, a truth known to the pixel, and a shape whose box is a poor mask (the legs).
The view shows it on gravel; frames show it on coffee, smaller and turned.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt
import skimage.data

from pixret_ros.engine.appearance import AppearanceModel, build_appearance
from pixret_ros.engine.calibration import with_appearance_null

RGB = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]


def photo(name: str) -> RGB:
    """A scikit-image photo as RGB uint8."""
    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8)


@functools.cache
def horse_object() -> tuple[RGB, Mask]:
    """(pixels, mask) of the object: the cat photo resized to the horse silhouette's size."""
    mask = ~np.asarray(skimage.data.horse(), bool)  # the silhouette is False in the file
    h, w = mask.shape
    pixels = cv2.resize(photo("chelsea"), (w, h), interpolation=cv2.INTER_AREA)
    return np.asarray(pixels, np.uint8), mask


def paste(
    background: RGB, scale: float, angle: float, centre: tuple[float, float]
) -> tuple[RGB, Mask]:
    """The object scaled, rotated (degrees) and pasted with its centre at `centre` (x, y)."""
    pixels, mask = horse_object()
    h, w = mask.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += np.array(centre) - np.array([w / 2, h / 2])
    size = (background.shape[1], background.shape[0])
    warped = cv2.warpAffine(pixels, matrix, size, flags=cv2.INTER_LINEAR)
    where = cv2.warpAffine(mask.astype(np.uint8), matrix, size, flags=cv2.INTER_NEAREST) > 0
    out = background.copy()
    out[where] = warped[where]
    return out, where


def view() -> tuple[RGB, Mask]:
    """The registered view: the object on gravel with a margin, its exact mask."""
    pixels, mask = horse_object()
    h, w = mask.shape
    margin = 40
    canvas = cv2.resize(photo("gravel"), (w + 2 * margin, h + 2 * margin))
    out = np.asarray(canvas, np.uint8).copy()
    full = np.zeros(out.shape[:2], bool)
    full[margin : margin + h, margin : margin + w] = mask
    out[full] = pixels[mask]
    return out, full


def frame_with_object() -> tuple[RGB, Mask]:
    """A 640x427 frame: coffee photo with the object at 0.6x, turned by 12 degrees."""
    background = np.asarray(cv2.resize(photo("coffee"), (640, 427)), np.uint8)
    return paste(background, 0.6, 12.0, (330.0, 220.0))


def frame_without_object() -> RGB:
    """The same coffee frame without the object."""
    return np.asarray(cv2.resize(photo("coffee"), (640, 427)), np.uint8)


@functools.cache
def view_model() -> AppearanceModel:
    """The view's appearance model with its background null, built once per process."""
    rgb, mask = view()
    return with_appearance_null(build_appearance(rgb, mask, None))
