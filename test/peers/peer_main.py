"""The shared main() of the test peer processes: spin until SIGINT, then exit cleanly with 0."""

from __future__ import annotations

from typing import TYPE_CHECKING

import rclpy
from rclpy.executors import ExternalShutdownException

if TYPE_CHECKING:
    from collections.abc import Callable

    from rclpy.node import Node


def run_peer(make_node: Callable[[], Node], ready_line: str) -> int:
    """Create the node, print `ready_line` for the test to wait on, spin until interrupted."""
    rclpy.init()
    node = make_node()
    print(ready_line, flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
