"""Ranking the frames for one instance and its average precision (revisitop `compute_ap`).

Its own module because every retrieval figure starts here: the aggregate metrics of
`metrics.py` and the official PROxford protocol both rank by detection score and score the
ranks with the same trapezoid rule. The checks of truth and detection records sit here too,
since a ranking is the first thing that reads them (`InputError` names the value).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Sequence

from pixret_ros.errors import InputError
from pixret_ros.evaluation.records import DetectionRecord, InstanceTruth, RankedFrame


def average_precision(positive_ranks: Sequence[int], *, num_positives: int) -> float:
    """Average precision by the revisited-Oxford trapezoid rule (revisitop `compute_ap`).

    For the j-th positive (0-based) found at rank r (0-based, junk already removed)::

        AP = sum_j (p0 + p1) / (2 n),  p0 = 1 if r == 0 else j / r,  p1 = (j + 1) / (r + 1)

    with n = `num_positives`, which may exceed `len(positive_ranks)`: positives never found
    (or, for the strict pixel mAP, found but badly localized) add nothing and cost recall.

    Args:
        positive_ranks: strictly increasing 0-based ranks of the positives that were found.
        num_positives: n, at least 1 and at least `len(positive_ranks)`.
    """
    ranks = [int(r) for r in positive_ranks]
    if num_positives < max(len(ranks), 1):
        raise InputError(
            f"num_positives must be >= 1 and >= the {len(ranks)} ranks given, got {num_positives}"
        )
    if any(r < 0 for r in ranks) or any(b <= a for a, b in itertools.pairwise(ranks)):
        raise InputError(f"positive_ranks must be strictly increasing and >= 0, got {ranks}")
    total = 0.0
    for j, r in enumerate(ranks):
        p0 = 1.0 if r == 0 else j / r
        p1 = (j + 1) / (r + 1)
        total += (p0 + p1) / (2 * num_positives)
    return total


def check_truth(frames: Collection[str], truth: InstanceTruth) -> None:
    """Reject a truth record whose frames overlap or are not among `frames`."""
    overlap = truth.positives & truth.junk
    if overlap:
        raise InputError(
            f"instance {truth.name!r}: frames {sorted(overlap)} are both positive and junk"
        )
    unknown = (truth.positives | truth.junk) - set(frames)
    if unknown:
        raise InputError(
            f"instance {truth.name!r}: ground truth names frames that were not evaluated: "
            f"{sorted(unknown)[:5]}"
        )


def check_detection(det: DetectionRecord, frames: Collection[str]) -> None:
    """Reject a detection in an unknown frame, with a non-finite score or IoU outside [0, 1]."""
    if det.frame not in frames:
        raise InputError(f"detection of {det.instance!r} in unknown frame {det.frame!r}")
    if not math.isfinite(det.score):
        raise InputError(f"detection of {det.instance!r} in {det.frame!r}: score {det.score}")
    for label, value in (("mask_iou", det.mask_iou), ("box_iou", det.box_iou)):
        if not 0.0 <= value <= 1.0:
            raise InputError(
                f"detection of {det.instance!r} in {det.frame!r}: {label} {value} not in [0, 1]"
            )


def best_per_frame(
    detections: Iterable[DetectionRecord], instance: str, *, accepted_only: bool = False
) -> dict[str, DetectionRecord]:
    """Frame -> the instance's highest-scoring detection there (optionally accepted ones only)."""
    best: dict[str, DetectionRecord] = {}
    for det in detections:
        if det.instance != instance or (accepted_only and not det.accepted):
            continue
        kept = best.get(det.frame)
        if kept is None or det.score > kept.score:  # equal scores: the first one stays
            best[det.frame] = det
    return best


def ranking(
    frames: Sequence[str], detections: Iterable[DetectionRecord], *, truth: InstanceTruth
) -> list[RankedFrame]:
    """Rank the frames for one instance (query), junk removed.

    Frames are ordered by the instance's best detection score in each frame, highest first;
    equal scores keep frame order, and frames without a detection come after all detected
    ones, in frame order. The best-scoring detection of a frame gives both its rank and its
    IoUs. Detections of other instances are ignored.

    Args:
        frames: every evaluated frame, in frame order (bag order or file-name order).
        detections: detection records (any instances).
        truth: the instance's positives and junk frames.
    """
    if len(set(frames)) != len(frames):
        raise InputError("frame names must be unique")
    frame_set = set(frames)
    check_truth(frame_set, truth)
    detections = list(detections)
    for det in detections:
        check_detection(det, frame_set)
    best = best_per_frame(detections, truth.name)
    kept = [f for f in frames if f not in truth.junk]
    detected = sorted((f for f in kept if f in best), key=lambda f: -best[f].score)  # stable
    ranked = [
        RankedFrame(f, best[f].score, best[f].mask_iou, best[f].box_iou, f in truth.positives)
        for f in detected
    ]
    ranked += [RankedFrame(f, None, 0.0, 0.0, f in truth.positives) for f in kept if f not in best]
    return ranked
