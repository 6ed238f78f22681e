"""The message types bags are read and written with: Jazzy's plus pixret_ros's own.

The package's messages (InstanceDetectionArray) are registered from the msg files shipped
with it, so a recording of the node's outputs can be read back without the ROS build.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from rosbags.rosbag2 import StoragePlugin
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore
    from rosbags.typesys.stores.ros2_jazzy import std_msgs__msg__Header as HeaderMsg

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
DETECTION_ARRAY = "pixret_ros/msg/InstanceDetectionArray"
DETECTION = "pixret_ros/msg/InstanceDetection"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
_MSG_FILES = {DETECTION: "InstanceDetection.msg", DETECTION_ARRAY: "InstanceDetectionArray.msg"}


def header_stamp_ns(header: HeaderMsg) -> int:
    """A header's stamp in nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


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
