"""Typed records that cross evaluation modules (runner -> metrics -> report).

The runner turns every detection the engine made into one `DetectionRecord` (IoUs already
computed against the ground truth of that frame), the ground-truth loader gives one
`InstanceTruth` per instance, and `metrics.compute_metrics` needs nothing else, so metrics
stay pure functions of small records and never see an image.

Names: a *frame* is the frame's name (DESIGN section 5: `<stamp ns>.png` for bags, the file
name for folders); an *instance* is a registered instance name (= COCO category name).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

#: Which IoU a pixel metric uses: "S" = masks (segmentation), "D" = tight boxes (detection).
IoUKind = Literal["S", "D"]


class DetectionRecord(NamedTuple):
    """One detection the engine made of one instance in one frame, judged against the truth.

    Every detection goes in, accepted or not; where an instance has several detections in one
    frame the metrics keep its best-scoring one (the first of equal scores, in input order).
    A frame without any record for an instance counts as "not detected" for it.

    Attributes:
        frame: frame name.
        instance: instance name the detection claims.
        score: engine confidence; only its order matters (finite, higher = more confident).
        mask_iou: `metrics.mask_iou(detection.mask, truth)` where truth is the union of the
            instance's true masks in this frame (all False where it is not annotated, giving 0).
        box_iou: `metrics.box_iou_of_masks(detection.mask, truth)`, the same with tight boxes.
        accepted: the score reached the node's threshold (what the node would publish).
    """

    frame: str
    instance: str
    score: float
    mask_iou: float
    box_iou: float
    accepted: bool


class InstanceTruth(NamedTuple):
    """Ground truth of one instance (one query) over all frames.

    Attributes:
        name: instance name.
        positives: frames where the instance is annotated (a true mask with `iscrowd` 0).
        junk: frames left out of this instance's ranking and of its precision/recall
            (`iscrowd` 1). Disjoint from `positives`; every other frame is a negative.
    """

    name: str
    positives: frozenset[str]
    junk: frozenset[str]


class RankedFrame(NamedTuple):
    """One frame in an instance's ranking (junk removed), best detection first.

    Attributes:
        frame: frame name.
        score: score of the instance's best detection in the frame, None = not detected
            (undetected frames come last, in frame order).
        mask_iou: IoU of that detection's mask with the truth (0 when not detected).
        box_iou: the same for tight boxes.
        positive: the instance is annotated in this frame.
    """

    frame: str
    score: float | None
    mask_iou: float
    box_iou: float
    positive: bool


class PRPoint(NamedTuple):
    """A point of a precision/recall curve, taken after the frame at `rank` (0-based).

    Attributes:
        rank: position in the ranking; the point counts frames 0..rank.
        score: that frame's score, i.e. the threshold at which the node would stop here.
        recall: hits among frames 0..rank / number of positives.
        precision: hits among frames 0..rank / (rank + 1).
    """

    rank: int
    score: float
    recall: float
    precision: float


class InstanceMetrics(NamedTuple):
    """The DESIGN section 5 figures of one instance; None where undefined (0 / 0).

    Attributes:
        name: instance name.
        num_positives: annotated frames (junk excluded).
        num_junk: junk frames.
        num_detected: frames (junk excluded) with at least one detection, accepted or not.
        image_ap: AP with all annotated frames as positives (None without positives).
        pixel_ap_S: mean over the thresholds of the AP whose positives are the annotated
            frames with mask IoU > t (a threshold with no such frame adds 0 here; the
            set-level `pixel_map_S` leaves the instance out at that t instead).
        pixel_ap_D: the same with box IoU.
        strict_pixel_ap_S: the same hits, but n = all annotated frames at every t.
        strict_pixel_ap_D: the same with box IoU.
        miou_S: mean mask IoU over annotated frames, 0 where not detected.
        miou_D: the same with box IoU.
        precision: hits / frames with an accepted detection (junk excluded).
        recall: hits / annotated frames; a hit is an accepted detection with mask IoU > 0.5.
    """

    name: str
    num_positives: int
    num_junk: int
    num_detected: int
    image_ap: float | None
    pixel_ap_S: float | None  # noqa: N815 (suffix as in the metrics.json keys)
    pixel_ap_D: float | None  # noqa: N815 (suffix as in the metrics.json keys)
    strict_pixel_ap_S: float | None  # noqa: N815 (suffix as in the metrics.json keys)
    strict_pixel_ap_D: float | None  # noqa: N815 (suffix as in the metrics.json keys)
    miou_S: float | None  # noqa: N815 (suffix as in the metrics.json keys)
    miou_D: float | None  # noqa: N815 (suffix as in the metrics.json keys)
    precision: float | None
    recall: float | None
