"""Read ahead: the next frames are read and decoded on a thread while the engine works.

Why: reading and decoding are evaluator overhead (DESIGN section 5 allows 20 % of the
engine time); OpenCV and file reads release the GIL, so on a second core they hide behind
the engine instead of adding to the wall time.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable

T = TypeVar("T")
_POLL_S = 0.1  # how often a blocked producer looks whether the consumer has gone


class _End:
    """Marks the end of the items in the queue."""


class _Failed(Generic[T]):
    """Carries an exception of the producer to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Producer(Generic[T]):
    """The thread's side: puts items into a bounded queue until the end or a stop."""

    def __init__(self, items: Iterable[T], depth: int) -> None:
        self.slots: queue.Queue[T | _End | _Failed[T]] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self._items = items
        self.thread = threading.Thread(target=self._produce, name="prefetch", daemon=True)

    def _put(self, value: T | _End | _Failed[T]) -> bool:
        while not self.stop.is_set():
            try:
                self.slots.put(value, timeout=_POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def _produce(self) -> None:
        iterator = iter(self._items)
        try:
            for item in iterator:
                if not self._put(item):
                    return
            self._put(_End())
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_Failed(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()


def prefetched(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """`items` in order, produced up to `depth` ahead on a thread.

    An exception of `items` is raised here, after the items before it, with its own message
    (the evaluator's errors name the file). Closing the returned iterator early (an error
    in the consumer, Ctrl-C) stops the thread and closes `items`.
    """
    producer = _Producer(items, depth)
    producer.thread.start()
    try:
        while True:
            value = producer.slots.get()
            if isinstance(value, _End):
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value
    finally:
        producer.stop.set()
        producer.thread.join(timeout=10.0)
