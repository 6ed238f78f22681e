"""Mask IoU and box IoU of masks against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from pixret_ros.errors import InputError
from pixret_ros.evaluation.iou import box_iou_of_masks, mask_iou


def test_mask_and_box_iou_differ_for_an_l_shape() -> None:
    true = np.zeros((5, 5), bool)
    true[0:3, 0:3] = True  # 9 pixels
    pred = np.zeros((5, 5), bool)
    pred[2, 0:3] = True
    pred[0:3, 0] = True  # an L of 5 pixels inside the square, same tight box
    assert mask_iou(pred, true) == pytest.approx(5 / 9)
    assert box_iou_of_masks(pred, true) == 1.0


def test_box_iou_counts_pixels_inclusively() -> None:
    a = np.zeros((4, 4), np.uint8)
    a[0:2, 0:2] = 255  # box columns 0..1, rows 0..1: 4 pixels
    b = np.zeros((4, 4), bool)
    b[1:3, 1:3] = True  # columns 1..2, rows 1..2: shares pixel (1, 1) only
    # Continuous corner boxes [0,1]x[0,1] and [1,2]x[1,2] would touch with area 0.
    assert box_iou_of_masks(a, b) == pytest.approx(1 / 7)
    assert mask_iou(a, b) == pytest.approx(1 / 7)
    c = np.zeros((4, 4), bool)
    c[3, 3] = True
    assert box_iou_of_masks(a, c) == 0.0


def test_iou_of_empty_masks_is_zero() -> None:
    empty = np.zeros((3, 3), bool)
    full = np.ones((3, 3), bool)
    assert mask_iou(empty, empty) == 0.0
    assert box_iou_of_masks(empty, full) == 0.0
    assert mask_iou(full, empty) == 0.0


def test_iou_rejects_bad_masks() -> None:
    with pytest.raises(InputError, match=r"differ in shape"):
        mask_iou(np.zeros((3, 3), bool), np.zeros((3, 4), bool))
    with pytest.raises(InputError, match=r"bool or integer"):
        box_iou_of_masks(np.zeros((3, 3), np.float32), np.zeros((3, 3), bool))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"2-D"):
        mask_iou(np.zeros((3, 3, 1), bool), np.zeros((3, 3), bool))
