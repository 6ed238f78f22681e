"""Records and the official revisitop AP shared by the ranking and metrics tests."""

from __future__ import annotations

import numpy as np

from pixret_ros.evaluation.records import DetectionRecord, InstanceTruth

FRAMES = ["f0", "f1", "f2", "f3", "f4", "f5"]


def det(
    frame: str, instance: str, score: float, iou: float, box: float | None = None, *, ok: bool
) -> DetectionRecord:
    return DetectionRecord(frame, instance, score, iou, iou if box is None else box, ok)


def truth(name: str, positives: set[str], junk: set[str] | None = None) -> InstanceTruth:
    return InstanceTruth(name, frozenset(positives), frozenset(junk or set()))


# ----------------------------------------------------------------- reference (official)


def revisitop_compute_ap(ranks: list[int], nres: int) -> float:
    """compute_ap of github.com/filipradenovic/revisitop, python/evaluate.py (also copied in
    anguoyuan/Pixel_retrieval-Segmented_instance_retrieval evaluation_code/utils/evaluate.py),
    transcribed line by line."""
    nimgranks = len(ranks)
    ap = 0.0
    recall_step = 1.0 / nres
    for j in np.arange(nimgranks):
        rank = ranks[j]
        precision_0 = 1.0 if rank == 0 else float(j) / rank
        precision_1 = float(j + 1) / (rank + 1)
        ap += (precision_0 + precision_1) * recall_step / 2.0
    return ap
