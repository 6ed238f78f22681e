"""The plain baseline the engine must beat: SIFT + ratio test + RANSAC homography + warp.

This is the paper's SIFT+SP (An et al., ICCV 2023) as MODELS.md measured it: 4000 SIFT
features per image, Lowe's ratio test at 0.8, a RANSAC homography per (frame, view), the
view mask warped by it, and the inlier count as the score. It shares `PixelRetriever`'s API
(`process`, `last_timings`, `sync`, `reset_stream`) so that the benchmark and the evaluator
run both the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.features import check_rgb
from pixret_ros.engine.localize import warp_mask
from pixret_ros.engine.types import Box, Detection

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, Float32, Float64, GalleryLike, RGBImage

SIFT_FEATURES = 4000
RATIO = 0.8
MIN_INLIERS = 10
REPROJECTION_PX = 5.0
# score = inliers / (inliers + MIN_INLIERS): monotone in the inliers (same ranking as the raw
# count) and 0.5 exactly at the classic 10-inlier acceptance, the engine's default threshold.


@dataclass(frozen=True)
class _View:
    name: str
    index: int
    keypoints: Float32
    descriptors: Float32
    mask: BoolMask


class SiftBaseline:
    """SIFT + ratio test + RANSAC homography, every view of every instance, every frame."""

    def __init__(self, gallery: GalleryLike, config: EngineConfig | None = None) -> None:
        self.config = config if config is not None else EngineConfig()
        self.gallery = gallery
        self.last_timings: dict[str, float] = {}
        self.last_registration_ms: dict[str, float] = {}
        self._sift = cv2.SIFT.create(nfeatures=SIFT_FEATURES)
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)
        self._views: list[_View] = []
        self._signature: str | None = None
        self.sync()

    def sync(self) -> bool:
        """Reload the gallery if it changed; True if it did."""
        signature = self.gallery.signature()
        if signature == self._signature:
            return False
        views = []
        for name in self.gallery.names():
            start = time.perf_counter()
            registered = list(self.gallery.views(name))
            for view in registered:
                points, descriptors = self._features(view.image, view.mask)
                views.append(_View(name, view.index, points, descriptors, view.mask))
            elapsed = (time.perf_counter() - start) * 1000.0
            self.last_registration_ms[name] = elapsed / max(1, len(registered))
        self._views = views
        self._signature = signature
        return True

    def reset_stream(self) -> None:
        """No temporal state: nothing to forget."""

    def set_score_threshold(self, threshold: float) -> None:
        """Apply a live `score_threshold` to `accepted`."""
        self.config = replace(self.config, score_threshold=threshold)

    def _features(self, rgb: RGBImage, mask: BoolMask | None = None) -> tuple[Float32, Float32]:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        keep = None if mask is None else mask.astype(np.uint8) * 255
        keypoints, descriptors = self._sift.detectAndCompute(grey, keep)
        if descriptors is None or not keypoints:
            return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
        points = np.array([k.pt for k in keypoints], dtype=np.float32)
        return points, np.asarray(descriptors, dtype=np.float32)

    def process(self, frame: RGBImage) -> list[Detection]:
        """Best view per instance, scored by its homography inliers, best first."""
        check_rgb(frame, "frame")
        start = time.perf_counter()
        points, descriptors = self._features(frame)
        height, width = frame.shape[:2]
        best: dict[str, tuple[int, Float64, _View]] = {}
        for view in self._views:
            fit = self._verify(view, points, descriptors)
            if fit is not None and fit[0] > best.get(view.name, (-1,))[0]:
                best[view.name] = (fit[0], fit[1], view)
        detections = []
        for name, (inliers, homography, view) in best.items():
            mask = warp_mask(view.mask, homography, (height, width))
            if not mask.any():
                continue
            score = inliers / (inliers + MIN_INLIERS)
            detections.append(
                Detection(
                    name=name,
                    score=score,
                    box=Box.of_mask(mask),
                    mask=mask,
                    inliers=inliers,
                    homography=homography,
                    view_index=view.index,
                    accepted=score >= self.config.score_threshold,
                )
            )
        detections.sort(key=lambda d: -d.score)
        self.last_timings = {"total": (time.perf_counter() - start) * 1000.0}
        return detections

    def _verify(
        self,
        view: _View,
        points: Float32,
        descriptors: Float32,
    ) -> tuple[int, Float64] | None:
        """Ratio-test matches view -> frame and a RANSAC homography; None below 4 matches."""
        if len(view.descriptors) < 2 or len(descriptors) < 2:
            return None
        pairs = self._matcher.knnMatch(view.descriptors, descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
        if len(good) < 4:
            return None
        src = view.keypoints[[m.queryIdx for m in good]]
        dst = points[[m.trainIdx for m in good]]
        homography, inliers = cv2.findHomography(src, dst, cv2.RANSAC, REPROJECTION_PX)
        if np.asarray(homography).shape != (3, 3):
            return None
        return int(np.asarray(inliers).sum()), np.asarray(homography, dtype=np.float64)
