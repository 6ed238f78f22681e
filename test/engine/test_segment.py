"""Segmentation from a loose prior, planar priors kept, scores that separate presence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from seg_scenes import frame_with_object, frame_without_object, view, view_model

from pixret_ros.engine.appearance import AppearanceModel, build_appearance, xfeat_dense_map
from pixret_ros.engine.segment import SegmentConfig, SegmentPrior, segment
from pixret_ros.engine.types import Box


@dataclass(frozen=True)
class Dense:
    dense: np.ndarray


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def loose_box(mask: np.ndarray) -> Box:
    """The true box grown by 15 % per side and shifted by 5 % of its size."""
    box = Box.of_mask(mask)
    dx, dy = 0.15 * box.width, 0.15 * box.height
    return Box(
        int(box.x - dx + 0.05 * box.width),
        int(box.y - dy - 0.05 * box.height),
        int(box.width + 2 * dx),
        int(box.height + 2 * dy),
    )


def box_mask(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape[:2], bool)
    out[max(0, box.y) : box.y + box.height, max(0, box.x) : box.x + box.width] = True
    return out


@pytest.fixture(scope="module")
def model() -> AppearanceModel:
    return view_model()


def test_loose_box_becomes_the_object_mask(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    box = loose_box(truth)
    naive = iou(box_mask(box, frame.shape), truth)
    result = segment(frame, Dense(xfeat_dense_map(frame)), [model], SegmentPrior(box=box))
    assert result.mask.shape == truth.shape
    assert result.mask.dtype == bool
    got = iou(result.mask, truth)
    assert naive < 0.3  # the box alone is a poor mask of this shape...
    assert got > 0.5  # ...the segmentation is far better
    assert got > naive + 0.25


def test_points_alone_are_a_usable_prior(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    ys, xs = np.nonzero(truth)
    pick = np.random.default_rng(0).choice(len(xs), 30, replace=False)
    points = np.stack([xs[pick], ys[pick]], axis=1).astype(np.float32)
    result = segment(frame, Dense(xfeat_dense_map(frame)), [model], SegmentPrior(points=points))
    assert iou(result.mask, truth) > 0.6


def test_planar_prior_keeps_the_warp(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    warped = np.zeros_like(truth)
    warped[100:300, 200:420] = True  # deliberately not the object's shape
    prior = SegmentPrior(mask=warped, planar=True)
    result = segment(frame, Dense(xfeat_dense_map(frame)), [model], prior)
    np.testing.assert_array_equal(result.mask, warped)
    assert 0.0 <= result.score <= 1.0


def test_score_is_higher_where_the_object_is(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    empty = frame_without_object()
    prior = SegmentPrior(box=loose_box(truth))
    present = segment(frame, Dense(xfeat_dense_map(frame)), [model], prior)
    absent = segment(empty, Dense(xfeat_dense_map(empty)), [model], prior)
    assert 0.0 <= absent.score < present.score <= 1.0
    assert present.score > absent.score + 0.05, (present.score, absent.score)


def test_no_prior_gives_an_empty_mask(model: AppearanceModel) -> None:
    frame, _ = frame_with_object()
    result = segment(frame, Dense(xfeat_dense_map(frame)), [model], SegmentPrior())
    assert not result.mask.any()
    assert result.score == 0.0


def test_models_from_the_cache_segment_identically(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    again = AppearanceModel.from_arrays(model.to_arrays())
    prior = SegmentPrior(box=loose_box(truth))
    feats = Dense(xfeat_dense_map(frame))
    first = segment(frame, feats, [model], prior)
    second = segment(frame, feats, [again], prior)
    np.testing.assert_array_equal(first.mask, second.mask)
    assert first.score == second.score


def test_graph_cut_refinement_runs(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    config = SegmentConfig(grabcut_iterations=1)
    prior = SegmentPrior(box=loose_box(truth))
    result = segment(frame, Dense(xfeat_dense_map(frame)), [model], prior, config=config)
    assert iou(result.mask, truth) > 0.5


def test_soft_prior_edge_lets_the_frame_correct_a_misplaced_mask(model: AppearanceModel) -> None:
    """What tracks rely on (mask_softness): a flow-carried mask is a few pixels off.

    A hard prior edge charges the full mask_bonus one pixel outside the prior, so a strong
    prior shifted off the object keeps its wrong edge; a Gaussian edge leaves the last few
    pixels to the frame's evidence. Shifted by 16 px with mask_bonus 4 (measured: IoU 0.58
    hard, 0.70 at softness 8; the prior itself 0.41).
    """
    frame, truth = frame_with_object()
    feats = Dense(xfeat_dense_map(frame))
    shifted = np.roll(truth, (16, 16), axis=(0, 1))
    prior = SegmentPrior(mask=shifted)

    def result_iou(softness: float) -> float:
        config = SegmentConfig(mask_bonus=4.0, mask_softness=softness)
        return iou(segment(frame, feats, [model], prior, config=config).mask, truth)

    hard, soft = result_iou(0.0), result_iou(8.0)
    assert soft > hard + 0.06, (hard, soft)
    assert soft > iou(shifted, truth) + 0.2


def test_bad_inputs_are_named(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    prior = SegmentPrior(box=loose_box(truth))
    with pytest.raises(ValueError, match="dense"):
        segment(frame, Dense(np.zeros((32, 10, 10), np.float32)), [model], prior)
    with pytest.raises(ValueError, match="RGB uint8"):
        segment(frame[..., 0], Dense(xfeat_dense_map(frame)), [model], prior)
    with pytest.raises(ValueError, match="at least one model"):
        segment(frame, Dense(xfeat_dense_map(frame)), [], prior)


def test_two_views_pool_into_one_segmentation(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    rgb, mask = view()
    mirrored = build_appearance(
        np.ascontiguousarray(rgb[:, ::-1]), np.ascontiguousarray(mask[:, ::-1]), None
    )
    box = loose_box(truth)
    result = segment(frame, Dense(xfeat_dense_map(frame)), [model, mirrored], SegmentPrior(box=box))
    assert iou(result.mask, truth) > iou(box_mask(box, frame.shape), truth) + 0.2
