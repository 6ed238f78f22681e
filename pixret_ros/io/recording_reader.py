"""Read the node's recorded outputs (~/detections + ~/mask) back out of a rosbag2 file.

A recording made with `pixret_ros.ros.recorder` (or `ros2 bag record`) holds what the node
published; matched by header stamp, it is judged exactly like an offline run. Every failure
raises `BagError` naming the bag, the topic or message and what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from pixret_ros.evaluation.errors import BagError
from pixret_ros.io.bag_reader import (
    deserialize,
    open_bag,
    raw_messages,
    raw_stamp_ns,
    stamp_frame_name,
    topic_connections,
)
from pixret_ros.io.image_codec import ConversionError, image_to_array
from pixret_ros.io.typestore import DETECTION_ARRAY, IMAGE, typestore

if TYPE_CHECKING:
    from rosbags.rosbag2 import Reader
    from rosbags.typesys.store import Typestore
    from rosbags.typesys.stores.ros2_jazzy import sensor_msgs__msg__Image as ImageMsg
    from rosbags.typesys.stores.ros2_jazzy import std_msgs__msg__Header as HeaderMsg

_T = TypeVar("_T")

#: Half-complete frames (detections without mask or the reverse) read_recording holds.
MAX_PENDING = 64


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
            *topic_connections(reader, bag, detections_topic, [DETECTION_ARRAY]),
            *topic_connections(reader, bag, mask_topic, [IMAGE]),
        ]
        pending_dets: dict[int, list[RecordedDetection]] = {}
        pending_masks: dict[int, npt.NDArray[np.uint16]] = {}
        done: set[int] = set()  # stamps yielded: their late or repeated messages are skipped
        for connection, _, data in raw_messages(reader, bag, connections):
            stamp = raw_stamp_ns(data, bag, connection.topic)
            if stamp in done:
                continue
            msg = deserialize(store, data, connection, bag)
            if connection.msgtype == DETECTION_ARRAY:
                dets = [_recorded(d) for d in cast("_DetectionArrayMsg", msg).detections]
                if dets and stamp not in pending_masks:
                    _hold(pending_dets, stamp, dets)
                    continue
                labels = pending_masks.pop(stamp, None)
                done.add(stamp)
                yield RecordedFrame(stamp_frame_name(stamp), stamp, dets, labels if dets else None)
            else:
                where = f"bag {bag}, {mask_topic} at stamp {stamp}"
                labels = _label_image(cast("ImageMsg", msg), where)
                if stamp not in pending_dets:
                    _hold(pending_masks, stamp, labels)
                    continue
                done.add(stamp)
                yield RecordedFrame(stamp_frame_name(stamp), stamp, pending_dets.pop(stamp), labels)


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
    """A recorded ~/mask message as a (H, W) uint16 label image, read by the image codec."""
    if msg.encoding != "mono16":
        raise BagError(f"{where}: the label mask must be mono16, is {msg.encoding!r}")
    try:
        pixels = image_to_array(msg, max_pixels=None)
    except ConversionError as err:
        raise BagError(f"{where}: the mono16 mask message is broken: {err}") from None
    return np.ascontiguousarray(pixels[:, :, 0], dtype=np.uint16)
