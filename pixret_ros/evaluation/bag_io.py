"""Stream camera frames and recorded detections out of rosbag2 files, and write such bags.

Pure Python through `rosbags` (no ROS install needed), mcap and sqlite3 storage. A frame is
named `<header.stamp in ns>.png` (DESIGN section 5), so ground truth made on frames exported
with `pixret-eval export-frames` matches the frames read straight from the bag. The package's
own messages (InstanceDetectionArray) are registered from the msg files shipped with it, so a
recording of the node's outputs can be read back without the ROS build.

Every failure raises `BagError` naming the bag, the topic or message and what to do.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import struct
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, Self, TypeVar, cast

import apsw
import cv2
import numpy as np
import numpy.typing as npt
import yaml
from rosbags.image import ImageError, image_to_cvimage
from rosbags.image.image import to_cvtype
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore

from pixret_ros.errors import BagError
from pixret_ros.evaluation.frames import Frame, decode_image

if TYPE_CHECKING:
    from rosbags.interfaces import Connection
    from rosbags.typesys.store import Typestore
    from rosbags.typesys.stores.ros2_jazzy import (
        sensor_msgs__msg__CompressedImage as CompressedImageMsg,
    )
    from rosbags.typesys.stores.ros2_jazzy import sensor_msgs__msg__Image as ImageMsg
    from rosbags.typesys.stores.ros2_jazzy import std_msgs__msg__Header as HeaderMsg

    from pixret_ros.engine.types import Detection, RGBImage

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
DETECTION_ARRAY = "pixret_ros/msg/InstanceDetectionArray"
DETECTION = "pixret_ros/msg/InstanceDetection"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
# Raw encodings write_image_bag can produce; reading accepts every encoding rosbags-image converts.
WRITE_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16")
_T = TypeVar("_T")
_MSG_FILES = {DETECTION: "InstanceDetection.msg", DETECTION_ARRAY: "InstanceDetectionArray.msg"}
# What a broken bag raises from rosbags: its own errors, file errors, sqlite (apsw) errors,
# and struct/index errors of a message cut short.
_BROKEN = (ReaderError, OSError, sqlite3.Error, apsw.Error, struct.error, IndexError, ValueError)


class RecordedDetection(NamedTuple):
    """One InstanceDetection as the node published it (box and homography in frame pixels)."""

    name: str
    score: float
    x: int
    y: int
    width: int
    height: int
    label: int
    inliers: int
    homography: npt.NDArray[np.float64] | None


class RecordedFrame(NamedTuple):
    """The node's output for one input frame: its detections and its mono16 label image."""

    name: str
    stamp_ns: int
    detections: list[RecordedDetection]
    labels: npt.NDArray[np.uint16] | None  # None only where there are no detections


class _DetectionMsg(Protocol):
    name: str
    score: float
    x_offset: int
    y_offset: int
    width: int
    height: int
    label: int
    inliers: int
    homography: npt.NDArray[np.float64]


class _DetectionArrayMsg(Protocol):
    header: HeaderMsg
    detections: list[_DetectionMsg]


def frame_name(stamp_ns: int) -> str:
    """The name of the frame stamped `stamp_ns` (DESIGN section 5): `<stamp in ns>.png`."""
    return f"{stamp_ns}.png"


def header_stamp_ns(header: HeaderMsg) -> int:
    """A header's stamp in nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _raw_stamp_ns(data: bytes | memoryview, bag: Path | str, topic: str) -> int:
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


def _find_msg_dir() -> Path | None:
    """The folder with the package's .msg files: source checkout first, then the ROS install."""
    here = Path(__file__).resolve().parents[2]
    candidates = [here / "msg"]
    candidates += [Path(p) / "share" / "pixret_ros" / "msg" for p in _prefixes()]
    return next((c for c in candidates if (c / _MSG_FILES[DETECTION_ARRAY]).is_file()), None)


def _prefixes() -> list[str]:
    """Install prefixes to look in: the running Python's and AMENT_PREFIX_PATH's."""
    return [sys.prefix, *filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep))]


@cache
def typestore() -> Typestore:
    """Jazzy's message types plus pixret_ros's own, registered from the package's msg files.

    Where the msg files are not installed (a pip install without ROS), the package types are
    missing from the store and `read_recording` falls back to the definitions in the bag.
    """
    store = get_typestore(Stores.ROS2_JAZZY)
    msg_dir = _find_msg_dir()
    if msg_dir is not None:
        types = {}
        for typename, filename in _MSG_FILES.items():
            types.update(get_types_from_msg((msg_dir / filename).read_text(), typename))
        store.register(types)
    return store


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


def _topic_connections(
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


def _messages(
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


def _deserialize(
    store: Typestore, data: bytes | memoryview, connection: Connection, bag: Path | str
) -> object:
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
        return sum(c.msgcount for c in _topic_connections(reader, bag, topic, IMAGE_TYPES))


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
        connections = _topic_connections(reader, bag, topic, IMAGE_TYPES)
        for connection, _, data in _messages(reader, bag, connections):
            stamp = _raw_stamp_ns(data, bag, topic)
            if names is not None and frame_name(stamp) not in names:
                continue
            msg = _deserialize(store, data, connection, bag)
            where = f"bag {bag}, {topic} at stamp {stamp}"
            if connection.msgtype == IMAGE:
                yield Frame(
                    frame_name(stamp), stamp, image_msg_to_rgb(cast("ImageMsg", msg), where)
                )
                continue
            compressed = cast("CompressedImageMsg", msg)
            rgb = decode_image(compressed.data)
            if rgb is None:
                raise BagError(f"{where}: {compressed.format!r} data cannot be decoded")
            yield Frame(frame_name(stamp), stamp, rgb)


def image_msg_to_rgb(msg: ImageMsg, where: str) -> RGBImage:
    """Decode a sensor_msgs/Image to RGB uint8; rows padded beyond `width` (step) are cut."""
    try:
        channels = _channels(msg.encoding)
    except ImageError as err:
        raise BagError(f"{where}: {err}; use rgb8, bgr8, rgba8, bgra8, mono8 or mono16") from None
    row_bytes = msg.width * channels * (2 if "16" in msg.encoding else 1)
    if msg.step < row_bytes or len(msg.data) < msg.step * msg.height:
        raise BagError(
            f"{where}: Image {msg.width}x{msg.height} {msg.encoding} needs {row_bytes} bytes "
            f"per row, has step {msg.step} and {len(msg.data)} bytes: the message is broken"
        )
    if msg.step != row_bytes:  # rosbags-image assumes packed rows
        rows = np.asarray(msg.data[: msg.step * msg.height]).reshape(msg.height, msg.step)
        msg = dataclasses.replace(msg, data=rows[:, :row_bytes].reshape(-1), step=row_bytes)
    try:
        rgb = image_to_cvimage(msg, "rgb8")
    except ImageError as err:
        raise BagError(f"{where}: {err}; use rgb8, bgr8, rgba8, bgra8, mono8 or mono16") from None
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _channels(encoding: str) -> int:
    """Channels of a ROS image encoding, as rosbags-image knows it (ImageError if unknown)."""
    return int(to_cvtype(encoding)[3])


def list_frame_names(bag: Path | str, topic: str) -> list[str]:
    """Names of every frame on `topic`, in bag order, from the header stamps alone (fast)."""
    with open_bag(bag) as reader:
        connections = _topic_connections(reader, bag, topic, IMAGE_TYPES)
        return [
            frame_name(_raw_stamp_ns(data, bag, topic))
            for _, _, data in _messages(reader, bag, connections)
        ]


def find_detection_topics(bag: Path | str) -> list[str]:
    """Topics of a bag that carry pixret_ros/msg/InstanceDetectionArray."""
    with open_bag(bag) as reader:
        return sorted({c.topic for c in reader.connections if c.msgtype == DETECTION_ARRAY})


def read_recording(
    bag: Path | str, detections_topic: str, mask_topic: str
) -> Iterator[RecordedFrame]:
    """Yield the node's recorded outputs per input frame, matched by header stamp.

    A frame is complete with its InstanceDetectionArray and, where it has detections, its
    mono16 label image (same stamp); each stamp is yielded once, in the order frames
    complete. A frame whose detections were recorded but whose mask was lost is never
    yielded (the caller counts it as dropped, like frames the recording lacks). At most
    `MAX_PENDING` half-complete frames are held, so lost messages cannot grow memory.
    """
    with open_bag(bag) as reader:
        store = _recording_store(reader, bag, detections_topic)
        connections = [
            *_topic_connections(reader, bag, detections_topic, [DETECTION_ARRAY]),
            *_topic_connections(reader, bag, mask_topic, [IMAGE]),
        ]
        pending_dets: dict[int, list[RecordedDetection]] = {}
        pending_masks: dict[int, npt.NDArray[np.uint16]] = {}
        done: set[int] = set()  # stamps yielded: their late or repeated messages are skipped
        for connection, _, data in _messages(reader, bag, connections):
            stamp = _raw_stamp_ns(data, bag, connection.topic)
            if stamp in done:
                continue
            msg = _deserialize(store, data, connection, bag)
            if connection.msgtype == DETECTION_ARRAY:
                dets = [_recorded(d) for d in cast("_DetectionArrayMsg", msg).detections]
                if dets and stamp not in pending_masks:
                    _hold(pending_dets, stamp, dets)
                    continue
                labels = pending_masks.pop(stamp, None)
                done.add(stamp)
                yield RecordedFrame(frame_name(stamp), stamp, dets, labels if dets else None)
            else:
                where = f"bag {bag}, {mask_topic} at stamp {stamp}"
                labels = _label_image(cast("ImageMsg", msg), where)
                if stamp not in pending_dets:
                    _hold(pending_masks, stamp, labels)
                    continue
                done.add(stamp)
                yield RecordedFrame(frame_name(stamp), stamp, pending_dets.pop(stamp), labels)


#: Half-complete frames (detections without mask or the reverse) read_recording holds.
MAX_PENDING = 64


def _hold(pending: dict[int, _T], stamp: int, value: _T) -> None:
    """Keep `value` until its partner arrives; forget the oldest beyond MAX_PENDING."""
    pending[stamp] = value
    while len(pending) > MAX_PENDING:
        del pending[next(iter(pending))]


def _recording_store(reader: Reader, bag: Path | str, topic: str) -> Typestore:
    """The package's typestore, or one built from the bag's own definitions if it lacks ours."""
    store = typestore()
    if DETECTION_ARRAY in store.types:
        return store
    for connection in reader.connections:
        if connection.topic == topic and connection.msgdef.data:
            store = get_typestore(Stores.ROS2_JAZZY)
            store.register(get_types_from_msg(connection.msgdef.data, DETECTION_ARRAY))
            return store
    raise BagError(
        f"bag {bag}: pixret_ros messages are unknown here (no msg files installed and the bag "
        "stores no definition); install pixret_ros with its ROS build"
    )


def _recorded(msg: _DetectionMsg) -> RecordedDetection:
    homography = np.asarray(msg.homography, dtype=np.float64).reshape(3, 3)
    return RecordedDetection(
        name=str(msg.name),
        score=float(msg.score),
        x=int(msg.x_offset),
        y=int(msg.y_offset),
        width=int(msg.width),
        height=int(msg.height),
        label=int(msg.label),
        inliers=int(msg.inliers),
        homography=None if not homography.any() else homography,
    )


def _label_image(msg: ImageMsg, where: str) -> npt.NDArray[np.uint16]:
    """A recorded ~/mask message as a (H, W) uint16 label image."""
    if msg.encoding != "mono16":
        raise BagError(f"{where}: the label mask must be mono16, is {msg.encoding!r}")
    if len(msg.data) < msg.step * msg.height or msg.step < 2 * msg.width:
        raise BagError(f"{where}: mono16 {msg.width}x{msg.height} mask message is cut short")
    rows = np.asarray(msg.data[: msg.step * msg.height]).reshape(msg.height, msg.step)
    dtype = ">u2" if msg.is_bigendian else "<u2"
    return rows[:, : 2 * msg.width].copy().view(dtype).astype(np.uint16)


class BagWriter:
    """Write Image/CompressedImage frames and pixret detections into a new rosbag2 folder.

    Used by the demo data builder and the tests: real CDR messages, stamps in ns, one record
    per message at its header stamp. A context manager; the bag is complete after `__exit__`.
    """

    def __init__(self, path: Path | str, *, storage: str = "mcap") -> None:
        if storage not in STORAGES:
            raise BagError(f"unknown bag storage {storage!r}; use one of {', '.join(STORAGES)}")
        self.path = Path(path)
        self._store = typestore()
        try:
            self._writer = Writer(self.path, version=9, storage_plugin=STORAGES[storage])
        except WriterError as err:
            raise BagError(f"cannot write bag {self.path}: {err}") from None
        self._connections: dict[str, Connection] = {}

    def __enter__(self) -> Self:
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.__exit__(*exc)

    def _write(self, topic: str, msgtype: str, log_ns: int, msg: object) -> None:
        """Serialize `msg` as CDR and record it at bag time `log_ns`."""
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self._store
            )
        elif self._connections[topic].msgtype != msgtype:
            raise BagError(f"bag {self.path}: topic {topic} already carries another type")
        data = self._store.serialize_cdr(msg, msgtype)
        self._writer.write(self._connections[topic], log_ns, data)

    def _header(self, stamp_ns: int, frame_id: str) -> HeaderMsg:
        types = self._store.types
        stamp = types["builtin_interfaces/msg/Time"](
            sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000
        )
        return cast("HeaderMsg", types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id))

    def write_image(
        self,
        topic: str,
        stamp_ns: int,
        rgb: RGBImage,
        *,
        encoding: str = "rgb8",
        frame_id: str = "camera",
    ) -> None:
        """Write one RGB uint8 frame as a sensor_msgs/Image in `encoding` (WRITE_ENCODINGS)."""
        converters: dict[str, Callable[[RGBImage], npt.NDArray[np.generic]]] = {
            "rgb8": lambda im: im,
            "bgr8": lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2BGR),
            "rgba8": lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2RGBA),
            "bgra8": lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2BGRA),
            "mono8": lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY),
            "mono16": lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257,
        }
        if encoding not in converters:
            raise BagError(f"cannot write encoding {encoding!r}; use one of {WRITE_ENCODINGS}")
        self._write_raw(topic, stamp_ns, converters[encoding](rgb), encoding, frame_id)

    def write_mask(
        self,
        topic: str,
        stamp_ns: int,
        labels: npt.NDArray[np.uint16],
        *,
        frame_id: str = "camera",
        log_ns: int | None = None,
    ) -> None:
        """Write a (H, W) uint16 label image as a mono16 sensor_msgs/Image (the node's ~/mask).

        `log_ns`: when the recorder received it (bag time); default the header stamp.
        """
        pixels = labels.astype(np.uint16)
        self._write_raw(topic, stamp_ns, pixels, "mono16", frame_id, log_ns=log_ns)

    def _write_raw(
        self,
        topic: str,
        stamp_ns: int,
        pixels: npt.NDArray[np.generic],
        encoding: str,
        frame_id: str,
        *,
        log_ns: int | None = None,
    ) -> None:
        pixels = np.ascontiguousarray(pixels)
        data = pixels.view(np.uint8).reshape(-1)
        height, width = pixels.shape[:2]
        msg = self._store.types[IMAGE](
            header=self._header(stamp_ns, frame_id),
            height=height,
            width=width,
            encoding=encoding,
            is_bigendian=int(pixels.dtype.byteorder == ">"),
            step=data.size // height,
            data=data,
        )
        self._write(topic, IMAGE, stamp_ns if log_ns is None else log_ns, msg)

    def write_compressed(
        self,
        topic: str,
        stamp_ns: int,
        rgb: RGBImage,
        *,
        image_format: str = "jpeg",
        frame_id: str = "camera",
    ) -> None:
        """Write one RGB frame as a sensor_msgs/CompressedImage (`jpeg` or `png`)."""
        if image_format not in {"jpeg", "png"}:
            raise BagError(f"cannot write compressed format {image_format!r}; use jpeg or png")
        ok, encoded = cv2.imencode(f".{image_format}", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise BagError(f"bag {self.path}: OpenCV could not encode a {image_format} frame")
        msg = self._store.types[COMPRESSED_IMAGE](
            header=self._header(stamp_ns, frame_id),
            format=image_format,
            data=encoded.reshape(-1),
        )
        self._write(topic, COMPRESSED_IMAGE, stamp_ns, msg)

    def write_detections(
        self,
        topic: str,
        stamp_ns: int,
        detections: Sequence[Detection],
        *,
        frame_id: str = "camera",
        log_ns: int | None = None,
    ) -> None:
        """Write detections as the node publishes them: detection i has label i + 1.

        `log_ns`: when the recorder received them (bag time); default the header stamp.
        """
        types = self._store.types
        items = [
            types[DETECTION](
                name=d.name,
                score=float(d.score),
                x_offset=d.box.x,
                y_offset=d.box.y,
                width=d.box.width,
                height=d.box.height,
                label=i + 1,
                inliers=d.inliers,
                homography=(
                    np.zeros(9) if d.homography is None else np.asarray(d.homography).reshape(9)
                ).astype(np.float64),
            )
            for i, d in enumerate(detections)
        ]
        msg = types[DETECTION_ARRAY](header=self._header(stamp_ns, frame_id), detections=items)
        self._write(topic, DETECTION_ARRAY, stamp_ns if log_ns is None else log_ns, msg)


def write_image_bag(
    path: Path | str,
    frames: Iterable[tuple[int, RGBImage]],
    topic: str,
    *,
    storage: str = "mcap",
    compressed: bool = False,
    encoding: str = "rgb8",
    compressed_format: str = "jpeg",
    frame_id: str = "camera",
) -> int:
    """Write (stamp_ns, RGB uint8) frames to a new rosbag2 folder; return the frame count.

    Args:
        path: the bag folder to create (must not exist).
        frames: (header stamp in ns, RGB uint8 (H, W, 3)) pairs, in the order to record.
        topic: camera topic, e.g. `/camera/image_raw`.
        storage: `mcap` or `sqlite3`.
        compressed: write sensor_msgs/CompressedImage (`compressed_format`) instead of Image.
        encoding: Image encoding when not compressed (WRITE_ENCODINGS).
        compressed_format: `jpeg` or `png`.
        frame_id: header frame_id.
    """
    count = 0
    with BagWriter(path, storage=storage) as writer:
        for stamp_ns, rgb in frames:
            if compressed:
                writer.write_compressed(
                    topic, stamp_ns, rgb, image_format=compressed_format, frame_id=frame_id
                )
            else:
                writer.write_image(topic, stamp_ns, rgb, encoding=encoding, frame_id=frame_id)
            count += 1
    return count
