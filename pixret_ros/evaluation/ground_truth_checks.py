"""Checks of a COCO ground-truth file, entry by entry, and how its entries name frames.

Its own module so that `ground_truth.py` keeps only the checked record (`GroundTruth`) and
its loader: here are the rules of DESIGN section 5 for each entry (ids, file names, stream
fields, instance names, RLE and polygon structure, sizes), each failure naming the file and
the entry, and the frame-naming rules (`file_frame_name`, `stream_frame_name`) that other
modules use to match frames with `images[]`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple, TypeGuard

from pixret_ros.errors import GroundTruthError

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def file_frame_name(file_name: str) -> str:
    """The frame name of a COCO `file_name`: its basename (either slash)."""
    return file_name.replace("\\", "/").rsplit("/", 1)[-1]


def stream_frame_name(file_name: str, stream: str | None) -> str | None:
    """The name of a frame in a stream run: `<folder>/<basename>`; None without a folder.

    The folder is file_name's last one (`<stream>/<name>`, DESIGN section 5.1), else `stream`.
    """
    parts = file_name.replace("\\", "/").rsplit("/", 2)
    folder = parts[-2] if len(parts) > 1 and parts[-2] else stream
    return f"{folder}/{parts[-1]}" if folder else None


class StreamFields(NamedTuple):
    """The optional stream fields of one `images[]` entry (None where absent)."""

    stream: str | None
    frame_index: int | None
    stamp_ns: int | None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _rle_string_lengths(counts: str) -> list[int]:
    """Run lengths of a compressed COCO RLE string (the format of pycocotools rleFrString).

    pycocotools itself does not check the string and decodes garbage into garbage, so the
    loader parses it here: 5 bits per character (offset 48), bit 0x20 = more characters,
    0x10 = sign of the last one; from the third count on, the value is a delta to count m-2.
    """
    lengths: list[int] = []
    pos = 0
    while pos < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(counts):
                raise ValueError("string ends inside a count")
            code = ord(counts[pos]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"character {counts[pos]!r} at {pos} is not RLE")
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            pos += 1
            shift += 5
            if not more and code & 0x10:
                value |= -1 << shift
        if len(lengths) > 2:
            value += lengths[-2]
        if value < 0:
            raise ValueError(f"run {len(lengths)} has negative length {value}")
        lengths.append(value)
    return lengths


class EntryChecker:
    """Checks a parsed COCO dict entry by entry; every message names the file and entry."""

    def __init__(self, path: Path, *, qualified: bool = False) -> None:
        self.path = path
        self.qualified = qualified

    def fail(self, message: str) -> GroundTruthError:
        """The error to raise, naming the file."""
        return GroundTruthError(f"{self.path}: {message}")

    def entries(self, data: dict[str, object], key: str) -> list[dict[str, object]]:
        """The list under a top-level key, each entry an object."""
        value = data.get(key)
        if not isinstance(value, list):
            raise self.fail(f"top-level key {key!r} missing or not a list (COCO format)")
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise self.fail(f"{key}[{index}] is not an object")
        return value

    def field(self, entry: dict[str, object], key: str, where: str) -> object:
        """A required field of an entry."""
        if key not in entry:
            raise self.fail(f"{where} has no {key!r}")
        return entry[key]

    def integer(self, entry: dict[str, object], key: str, where: str) -> int:
        """A required integer field of an entry."""
        value = self.field(entry, key, where)
        if not _is_int(value):
            raise self.fail(f"{where}: {key!r} must be an integer, got {value!r}")
        return value

    def images(
        self, data: dict[str, object]
    ) -> tuple[dict[int, str], dict[str, tuple[int, int] | None], dict[str, StreamFields]]:
        """`images[]`: id -> frame name, frame -> size (None if unstated), stream fields."""
        by_id: dict[int, str] = {}
        sizes: dict[str, tuple[int, int] | None] = {}
        streams: dict[str, StreamFields] = {}
        for index, image in enumerate(self.entries(data, "images")):
            where = f"images[{index}]"
            image_id = self.integer(image, "id", where)
            file_name = self.field(image, "file_name", where)
            if not isinstance(file_name, str) or not file_frame_name(file_name):
                raise self.fail(f"{where}: 'file_name' must be a non-empty string")
            fields = self.stream_fields(image, where)
            name: str | None = file_frame_name(file_name)
            if self.qualified:
                name = stream_frame_name(file_name, fields.stream)
                if name is None:
                    raise self.fail(
                        f"{where}: file_name {file_name!r} names no stream; in a stream run "
                        "it is '<stream>/<name>' or the image carries a 'stream' field"
                    )
            assert name is not None  # noqa: S101 - file_frame_name gives a non-empty string
            if fields != StreamFields(None, None, None):
                streams[name] = fields
            if image_id in by_id:
                raise self.fail(f"{where}: image id {image_id} appears twice")
            if name in sizes:
                raise self.fail(
                    f"{where}: two images share the file name {name!r} (frames are named by "
                    "basename; rename one)"
                )
            size = None
            if "height" in image or "width" in image:
                height = self.integer(image, "height", where)
                width = self.integer(image, "width", where)
                if height <= 0 or width <= 0:
                    raise self.fail(f"{where}: size {height}x{width} is not positive")
                size = (height, width)
            by_id[image_id] = name
            sizes[name] = size
        return by_id, sizes, streams

    def stream_fields(self, image: dict[str, object], where: str) -> StreamFields:
        """The optional `stream`, `frame_index` and `stamp_ns` of an image, checked."""
        stream = image.get("stream")
        if stream is not None and (not isinstance(stream, str) or not stream or "/" in stream):
            raise self.fail(f"{where}: 'stream' must be a non-empty name without '/'")
        numbers: list[int | None] = []
        for key in ("frame_index", "stamp_ns"):
            value = image.get(key)
            if value is not None and (not _is_int(value) or value < 0):
                raise self.fail(f"{where}: {key!r} must be an integer >= 0, got {value!r}")
            numbers.append(value)
        return StreamFields(stream, numbers[0], numbers[1])

    def categories(self, data: dict[str, object]) -> dict[int, str]:
        """`categories[]`: id -> instance name."""
        by_id: dict[int, str] = {}
        for index, category in enumerate(self.entries(data, "categories")):
            where = f"categories[{index}]"
            category_id = self.integer(category, "id", where)
            name = self.field(category, "name", where)
            if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
                raise self.fail(
                    f"{where}: name {name!r} is not a valid instance name ([A-Za-z0-9_.-], "
                    "1 to 64 characters)"
                )
            if category_id in by_id:
                raise self.fail(f"{where}: category id {category_id} appears twice")
            if name in by_id.values():
                raise self.fail(f"{where}: category name {name!r} appears twice")
            by_id[category_id] = name
        return by_id

    def segmentation(
        self, seg: object, size: tuple[int, int] | None, where: str
    ) -> tuple[dict[str, object] | list[list[float]], tuple[int, int]]:
        """An annotation's RLE or polygons, checked, and the mask size."""
        if isinstance(seg, dict):
            return self.rle(seg, size, where)
        if isinstance(seg, list):
            if size is None:
                raise self.fail(
                    f"{where}: polygons need the image's 'height' and 'width' in images[]"
                )
            polygons: list[list[float]] = []
            for poly in seg:
                ok = isinstance(poly, list) and all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in poly
                )
                if not ok or len(poly) < 6 or len(poly) % 2:
                    raise self.fail(
                        f"{where}: each polygon must be a flat list of at least 3 x, y pairs"
                    )
                polygons.append([float(v) for v in poly])
            if not polygons:
                raise self.fail(f"{where}: empty polygon list")
            return polygons, size
        raise self.fail(f"{where}: 'segmentation' must be an RLE object or a list of polygons")

    def rle(
        self, seg: dict[str, object], size: tuple[int, int] | None, where: str
    ) -> tuple[dict[str, object], tuple[int, int]]:
        """An RLE object, checked (size, counts covering every pixel), and its size."""
        rle_size = seg.get("size")
        counts = seg.get("counts")
        if (
            not isinstance(rle_size, list)
            or len(rle_size) != 2
            or not all(_is_int(v) and v > 0 for v in rle_size)
        ):
            raise self.fail(f"{where}: RLE 'size' must be [height, width], got {rle_size!r}")
        height, width = int(rle_size[0]), int(rle_size[1])
        if size is not None and size != (height, width):
            raise self.fail(
                f"{where}: RLE size {height}x{width} differs from the image's {size[0]}x{size[1]}"
            )
        if isinstance(counts, str):
            try:
                lengths = _rle_string_lengths(counts)
            except ValueError as exc:
                raise self.fail(f"{where}: bad RLE counts string: {exc}") from None
        elif isinstance(counts, list) and all(_is_int(v) and v >= 0 for v in counts):
            lengths = counts
        else:
            raise self.fail(f"{where}: RLE 'counts' must be a string or non-negative integers")
        if sum(lengths) != height * width:
            raise self.fail(
                f"{where}: bad RLE: runs cover {sum(lengths)} pixels, size {height}x{width} "
                f"has {height * width}"
            )
        return {"size": [height, width], "counts": counts}, (height, width)


def read_json(path: Path, what: str) -> object:
    """The parsed JSON of a ground-truth file; GroundTruthError naming the file otherwise.

    `what` names the kind of file in the message ("ground truth", "LabelMe label").
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GroundTruthError(f"{path}: cannot read {what}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GroundTruthError(f"{path}: not valid JSON: {exc}") from None
