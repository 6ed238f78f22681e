"""The records' own logic: the tight box of a mask and the overlap of two boxes."""

from __future__ import annotations

import numpy as np
import pytest

from pixret_ros.engine.types import Box


def test_box_of_a_mask_is_tight_and_inclusive() -> None:
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    assert Box.of_mask(mask) == Box(3, 2, 6, 3)
    assert Box.of_mask(np.zeros((4, 4), bool)) == Box(0, 0, 0, 0)


def test_box_iou_counts_pixels() -> None:
    a = Box(0, 0, 4, 4)
    assert a.iou(a) == 1.0
    assert a.iou(Box(2, 0, 4, 4)) == pytest.approx(8 / 24)
    assert a.iou(Box(2, 0, 4, 4)) == Box(2, 0, 4, 4).iou(a)
    assert a.iou(Box(4, 0, 4, 4)) == 0.0  # touching, not overlapping
    assert Box(0, 0, 0, 0).iou(Box(0, 0, 0, 0)) == 0.0
