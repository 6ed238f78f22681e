"""Stream camera frames out of rosbag2 files (mcap and sqlite3), through the one image codec.

Pure Python through `rosbags` (no ROS install needed). A frame is named `<header.stamp in
ns>.png` (DESIGN section 5), so ground truth made on frames exported with `pixret-eval
export-frames` matches the frames read straight from the bag. Frames are decoded by
`image_codec`, the node's own decoder, so offline pixels are the node's pixels.

Every failure raises `BagError` naming the bag, the topic or message and what to do.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

import apsw
import yaml
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError
from rosbags.typesys import TypesysError

from pixret_ros.evaluation.errors import BagError
from pixret_ros.io.frames import Frame
from pixret_ros.io.image_codec import ConversionError, compressed_to_rgb, image_to_rgb
from pixret_ros.io.typestore import IMAGE, IMAGE_TYPES, STORAGES, typestore

if TYPE_CHECKING:
    from rosbags.interfaces import Connection
    from rosbags.typesys.store import Typestore
    from rosbags.typesys.stores.ros2_jazzy import (
        sensor_msgs__msg__CompressedImage as CompressedImageMsg,
    )
    from rosbags.typesys.stores.ros2_jazzy import sensor_msgs__msg__Image as ImageMsg

    from pixret_ros.engine.types import RGBImage

# What a broken bag raises from rosbags: its own errors, file errors, sqlite (apsw) errors,
# and struct/index errors of a message cut short.
_BROKEN = (ReaderError, OSError, sqlite3.Error, apsw.Error, struct.error, IndexError, ValueError)


def stamp_frame_name(stamp_ns: int) -> str:
    """The name of the frame stamped `stamp_ns` (DESIGN section 5): `<stamp in ns>.png`."""
    return f"{stamp_ns}.png"


def raw_stamp_ns(data: bytes | memoryview, bag: Path | str, topic: str) -> int:
    """Header stamp of a CDR message that starts with std_msgs/Header, without decoding the rest.

    Lets a reader skip the frames it does not want at the cost of reading 12 bytes.
    """
    try:
        little = data[1] == 1  # encapsulation 0x0001 = CDR little endian
        sec, nanosec = struct.unpack_from("<iI" if little else ">iI", data, 4)
    except (IndexError, struct.error):
        raise BagError(
            f"bag {bag}: a message on {topic} is cut short ({len(data)} bytes)"
        ) from None
    return int(sec) * 1_000_000_000 + int(nanosec)


@contextmanager
def open_bag(bag: Path | str) -> Iterator[Reader]:
    """Open a rosbag2 folder for reading; every way it can fail becomes a BagError naming it."""
    path = Path(bag)
    if not path.exists():
        raise BagError(f"bag {path} does not exist; pass the rosbag2 folder (with metadata.yaml)")
    if not path.is_dir():
        hint = (
            f"; pass its folder {path.parent}" if (path.parent / "metadata.yaml").is_file() else ""
        )
        raise BagError(f"bag {path} is not a rosbag2 folder (a folder with metadata.yaml){hint}")
    if not (path / "metadata.yaml").is_file():
        raise BagError(
            f"bag {path} is not a rosbag2 folder: it has no metadata.yaml; "
            "pass the folder `ros2 bag record` wrote"
        )
    storage = _storage_id(path)
    if storage not in STORAGES:
        raise BagError(
            f"bag {path} uses storage {storage!r}; pixret-eval reads {' and '.join(STORAGES)} "
            "(convert it with `ros2 bag convert`)"
        )
    reader = Reader(path)
    try:
        reader.open()
    except _BROKEN as err:
        raise BagError(
            f"bag {path} cannot be opened, it is truncated or corrupt ({err}); a recording that "
            "was killed may be repaired with `ros2 bag reindex`"
        ) from None
    try:
        yield reader
    finally:
        reader.close()


def _storage_id(path: Path) -> str:
    """The storage plugin named in a bag's metadata.yaml."""
    try:
        meta = yaml.safe_load((path / "metadata.yaml").read_text())
        return str(meta["rosbag2_bagfile_information"]["storage_identifier"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as err:
        raise BagError(f"bag {path}: metadata.yaml is unreadable or incomplete ({err!r})") from None


def topic_connections(
    reader: Reader, bag: Path | str, topic: str, msgtypes: Sequence[str]
) -> list[Connection]:
    """The connections of `topic`, checked to carry one of `msgtypes`."""
    found = [c for c in reader.connections if c.topic == topic]
    if not found:
        listing = ", ".join(f"{t} ({i.msgtype})" for t, i in sorted(reader.topics.items()))
        raise BagError(f"bag {bag} has no topic {topic!r}; its topics: {listing or 'none'}")
    wrong = sorted({c.msgtype for c in found} - set(msgtypes))
    if wrong:
        raise BagError(
            f"topic {topic} in bag {bag} carries {', '.join(wrong)}, not {' or '.join(msgtypes)}"
        )
    return found


def raw_messages(
    reader: Reader, bag: Path | str, connections: Sequence[Connection]
) -> Iterator[tuple[Connection, int, bytes | memoryview]]:
    """Raw messages in bag order; a truncated or corrupt file becomes a BagError."""
    stream = reader.messages(connections=connections)
    while True:
        try:
            item = next(stream, None)
        except _BROKEN as err:
            raise BagError(f"bag {bag} is truncated or corrupt: {err}") from None
        if item is None:
            return
        yield item


def deserialize(
    store: Typestore, data: bytes | memoryview, connection: Connection, bag: Path | str
) -> object:
    """One CDR message decoded; a message that does not fit its type becomes a BagError."""
    try:
        return store.deserialize_cdr(data, connection.msgtype)
    except (*_BROKEN, SerdeError, TypesysError, KeyError) as err:
        raise BagError(
            f"bag {bag}: a {connection.msgtype} message on {connection.topic} cannot be decoded "
            f"({err!r}); the bag is corrupt or was written with another message definition"
        ) from None


def count_messages(bag: Path | str, topic: str) -> int:
    """Number of messages on `topic` (from the bag's index, cheap); BagError if it has none."""
    with open_bag(bag) as reader:
        return sum(c.msgcount for c in topic_connections(reader, bag, topic, IMAGE_TYPES))


def read_frames(
    bag: Path | str, topic: str, *, names: Collection[str] | None = None
) -> Iterator[Frame]:
    """Yield the frames of an Image or CompressedImage topic in bag order, as RGB uint8.

    Args:
        bag: rosbag2 folder (mcap or sqlite3 storage).
        topic: the camera topic.
        names: decode only frames with these names (others are skipped without decoding).
    """
    store = typestore()
    with open_bag(bag) as reader:
        connections = topic_connections(reader, bag, topic, IMAGE_TYPES)
        for connection, _, data in raw_messages(reader, bag, connections):
            stamp = raw_stamp_ns(data, bag, topic)
            if names is not None and stamp_frame_name(stamp) not in names:
                continue
            msg = deserialize(store, data, connection, bag)
            where = f"bag {bag}, {topic} at stamp {stamp}"
            if connection.msgtype == IMAGE:
                rgb = image_msg_to_rgb(cast("ImageMsg", msg), where)
            else:
                try:
                    rgb = compressed_to_rgb(cast("CompressedImageMsg", msg), max_pixels=None)
                except ConversionError as err:
                    raise BagError(f"{where}: {err}") from None
            yield Frame(stamp_frame_name(stamp), stamp, rgb)


def image_msg_to_rgb(msg: ImageMsg, where: str) -> RGBImage:
    """Decode a sensor_msgs/Image as the node does (no size limit offline); BagError at `where`."""
    try:
        return image_to_rgb(msg, max_pixels=None)
    except ConversionError as err:
        raise BagError(f"{where}: {err}") from None


def list_frame_names(bag: Path | str, topic: str) -> list[str]:
    """Names of every frame on `topic`, in bag order, from the header stamps alone (fast)."""
    with open_bag(bag) as reader:
        connections = topic_connections(reader, bag, topic, IMAGE_TYPES)
        return [
            stamp_frame_name(raw_stamp_ns(data, bag, topic))
            for _, _, data in raw_messages(reader, bag, connections)
        ]
