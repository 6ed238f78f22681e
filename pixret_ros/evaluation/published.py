"""What the node publishes, scored from an offline run, and the demo's side-by-side table.

The node publishes only accepted detections, and their masks in one label image per frame
(render.label_image: where masks overlap, the higher score keeps the pixels). A recording of
the node is scored from exactly that, while an offline run ranks every candidate with its full
mask; `published_metrics` scores the offline predictions the node's way, which is what a
lockstep recording must match (within TOLERANCE).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from pixret_ros.engine.render import label_image
from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation.coco_io import decode_mask
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.iou import box_iou_of_masks, mask_iou
from pixret_ros.evaluation.metrics import SCALAR_METRIC_KEYS, compute_metrics
from pixret_ros.evaluation.records import DetectionRecord

#: Accuracy figures must agree this closely between the offline run and the lockstep replay
#: through the node (same engine, same frames; only floating-point threading may differ).
TOLERANCE = 0.02
ACCURACY_KEYS = SCALAR_METRIC_KEYS
SPEED_KEYS = ("fps", "latency_ms_p50", "latency_ms_p95", "dropped_frames")


def published_metrics(predictions: Path, gt_path: Path) -> dict[str, object]:
    """The offline predictions scored as the node publishes them.

    The node publishes only accepted detections, and their masks in one label image per frame
    (render.label_image: where masks overlap, the higher score keeps the pixels). A recording
    is scored from exactly that, while the offline run ranks every candidate with its full
    mask; so this, not the plain offline table, is what the recording must match.
    """
    gt = load_ground_truth(gt_path)
    frame_of = {image_id: name for name, image_id in gt.image_ids.items()}
    instance_of = {category_id: name for name, category_id in gt.category_ids.items()}
    per_frame: dict[str, list[Detection]] = defaultdict(list)
    for entry in json.loads(predictions.read_text()):
        if not entry.get("accepted"):
            continue
        mask = decode_mask(entry["segmentation"])
        name, score = instance_of[entry["category_id"]], float(entry["score"])
        per_frame[frame_of[entry["image_id"]]].append(
            Detection(name, score, Box.of_mask(mask), mask, 0, None, 0, accepted=True)
        )
    records = []
    for frame, detections in per_frame.items():
        labels = label_image(detections, detections[0].mask.shape)
        truths = gt.masks(frame)
        for i, det in enumerate(detections):
            published = labels == i + 1
            truth = truths.get(det.name, np.zeros_like(published))
            ious = mask_iou(published, truth), box_iou_of_masks(published, truth)
            records.append(DetectionRecord(frame, det.name, det.score, *ious, accepted=True))
    return dict(compute_metrics(gt.frames, gt.truths(), records))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def compare(
    offline: dict[str, object], published: dict[str, object], live: dict[str, object] | None
) -> tuple[str, list[str]]:
    """The side-by-side table; the accuracy keys where live and published differ > TOLERANCE."""
    rows = [f"{'metric':<20} {'offline':>10} {'published':>10} {'live':>10} {'|diff|':>8}"]
    off_tolerance = []
    for key in (*ACCURACY_KEYS, *SPEED_KEYS):
        a, b = published.get(key), None if live is None else live.get(key)
        diff = ""
        if key in ACCURACY_KEYS and isinstance(a, int | float) and isinstance(b, int | float):
            delta = abs(float(a) - float(b))
            diff = f"{delta:.4f}"
            if delta > TOLERANCE:
                off_tolerance.append(key)
        row = [_cell(offline.get(key)), _cell(a), _cell(b)]
        rows.append(f"{key:<20} {row[0]:>10} {row[1]:>10} {row[2]:>10} {diff:>8}")
    return "\n".join(rows), off_tolerance
