"""Score calibration (engine/calibration.py): it decides which detections get published.

Real images only: objects cut from scikit-image photos (engine_scenes) placed into another
photo by a known homography, and the engine's own background photos (engine/background.py).
Every object of engine_scenes comes from one of those background photos, which is what the
trimmed null is for: an instance may appear in a few of them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pytest
from engine_scenes import object_view, scene, similarity
from seg_scenes import frame_with_object, frame_without_object, view

from pixret_ros.engine.appearance import AppearanceModel, build_appearance, xfeat_dense_map
from pixret_ros.engine.background import APPEARANCE_PHOTOS, KEYPOINT_PHOTOS, background_features
from pixret_ros.engine.calibration import ScoreModel, with_appearance_null
from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.features import FeatureExtractor, Features
from pixret_ros.engine.localize import Localization, localize
from pixret_ros.engine.segment import SegmentPrior, segment
from pixret_ros.engine.types import Box, Float32

# Small frames make the 16 background photos cheap; a low floor lets the null decide.
CONFIG = EngineConfig(working_size=320, accept_inliers=8)


@dataclass(frozen=True)
class Template:
    """A registered view's keypoints and float16 descriptors, as the pipeline holds them."""

    keypoints: Float32
    descriptors: npt.NDArray[np.float16]


@functools.cache
def extractor() -> FeatureExtractor:
    return FeatureExtractor(CONFIG)


@functools.cache
def background() -> tuple[Features, ...]:
    return tuple(background_features(extractor()))


@functools.cache
def template(name: str) -> Template:
    features = extractor().extract(object_view(name)[0])
    return Template(features.keypoints, features.descriptors.astype(np.float16))


def found(name: str, frame: Features) -> Localization | None:
    view = template(name)
    reference = view.descriptors.astype(np.float32)
    return localize(frame.keypoints, frame.descriptors, view.keypoints, reference, CONFIG)


@functools.cache
def in_scene(name: str) -> Localization:
    """The object placed at 0.8x, turned by 10 degrees, into the astronaut photo."""
    frame = scene({name: similarity(0.8, 10.0, 150.0, 100.0)}).frame
    loc = found(name, extractor().extract(frame))
    assert loc is not None, f"{name} not localized in its scene"
    return loc


def test_background_features_are_the_keypoint_photos_once_per_process() -> None:
    assert len(background()) == len(KEYPOINT_PHOTOS)
    assert all(max(f.dense.shape[1:]) * 8 >= CONFIG.working_size - 8 for f in background())
    assert background_features(extractor()) is background_features(extractor())


def test_threshold_is_the_null_plus_a_margin_never_below_the_floor() -> None:
    assert ScoreModel(0.0, 28.0).threshold_inliers == 28.0
    assert ScoreModel(12.0, 8.0).threshold_inliers == 18.0
    assert ScoreModel(30.0, 28.0).threshold_inliers == 36.0


@pytest.mark.parametrize("name", ["coffee_cup", "rocket_pad"])
def test_true_instance_scores_high_and_background_photos_low(name: str) -> None:
    model = ScoreModel.fit([template(name)], background(), CONFIG)
    assert model.score(in_scene(name)) > 0.8
    # On every background photo but the one the object was cut from it stays unpublished.
    source = {"coffee_cup": "coffee", "rocket_pad": "rocket"}[name]
    for photo, features in zip(KEYPOINT_PHOTOS, background(), strict=True):
        loc = found(name, features)
        if photo != source and loc is not None:
            assert model.score(loc) < 0.5, f"{name} on {photo}: {loc.inliers} inliers"


def test_null_is_trimmed_so_the_source_photo_does_not_raise_it() -> None:
    model = ScoreModel.fit([template("coffee_cup")], background(), CONFIG)
    own = found("coffee_cup", background()[KEYPOINT_PHOTOS.index("coffee")])
    assert own is not None
    assert own.inliers > 50  # the cup is in the coffee photo ...
    assert 0 < model.null_inliers < 30  # ... and its null is what the other photos give
    assert model.threshold_inliers < in_scene("coffee_cup").inliers


def test_instances_with_a_busier_null_need_more_inliers() -> None:
    busy = ScoreModel.fit([template("coffee_cup")], background(), CONFIG)
    quiet = ScoreModel.fit([template("page_text")], background(), CONFIG)
    assert busy.null_inliers > quiet.null_inliers
    loc = in_scene("coffee_cup")
    same = replace(loc, inliers=20)
    assert busy.score(same) < quiet.score(same)


def test_score_is_monotone_in_inliers_and_half_at_the_threshold() -> None:
    model = ScoreModel.fit([template("rocket_pad")], background(), CONFIG)
    loc = in_scene("rocket_pad")
    scores = [model.score(replace(loc, inliers=k)) for k in range(200)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert np.all(np.diff(scores) >= 0)
    assert np.all(np.diff(scores[: 2 * round(model.threshold_inliers)]) > 0)
    assert scores[0] < 0.05
    assert scores[-1] > 0.99
    at = model.score(replace(loc, inliers=round(model.threshold_inliers)))
    assert model.threshold_inliers == round(model.threshold_inliers)
    assert at == pytest.approx(0.5)


def test_calibrate_off_leaves_only_the_floor() -> None:
    off = replace(CONFIG, calibrate=False)
    model = ScoreModel.fit([template("coffee_cup")], background(), off)
    assert model == ScoreModel(0.0, 8.0)
    assert ScoreModel.fit([template("coffee_cup")], [], CONFIG).null_inliers == 0.0


def test_arrays_round_trip_keeps_the_null_and_takes_the_floor_from_config() -> None:
    model = ScoreModel.fit([template("coffee_cup")], background(), CONFIG)
    arrays = {k: v.copy() for k, v in model.to_arrays().items()}
    assert ScoreModel.from_arrays(arrays, CONFIG) == model
    again = ScoreModel.from_arrays(arrays, replace(CONFIG, accept_inliers=40))
    assert again.null_inliers == model.null_inliers
    assert again.floor_inliers == 40.0


# -- the appearance null --------------------------------------------------------------------


@pytest.fixture(scope="module")
def appearance() -> tuple[AppearanceModel, AppearanceModel]:
    """(plain, with its background null) models of the seg_scenes view."""
    rgb, mask = view()
    plain = build_appearance(rgb, mask, None)
    return plain, with_appearance_null(plain)


def test_appearance_null_scores_every_background_box(
    appearance: tuple[AppearanceModel, AppearanceModel],
) -> None:
    plain, nulled = appearance
    assert len(plain.null_scores) == 0
    assert len(nulled.null_scores) == len(APPEARANCE_PHOTOS) * 2 * 3  # 2 sizes, 3 places
    assert np.all(np.diff(nulled.null_scores) >= 0)
    np.testing.assert_array_equal(nulled.fg_prototypes, plain.fg_prototypes)
    again = AppearanceModel.from_arrays(nulled.to_arrays())
    np.testing.assert_array_equal(again.null_scores, nulled.null_scores)


def test_appearance_null_separates_the_object_from_its_absence(
    appearance: tuple[AppearanceModel, AppearanceModel],
) -> None:
    _, nulled = appearance
    frame, truth = frame_with_object()
    empty = frame_without_object()
    box = Box.of_mask(truth)

    @dataclass(frozen=True)
    class Dense:
        dense: Float32

    present = segment(frame, Dense(xfeat_dense_map(frame)), [nulled], SegmentPrior(box=box))
    absent = segment(empty, Dense(xfeat_dense_map(empty)), [nulled], SegmentPrior(box=box))
    assert present.score > 0.75  # above most background regions
    # the empty frame's coffee cup is background-like, but less so than the object itself
    assert present.score > absent.score + 0.1
