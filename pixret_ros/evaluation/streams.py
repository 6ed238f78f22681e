"""Streams (DESIGN section 5.1): which input frames form which stream, and in which order.

Why a plan made up front: a robot's camera is a stream, and state carried from frame to
frame (tracks, propagated masks, memory) is legitimate only within one recording. The plan
fixes, before the first frame is processed, the streams and the time order inside each, so
the runner can reset the engine between streams and hand it each stream's frames strictly in
order, one at a time, with no look-ahead, exactly as the node would see them.

Where streams come from:
- a frames folder whose frames sit in sub-folders: each sub-folder is a stream and names its
  frames `<sub-folder>/<file name>` (a folder with frame files at its top is single photos,
  as before: its sub-folders are not read);
- bags: each `--bag` is a stream named after its folder; with several bags a frame is named
  `<bag folder>/<stamp ns>.png` (one bag keeps `<stamp ns>.png`);
- ground truth: `images[].stream` decides a frame's stream where present, `frame_index` (else
  `stamp_ns`) its order; without them name order (folders) or header-stamp order (bags).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast

from pixret_ros.evaluation.errors import InputError
from pixret_ros.io import bag_reader
from pixret_ros.io.frames import SUFFIXES, Frame, list_frame_files, read_image_file

if TYPE_CHECKING:
    from pixret_ros.engine.types import RGBImage
    from pixret_ros.evaluation.ground_truth import GroundTruth


class InputFrame(NamedTuple):
    """One input frame as listed before anything is decoded.

    Attributes:
        name: what the ground truth calls it.
        group: the input's stream (sub-folder or bag folder name); None for a flat folder.
        origin: the image file, or the bag holding the frame.
        stamp_ns: the header stamp of a bag frame; None for files.
    """

    name: str
    group: str | None
    origin: Path
    stamp_ns: int | None = None


class Stream(NamedTuple):
    """One stream: its name and its frames in time order."""

    name: str
    frames: tuple[InputFrame, ...]


def _frame_dirs(folder: Path) -> list[Path]:
    """Sub-folders of `folder` that hold frame files, sorted by name."""
    return sorted(
        (
            d
            for d in folder.iterdir()
            if d.is_dir() and any(p.suffix.lower() in SUFFIXES and p.is_file() for p in d.iterdir())
        ),
        key=lambda d: d.name,
    )


def folder_frames(folder: Path) -> list[InputFrame]:
    """The frames of a folder: its own files (single photos) or else its sub-folders' files."""
    if not folder.is_dir():
        raise InputError(f"frames folder {folder} does not exist or is not a folder")
    top = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES]
    dirs = [] if top else _frame_dirs(folder)
    if not dirs:
        return [InputFrame(p.name, None, p) for p in list_frame_files(folder)]
    return [InputFrame(f"{d.name}/{p.name}", d.name, p) for d in dirs for p in list_frame_files(d)]


def bag_frames(bags: Sequence[Path], topic: str) -> list[InputFrame]:
    """The frames of one or several bags, each bag one stream named after its folder."""
    names = [bag.name for bag in bags]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"several --bag folders are named {', '.join(repeated)}: a bag's folder name is its "
            "stream's name, so give each bag its own"
        )
    frames = []
    for bag in bags:
        for name in bag_reader.list_frame_names(bag, topic):
            stamp = int(Path(name).stem)
            shown = name if len(bags) == 1 else f"{bag.name}/{name}"
            frames.append(InputFrame(shown, bag.name, bag, stamp))
    return frames


def stamped_names(gt: GroundTruth) -> dict[tuple[str, int], str]:
    """(stream, stamp_ns) -> frame name, for the ground-truth frames that state both.

    The stream is the `stream` field, else the folder of a `<stream>/<name>` frame name.
    """
    out = {}
    for name, fields in gt.stream_fields.items():
        stream = fields.stream or (name.split("/", 1)[0] if "/" in name else None)
        if stream is not None and fields.stamp_ns is not None:
            out[(stream, fields.stamp_ns)] = name
    return out


def name_by_stamp(frames: Sequence[InputFrame], gt: GroundTruth) -> list[InputFrame]:
    """Bag frames the truth does not name, renamed after the truth's frame of their stamp.

    Why: a truth made on image files (`<stream>/00001.jpg`) that states each frame's
    `stamp_ns` then fits bags (and recordings) of the same streams, stamped so.
    """
    known = set(gt.frames)
    stamped = stamped_names(gt)
    out = []
    for frame in frames:
        if frame.name not in known and frame.group is not None and frame.stamp_ns is not None:
            frame = frame._replace(name=stamped.get((frame.group, frame.stamp_ns), frame.name))  # noqa: PLW2901
        out.append(frame)
    return out


def recorded_frames(recordings: Sequence[Path], gt: GroundTruth) -> list[InputFrame]:
    """The ground truth's frames as streams of node recordings, one stream per recording.

    One recording: every frame is its stream's; several: a frame `<recording>/<stamp>.png`.
    """
    first = recordings[0]
    return [
        InputFrame(name, name.split("/", 1)[0] if len(recordings) > 1 else first.name, first)
        for name in gt.frames
    ]


def stream_mode(config: Mapping[str, object], *, temporal: bool | None, streams_run: bool) -> bool:
    """Whether the engine runs in stream mode: the run's choice, else its config's, else streams.

    Why streams default to on: the node runs stream mode on its camera, and offline numbers
    must be the node's; single photos are unrelated, so state must not carry between them:
    a config's `temporal: true` (the node's params file: one stream per camera) turns it on
    for streams only, the run's --temporal on anything.
    """
    if temporal is not None:
        return temporal
    if "temporal" in config:
        return bool(config["temporal"]) and streams_run
    return streams_run


def is_stream_input(frames: Sequence[InputFrame]) -> bool:
    """Whether the input itself is made of streams (sub-folders or bags)."""
    return any(f.group is not None for f in frames)


def qualified_names(frames: Sequence[InputFrame]) -> bool:
    """Whether the input names its frames `<stream>/<name>` (so must the ground truth)."""
    return any("/" in f.name for f in frames)


def plan_streams(frames: Sequence[InputFrame], gt: GroundTruth) -> list[Stream] | None:
    """The streams of the input in first-seen order, each in time order; None for photos.

    Raises:
        InputError: a frame without a stream in a stream run; a stream where only some
            frames have a ground-truth `frame_index` (or `stamp_ns`); a repeated order key.
    """
    fields = gt.stream_fields
    if not is_stream_input(frames) and not any(f.stream for f in fields.values()):
        return None
    members: dict[str, list[InputFrame]] = {}
    for frame in frames:
        known = fields.get(frame.name)
        stream = known.stream if known is not None and known.stream else frame.group
        if stream is None:
            raise InputError(
                f"frame {frame.name} belongs to no stream, while the ground truth {gt.path} "
                "gives others one: give every frame a 'stream' there, or put each stream's "
                "frames in a sub-folder"
            )
        members.setdefault(stream, []).append(frame)
    return [Stream(name, tuple(_in_time_order(name, group, gt))) for name, group in members.items()]


def _in_time_order(stream: str, frames: list[InputFrame], gt: GroundTruth) -> list[InputFrame]:
    """Frames by ground-truth frame_index, else stamp (ground truth's or header's), else input.

    A key orders the stream only when every frame has one (a bag's header stamps always do,
    so a truth annotating some of its frames leaves them in stamp order).
    """
    fields = gt.stream_fields
    indices = [fields[f.name].frame_index if f.name in fields else None for f in frames]
    stamps = [
        fields[f.name].stamp_ns if f.name in fields and fields[f.name].stamp_ns is not None
        else f.stamp_ns
        for f in frames
    ]  # fmt: skip
    keys = (("frame_index", indices), ("stamp_ns", stamps))
    for key, values in keys:
        given = [v for v in values if v is not None]
        if len(given) < len(values):
            continue
        if len(set(given)) < len(given):
            raise InputError(f"stream {stream}: two frames share one {key} in {gt.path}")
        return [frames[i] for i in sorted(range(len(frames)), key=lambda i: given[i])]
    for key, values in keys:
        given = [v for v in values if v is not None]
        if given:
            raise InputError(
                f"stream {stream}: {len(given)} of its {len(values)} frames have a {key} in "
                f"{gt.path}, the others not, so their order is unknown; give every frame one "
                "or none (name order is then time order)"
            )
    return list(frames)


def read_stream(stream: Stream, topic: str | None) -> Iterator[Frame]:
    """Decode a stream's frames in its time order (files directly, bags sequentially).

    A bag is read once, in its own order; a frame that comes before its turn is held until
    then (bags are usually written in stamp order, so next to nothing is held).
    """
    cursors: dict[Path, _BagCursor] = {}
    try:
        for frame in stream.frames:
            if frame.stamp_ns is None:
                yield Frame(frame.name, None, read_image_file(frame.origin))
                continue
            if topic is None:
                raise InputError(f"bag {frame.origin}: a camera topic is needed (--topic)")
            cursor = cursors.get(frame.origin)
            if cursor is None:
                wanted = {
                    bag_reader.stamp_frame_name(f.stamp_ns)
                    for f in stream.frames
                    if f.origin == frame.origin and f.stamp_ns is not None
                }
                cursor = cursors[frame.origin] = _BagCursor(frame.origin, topic, wanted)
            yield Frame(frame.name, frame.stamp_ns, cursor.take(frame.stamp_ns))
    finally:
        for cursor in cursors.values():
            cursor.close()


class _BagCursor:
    """Reads one bag's frames in bag order and hands them out in any order asked."""

    def __init__(self, bag: Path, topic: str, wanted: set[str]) -> None:
        self.bag = bag
        frames = bag_reader.read_frames(bag, topic, names=wanted)
        self._frames = cast("Generator[Frame, None, None]", frames)
        self._held: dict[int, Frame] = {}

    def take(self, stamp: int) -> RGBImage:
        while stamp not in self._held:
            frame = next(self._frames, None)
            if frame is None:
                raise InputError(f"bag {self.bag}: the frame stamped {stamp} cannot be read")
            assert frame.stamp_ns is not None  # noqa: S101 - bag frames carry their stamp
            self._held[frame.stamp_ns] = frame
        return self._held.pop(stamp).image

    def close(self) -> None:
        self._frames.close()
