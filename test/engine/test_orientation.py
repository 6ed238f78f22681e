"""Objects at any rotation and distance: the defaults' turned copies, the rotation profile's look.

Real photos with exact truth (scikit-image's coffee, placed by a known homography into
another photo); nothing is read from the dev data.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest
from engine_scenes import background, iou, photo, place, similarity

from pixret_ros.engine import ConfigError, EngineConfig, Gallery, PixelRetriever
from pixret_ros.engine.orientation import rotated, to_view
from pixret_ros.settings.params_file import params_file_overrides

if TYPE_CHECKING:
    from collections.abc import Collection

    from pixret_ros.engine.features import Features
    from pixret_ros.engine.types import ViewTemplate

FRAME_SIZE = (640, 480)
REPO = Path(__file__).resolve().parents[2]
# The shipped rotation profile (config/pixret_rotation.yaml): the defaults' turned copies
# and the rectified look (turns between the copies, a third of the size).
ROTATION = EngineConfig(**params_file_overrides(REPO / "config" / "pixret_rotation.yaml"))  # type: ignore[arg-type]
PROFILES = {"rotation": ROTATION, "defaults": EngineConfig()}


def _view() -> tuple[np.ndarray, np.ndarray]:
    """A 400x300 textured crop of a real photo and an elliptic mask inside a margin."""
    crop = np.ascontiguousarray(photo("coffee")[40:340, 100:500])
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.ellipse(mask, (200, 150), (170, 125), 0, 0, 360, 1, -1)
    return crop, mask.astype(bool)


@functools.cache
def _retriever(profile: str = "rotation") -> PixelRetriever:
    """The coffee view and a distractor (the cat), registered once per profile."""
    folder = Path(tempfile.mkdtemp(prefix="pixret_orientation_test_"))
    gallery = Gallery(folder / "gallery")
    view, mask = _view()
    gallery.add("coffee", [view], [mask])
    cat = np.ascontiguousarray(photo("chelsea")[30:250, 100:340])
    gallery.add("cat", [cat])
    retriever = PixelRetriever(gallery, PROFILES[profile])
    shutil.rmtree(folder, ignore_errors=True)  # everything needed is in memory now
    return retriever


def _pose(angle: float, scale: float) -> np.ndarray:
    """View -> frame: turned by `angle` degrees and scaled about the view's centre, which
    lands a little off the frame's centre."""
    centre = np.array([[1.0, 0.0, -200.0], [0.0, 1.0, -150.0], [0.0, 0.0, 1.0]])
    return np.asarray(similarity(scale, angle, 300.0, 260.0) @ centre, dtype=np.float64)


@pytest.mark.parametrize(
    ("angle", "scale"),
    [(90.0, 1.0), (180.0, 1.0), (0.0, 0.3), (90.0, 0.3), (180.0, 0.3), (135.0, 1.0)],
)
def test_turned_and_shrunk_photo_is_found_with_its_homography(angle: float, scale: float) -> None:
    _assert_found_exactly("rotation", angle, scale)


@pytest.mark.parametrize(("angle", "scale"), [(90.0, 1.0), (180.0, 1.0), (270.0, 1.0)])
def test_the_defaults_find_a_photo_turned_by_quarter_turns(angle: float, scale: float) -> None:
    # No rectified look here: the turned copies alone (second pass) must give the fit.
    _assert_found_exactly("defaults", angle, scale)


def _assert_found_exactly(profile: str, angle: float, scale: float) -> None:
    """The coffee placed at (angle, scale) is the one accepted find, homography and mask right."""
    view, mask = _view()
    truth_h = _pose(angle, scale)
    frame, truth = place(background("astronaut"), view, mask, truth_h)
    found = [d for d in _retriever(profile).process(frame) if d.accepted]
    assert [d.name for d in found] == ["coffee"]
    detection = found[0]
    assert detection.homography is not None
    corners = np.array([[0, 0], [399, 0], [399, 299], [0, 299]], np.float64).reshape(-1, 1, 2)
    got = cv2.perspectiveTransform(corners, detection.homography)
    want = cv2.perspectiveTransform(corners, truth_h)
    error = float(np.linalg.norm(got - want, axis=2).max())
    assert error < 3.0 + 3.0 * scale, f"corner error {error:.1f} px"
    assert iou(detection.mask, truth) > 0.9


def test_turned_copies_map_back_to_the_view_exactly() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (5, 7), dtype=np.uint8)
    ys, xs = np.mgrid[0:5, 0:7]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    for degrees in (0, 90, 180, 270):
        turned = rotated(image, degrees)
        ty, tx = np.mgrid[0 : turned.shape[0], 0 : turned.shape[1]]
        turned_points = np.stack([tx.ravel(), ty.ravel()], axis=1).astype(np.float32)
        back = to_view(turned_points, degrees, image.shape).round().astype(int)
        assert np.array_equal(image[back[:, 1], back[:, 0]], turned[ty.ravel(), tx.ravel()])
    assert points.shape == (35, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [("view_rotations", (90,)), ("view_rotations", (0, 45)), ("rotated_scales", ())],
)
def test_bad_orientation_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        EngineConfig(**{field: value})  # type: ignore[arg-type]


def test_a_stream_searches_the_turned_copies_only_with_the_whole_gallery(tmp_path: Path) -> None:
    # Between a stream's full searches only the followed instances are verified: a
    # second-pass index search there would spend what skipping the primary search saved.
    gallery = Gallery(tmp_path / "gallery")
    view, mask = _view()
    gallery.add("coffee", [view], [mask])
    stream = PixelRetriever(gallery, EngineConfig(temporal=True, redetect_every=3))
    searched: list[int] = []  # frame numbers whose second-pass index was searched
    processed: list[int] = []
    second_pass = stream.loaded.second_pass

    def counted(feats: Features, found: Collection[int]) -> list[ViewTemplate]:
        searched.append(len(processed))
        return second_pass(feats, found)

    stream.loaded.second_pass = counted  # type: ignore[method-assign]
    for number in range(6):
        moving = np.array([[1.0, 0.0, 6.0 * number], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        frame, truth = place(
            background("astronaut"), view, mask, moving @ _pose(90.0 + 2.0 * number, 1.0)
        )
        coffee = [d for d in stream.process(frame) if d.accepted and d.name == "coffee"]
        processed.append(number)
        assert coffee, f"frame {number}: the turned coffee is not published"
        assert iou(coffee[0].mask, truth) > 0.8
    assert searched == [0, 3]  # the first frame and every third (redetect_every)
