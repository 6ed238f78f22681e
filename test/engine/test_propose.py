"""Appearance-only finds (engine/propose.py): the seg_scenes object found with no prior."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from seg_scenes import frame_with_object, frame_without_object, view_model

from pixret_ros.engine.appearance import AppearanceModel, xfeat_dense_map
from pixret_ros.engine.propose import propose, search
from pixret_ros.engine.types import Box


@dataclass(frozen=True)
class Dense:
    dense: np.ndarray


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture(scope="module")
def model() -> AppearanceModel:
    return view_model()


def test_propose_boxes_the_object(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    box = propose(frame, xfeat_dense_map(frame), model)
    assert box is not None
    inside = np.zeros_like(truth)
    inside[box.y : box.y + box.height, box.x : box.x + box.width] = True
    assert (truth & inside).sum() > 0.5 * truth.sum()  # most of the object, ...
    # ... not the whole frame (segment grows the rest from this box)
    assert box.width * box.height < 4 * Box.of_mask(truth).width * Box.of_mask(truth).height


def test_search_finds_the_object_without_any_prior(model: AppearanceModel) -> None:
    frame, truth = frame_with_object()
    result = search(frame, Dense(xfeat_dense_map(frame)), [model])
    assert iou(result.mask, truth) > 0.5  # found and segmented from appearance alone
    empty = frame_without_object()
    absent = search(empty, Dense(xfeat_dense_map(empty)), [model])
    assert result.score > absent.score
