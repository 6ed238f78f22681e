"""What the bag player and the bag recorder share: message classes by name, errors, exit codes.

Why: there is no `ros2 bag` where pixret_ros runs from PyPI wheels, so pixret ships a small
player and recorder on rosbags + rclpy. Both move CDR bytes untouched between a bag and DDS
(rclpy publishes bytes as they are and raw subscriptions hand them over as received), so a
message in a bag is byte-for-byte what crossed the wire; they only need each type's rclpy
class to create the endpoint.
"""

from __future__ import annotations

import importlib

from pixret_ros.engine.errors import PixretError

#: Exit status of a tool stopped by Ctrl-C / SIGINT before it finished (shell convention).
EXIT_INTERRUPTED = 130


class BagToolError(PixretError):
    """The player or recorder cannot go on: a bag, topic, type or peer is missing or wrong."""


def message_class(msgtype: str) -> type:
    """The rclpy message class of a ROS type name, e.g. `sensor_msgs/msg/Image`."""
    package, _, name = msgtype.rpartition("/")
    module_name = package.replace("/", ".")
    if not package or "/msg" not in f"/{package}":
        raise BagToolError(f"{msgtype!r} is not a message type name like sensor_msgs/msg/Image")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, name)
    except (ImportError, AttributeError):
        raise BagToolError(
            f"message type {msgtype} is not installed for rclpy (no {module_name}.{name}); "
            "install its ROS package (pixret_ros's own types come with `make setup`)"
        ) from None
    if not isinstance(cls, type):
        raise BagToolError(f"{module_name}.{name} is not a message class")
    return cls
