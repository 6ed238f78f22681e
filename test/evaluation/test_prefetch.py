"""prefetched(): same items, same order, the source's errors where they happened, clean stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pixret_ros.evaluation.errors import InputError
from pixret_ros.evaluation.prefetch import prefetched


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "prefetch" and t.is_alive()]


def test_items_arrive_in_order_and_are_read_ahead() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(20):
            produced.append(i)
            yield i

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # the thread fills its two slots (and holds one more item) meanwhile
    assert 3 <= len(produced) <= 4
    assert [0, *items] == list(range(20))
    assert not _prefetch_threads()


def test_an_error_of_the_source_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise InputError("frame 3: /data/f3.png is not an image")

    items = prefetched(source())
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(InputError, match=r"f3\.png is not an image"):
        next(items)
    assert not _prefetch_threads()


def test_stopping_early_stops_the_thread_and_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.set()

    items = prefetched(source())
    assert next(items) == 0
    items.close()  # as when the engine raises on a frame
    assert closed.wait(5.0)
    assert not _prefetch_threads()
