"""Geometric verification: a known homography is recovered and the warped mask fits."""

from __future__ import annotations

import numpy as np
import pytest
from engine_scenes import background, iou, object_view, photo, place, similarity

from pixret_ros.engine import EngineConfig
from pixret_ros.engine.features import FeatureExtractor
from pixret_ros.engine.localize import localize, mutual_matches, plausible, warp_mask
from pixret_ros.engine.register import view_features

CONFIG = EngineConfig()


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor(CONFIG)


def _project(h: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Frame positions of every object pixel of the view under `h`."""
    ys, xs = np.nonzero(mask)
    out = h @ np.stack([xs, ys, np.ones_like(xs)]).astype(np.float64)
    return np.asarray((out[:2] / out[2]).T, dtype=np.float64)


@pytest.mark.parametrize(
    "homography",
    [
        similarity(1.0, 0.0, 200, 120),
        similarity(1.3, 12.0, 220, 60),
        similarity(0.8, -8.0, 150, 150) @ np.array([[1, 0.05, 0], [0.02, 1, 0], [3e-4, 1e-4, 1]]),
    ],
)
def test_known_homography_is_recovered(extractor: FeatureExtractor, homography: np.ndarray) -> None:
    view, mask = object_view("coffee_cup")
    frame, truth = place(background(), view, mask, homography)
    vf = view_features(extractor, view, mask, CONFIG)
    points, descriptors = vf.keypoints, vf.descriptors
    assert extractor.extract(frame).keypoints.shape[0] == CONFIG.frame_keypoints
    feats = extractor.extract(frame)
    loc = localize(feats.keypoints, feats.descriptors, points, descriptors, CONFIG)
    assert loc is not None
    assert loc.inliers >= 15
    error = np.linalg.norm(_project(loc.transform, mask) - _project(homography, mask), axis=1)
    assert error.mean() < 2.0  # object pixels land within 2 px of where the true warp puts them
    assert error.max() < 5.0
    assert iou(warp_mask(mask, loc.transform, frame.shape[:2]), truth) > 0.9


def test_translation_is_recovered_to_a_pixel(extractor: FeatureExtractor) -> None:
    """Padding (not resizing) to XFeat's stride keeps keypoints exact: sub-pixel fit."""
    view, mask = object_view("cat_face")
    homography = similarity(1.0, 0.0, 203, 117)
    frame, _ = place(background(), view, mask, homography)
    vf = view_features(extractor, view, mask, CONFIG)
    points, descriptors = vf.keypoints, vf.descriptors
    feats = extractor.extract(frame)
    loc = localize(feats.keypoints, feats.descriptors, points, descriptors, CONFIG)
    assert loc is not None
    assert loc.planar
    error = np.linalg.norm(_project(loc.transform, mask) - _project(homography, mask), axis=1)
    assert error.max() < 1.0


def test_unrelated_view_does_not_verify(extractor: FeatureExtractor) -> None:
    view, mask = object_view("cat_face")
    vf = view_features(extractor, view, mask, CONFIG)
    points, descriptors = vf.keypoints, vf.descriptors
    feats = extractor.extract(background("camera"))
    loc = localize(feats.keypoints, feats.descriptors, points, descriptors, CONFIG)
    assert loc is None or loc.inliers < 22


def test_mutual_matches_are_mutual(extractor: FeatureExtractor) -> None:
    a = extractor.extract(photo("coffee"), 300).descriptors
    b = a[::-1].copy()
    qi, ri, sims = mutual_matches(a, b, 0.5)
    assert qi.size == len(a)
    assert np.all(ri == len(a) - 1 - qi)
    assert np.allclose(sims, 1.0, atol=1e-4)


def test_degenerate_warps_are_rejected() -> None:
    assert plausible(similarity(1.0, 30.0, 5, 5))
    assert not plausible(np.diag([1.0, -1.0, 1.0]))  # mirrored
    assert not plausible(np.diag([10.0, 1.0, 1.0]))  # strongly anisotropic
    assert not plausible(np.diag([1e-3, 1e-3, 1.0]))  # collapsed
