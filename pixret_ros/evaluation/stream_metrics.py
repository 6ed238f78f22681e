"""Stream metrics of DESIGN section 5.1: DAVIS region similarity J and boundary measure F.

What the node publishes is what counts: per positive (frame, instance) the union of the
ACCEPTED masks of that instance is compared with the truth (0 when none is accepted), so a
candidate the engine found but did not publish earns nothing. J is the IoU (DAVIS
`db_eval_iou`), F the boundary F-measure of DAVIS's official code (`f_measure`: `_seg2bmap`
boundaries, each dilated by a disk of radius ceil(0.008 x image diagonal), precision and
recall of boundary pixels within that tolerance). Both are means per stream, then over the
streams that show a registered instance; `J_frames` pools all positive frames instead.

References: Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
Segmentation", CVPR 2016; davisvideochallenge/davis2017-evaluation, davis2017/metrics.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from pixret_ros.engine.types import Box
from pixret_ros.evaluation.iou import mask_iou

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, Detection
    from pixret_ros.evaluation.ground_truth import GroundTruth

#: Boundary tolerance of F as a share of the image diagonal (DAVIS `bound_th`).
BOUNDARY_TOLERANCE = 0.008
#: J at or above which a positive frame counts for `recall50`.
RECALL_J = 0.5
#: Keys the runner adds to metrics.json for a stream run, in the order tables show them.
STREAM_KEYS: tuple[str, ...] = ("J", "J_frames", "F", "recall50", "fp_per_frame")


def boundary_map(mask: BoolMask) -> BoolMask:
    """DAVIS `_seg2bmap`: 1-pixel boundaries, offset half a pixel towards the origin.

    A pixel is boundary where it differs from its right, lower or lower-right neighbour; on
    the last row only the right one counts, on the last column only the lower one.
    """
    seg = mask.astype(bool)
    east, south, southeast = (np.zeros_like(seg) for _ in range(3))
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    southeast[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ southeast)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return np.asarray(bmap, dtype=bool)


def boundary_radius(shape: tuple[int, int], tolerance: float = BOUNDARY_TOLERANCE) -> int:
    """The dilation radius in pixels: ceil(tolerance x diagonal), as DAVIS's `bound_pix`."""
    return math.ceil(tolerance * math.hypot(*shape))


def _disk(radius: int) -> BoolMask:
    """skimage.morphology.disk(radius): pixels within Euclidean distance `radius`."""
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return np.asarray(x * x + y * y <= radius * radius)


def _window(pred: BoolMask, truth: BoolMask) -> tuple[slice, slice]:
    """The two masks' joint box plus a 2-pixel margin, clipped to the image.

    Within it `boundary_map` and the dilations give exactly the full image's result: every
    boundary pixel lies inside, and the margin is background on sides away from the border.
    """
    boxes = [b for b in (Box.of_mask(pred), Box.of_mask(truth)) if b.width and b.height]
    height, width = pred.shape
    if not boxes:
        return slice(0, height), slice(0, width)
    y0 = max(0, min(b.y for b in boxes) - 2)
    x0 = max(0, min(b.x for b in boxes) - 2)
    y1 = min(height, max(b.y + b.height for b in boxes) + 2)
    x1 = min(width, max(b.x + b.width for b in boxes) + 2)
    return slice(y0, y1), slice(x0, x1)


def boundary_f(pred: BoolMask, truth: BoolMask, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """DAVIS boundary F-measure of a predicted mask against the true one (same shape).

    Empty boundaries follow DAVIS: none predicted, some true: precision 1, recall 0 (F 0);
    some predicted, none true: F 0; neither: F 1.
    """
    rows, cols = _window(pred, truth)
    disk = _disk(boundary_radius(pred.shape, tolerance)).astype(np.uint8)
    pred_b, true_b = boundary_map(pred[rows, cols]), boundary_map(truth[rows, cols])
    n_pred, n_true = int(np.count_nonzero(pred_b)), int(np.count_nonzero(true_b))
    if not n_pred or not n_true:
        return 1.0 if n_pred == n_true else 0.0
    pred_near = cv2.dilate(pred_b.astype(np.uint8), disk) > 0
    true_near = cv2.dilate(true_b.astype(np.uint8), disk) > 0
    precision = int(np.count_nonzero(pred_b & true_near)) / n_pred
    recall = int(np.count_nonzero(true_b & pred_near)) / n_true
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


class PairScore(NamedTuple):
    """J and F of one positive (frame, instance): what the node published against the truth."""

    frame: str
    instance: str
    j: float
    f: float


class Published(NamedTuple):
    """The union of the accepted masks of one instance in one frame, cut to its box."""

    box: Box
    crop: BoolMask
    score: float

    def mask(self, shape: tuple[int, int]) -> BoolMask:
        """The union as a full-frame mask."""
        full = np.zeros(shape, dtype=bool)
        full[
            self.box.y : self.box.y + self.box.height, self.box.x : self.box.x + self.box.width
        ] = self.crop
        return full


class StreamScorer:
    """Scores every judged frame as the node publishes it (accepted detections only).

    Attributes:
        scores: one PairScore per positive (frame, instance), in processing order.
        false_positives: frame -> instances published there without being in it.
        published: (frame, instance) -> what was published (for the report's filmstrip).
    """

    def __init__(self, gt: GroundTruth) -> None:
        self.instances = set(gt.instances)
        self.junk = {t.name: t.junk for t in gt.truths()}
        self.scores: list[PairScore] = []
        self.false_positives: dict[str, list[str]] = {}
        self.published: dict[tuple[str, str], Published] = {}

    def add(
        self, frame: str, truths: Mapping[str, BoolMask], detections: Sequence[Detection]
    ) -> None:
        """Judge one frame's detections; `truths` are its true masks (junk ones left out)."""
        unions: dict[str, BoolMask] = {}
        scores: dict[str, float] = {}
        for det in detections:
            if not det.accepted or det.name not in self.instances:
                continue
            previous = unions.get(det.name)
            unions[det.name] = det.mask if previous is None else previous | det.mask
            scores[det.name] = max(scores.get(det.name, det.score), det.score)
        for name, union in unions.items():
            box = Box.of_mask(union)
            crop = union[box.y : box.y + box.height, box.x : box.x + box.width].copy()
            self.published[(frame, name)] = Published(box, crop, scores[name])
            if name not in truths and frame not in self.junk[name]:
                self.false_positives.setdefault(frame, []).append(name)
        for name, truth in truths.items():
            found = unions.get(name)
            if found is None:
                self.scores.append(PairScore(frame, name, 0.0, 0.0))
            else:
                self.scores.append(
                    PairScore(frame, name, mask_iou(found, truth), boundary_f(found, truth))
                )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class StreamFigures(NamedTuple):
    """The figures of one stream (or of all frames pooled); None where undefined."""

    J: float | None
    F: float | None
    recall50: float | None
    frames: int
    positives: int
    false_positives: int
    fp_per_frame: float | None

    @classmethod
    def of(cls, scores: Sequence[PairScore], frames: int, false_positives: int) -> StreamFigures:
        """The figures of `scores` over `frames` judged frames with `false_positives`."""
        return cls(
            _mean([s.j for s in scores]),
            _mean([s.f for s in scores]),
            _mean([float(s.j >= RECALL_J) for s in scores]),
            frames,
            len(scores),
            false_positives,
            false_positives / frames if frames else None,
        )


def stream_metrics(
    streams: Sequence[tuple[str, Sequence[str]]], scorer: StreamScorer
) -> dict[str, object]:
    """The stream keys of metrics.json (DESIGN section 5.1) from a scored run.

    Args:
        streams: (stream name, its judged frames in time order) for every stream.
        scorer: the scorer that saw those frames.

    Returns:
        `J` and `F` (mean over streams with a positive frame of the stream means), `J_frames`
        and `F_frames` (means over all positive frames), `recall50` (share of positive
        frames with J >= 0.5), `fp_per_frame` (published detections of an instance absent
        from the frame, per judged frame), `num_streams`, and `per_stream` (StreamFigures).
    """
    by_frame: dict[str, list[PairScore]] = {}
    for score in scorer.scores:
        by_frame.setdefault(score.frame, []).append(score)
    per_stream: dict[str, StreamFigures] = {}
    for name, frames in streams:
        scores = [s for f in frames for s in by_frame.get(f, [])]
        wrong = sum(len(scorer.false_positives.get(f, [])) for f in frames)
        per_stream[name] = StreamFigures.of(scores, len(frames), wrong)
    pooled = StreamFigures.of(
        [s for _, frames in streams for f in frames for s in by_frame.get(f, [])],
        sum(s.frames for s in per_stream.values()),
        sum(s.false_positives for s in per_stream.values()),
    )
    shown = [s for s in per_stream.values() if s.positives]
    return {
        "J": _mean([s.J for s in shown if s.J is not None]),
        "J_frames": pooled.J,
        "F": _mean([s.F for s in shown if s.F is not None]),
        "F_frames": pooled.F,
        "recall50": pooled.recall50,
        "fp_per_frame": pooled.fp_per_frame,
        "num_streams": len(streams),
        "per_stream": {name: figures._asdict() for name, figures in per_stream.items()},
    }
