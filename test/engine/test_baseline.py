"""The SIFT baseline finds a planar object and rejects a frame without it."""

from __future__ import annotations

from pathlib import Path

from engine_scenes import background, iou, make_gallery, scene, similarity

from pixret_ros.engine import EngineConfig
from pixret_ros.engine.baseline import SiftBaseline


def test_baseline_finds_a_planar_object(tmp_path: Path) -> None:
    baseline = SiftBaseline(
        make_gallery(tmp_path / "g", ["coffee_cup", "cat_face"]), EngineConfig()
    )
    shot = scene({"cat_face": similarity(1.1, 8.0, 250, 130)})
    best = baseline.process(shot.frame)[0]
    assert best.name == "cat_face"
    assert best.accepted
    assert best.inliers >= 10
    assert iou(best.mask, shot.truths["cat_face"]) > 0.9
    assert not [d for d in baseline.process(background("camera")) if d.accepted]
    assert "total" in baseline.last_timings
