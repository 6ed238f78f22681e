"""The report's pictures: best, worst and false-positive frames with detection and truth drawn.

Frames are decoded a second time, only the chosen ones, from what the judge kept of each
(frame, instance): its best detection as a compact RLE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from pixret_ros.engine.types import Detection
from pixret_ros.evaluation import report
from pixret_ros.evaluation.coco_io import decode_mask
from pixret_ros.evaluation.ground_truth import GroundTruth
from pixret_ros.evaluation.judge import KeptDetection
from pixret_ros.evaluation.records import RankedFrame
from pixret_ros.io.frames import Frame


def render_overlays(
    images: Callable[[set[str]], Iterator[Frame]],
    gt: GroundTruth,
    rankings: Mapping[str, Sequence[RankedFrame]],
    kept: Mapping[tuple[str, str], KeptDetection],
) -> list[report.Overlay]:
    """Render the report's best/worst/false-positive frames; frames are read a second time."""
    picks = report.pick_frames(rankings)
    wanted = {p.frame for p in picks}
    by_frame: dict[str, list[report.Pick]] = {}
    for pick in picks:
        by_frame.setdefault(pick.frame, []).append(pick)
    overlays = []
    for frame in images(wanted):
        truths = gt.masks(frame.name)
        for pick in by_frame.get(frame.name, []):
            det = kept.get((frame.name, pick.instance))
            overlays.append(
                report.render_pick(frame.image, pick, _kept_detection(pick.instance, det), truths)
            )
    return overlays


def _kept_detection(name: str, kept: KeptDetection | None) -> Detection | None:
    if kept is None:
        return None
    mask = decode_mask(kept.rle)
    return Detection(name, kept.score, kept.box, mask, 0, None, -1, accepted=kept.accepted)
