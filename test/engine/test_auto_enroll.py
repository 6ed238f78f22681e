"""auto_enroll: which verified samples become gallery views, and the stream pipeline's wiring.

Real photos of the demo (their appearance models) and the real-photo cat sequence of
test_track.py; the gallery write itself is the node's, tested over DDS in test/ros.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from engine_scenes import make_gallery, scene, similarity

from pixret_ros.demo import photos
from pixret_ros.engine import EngineConfig, PixelRetriever
from pixret_ros.engine.appearance import AppearanceModel, build_appearance
from pixret_ros.engine.auto_enroll import Enroller, crop_view, novelty

if TYPE_CHECKING:
    from pathlib import Path

ON = EngineConfig(temporal=True, auto_enroll=True)


@functools.cache
def _model(name: str) -> AppearanceModel:
    instance = photos.instances()[name]
    return build_appearance(instance.image, instance.mask, None)


def _offer(enroller: Enroller, sample: str, known: list[str], views: int = 1) -> bool:
    frame = np.zeros((480, 640, 3), np.uint8)
    mask = np.zeros((480, 640), bool)
    mask[200:280, 280:360] = True
    return enroller.offer("x", frame, mask, _model(sample), [_model(k) for k in known], views)


def test_novelty_separates_a_known_side_from_another_object() -> None:
    # Measured on the demo photos: 0 for a view itself, 0.75-1.0 between different objects.
    assert novelty(_model("rocket"), [_model("rocket")]) == 0.0
    assert novelty(_model("rocket"), [_model("chelsea_face")]) > 0.9
    assert novelty(_model("rocket"), [_model("chelsea_face"), _model("rocket")]) == 0.0


def test_only_novel_samples_below_the_view_limit_are_proposed_once() -> None:
    assert not _offer(Enroller(EngineConfig(temporal=True)), "rocket", ["coffee_cup"])  # off
    enroller = Enroller(ON)
    assert not _offer(enroller, "rocket", ["rocket"])  # a side the gallery has
    assert not _offer(enroller, "rocket", ["coffee_cup"], views=ON.auto_enroll_views)  # full
    assert _offer(enroller, "rocket", ["coffee_cup"])
    assert not _offer(enroller, "rocket", ["coffee_cup"])  # proposed already (not yet loaded)
    (proposal,) = enroller.take()
    assert proposal.name == "x"
    assert proposal.image.shape[:2] == proposal.mask.shape
    assert proposal.mask.any()
    assert enroller.take() == []  # handed out once
    enroller.gallery_loaded()  # the gallery now has it; the caller passes it in `known`
    assert not _offer(enroller, "rocket", ["coffee_cup", "rocket"], views=2)


def test_the_crop_keeps_a_margin_and_stays_in_the_frame() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    mask = np.zeros((100, 200), bool)
    mask[0:20, 150:200] = True  # at the top right corner
    image, cropped = crop_view(frame, mask)
    assert image.shape[:2] == cropped.shape == (23, 58)  # 15 % more per side, clipped
    assert cropped.sum() == mask.sum()


def test_a_stream_proposes_views_only_with_auto_enroll(tmp_path: Path) -> None:
    gallery = make_gallery(tmp_path / "g", ["cat_face", "coffee_cup"])
    frames = [scene({"cat_face": similarity(1.0, 2.0 * k, 200 + 20 * k, 150)}) for k in range(4)]
    # auto_enroll_novelty 0: every sample the stream memory keeps is proposed (wiring only).
    learning = PixelRetriever(gallery, replace(ON, auto_enroll_novelty=0.0))
    default = PixelRetriever(gallery, EngineConfig(temporal=True))
    proposed = []
    for shot in frames:
        learning.process(shot.frame)
        default.process(shot.frame)
        proposed += learning.take_enrollments()
        assert default.take_enrollments() == []
    assert proposed
    assert {p.name for p in proposed} == {"cat_face"}
    # a view-sized crop of the frame around the cat, its mask the tracked one
    truth = frames[0].truths["cat_face"]
    assert proposed[0].mask.sum() >= 0.5 * truth.sum()
    assert len(proposed) <= ON.auto_enroll_views - 1  # the registered view counts
