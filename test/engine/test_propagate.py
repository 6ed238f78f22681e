"""Optical-flow propagation of a mask between consecutive frames of a real photo moved."""

from __future__ import annotations

import numpy as np
from engine_scenes import background, iou

from pixret_ros.engine.propagate import FlowPropagator

SHIFT = 10  # pixels the camera content moves right per frame


def _moved(frame: np.ndarray, dx: int) -> np.ndarray:
    """The photo's content moved `dx` pixels right (the left edge repeated)."""
    out = np.roll(frame, dx, axis=1)
    out[:, :dx] = frame[:, :1]
    return out


def test_the_flow_of_a_frame_is_to_the_previous_one_even_when_none_was_asked_before() -> None:
    # The flow is computed only when a track asks for it: a frame in between that nobody
    # asked about must still become the previous frame of the next one.
    frame = np.ascontiguousarray(background()[::2, ::2])  # 320 x 240 real photo
    mask = np.zeros(frame.shape[:2], bool)
    mask[80:160, 100:200] = True
    flow = FlowPropagator("fast")
    flow.advance(frame)
    assert flow.warp(mask) is mask  # a stream's first frame has no flow: the mask stays
    flow.advance(_moved(frame, SHIFT))  # nothing followed: no flow asked for
    flow.advance(_moved(frame, 2 * SHIFT))
    assert flow.ready
    assert not flow.cut
    warped = flow.warp(np.roll(mask, SHIFT, axis=1))
    assert iou(warped, np.roll(mask, 2 * SHIFT, axis=1)) > 0.9  # one step, not two
    assert flow.residual(warped) < 10.0


def test_a_cut_to_another_photo_is_seen() -> None:
    flow = FlowPropagator("fast")
    flow.advance(np.ascontiguousarray(background()[::2, ::2]))
    flow.advance(np.ascontiguousarray(background("coffee")[:240, :320]))
    assert flow.cut
