"""EngineConfig.segmenter (the `engine.segmenter.*` parameters) reaches the segmenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from seg_scenes import frame_with_object, view

from pixret_ros.engine import EngineConfig, Gallery, PixelRetriever
from pixret_ros.engine.segment import SegmentConfig


def test_segmenter_knobs_change_the_appearance_search_masks(tmp_path: Path) -> None:
    """Geometry off (no fit reaches min_inliers): masks come from `search` + `segment` alone."""
    gallery = Gallery(tmp_path / "gallery")
    rgb, mask = view()
    gallery.add("horse_cat", [rgb], [mask])
    frame, _ = frame_with_object()

    def best_mask(segmenter: SegmentConfig) -> np.ndarray:
        config = EngineConfig(min_inliers=100_000, segmenter=segmenter)
        found = [d for d in PixelRetriever(gallery, config).process(frame) if d.name == "horse_cat"]
        assert found, "appearance search found nothing"
        return found[0].mask

    default = best_mask(SegmentConfig())
    coarse = best_mask(SegmentConfig(work_side=24, smooth_radius=0))
    assert coarse.shape == default.shape
    assert not np.array_equal(coarse, default)  # the knobs were used
