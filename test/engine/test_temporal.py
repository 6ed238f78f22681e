"""Stream mode keeps a found instance across a sequence and forgets it when it leaves."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from engine_scenes import background, iou, make_gallery, scene, similarity

from pixret_ros.engine import EngineConfig, PixelRetriever
from pixret_ros.engine.temporal import SCORE_DECAY


def _sequence() -> list[tuple[np.ndarray, np.ndarray]]:
    """The cat face drifting and turning over 6 frames; frame 3 is motion-blurred."""
    frames = []
    for k in range(6):
        shot = scene({"cat_face": similarity(1.0 + 0.04 * k, 3.0 * k, 180 + 25 * k, 120 + 8 * k)})
        image = shot.frame
        if k == 3:
            kernel = np.zeros((9, 9), np.float32)
            kernel[4, :] = 1 / 9
            image = np.asarray(cv2.filter2D(image, -1, kernel))
        frames.append((image, shot.truths["cat_face"]))
    return frames


def test_temporal_mode_keeps_the_detection(tmp_path: Path) -> None:
    gallery = make_gallery(tmp_path / "g", ["cat_face", "coffee_cup", "rocket_pad"])
    stream = PixelRetriever(gallery, EngineConfig(temporal=True, redetect_every=4))
    single = PixelRetriever(gallery, EngineConfig())
    previous = 0.0
    for image, truth in _sequence():
        found = {d.name: d for d in stream.process(image)}
        assert "cat_face" in found
        cat = found["cat_face"]
        assert cat.accepted
        assert iou(cat.mask, truth) > 0.8
        assert cat.score >= SCORE_DECAY * previous - 1e-9
        alone = next(d for d in single.process(image) if d.name == "cat_face")
        assert cat.score >= alone.score - 1e-6
        previous = cat.score
    # the object leaves: the track is dropped, nothing is accepted
    assert not [d for d in stream.process(background("camera")) if d.accepted]


def test_reset_stream_forgets(tmp_path: Path) -> None:
    gallery = make_gallery(tmp_path / "g", ["cat_face"])
    stream = PixelRetriever(gallery, EngineConfig(temporal=True))
    image, _ = _sequence()[0]
    first = stream.process(image)[0].score
    stream.process(image)
    stream.reset_stream()
    assert stream.process(image)[0].score == first
