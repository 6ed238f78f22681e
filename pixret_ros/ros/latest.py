"""A one-message slot between the image callbacks and the engine thread.

Why: a camera publishes faster than the engine may process; a queue would grow without
bound and serve ever older frames. The slot keeps only the newest message (undecoded: a
frame that is overwritten is never converted) and counts the ones it overwrote, so the node
always works on the freshest frame with bounded memory. The engine thread blocks in `wait`
(no polling, no executor round trip) and is woken by `put` or `close`.
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
        self._changed = threading.Condition(threading.Lock())
        self._item: Arrival[T] | None = None
        self._closed = False
        self._nudged = False
        self.dropped = 0

    def put(self, message: T) -> None:
        """Store `message` as the newest; an older, untaken message counts as dropped."""
        arrival = Arrival(message, time.monotonic())
        with self._changed:
            if self._item is not None:
                self.dropped += 1
            self._item = arrival
            self._changed.notify()

    def take(self) -> Arrival[T] | None:
        """Remove and return the newest message, or None if nothing arrived since the last take."""
        with self._changed:
            item, self._item = self._item, None
        return item

    def wait(self, timeout: float) -> Arrival[T] | None:
        """Like `take`, but wait up to `timeout` s for a message; None on timeout or close."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._item is not None or self._closed or self._nudged, timeout
            )
            item, self._item = self._item, None
            self._nudged = False
        return item

    def nudge(self) -> None:
        """Make the current (or next) `wait` return now, with or without a message."""
        with self._changed:
            self._nudged = True
            self._changed.notify_all()

    def close(self) -> None:
        """Wake every `wait` now and from now on (the consumer is shutting down)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def pending(self) -> bool:
        """Whether a message waits to be taken."""
        with self._changed:
            return self._item is not None
