"""Resizing between the input frame and the working resolution, on a real photo."""

from __future__ import annotations

import cv2
import numpy as np
from engine_scenes import background, object_view

from pixret_ros.engine.resize import downscaled, resized, upscaled, working


def test_working_shrinks_the_long_side_and_keeps_small_frames() -> None:
    frame = background()  # 640 x 480
    small = working(frame, 320)
    assert small.shape == (240, 320, 3)
    assert small.dtype == np.uint8
    assert working(frame, 640) is frame  # already small enough: the frame itself
    assert working(frame, 1000) is frame


def test_working_keeps_a_minimum_side() -> None:
    strip = np.ascontiguousarray(background()[:40])  # 640 x 40
    assert working(strip, 320).shape[:2] == (20, 320)
    assert working(strip, 320, min_side=32).shape[:2] == (32, 320)


def test_resized_averages_when_shrinking_and_interpolates_when_growing() -> None:
    frame = background()
    assert np.array_equal(
        resized(frame, (320, 240)), cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    )
    assert np.array_equal(
        resized(frame, (800, 600)), cv2.resize(frame, (800, 600), interpolation=cv2.INTER_LINEAR)
    )


def test_masks_go_down_and_up_again() -> None:
    _, mask = object_view("cat_face")  # an ellipse, 200 x 200
    small = downscaled(mask, (100, 100))
    assert small.shape == (100, 100)
    assert abs(int(small.sum()) * 4 - int(mask.sum())) < 0.02 * mask.sum()  # area kept
    assert downscaled(mask, mask.shape) is mask
    back = upscaled(small, mask.shape)
    assert back.shape == mask.shape
    assert back.dtype == bool
    assert (back & mask).sum() / (back | mask).sum() > 0.97


def test_a_working_pixel_half_covered_by_a_mask_is_in_it() -> None:
    # Shrinking keeps the half-covered rule: 2 of a block's 4 pixels are in, 1 is not.
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True  # block (0, 0): half covered
    mask[2, 2] = True  # block (1, 1): a quarter
    small = downscaled(mask, (2, 2))
    assert small.tolist() == [[True, False], [False, False]]
