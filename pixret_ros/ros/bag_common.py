"""What the bag player and recorder share: message classes, errors, exit codes, start-up.

Why: there is no `ros2 bag` where pixret_ros runs from PyPI wheels, so pixret ships a small
player and recorder on rosbags + rclpy. Both move CDR bytes untouched between a bag and DDS
(rclpy publishes bytes as they are and raw subscriptions hand them over as received), so a
message in a bag is byte-for-byte what crossed the wire; they only need each type's rclpy
class to create the endpoint.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import rclpy
from rclpy.executors import SingleThreadedExecutor

from pixret_ros.errors import BagToolError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from rclpy.node import Node

#: Exit status of a tool stopped by Ctrl-C / SIGINT before it finished (shell convention).
EXIT_INTERRUPTED = 130


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


def split_ros_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a command line into the tool's own arguments and its `--ros-args ... [--]` parts.

    rclpy.init must see only the latter: given everything, rcl would also read the tool's
    `--remap FROM:=TO` values as (deprecated) remapping rules.
    """
    own: list[str] = []
    ros: list[str] = []
    inside = False
    for arg in argv:
        if arg == "--ros-args":
            inside = True
            ros.append(arg)
        elif inside and arg == "--":
            inside = False
        else:
            (ros if inside else own).append(arg)
    return own, ros


def parse_tool_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> tuple[argparse.Namespace, list[str]]:
    """The tool's own parsed arguments (from sys.argv when `argv` is None) and its ROS ones."""
    own, ros = split_ros_args(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(own), ros


def start_node(
    prog: str, node_name: str, ros_args: Sequence[str]
) -> tuple[Node, SingleThreadedExecutor]:
    """Init rclpy with only the `--ros-args` part; one node and the executor that serves it."""
    rclpy.init(args=[prog, *ros_args])
    node = rclpy.create_node(node_name)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    return node, executor
