"""Write camera frames and pixret detections into new rosbag2 folders (mcap or sqlite3).

Used by the demo data builder and the tests: real CDR messages through `rosbags`, stamps in
ns, one record per message at its header stamp. Image pixels are produced by the one image
codec, so every encoding the node reads can be written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Self, cast

import numpy as np
import numpy.typing as npt
from rosbags.rosbag2 import Writer, WriterError

from pixret_ros.evaluation.errors import BagError
from pixret_ros.io.image_codec import (
    SUPPORTED_ENCODINGS,
    ConversionError,
    compress_rgb,
    pack_pixels,
    rgb_to_pixels,
)
from pixret_ros.io.typestore import (
    COMPRESSED_IMAGE,
    DETECTION,
    DETECTION_ARRAY,
    IMAGE,
    STORAGES,
    typestore,
)

if TYPE_CHECKING:
    from rosbags.interfaces import Connection
    from rosbags.typesys.stores.ros2_jazzy import std_msgs__msg__Header as HeaderMsg

    from pixret_ros.engine.types import Detection, RGBImage

#: Image encodings write_image_bag can produce: every one the codec reads.
WRITE_ENCODINGS = SUPPORTED_ENCODINGS
#: OpenCV's default jpeg quality, which the bags written so far used.
JPEG_QUALITY = 95


class BagWriter:
    """Write Image/CompressedImage frames and pixret detections into a new rosbag2 folder.

    A context manager; the bag is complete after `__exit__`.
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
        try:
            pixels = rgb_to_pixels(rgb, encoding)
        except ConversionError as err:
            raise BagError(f"cannot write encoding {encoding!r}: {err}") from None
        self._write_raw(topic, stamp_ns, pixels, encoding, frame_id)

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
        packed = pack_pixels(pixels, encoding)
        msg = self._store.types[IMAGE](
            header=self._header(stamp_ns, frame_id),
            height=packed.height,
            width=packed.width,
            encoding=packed.encoding,
            is_bigendian=packed.is_bigendian,
            step=packed.step,
            data=np.frombuffer(packed.data, np.uint8),
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
        try:
            encoded = compress_rgb(rgb, image_format, JPEG_QUALITY)
        except ConversionError as err:
            raise BagError(f"bag {self.path}: {err}") from None
        msg = self._store.types[COMPRESSED_IMAGE](
            header=self._header(stamp_ns, frame_id),
            format=image_format,
            data=np.frombuffer(encoded, np.uint8),
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
