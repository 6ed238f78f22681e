"""Counters and latency percentiles of the node, for /diagnostics (ROS-free, thread-safe).

Why separate: the numbers operators look at (input vs processed rate, drops, latency) must
be right, so they live in a small class that is tested without DDS.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StatsReport:
    """What happened since the previous report (rates, percentiles) and in total (counters)."""

    period_s: float
    input_rate_hz: float
    processed_rate_hz: float
    latency_ms_p50: float
    latency_ms_p95: float
    age_ms_p50: float
    age_ms_p95: float
    engine_ms_p50: float
    frames_in: int
    frames_processed: int
    frames_refused: int
    errors: int


def _percentile(values: deque[float], q: float) -> float:
    return float(np.percentile(np.fromiter(values, float), q)) if values else float("nan")


class FrameStats:
    """Collects per-frame events; `report()` summarises the window since the previous report.

    Latency is receive -> publish inside the node; age is header stamp -> publish (includes
    transport, meaningful when the camera's clock is the node's clock).
    """

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self._latency: deque[float] = deque(maxlen=window)
        self._age: deque[float] = deque(maxlen=window)
        self._engine: deque[float] = deque(maxlen=window)
        self._since = time.monotonic()
        self._period_in = 0
        self._period_done = 0
        self.frames_in = 0
        self.frames_processed = 0
        self.frames_refused = 0
        self.errors = 0

    def received(self) -> None:
        """A frame arrived (whether or not it will be processed)."""
        with self._lock:
            self.frames_in += 1
            self._period_in += 1

    def processed(self, latency_ms: float, age_ms: float, engine_ms: float) -> None:
        """A frame was processed and its results published."""
        with self._lock:
            self.frames_processed += 1
            self._period_done += 1
            self._latency.append(latency_ms)
            self._age.append(age_ms)
            self._engine.append(engine_ms)

    def refused(self) -> None:
        """A frame could not be converted (bad encoding or size)."""
        with self._lock:
            self.frames_refused += 1

    def failed(self) -> None:
        """Processing raised an unexpected error."""
        with self._lock:
            self.errors += 1

    def report(self) -> StatsReport:
        """Rates and percentiles since the previous report; counters since the start."""
        with self._lock:
            now = time.monotonic()
            period = max(now - self._since, 1e-6)
            report = StatsReport(
                period_s=period,
                input_rate_hz=self._period_in / period,
                processed_rate_hz=self._period_done / period,
                latency_ms_p50=_percentile(self._latency, 50),
                latency_ms_p95=_percentile(self._latency, 95),
                age_ms_p50=_percentile(self._age, 50),
                age_ms_p95=_percentile(self._age, 95),
                engine_ms_p50=_percentile(self._engine, 50),
                frames_in=self.frames_in,
                frames_processed=self.frames_processed,
                frames_refused=self.frames_refused,
                errors=self.errors,
            )
            self._since = now
            self._period_in = self._period_done = 0
            self._latency.clear()
            self._age.clear()
            self._engine.clear()
        return report
