"""The newest-frame slot and the diagnostics statistics, without ROS."""

from __future__ import annotations

import math
import threading
import time

import pytest

from pixret_ros.ros.frame_worker import FrameWorker
from pixret_ros.ros.latest import Arrival, LatestSlot
from pixret_ros.ros.stats import FrameStats


def test_slot_keeps_only_the_newest_and_counts_drops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.take() is None
    for value in range(5):
        slot.put(value)
    assert slot.pending()
    arrival = slot.take()
    assert arrival is not None
    assert arrival.message == 4
    assert slot.dropped == 4
    assert not slot.pending()
    assert slot.take() is None


def test_slot_under_concurrent_producers_never_loses_count() -> None:
    slot: LatestSlot[int] = LatestSlot()
    taken: list[int] = []

    def produce() -> None:
        for value in range(2000):
            slot.put(value)

    producers = [threading.Thread(target=produce) for _ in range(4)]
    for thread in producers:
        thread.start()
    while any(t.is_alive() for t in producers):
        if (arrival := slot.take()) is not None:
            taken.append(arrival.message)
    for thread in producers:
        thread.join()
    if (arrival := slot.take()) is not None:
        taken.append(arrival.message)
    assert len(taken) + slot.dropped == 8000


def test_stats_report_rates_percentiles_and_reset_the_window() -> None:
    stats = FrameStats()
    for _ in range(10):
        stats.received()
    for latency in range(1, 101):
        stats.processed(latency_ms=float(latency), age_ms=2.0 * latency, engine_ms=5.0)
    stats.refused()
    stats.failed()
    report = stats.report()
    assert report.frames_in == 10
    assert report.frames_processed == 100
    assert (report.frames_refused, report.errors) == (1, 1)
    assert report.latency_ms_p50 == pytest.approx(50.5)
    assert report.latency_ms_p95 == pytest.approx(95.05)
    assert report.age_ms_p95 == pytest.approx(190.1)
    assert report.engine_ms_p50 == 5.0
    assert report.input_rate_hz > 0
    second = stats.report()
    assert second.frames_processed == 100  # totals stay
    assert second.processed_rate_hz == 0.0  # the window restarted
    assert math.isnan(second.latency_ms_p50)


def test_slot_wait_wakes_on_put_and_on_close() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.wait(0.01) is None  # times out empty
    threading.Timer(0.05, slot.put, args=(7,)).start()
    arrival = slot.wait(5.0)
    assert arrival is not None
    assert arrival.message == 7
    threading.Timer(0.05, slot.close).start()
    assert slot.wait(5.0) is None
    assert slot.closed


def test_worker_processes_newest_runs_chores_and_stops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    handled: list[int] = []
    chores: list[float] = []
    errors: list[BaseException] = []

    def handle(arrival: Arrival[int]) -> None:
        if arrival.message < 0:
            raise ValueError("bad frame")
        handled.append(arrival.message)

    worker = FrameWorker(slot, handle, lambda: chores.append(1.0), 0.02, on_error=errors.append)
    worker.start()
    slot.put(-1)  # an error must not end the thread
    time.sleep(0.1)
    slot.put(1)
    deadline = time.monotonic() + 5.0
    while (not handled or len(chores) < 2) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.stop(5.0)
    assert handled == [1]
    assert len(chores) >= 2
    assert [str(e) for e in errors] == ["bad frame"]
