"""Where an evaluation's frames (or the node's recorded outputs) come from, and reading them.

A source is a frame folder, one or more rosbag2 camera topics, or one or more recordings of
the node's `~/detections` and `~/mask`. The runner reads it once in time order for the engine
and a second time, for a few chosen frames only, for the report's overlays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from pixret_ros.evaluation import streams
from pixret_ros.evaluation.errors import InputError
from pixret_ros.evaluation.ground_truth import GroundTruth
from pixret_ros.io import bag_reader
from pixret_ros.io.frames import Frame, read_frame_folder

SourceKind = Literal["bag", "frames", "recorded"]


class Source(NamedTuple):
    """Where frames (or recorded outputs) come from.

    Attributes:
        kind: `bag` (camera topic of a rosbag2), `frames` (image folder) or `recorded` (the
            node's recorded `~/detections` and `~/mask`).
        path: bag folder or image folder (the first bag or recording where there are more).
        topic: camera topic (`bag`); with `recorded`, an optional camera topic in the same bag
            whose frames are used for the report's overlays.
        detections_topic: `recorded` only; None = the bag's one InstanceDetectionArray topic.
        mask_topic: `recorded` only; None = the sibling `mask` topic of `detections_topic`.
        more: further bags or recordings, each one more stream (DESIGN section 5.1).
    """

    kind: SourceKind
    path: Path
    topic: str | None = None
    detections_topic: str | None = None
    mask_topic: str | None = None
    more: tuple[Path, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every bag, recording or the folder."""
        return (self.path, *self.more)

    def describe(self) -> str:
        """One line for the report and metrics.json."""
        where = ", ".join(str(p) for p in self.paths)
        if self.kind == "bag":
            return f"bag{'s' if self.more else ''} {where} topic {self.topic}"
        if self.kind == "frames":
            return f"folder {self.path}"
        topics = f"{self.detections_topic}, {self.mask_topic}"
        return f"recording{'s' if self.more else ''} {where} ({topics})"

    def listing(self) -> list[streams.InputFrame]:
        """Every input frame, named as the ground truth must name it, in input order."""
        if self.kind == "frames":
            return streams.folder_frames(self.path)
        return streams.bag_frames(self.paths, self._topic())

    def frames(self, names: Iterable[str] | None = None) -> Iterator[Frame]:
        """The frames, decoded to RGB; only `names` if given."""
        wanted = None if names is None else set(names)
        if self.kind == "frames":
            return read_frame_folder(self.path, names=wanted)
        return bag_reader.read_frames(self.path, self._topic(), names=wanted)

    def _topic(self) -> str:
        if self.topic is None:
            raise InputError(f"{self.describe()}: a camera topic is needed (--topic)")
        return self.topic


def frame_images(
    source: Source, gt: GroundTruth, plan: Sequence[streams.Stream] | None, wanted: set[str]
) -> Iterator[Frame]:
    """The `wanted` frames, decoded a second time for the report (any order)."""
    if source.kind == "recorded":
        if source.topic is None:
            yield from _blank_frames(gt, wanted)  # nothing recorded to show
            return
        for path in source.paths:
            prefix = f"{path.name}/" if source.more else ""
            local = {n.removeprefix(prefix) for n in wanted if n.startswith(prefix)}
            for frame in bag_reader.read_frames(path, source.topic, names=local):
                yield frame._replace(name=prefix + frame.name)
    elif plan is None:
        yield from source.frames(wanted)
    else:
        for stream in plan:
            chosen = tuple(f for f in stream.frames if f.name in wanted)
            yield from streams.read_stream(stream._replace(frames=chosen), source.topic)


def _blank_frames(gt: GroundTruth, names: set[str]) -> Iterator[Frame]:
    """Grey canvases of the ground truth's frame sizes (a recording holds no camera frames)."""
    for name in gt.frames:
        size = gt.image_size(name)
        if name in names and size is not None:
            yield Frame(name, None, np.full((*size, 3), 64, dtype=np.uint8))
