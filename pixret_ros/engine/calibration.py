"""Scores comparable across instances: each instance against its background null.

Why: how many inliers random consensus produces depends on the instance (repetitive bricks,
foliage and people collect many; a logo few). At registration every instance is verified
against a fixed set of background photos (`background.py`, never the development frames);
the inlier counts it reaches there are its null distribution, and a detection's score says
how far above that null it lies (`ScoreModel`). The appearance segmenter's score can get a
null the same way (`with_appearance_null`): the raw agreement an appearance model reaches on
background photos, so that `segment`'s score becomes a tail probability among them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from pixret_ros.engine.appearance import xfeat_dense_map
from pixret_ros.engine.background import background_bank
from pixret_ros.engine.localize import localize
from pixret_ros.engine.region import region_around
from pixret_ros.engine.segment import (
    DEFAULT_CONFIG,
    SegmentConfig,
    SegmentPrior,
    gather_evidence,
    raw_agreement,
    solve,
)
from pixret_ros.engine.types import Box, Float32

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pixret_ros.engine.appearance import AppearanceModel, DenseFn
    from pixret_ros.engine.background import BankImage
    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.features import Features
    from pixret_ros.engine.localize import Localization

_TRIM = 2  # a registered object may itself appear in up to this many background photos
_MARGIN_INLIERS = 6.0
_SOFTNESS = 0.2


class _Template(Protocol):
    @property
    def keypoints(self) -> Float32: ...
    @property
    def descriptors(self) -> npt.NDArray[np.float16]: ...


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
        """Fit the inlier null on `background` (skipped when `config.calibrate` is off)."""
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


def appearance_null_scores(
    model: AppearanceModel, bank: Sequence[BankImage], config: SegmentConfig = DEFAULT_CONFIG
) -> Float32:
    """Raw agreements of `model` on background photos, boxes of the object's aspect at 2 sizes."""
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
                region = region_around(
                    box, (h, w), margin=config.margin, work_side=config.work_side
                )
                evidence = gather_evidence(
                    image.rgb,
                    image.dense,
                    model,
                    region=region,
                    box=box,
                    prior=SegmentPrior(box=box),
                    config=config,
                )
                scores.append(raw_agreement(evidence, solve(evidence, config)))
    return np.asarray(scores, np.float32)


def with_appearance_null(
    model: AppearanceModel, dense_fn: DenseFn | None = None
) -> AppearanceModel:
    """`model` with its background null (`null_scores`), so `segment` scores a tail probability.

    Not used by the pipeline: on DAVIS it separated positives worse than the plain score
    (ROC AUC 0.82 vs 0.85; the photos are unlike street scenes) and costs about 54
    segmentations per view. `dense_fn` must be the one that built `model`
    (default: `build_appearance`'s).
    """
    scores = np.sort(appearance_null_scores(model, background_bank(dense_fn or xfeat_dense_map)))
    return replace(model, null_scores=scores.astype(np.float32))
