"""Stream mode: carry the previous frame's accepted detections to the next frame.

Why: in a video an object found in one frame is almost surely near there in the next, so
(a) between full searches only the tracked instances are verified (no index search, fewer
candidates), and (b) a tracked instance keeps a decayed share of its previous score, so a
frame with motion blur or a turned object does not drop a detection that still verifies
geometrically. Every `redetect_every` frames the whole gallery is searched again, so new
objects are found and lost ones are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.types import Box

# Share of the previous score a tracked instance keeps when it still verifies (per frame).
SCORE_DECAY = 0.9
# A fit only continues a track where it is about where the track was (box IoU) and has at
# least this many inliers: random consensus elsewhere in the frame must not inherit a score.
TRACK_MIN_BOX_IOU = 0.3
TRACK_MIN_INLIERS = 12


@dataclass(frozen=True)
class Track:
    """An accepted detection of the previous frame.

    Attributes:
        instance: instance number (position in the retriever's instance list).
        view_slot: which registered view verified (position in the retriever's view list).
        score: its score in that frame.
        box: its box in that frame (input pixels).
    """

    instance: int
    view_slot: int
    score: float
    box: Box


class StreamState:
    """What the previous frames of one stream found (one per `PixelRetriever`)."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.frame_count = 0
        self._tracks: dict[int, Track] = {}

    def reset(self) -> None:
        """Forget everything: the next frame is searched from scratch."""
        self.frame_count = 0
        self._tracks = {}

    @property
    def tracks(self) -> dict[int, Track]:
        """Tracked instances by instance number (empty outside stream mode)."""
        return dict(self._tracks) if self.config.temporal else {}

    def full_search_due(self) -> bool:
        """Search the whole gallery this frame (always outside stream mode)."""
        if not self.config.temporal or not self._tracks:
            return True
        return self.frame_count % self.config.redetect_every == 0

    def carried_score(self, instance: int, score: float, box: Box, inliers: int) -> float:
        """A verified instance's score, lifted to the decayed score of its track if higher.

        Only a fit near the track (box IoU >= TRACK_MIN_BOX_IOU) with at least
        TRACK_MIN_INLIERS inliers continues it.
        """
        track = self._tracks.get(instance) if self.config.temporal else None
        if (
            track is None
            or inliers < TRACK_MIN_INLIERS
            or box_iou(box, track.box) < TRACK_MIN_BOX_IOU
        ):
            return score
        return max(score, SCORE_DECAY * track.score)

    def update(self, tracks: list[Track]) -> None:
        """Record this frame's accepted detections and advance the frame counter."""
        self.frame_count += 1
        self._tracks = {t.instance: t for t in tracks} if self.config.temporal else {}


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (pixel sets)."""
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    inter = max(0, width) * max(0, height)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0
