"""A one-message slot between the image callbacks and the processing callback.

Why: a camera publishes faster than the engine may process; a queue would grow without
bound and serve ever older frames. The slot keeps only the newest message and counts the
ones it overwrote, so the node always works on the freshest frame with bounded memory.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


class Arrival(NamedTuple, Generic[T]):
    """A message and when it arrived (time.monotonic() seconds)."""

    message: T
    received: float


class LatestSlot(Generic[T]):
    """Holds at most one message; `put` replaces an unprocessed one (a dropped frame)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: Arrival[T] | None = None
        self.dropped = 0

    def put(self, message: T) -> None:
        """Store `message` as the newest; an older, untaken message counts as dropped."""
        arrival = Arrival(message, time.monotonic())
        with self._lock:
            if self._item is not None:
                self.dropped += 1
            self._item = arrival

    def take(self) -> Arrival[T] | None:
        """Remove and return the newest message, or None if nothing arrived since the last take."""
        with self._lock:
            item, self._item = self._item, None
        return item

    def pending(self) -> bool:
        """Whether a message waits to be taken."""
        with self._lock:
            return self._item is not None
