"""judge: the IoU window, and records that do not depend on the window or on a writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tiny_scene import NAMES, Scene

from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation import judge
from pixret_ros.evaluation.coco_io import PredictionWriter
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.iou import box_iou_of_masks, mask_iou


def test_iou_window_holds_both_boxes_and_starts_inside_the_frame() -> None:
    assert judge.iou_window(Box(5, 6, 10, 4), Box(20, 1, 3, 3)) == (slice(1, 10), slice(5, 23))
    assert judge.iou_window(Box(-3, -2, 10, 10), Box(0, 0, 0, 0)) == (slice(0, 8), slice(0, 7))
    assert judge.iou_window(Box(0, 0, 0, 0), Box(0, 0, 0, 0)) == (slice(0, 0), slice(0, 0))


def shifted(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`mask` moved by (dx, dy) pixels (what slides off the frame is lost)."""
    out = np.zeros_like(mask)
    height, width = mask.shape
    out[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = mask[
        max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
    ]
    return out


def test_records_equal_whole_frame_ious_with_or_without_a_writer(
    tiny: Scene, tmp_path: Path
) -> None:
    """The window is a speed-up only, and the benchmark's writer-less judge judges alike."""
    gt = load_ground_truth(tiny.gt)
    with_writer = judge.Judge(gt, PredictionWriter(tmp_path / "predictions.json"))
    alone = judge.Judge(gt)
    expected = []
    for name, frame, truths in zip(NAMES, tiny.frames, tiny.truths, strict=True):
        detections = []
        for instance, truth in truths.items():
            for dx, dy in ((0, 0), (7, -5), (-40, 30)):
                mask = shifted(truth, dx, dy)
                detections.append(
                    Detection(instance, 0.5, Box.of_mask(mask), mask, 9, None, 0, accepted=True)
                )
                expected.append(
                    (name, instance, mask_iou(mask, truth), box_iou_of_masks(mask, truth))
                )
        for each in (with_writer, alone):
            each.add(name, frame.shape[:2], detections)
    assert expected, "the tiny scene has instances to detect"
    assert any(0 < e[2] < 1 for e in expected)  # partial overlaps, not only hits and misses
    for each in (with_writer, alone):
        got = [(r.frame, r.instance, r.mask_iou, r.box_iou) for r in each.records]
        assert got == expected
    assert with_writer.writer is not None
    assert with_writer.writer.count == len(expected)
    assert with_writer.kept
    assert not alone.kept
