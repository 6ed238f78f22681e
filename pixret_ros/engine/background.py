"""Background photos: what a registered instance is scored against when it is NOT there.

Scores become comparable across instances by asking what each instance reaches on photos
that do not show it: its keypoint inliers (`calibration.ScoreModel`, every registration) and
its appearance agreement (`calibration.appearance_null_scores`, on request). The photos ship
with scikit-image and are never development frames (astronaut, motorcycle_left/right,
hubble_deep_field and retina are dev negatives, excluded on purpose). Their features are
computed once per process.

The two uses keep their own photo lists and sizes: each was measured with its own, and the
appearance null runs 54 segmentations per view, so it uses fewer, smaller photos.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pixret_ros.engine.features import FeatureExtractor, Features
    from pixret_ros.engine.types import Float32, RGBImage

KEYPOINT_PHOTOS = (
    "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "immunohistochemistry",
    "moon", "page", "rocket", "text", "clock", "cell", "colorwheel", "logo",
)  # fmt: skip
APPEARANCE_PHOTOS = (
    "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "page", "coins",
)  # fmt: skip
APPEARANCE_LONG_SIDE = 480
APPEARANCE_MIN_SIDE = 64


def background_photos(
    names: Sequence[str], long_side: int, *, interpolation: int, min_side: int = 0
) -> list[RGBImage]:
    """The scikit-image photos `names` as RGB, resized to `long_side` (each side >= min_side)."""
    import skimage.data  # noqa: PLC0415 (only needed at registration)

    images: list[RGBImage] = []
    for name in names:
        photo = np.asarray(getattr(skimage.data, name)())
        if photo.ndim == 2:
            photo = np.repeat(photo[:, :, None], 3, axis=2)
        photo = np.ascontiguousarray(photo[:, :, :3]).astype(np.uint8)
        height, width = photo.shape[:2]
        factor = long_side / max(height, width)
        size = (max(min_side, round(width * factor)), max(min_side, round(height * factor)))
        images.append(np.asarray(cv2.resize(photo, size, interpolation=interpolation), np.uint8))
    return images


_FEATURES_LOCK = threading.Lock()
_FEATURES: dict[tuple[int, int, float], list[Features]] = {}


def background_features(extractor: FeatureExtractor) -> list[Features]:
    """Keypoint features of KEYPOINT_PHOTOS at the frame working size, once per process."""
    config = extractor.config
    key = (config.working_size, config.frame_keypoints, config.detection_threshold)
    with _FEATURES_LOCK:
        if key not in _FEATURES:
            photos = background_photos(
                KEYPOINT_PHOTOS, config.working_size, interpolation=cv2.INTER_LINEAR
            )
            _FEATURES[key] = [extractor.extract(image) for image in photos]
        return _FEATURES[key]


@dataclass(frozen=True)
class BankImage:
    """A background photo with its dense map (for the appearance null)."""

    rgb: RGBImage
    dense: Float32


@functools.cache
def _appearance_photos() -> tuple[RGBImage, ...]:
    return tuple(
        background_photos(
            APPEARANCE_PHOTOS,
            APPEARANCE_LONG_SIDE,
            interpolation=cv2.INTER_AREA,
            min_side=APPEARANCE_MIN_SIDE,
        )
    )


_BANK: dict[int, tuple[BankImage, ...]] = {}


def background_bank(dense_fn: Callable[[RGBImage], Float32]) -> tuple[BankImage, ...]:
    """APPEARANCE_PHOTOS with their dense maps by `dense_fn`, once per process and function."""
    key = id(dense_fn)
    if key not in _BANK:
        _BANK[key] = tuple(BankImage(rgb, dense_fn(rgb)) for rgb in _appearance_photos())
    return _BANK[key]
