"""The person segmenter (engine/person.py) and the person tracks it corrects, on real photos.

The parkour stream of the stream development set (../shared/data/streams: real DAVIS frames
with exact masks, beside the repository in CI) is the person video: a runner who turns, jumps
and changes size. Its tracker test starts from the true mask, as an exact geometric fit would,
and then gives no fit at all, so what is measured is propagation and correction alone.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from engine_scenes import iou, make_gallery

from pixret_ros.engine import EngineConfig, PixelRetriever
from pixret_ros.engine import person as person_module
from pixret_ros.engine.appearance import build_appearance
from pixret_ros.engine.features import FeatureExtractor
from pixret_ros.engine.gallery import Gallery
from pixret_ros.engine.person import (
    MODEL_ENV,
    PERSON_VIEW_IOU,
    PersonSegmenter,
    load_person_segmenter,
    model_path,
)
from pixret_ros.engine.resize import downscaled, working
from pixret_ros.engine.track import Fit, Tracker
from pixret_ros.evaluation.ground_truth import load_ground_truth

STREAMS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "streams"
NEEDS_STREAMS = pytest.mark.skipif(
    not (STREAMS / "gt.json").is_file(),
    reason=f"needs the stream development set at {STREAMS} (beside the repository in CI)",
)
RUNNER = "davis_parkour"
FOLLOWED = 40  # frames: the runner turns, crouches and jumps over a wall
RIDER = "davis_motocross_jump"
RIDER_FRAMES = 39  # the whole shot: the rider jumps over the camera and lands among people


@functools.cache
def _segmenter() -> PersonSegmenter:
    segmenter = load_person_segmenter()
    assert segmenter is not None, f"no person model at {model_path()}: make setup installs it"
    return segmenter


def test_make_setup_installs_the_model() -> None:
    path = model_path()
    assert path is not None
    assert path.stat().st_size > 200_000


def test_it_sees_the_astronaut_and_no_one_on_a_launch_pad() -> None:
    person = _segmenter()
    astronaut = np.ascontiguousarray(skimage.data.astronaut())
    rocket = np.ascontiguousarray(skimage.data.rocket())
    whole = np.ones(astronaut.shape[:2], bool)
    # Her face is at rows 70-170, columns 180-280; the flag (top left) and the shuttle model
    # (top right) are no person.
    seen = person.person_around(astronaut, whole)
    assert seen[70:170, 180:280].mean() > 0.9
    assert seen[:200, :60].mean() < 0.05
    assert seen[:250, 370:460].mean() < 0.05
    assert person.person_around(rocket, np.ones(rocket.shape[:2], bool)).mean() < 0.01


def test_litert_and_opencv_run_the_same_network() -> None:
    """Both runtimes of the model give the astronaut the same probabilities (make setup
    installs LiteRT, which the segmenter then uses; OpenCV is the fallback without it)."""
    astronaut = np.ascontiguousarray(skimage.data.astronaut())
    path = model_path()
    assert path is not None
    litert = PersonSegmenter(path, runtime="litert").probability(astronaut)
    opencv = PersonSegmenter(path, runtime="opencv").probability(astronaut)
    assert litert.shape == opencv.shape == astronaut.shape[:2]
    assert float(np.abs(litert - opencv).max()) < 1e-3
    assert (litert > 0.5).mean() > 0.2  # she fills much of the photo: not an empty map
    # Where LiteRT is installed (make setup installs it), the default segmenter runs on it.
    assert np.array_equal(PersonSegmenter(path).probability(astronaut), litert)


@functools.cache
def _stream_gallery() -> Gallery:
    return Gallery(STREAMS / "gallery")


@NEEDS_STREAMS
@pytest.mark.parametrize(
    ("name", "person"),
    [("davis_parkour", True), ("davis_horsejump_high", False), ("trees_avenue", False)],
)
def test_a_registered_person_is_told_from_a_rider_on_a_horse_and_a_building(
    name: str, person: bool
) -> None:
    share = max(
        _segmenter().person_share(view.image, view.mask) for view in _stream_gallery().views(name)
    )
    assert (share >= PERSON_VIEW_IOU) is person, share


@functools.cache
def _shot(stream: str, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame, truth) of a stream's first `count` frames, at the working size."""
    truth = load_ground_truth(STREAMS / "gt.json", qualified=True)
    frames = sorted(f for f in truth.frames if f.startswith(stream + "/"))[:count]
    size = EngineConfig().working_size
    out = []
    for frame in frames:
        bgr = cv2.imread(str(STREAMS / "frames" / frame), cv2.IMREAD_COLOR)
        assert bgr is not None, frame
        rgb = working(np.ascontiguousarray(bgr[:, :, ::-1]), size)
        out.append((rgb, downscaled(truth.masks(frame)[stream], rgb.shape[:2])))
    return out


def _follow(stream: str, count: int, person: PersonSegmenter | None) -> list[float]:
    """IoU per frame of a person's track, started from the truth and given no fit after."""
    view = _stream_gallery().views(stream)[0]
    models = [build_appearance(view.image, view.mask, None)]
    config = EngineConfig(temporal=True)
    extractor, tracker = FeatureExtractor(config), Tracker(config, person)
    ious = []
    for k, (image, truth) in enumerate(_shot(stream, count)):
        fits = {0: Fit(truth, 0.9, exact=True)} if k == 0 else {}
        feats = extractor.extract(image)
        state = tracker.step(image, feats, fits, lambda _: models, lambda _: True)
        ious.append(0.0 if 0 not in state else iou(state[0].mask, truth))
    return ious


@NEEDS_STREAMS
def test_the_person_segmenter_keeps_a_running_person_tracked() -> None:
    with_person = _follow(RUNNER, FOLLOWED, _segmenter())
    without = _follow(RUNNER, FOLLOWED, None)
    # Measured: with it the track lives in all 40 frames, IoU 0.72-0.90 but for two frames
    # of 0.51 (the runner lands behind a wall), mean 0.80; without it the correction drifts
    # (IoU 0.84 -> 0.59) and the track ends at frame 19 (mean 0.34).
    assert min(with_person) > 0.45, with_person
    assert np.mean(with_person) > 0.75
    assert np.mean(with_person) > np.mean(without) + 0.3, (with_person, without)


@NEEDS_STREAMS
def test_a_rider_among_spectators_is_cut_from_the_crowd(monkeypatch: pytest.MonkeyPatch) -> None:
    # The motocross rider lands among spectators: the segmenter sees rider and crowd as one
    # region, which agrees with the flow-warped mask too little to correct it. Measured
    # (39 frames, no fit after the first): cut to the mask's neighbourhood, the track drifts
    # to IoU 0.3 in the jump and is back at 0.73-0.87 in the last 10 frames (mean 0.64);
    # uncut, it drifts onto the crowd (0.07-0.17) and ends 3 frames before the shot does
    # (mean 0.39).
    cut = _follow(RIDER, RIDER_FRAMES, _segmenter())
    monkeypatch.setattr(person_module, "CROWD_REACH", 0.0)
    uncut = _follow(RIDER, RIDER_FRAMES, _segmenter())
    assert min(cut[-10:]) > 0.6, cut
    assert max(uncut[-10:]) < 0.3, uncut
    assert np.mean(cut) > np.mean(uncut) + 0.15, (cut, uncut)


def test_without_the_model_the_engine_warns_and_tracks_anyway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "absent.tflite"))
    gallery = make_gallery(tmp_path / "gallery", ["coffee_cup"])
    with caplog.at_level(logging.WARNING, logger="pixret_ros.engine.pipeline"):
        retriever = PixelRetriever(gallery, EngineConfig(temporal=True))
    assert retriever.person is None
    assert "install_person_model.py" in caplog.text
    frame = np.ascontiguousarray(skimage.data.coffee())
    assert retriever.process(frame)  # stream mode runs without it
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pixret_ros.engine.pipeline"):
        off = PixelRetriever(gallery, EngineConfig(temporal=True, person_prior=False))
    assert off.person is None
    assert not caplog.text  # turned off on purpose: nothing to warn about


@NEEDS_STREAMS
def test_whether_an_instance_is_a_person_is_asked_again_when_its_views_change(
    tmp_path: Path,
) -> None:
    gallery = Gallery(tmp_path / "gallery")
    runner, avenue = _stream_gallery().views(RUNNER)[0], _stream_gallery().views("trees_avenue")[0]
    gallery.add("avenue", [avenue.image], [avenue.mask])
    gallery.add("runner", [runner.image], [runner.mask])
    retriever = PixelRetriever(gallery, EngineConfig(temporal=True))
    assert retriever.names == ["avenue", "runner"]
    assert not retriever._is_person(0)
    assert retriever._is_person(1)
    gallery.add("avenue", [runner.image], [runner.mask])  # now also a view of a person
    assert retriever.sync()
    assert retriever._is_person(0)
