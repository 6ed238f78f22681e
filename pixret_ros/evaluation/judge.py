"""Judging: each frame's detections against the ground truth, as DetectionRecords.

The one judging loop of the project: the runner (`pixret-eval run`) and the benchmark
(tools/bench.py) both pass every frame's detections to a `Judge`, so their figures agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from pixret_ros.engine.types import BoolMask, Box, Detection
from pixret_ros.errors import InputError
from pixret_ros.evaluation.coco_io import PredictionWriter, box_holds_mask, encode_mask
from pixret_ros.evaluation.ground_truth import GroundTruth
from pixret_ros.evaluation.iou import box_iou_of_masks, mask_iou
from pixret_ros.evaluation.records import DetectionRecord
from pixret_ros.evaluation.stream_metrics import StreamScorer


class KeptDetection(NamedTuple):
    """The best detection of one instance in one frame, kept compactly for the report."""

    score: float
    accepted: bool
    rle: dict[str, object]
    box: Box


def iou_window(a: Box, b: Box) -> tuple[slice, slice]:
    """Rows and columns of the smallest window holding both boxes (empty ones ignored).

    A recorded box may reach past the frame: the start is clamped at 0 (a negative one would
    count from the end), and the caller checks that the window holds the whole mask.
    """
    boxes = [box for box in (a, b) if box.width and box.height]
    if not boxes:
        return slice(0, 0), slice(0, 0)
    x0, y0 = max(0, min(box.x for box in boxes)), max(0, min(box.y for box in boxes))
    x1 = max(box.x + box.width for box in boxes)
    y1 = max(box.y + box.height for box in boxes)
    return slice(y0, y1), slice(x0, x1)


class Judge:
    """Turns each frame's detections into DetectionRecords and predictions.json entries.

    Frames the ground truth does not list are only counted (no image_id to report them
    under); instances it does not list get category ids after its own (`category_ids`) and
    are written to predictions.json but not judged. Without a writer (the benchmark) only
    the records are made: no predictions, no detections kept for the report.
    """

    def __init__(
        self, gt: GroundTruth, writer: PredictionWriter | None = None, extra: Sequence[str] = ()
    ) -> None:
        self.gt = gt
        self.frames = set(gt.frames)
        self.instances = set(gt.instances)
        self.image_ids = gt.image_ids
        self.category_ids = dict(gt.category_ids)  # own copy: grows by `extra` below
        for name in extra:
            self._category(name)
        self.writer = writer
        self.records: list[DetectionRecord] = []
        self.kept: dict[tuple[str, str], KeptDetection] = {}
        self.unjudged = 0  # detections of instances the ground truth does not have
        self.outside = 0  # input frames the ground truth does not list
        self.scorer: StreamScorer | None = None  # a stream run's J and F (stream_metrics)

    def _category(self, name: str) -> int:
        """The category id of an instance; one after the largest so far if the GT lacks it."""
        if name not in self.category_ids:
            self.category_ids[name] = max(self.category_ids.values(), default=0) + 1
        return self.category_ids[name]

    def add(self, frame: str, shape: tuple[int, int], detections: Sequence[Detection]) -> None:
        """Judge (and write) every detection of one frame of `shape` (height, width)."""
        if frame not in self.frames:
            self.outside += 1
            return
        size = self.gt.image_size(frame)
        if size is not None and size != shape:
            raise InputError(
                f"frame {frame} is {shape[1]}x{shape[0]} pixels, ground truth {self.gt.path} "
                f"says {size[1]}x{size[0]}; was the truth made on other (resized) frames?"
            )
        truths = self.gt.masks(frame)
        boxes = {name: Box.of_mask(mask) for name, mask in truths.items()}
        empty = np.zeros(shape, dtype=bool)
        for det in detections:
            truth = truths.get(det.name, empty)
            self._add(frame, det, truth, boxes.get(det.name, Box(0, 0, 0, 0)))
        if self.scorer is not None:
            self.scorer.add(frame, truths, detections)

    def add_nothing_published(self, frame: str) -> None:
        """A frame the node published nothing for (or lost): it still counts for J and F."""
        if self.scorer is not None and frame in self.frames:
            self.scorer.add(frame, self.gt.masks(frame), [])

    def _add(self, frame: str, det: Detection, truth: BoolMask, truth_box: Box) -> None:
        rle = self._write(frame, det)
        if det.name not in self.instances:
            self.unjudged += 1
            return
        # Both IoUs within the window of both boxes: the same value, a fraction of the pixels.
        pred, true = det.mask, truth
        if box_holds_mask(det.mask, det.box):
            window = iou_window(det.box, truth_box)
            pred, true = det.mask[window], truth[window]
        self.records.append(
            DetectionRecord(
                frame,
                det.name,
                float(det.score),
                mask_iou(pred, true),
                box_iou_of_masks(pred, true),
                bool(det.accepted),
            )
        )
        if rle is None:
            return
        kept = self.kept.get((frame, det.name))
        if kept is None or det.score > kept.score:
            self.kept[(frame, det.name)] = KeptDetection(det.score, det.accepted, rle, det.box)

    def _write(self, frame: str, det: Detection) -> dict[str, object] | None:
        """The predictions.json entry of `det`; its RLE, or None without a writer."""
        if self.writer is None:
            return None
        rle = encode_mask(det.mask, det.box)
        self.writer.add(
            {
                "image_id": self.image_ids[frame],
                "category_id": self._category(det.name),
                "category_name": det.name,
                "score": float(det.score),
                "bbox": [det.box.x, det.box.y, det.box.width, det.box.height],
                "segmentation": rle,
                "accepted": bool(det.accepted),
                "inliers": int(det.inliers),
            }
        )
        return rle
