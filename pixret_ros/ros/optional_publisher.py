"""A publisher that exists only while a live parameter turns it on (e.g. ~/debug_image).

Why: a topic that is advertised but never published confuses tools (`ros2 topic list`, RViz
offer it); so the node creates the publisher when the parameter goes on and destroys it when
it goes off. The engine thread publishes while the executor's thread may switch it, hence
the lock: a publisher is never destroyed in the middle of a publish.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from rclpy.node import Node
    from rclpy.publisher import Publisher


class OptionalPublisher:
    """`msg_type` on `topic` while enabled; `publish` builds the message only if someone listens."""

    def __init__(self, node: Node, msg_type: type, topic: str, depth: int) -> None:
        self._node = node
        self._msg_type = msg_type
        self._topic = topic
        self._depth = depth
        self._lock = threading.Lock()
        self._publisher: Publisher | None = None

    def enable(self, on: bool) -> None:
        """Create the publisher (on) or destroy it (off); nothing if already so."""
        with self._lock:
            if on and self._publisher is None:
                self._publisher = self._node.create_publisher(
                    self._msg_type, self._topic, self._depth
                )
            elif not on and self._publisher is not None:
                self._node.destroy_publisher(self._publisher)
                self._publisher = None

    def publish(self, build: Callable[[], Any]) -> bool:
        """Publish `build()` if enabled and subscribed; True if it was published."""
        with self._lock:
            publisher = self._publisher
            if publisher is None or publisher.get_subscription_count() == 0:
                return False
            publisher.publish(build())
            return True
