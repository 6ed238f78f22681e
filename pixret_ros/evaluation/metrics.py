"""Pixel-retrieval metrics of DESIGN.md section 5, as pure functions of small records.

Each registered instance is a query and all frames are the database. The runner reduces
every detection to a `DetectionRecord` (with its mask and box IoU against the truth) and
the ground truth to one `InstanceTruth` per instance; `compute_metrics` then gives every
key of `OUT/metrics.json` except the timing keys, which the runner adds (`TIMING_KEYS`).

Options are keyword-only and inputs are checked first (`InputError` names the value).
"Undefined" figures (0 / 0, e.g. the recall of an instance that is never annotated) are
None, never NaN, so that `metrics.json` stays strict JSON.

Its own module for the aggregate figures only: the IoU of two masks is in `iou.py` and the
per-instance ranking with its average precision in `ranking.py`, which this module builds on.

References: Radenovic et al., "Revisiting Oxford and Paris", CVPR 2018 (AP, revisitop
`compute_ap`); An et al., "Towards Content-based Pixel Retrieval in Revisited Oxford and
Paris", ICCV 2023 (mAP@50:5:95 over mask and box IoU).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pixret_ros.errors import InputError
from pixret_ros.evaluation.ranking import (
    average_precision,
    best_per_frame,
    check_detection,
    check_truth,
    ranking,
)
from pixret_ros.evaluation.records import (
    DetectionRecord,
    InstanceMetrics,
    InstanceTruth,
    IoUKind,
    PRPoint,
    RankedFrame,
)

#: IoU thresholds of mAP@50:5:95, computed as k / 100 like the official code (`thresh/100`
#: in evaluate_pixel.py), so 0.55 is the float 0.55 and not 0.5 + 0.05 = 0.55000000000000004.
PIXEL_THRESHOLDS: tuple[float, ...] = tuple(k / 100 for k in range(50, 100, 5))

#: IoU above which an accepted detection is a hit for precision and recall.
HIT_IOU = 0.5

#: The accuracy figures of DESIGN section 5, in the order tables show them.
SCALAR_METRIC_KEYS: tuple[str, ...] = (
    "image_map",
    "pixel_map_S",
    "pixel_map_D",
    "strict_pixel_map_S",
    "strict_pixel_map_D",
    "miou_S",
    "miou_D",
    "precision",
    "recall",
)
#: Keys `compute_metrics` returns; the runner adds `TIMING_KEYS` (DESIGN section 5).
METRIC_KEYS: tuple[str, ...] = (*SCALAR_METRIC_KEYS, "per_instance")
TIMING_KEYS: tuple[str, ...] = ("fps", "latency_ms_p50", "latency_ms_p95")

Rankings = Mapping[str, Sequence[RankedFrame]]
MetricsDict = dict[str, float | dict[str, dict[str, float | int | None]] | None]


def _check_kind(kind: str) -> None:
    if kind not in ("S", "D"):
        raise InputError(f"kind must be 'S' (masks) or 'D' (boxes), got {kind!r}")


def _iou(frame: RankedFrame, kind: IoUKind) -> float:
    return frame.mask_iou if kind == "S" else frame.box_iou


Positives = list[tuple[int, RankedFrame]]


def _positives(ranked: Sequence[RankedFrame]) -> Positives:
    """(rank, frame) of the annotated frames: the only ones that can be hits."""
    return [(r, f) for r, f in enumerate(ranked) if f.positive]


def _hit_ranks(positives: Positives, kind: IoUKind, threshold: float) -> list[int]:
    return [r for r, f in positives if _iou(f, kind) > threshold]


def _check_thresholds(thresholds: Sequence[float]) -> None:
    if not thresholds or any(not 0.0 <= t < 1.0 for t in thresholds):
        raise InputError(
            f"thresholds must be a non-empty list of values in [0, 1), got {thresholds}"
        )


def _check_hit_iou(hit_iou: float) -> None:
    if not 0.0 <= hit_iou < 1.0:
        raise InputError(f"hit_iou must be in [0, 1), got {hit_iou}")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ------------------------------------------------------------------------ set metrics


def image_map(rankings: Rankings) -> float | None:
    """Mean AP over instances, the positives being all annotated frames (image retrieval).

    Instances without any annotated frame are left out of the mean (as revisitop does);
    None when no instance has one.

    Args:
        rankings: instance name -> its `ranking`.
    """
    aps = []
    for ranked in rankings.values():
        positives = _positives(ranked)
        if positives:
            aps.append(average_precision([r for r, _ in positives], num_positives=len(positives)))
    return _mean(aps)


def pixel_map(
    rankings: Rankings, *, kind: IoUKind, thresholds: Sequence[float] = PIXEL_THRESHOLDS
) -> float:
    """The paper's mAP@50:5:95 over mask (kind "S") or box (kind "D") IoU.

    For each threshold t the positives of an instance are only its annotated frames whose
    IoU > t (strictly), n counting only those; annotated frames at or below t are negatives.
    mAP_t is the mean AP over the instances with at least one positive at t (the others are
    left out at t; a t where no instance has one gives mAP_t = 0). Result: mean of mAP_t.
    """
    _check_kind(kind)
    _check_thresholds(thresholds)
    all_positives = [_positives(r) for r in rankings.values()]
    per_t = []
    for t in thresholds:
        aps = []
        for positives in all_positives:
            hits = _hit_ranks(positives, kind, t)
            if hits:
                aps.append(average_precision(hits, num_positives=len(hits)))
        per_t.append(_mean(aps) or 0.0)
    return sum(per_t) / len(per_t)


def strict_pixel_map(
    rankings: Rankings, *, kind: IoUKind, thresholds: Sequence[float] = PIXEL_THRESHOLDS
) -> float:
    """`pixel_map` with n = all annotated frames, so a missed or badly localized positive costs.

    Same ranking and hits (annotated with IoU > t); AP_t = sum over hits of the trapezoid
    term with n = number of annotated frames. Instances without annotated frames are left out;
    a t with no such instance gives 0. Result: mean over t of the mean AP_t.
    """
    _check_kind(kind)
    _check_thresholds(thresholds)
    counted = [p for p in (_positives(r) for r in rankings.values()) if p]
    per_t = []
    for t in thresholds:
        aps = [average_precision(_hit_ranks(p, kind, t), num_positives=len(p)) for p in counted]
        per_t.append(_mean(aps) or 0.0)
    return sum(per_t) / len(per_t)


def _instance_miou(ranked: Sequence[RankedFrame], kind: IoUKind) -> float | None:
    _check_kind(kind)
    # Undetected frames carry IoU 0 in the ranking.
    return _mean([_iou(f, kind) for f in ranked if f.positive])


def miou(rankings: Rankings, *, kind: IoUKind) -> float | None:
    """Mean over instances of the mean IoU over its annotated frames (0 where not detected).

    Instances without annotated frames are left out; None when none has one.
    """
    per_instance = [_instance_miou(r, kind) for r in rankings.values()]
    return _mean([m for m in per_instance if m is not None])


def _pair_counts(
    frames: Sequence[str],
    detections: Sequence[DetectionRecord],
    truth: InstanceTruth,
    *,
    hit_iou: float,
) -> tuple[int, int, int]:
    """(hits, accepted pairs, annotated pairs) of one instance, junk pairs left out."""
    best = best_per_frame(detections, truth.name, accepted_only=True)
    accepted = [d for f, d in best.items() if f not in truth.junk]
    hits = sum(d.frame in truth.positives and d.mask_iou > hit_iou for d in accepted)
    annotated = sum(f in truth.positives for f in frames)
    return hits, len(accepted), annotated


def _checked_inputs(
    frames: Sequence[str], truths: Iterable[InstanceTruth], detections: Iterable[DetectionRecord]
) -> tuple[dict[str, InstanceTruth], list[DetectionRecord]]:
    if len(set(frames)) != len(frames):
        raise InputError("frame names must be unique")
    frame_set = set(frames)
    by_name: dict[str, InstanceTruth] = {}
    for truth in truths:
        if truth.name in by_name:
            raise InputError(f"instance {truth.name!r} has two ground-truth records")
        check_truth(frame_set, truth)
        by_name[truth.name] = truth
    records = list(detections)
    for det in records:
        check_detection(det, frame_set)
    unknown = sorted({d.instance for d in records} - set(by_name))
    if unknown:
        raise InputError(
            f"detections of instances the ground truth does not know: {unknown[:5]}; "
            "add them as categories to the ground truth or remove them from the gallery"
        )
    return by_name, records


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def precision(
    frames: Sequence[str],
    truths: Iterable[InstanceTruth],
    detections: Iterable[DetectionRecord],
    *,
    hit_iou: float = HIT_IOU,
) -> float | None:
    """Hits / (frame, instance) pairs with an accepted detection; None without such pairs.

    Per pair only the best accepted detection counts; it is a hit when the instance is
    annotated in the frame and its mask IoU > `hit_iou`. Junk pairs are left out.
    """
    _check_hit_iou(hit_iou)
    by_name, records = _checked_inputs(frames, truths, detections)
    counts = [_pair_counts(frames, records, t, hit_iou=hit_iou) for t in by_name.values()]
    return _ratio(sum(c[0] for c in counts), sum(c[1] for c in counts))


def recall(
    frames: Sequence[str],
    truths: Iterable[InstanceTruth],
    detections: Iterable[DetectionRecord],
    *,
    hit_iou: float = HIT_IOU,
) -> float | None:
    """Hits (as in `precision`) / all annotated (frame, instance) pairs; None without any."""
    _check_hit_iou(hit_iou)
    by_name, records = _checked_inputs(frames, truths, detections)
    counts = [_pair_counts(frames, records, t, hit_iou=hit_iou) for t in by_name.values()]
    return _ratio(sum(c[0] for c in counts), sum(c[2] for c in counts))


def pr_curve(
    ranked: Sequence[RankedFrame], *, kind: IoUKind | None = None, min_iou: float = 0.0
) -> list[PRPoint]:
    """Precision/recall after each detected frame of one instance's ranking (for plots).

    A frame is a hit when it is annotated and, if `kind` is given, its IoU of that kind
    > `min_iou`. Recall divides by all annotated frames of the ranking, so a curve ends
    below recall 1 when positives were missed. Undetected frames add no point (no score
    threshold reaches them). Empty when nothing is detected or nothing is annotated.
    """
    if kind is not None:
        _check_kind(kind)
    total = sum(f.positive for f in ranked)
    points: list[PRPoint] = []
    hits = 0
    for rank, frame in enumerate(ranked):
        if frame.score is None or not total:
            break
        hits += frame.positive and (kind is None or _iou(frame, kind) > min_iou)
        points.append(PRPoint(rank, frame.score, hits / total, hits / (rank + 1)))
    return points


# ------------------------------------------------------------------------------- all


def _instance_metrics(
    frames: Sequence[str],
    truth: InstanceTruth,
    ranked: Sequence[RankedFrame],
    records: Sequence[DetectionRecord],
    *,
    thresholds: Sequence[float],
    hit_iou: float,
) -> InstanceMetrics:
    positives = _positives(ranked)
    n = len(positives)

    def pixel_ap(kind: IoUKind, *, strict: bool) -> float | None:
        if not n:
            return None
        aps = []
        for t in thresholds:
            hits = _hit_ranks(positives, kind, t)
            denom = n if strict else len(hits)
            aps.append(average_precision(hits, num_positives=denom) if hits else 0.0)
        return sum(aps) / len(aps)

    hits, accepted, annotated = _pair_counts(frames, records, truth, hit_iou=hit_iou)
    return InstanceMetrics(
        name=truth.name,
        num_positives=n,
        num_junk=len(truth.junk),
        num_detected=sum(f.score is not None for f in ranked),
        image_ap=average_precision([r for r, _ in positives], num_positives=n) if n else None,
        pixel_ap_S=pixel_ap("S", strict=False),
        pixel_ap_D=pixel_ap("D", strict=False),
        strict_pixel_ap_S=pixel_ap("S", strict=True),
        strict_pixel_ap_D=pixel_ap("D", strict=True),
        miou_S=_instance_miou(ranked, "S"),
        miou_D=_instance_miou(ranked, "D"),
        precision=_ratio(hits, accepted),
        recall=_ratio(hits, annotated),
    )


def compute_metrics(
    frames: Sequence[str],
    truths: Iterable[InstanceTruth],
    detections: Iterable[DetectionRecord],
    *,
    thresholds: Sequence[float] = PIXEL_THRESHOLDS,
    hit_iou: float = HIT_IOU,
) -> MetricsDict:
    """Every figure of `OUT/metrics.json` but the timing keys (`METRIC_KEYS`).

    Each instance in `truths` is a query; all `frames` are the database. See `image_map`,
    `pixel_map`, `strict_pixel_map`, `miou`, `precision`, `recall` for the definitions.
    `per_instance` maps each instance name to its `InstanceMetrics` fields (name left out).

    Args:
        frames: every evaluated frame, in frame order; unique names.
        truths: one record per instance; their frames must be among `frames`.
        detections: every detection the engine made; frames among `frames`, instances among
            `truths` (`InputError` otherwise: an unknown instance cannot be judged).
        thresholds: IoU thresholds of the pixel mAPs (default 0.50, 0.55, ..., 0.95).
        hit_iou: mask IoU above which an accepted detection is a hit (precision/recall).

    Returns:
        JSON-ready dict; the runner adds `TIMING_KEYS` (fps, latency) before writing it.
    """
    _check_thresholds(thresholds)
    _check_hit_iou(hit_iou)
    by_name, records = _checked_inputs(frames, truths, detections)
    grouped: dict[str, list[DetectionRecord]] = {name: [] for name in by_name}
    for det in records:
        grouped[det.instance].append(det)
    rankings = {name: ranking(frames, grouped[name], truth=t) for name, t in by_name.items()}
    per_instance = {
        name: _instance_metrics(
            frames, by_name[name], r, grouped[name], thresholds=thresholds, hit_iou=hit_iou
        )
        for name, r in rankings.items()
    }
    return {
        "image_map": image_map(rankings),
        "pixel_map_S": pixel_map(rankings, kind="S", thresholds=thresholds),
        "pixel_map_D": pixel_map(rankings, kind="D", thresholds=thresholds),
        "strict_pixel_map_S": strict_pixel_map(rankings, kind="S", thresholds=thresholds),
        "strict_pixel_map_D": strict_pixel_map(rankings, kind="D", thresholds=thresholds),
        "miou_S": miou(rankings, kind="S"),
        "miou_D": miou(rankings, kind="D"),
        "precision": precision(frames, by_name.values(), records, hit_iou=hit_iou),
        "recall": recall(frames, by_name.values(), records, hit_iou=hit_iou),
        "per_instance": {
            name: {k: v for k, v in m._asdict().items() if k != "name"}
            for name, m in per_instance.items()
        },
    }
