"""Scores comparable across instances: each instance is calibrated against background photos.

Why: how many inliers random consensus produces depends on the instance (repetitive bricks,
foliage and people collect many; a logo few). At registration every instance is verified
against a fixed set of background photos that ship with scikit-image (never the development
frames); the inlier counts it reaches there are its null distribution, and a detection's
score says how far above that null it lies. Background features are computed once per
process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.localize import localize

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.features import FeatureExtractor, Features
    from pixret_ros.engine.localize import Localization

Float32 = npt.NDArray[np.float32]

# Photos that ship with scikit-image and are NOT among the development set's negatives
# (astronaut, motorcycle_left/right, hubble_deep_field and retina are excluded on purpose).
BACKGROUND_PHOTOS = (
    "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "immunohistochemistry",
    "moon", "page", "rocket", "text", "clock", "cell", "colorwheel", "logo",
)  # fmt: skip
_TRIM = 2  # a registered object may itself appear in up to this many background photos
_MARGIN_INLIERS = 6.0
_SOFTNESS = 0.2


class _Template(Protocol):
    @property
    def keypoints(self) -> Float32: ...
    @property
    def descriptors(self) -> npt.NDArray[np.float16]: ...


_BACKGROUND_LOCK = threading.Lock()
_BACKGROUND: dict[tuple[int, int, float], list[Features]] = {}


def background_images(working_size: int) -> list[npt.NDArray[np.uint8]]:
    """The background photos as RGB, resized to `working_size` (long side)."""
    import skimage.data  # noqa: PLC0415 (only needed at registration)

    images: list[npt.NDArray[np.uint8]] = []
    for name in BACKGROUND_PHOTOS:
        photo = np.asarray(getattr(skimage.data, name)())
        if photo.ndim == 2:
            photo = np.repeat(photo[:, :, None], 3, axis=2)
        photo = np.ascontiguousarray(photo[:, :, :3]).astype(np.uint8)
        height, width = photo.shape[:2]
        factor = working_size / max(height, width)
        size = (round(width * factor), round(height * factor))
        images.append(np.asarray(cv2.resize(photo, size), dtype=np.uint8))
    return images


def background_features(extractor: FeatureExtractor) -> list[Features]:
    """Features of the background photos at the frame working size, once per process."""
    config = extractor.config
    key = (config.working_size, config.frame_keypoints, config.detection_threshold)
    with _BACKGROUND_LOCK:
        if key not in _BACKGROUND:
            _BACKGROUND[key] = [
                extractor.extract(image) for image in background_images(config.working_size)
            ]
        return _BACKGROUND[key]


@dataclass(frozen=True)
class ScoreModel:
    """Maps a verified localization of one instance to a score in [0, 1].

    Attributes:
        null_inliers: the instance's background null, the trimmed maximum of the inliers it
            reaches on the background photos (cached with the features).
        floor_inliers: `config.accept_inliers`, below which no fit scores 0.5 whatever the
            null says (applied at score time, so it can be tuned without re-registering).
    """

    null_inliers: float
    floor_inliers: float

    @property
    def threshold_inliers(self) -> float:
        """Inliers at which the score is 0.5: the null plus a margin, at least the floor."""
        return max(self.floor_inliers, self.null_inliers + _MARGIN_INLIERS)

    @classmethod
    def fit(
        cls,
        templates: Sequence[_Template],
        background: Sequence[Features],
        config: EngineConfig,
    ) -> ScoreModel:
        """Calibrate against `background` (skipped when `config.calibrate` is off)."""
        floor = float(config.accept_inliers)
        if not config.calibrate or not background:
            return cls(0.0, floor)
        null = np.array(
            [
                max((_inliers(feats, t, config) for t in templates), default=0)
                for feats in background
            ],
            dtype=np.float64,
        )
        null.sort()
        trimmed = float(null[-1 - _TRIM]) if null.size > _TRIM else 0.0
        return cls(trimmed, floor)

    def score(self, loc: Localization) -> float:
        """Logistic in inliers, 0.5 at `threshold_inliers`.

        Only geometry: measured, the segmenter's calibrated appearance score does not separate
        present from absent objects (bench), so it never lifts a fit to acceptance (the
        pipeline uses it only to rank weak fits among appearance-only finds).
        """
        threshold = self.threshold_inliers
        z = (loc.inliers - threshold) / (_SOFTNESS * threshold)
        return float(1.0 / (1.0 + np.exp(-z)))

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Arrays for the gallery cache (the null only; the floor is a setting)."""
        return {"score_null_inliers": np.array([self.null_inliers])}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, npt.NDArray[np.generic]], config: EngineConfig
    ) -> ScoreModel:
        """Inverse of `to_arrays`, with the floor of `config`."""
        return cls(float(arrays["score_null_inliers"][0]), float(config.accept_inliers))


def _inliers(feats: Features, template: _Template, config: EngineConfig) -> int:
    reference = np.asarray(template.descriptors, dtype=np.float32)
    loc = localize(feats.keypoints, feats.descriptors, template.keypoints, reference, config)
    return 0 if loc is None else loc.inliers
