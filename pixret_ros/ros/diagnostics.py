"""/diagnostics of pixret_node by the ROS conventions, built on the counters of stats.py.

Why a module of its own: the levels must be right for a monitor to act on them (a bad frame
warns for a while and then clears; silence becomes an error), so the logic is plain Python
with an injectable clock, tested without DDS (test/ros/test_diagnostics.py). ROS-light: only
message types are used here.

Two statuses per period, named as diagnostic_updater names them ("<node name>: <task>"):
- "pixret_node: input", hardware_id the resolved input topic (the camera stream it watches):
  frames reaching the node. ERROR when none arrived for
  `input_timeout` seconds (also before the first one); WARN when more than LOSS_WARN of the
  publisher's frames were lost before they reached the node (transport; see the README's
  transport section); else OK.
- "pixret_node: engine", hardware_id the node's fully qualified name (it tells one camera's
  node from another's): processing. WARN when a frame was refused (bad encoding or size) or
  failed within the last `diagnostics_window` seconds; ERROR when frames failed and none was
  processed in that window; else OK. Carries every counter of the node.

Frames lost before the node: ROS 2 images carry no sequence number, so the publisher's rate
is taken from the header stamps of frames that arrived back to back (the typical stamp step),
or from `expected_input_rate` when the user states it; stamp gaps then count the missing
frames. Stamps that do not increase (a camera that leaves them zero) make the rate unknown.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from pixret_ros.ros.stats import StatsReport

OK: bytes = DiagnosticStatus.OK  # levels are one-byte `bytes` in rclpy's messages
WARN: bytes = DiagnosticStatus.WARN
ERROR: bytes = DiagnosticStatus.ERROR
LOSS_WARN = 0.1  # fraction of the publisher's frames lost before the node that warns
MIN_EXPECTED = 10  # frames the publisher must have sent in the window before loss is judged
_NS = 1_000_000_000


@dataclass(frozen=True)
class HealthSettings:
    """The node parameters the levels depend on (seconds, Hz; 0 Hz = estimate from stamps)."""

    window_s: float
    input_timeout_s: float
    expected_rate_hz: float = 0.0


@dataclass(frozen=True)
class InputSummary:
    """Frames that reached the node within the window, and what the stamps say was sent."""

    received: int  # frames that arrived within the window
    rate_hz: float  # their arrival rate
    publisher_rate_hz: float  # nan when it cannot be told
    lost: int  # frames sent in the window that never arrived
    expected: int  # frames sent in the window (received + lost), 0 when unknown
    silent_s: float  # seconds since the last frame (or since the start, if none yet)
    ever: bool  # whether any frame arrived since the start

    @property
    def loss(self) -> float:
        """Fraction of the publisher's frames lost before the node (0 when unknown)."""
        return self.lost / self.expected if self.expected else 0.0


def publisher_period_ns(stamps: list[int]) -> float:
    """The typical stamp step of back-to-back frames, or nan when the stamps cannot tell.

    Steps of frames lost in between are whole multiples of it, jitter is small: take the
    median of the steps near the short end (within 1.5x of the 10th percentile).
    """
    steps = np.diff(np.asarray(stamps, dtype=np.int64)).astype(np.float64)  # ns
    steps = steps[steps > 0]
    if steps.size < 2:
        return float("nan")
    short = float(np.percentile(steps, 10))
    return float(np.median(steps[(steps >= 0.5 * short) & (steps <= 1.5 * short)]))


class InputTracker:
    """Arrival times and header stamps of the frames of the last window (thread-safe)."""

    def __init__(
        self, settings: HealthSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._arrivals: deque[tuple[float, int]] = deque()  # (arrival s, stamp ns)
        self._start = clock()
        self._last: float | None = None

    def arrived(self, stamp: Time) -> None:
        """A frame arrived (call from the subscription callback)."""
        now = self._clock()
        stamp_ns = stamp.sec * _NS + stamp.nanosec
        with self._lock:
            if self._arrivals and stamp_ns < self._arrivals[-1][1]:
                self._arrivals.clear()  # stamps went back: a new stream (bag loop, restart)
            self._arrivals.append((now, stamp_ns))
            self._last = now
            self._trim(now)

    def summary(self) -> InputSummary:
        """The window as of now."""
        now = self._clock()
        with self._lock:
            self._trim(now)
            arrivals = list(self._arrivals)
            silent = now - (self._last if self._last is not None else self._start)
            ever = self._last is not None
        window = min(self._settings.window_s, now - self._start)
        rate = len(arrivals) / window if window > 0 else 0.0
        stamps = [stamp for _, stamp in arrivals]
        if self._settings.expected_rate_hz > 0:
            period = _NS / self._settings.expected_rate_hz
        else:
            period = publisher_period_ns(stamps)
        expected = lost = 0
        if stamps and not math.isnan(period):
            expected = round((stamps[-1] - stamps[0]) / period) + 1
            lost = max(0, expected - len(set(stamps)))
            expected = max(expected, len(set(stamps)))
        return InputSummary(
            received=len(arrivals),
            rate_hz=rate,
            publisher_rate_hz=float("nan") if math.isnan(period) else _NS / period,
            lost=lost,
            expected=expected,
            silent_s=silent,
            ever=ever,
        )

    def _trim(self, now: float) -> None:
        while self._arrivals and self._arrivals[0][0] < now - self._settings.window_s:
            self._arrivals.popleft()


def input_level(summary: InputSummary, settings: HealthSettings, topic: str) -> tuple[bytes, str]:
    """Level and message of the input status."""
    if summary.silent_s >= settings.input_timeout_s:
        since = "for" if summary.ever else "since the start,"
        return ERROR, f"no frame on {topic} {since} {summary.silent_s:.1f} s"
    if not summary.ever:
        return OK, f"waiting for the first frame on {topic}"
    if summary.expected >= MIN_EXPECTED and summary.loss > LOSS_WARN:
        return WARN, (
            f"{summary.loss:.0%} of the publisher's frames lost before reaching the node "
            f"({summary.lost} of {summary.expected} in {settings.window_s:g} s; publisher "
            f"{summary.publisher_rate_hz:.1f} Hz, received {summary.rate_hz:.1f} Hz): use the "
            "shared-memory transport profile on both sides (config/fastdds_shm.xml)"
        )
    return OK, f"receiving {summary.rate_hz:.1f} Hz"


@dataclass(frozen=True)
class _Period:
    at: float
    processed: int
    refused: int
    errors: int


class EngineWindow:
    """Per-period counts of processed, refused and failed frames over the window."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._periods: deque[_Period] = deque()
        self._totals = (0, 0, 0)

    def add(self, report: StatsReport) -> tuple[int, int, int]:
        """Record `report`; return (processed, refused, errors) within the window."""
        now = self._clock()
        totals = (report.frames_processed, report.frames_refused, report.errors)
        delta = [new - old for new, old in zip(totals, self._totals, strict=True)]
        self._totals = totals
        self._periods.append(_Period(now, *delta))
        while self._periods and self._periods[0].at <= now - self._window_s:
            self._periods.popleft()
        processed = sum(p.processed for p in self._periods)
        refused = sum(p.refused for p in self._periods)
        errors = sum(p.errors for p in self._periods)
        return processed, refused, errors


def engine_level(
    processed: int, refused: int, errors: int, window_s: float, report: StatsReport
) -> tuple[bytes, str]:
    """Level and message of the engine status, from the window's counts."""
    if errors and not processed:
        return ERROR, f"every frame failed in the last {window_s:g} s ({errors} error(s))"
    if errors or refused:
        return WARN, f"{refused} frame(s) refused, {errors} error(s) in the last {window_s:g} s"
    if report.frames_processed == 0:
        return OK, "idle: no frame processed yet"
    return OK, (
        f"processing {report.processed_rate_hz:.1f} Hz, latency p50 {report.latency_ms_p50:.0f} ms"
    )


@dataclass(frozen=True)
class NodeCounts:
    """Values of the node itself in the engine status (beside the frame counters)."""

    dropped_frames: int  # frames replaced in the newest-frame slot before the engine took them
    instances: int
    stream_resets: int
    rss_bytes: int


class NodeHealth:
    """What the node calls: `arrived` per frame, `statuses` per diagnostics period."""

    def __init__(
        self,
        node_name: str,
        hardware_id: str,
        topic: str,
        settings: HealthSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._names = (f"{node_name}: input", f"{node_name}: engine")
        self._hardware_id = hardware_id
        self._topic = topic
        self._settings = settings
        self.input = InputTracker(settings, clock)
        self._engine = EngineWindow(settings.window_s, clock)

    def arrived(self, stamp: Time) -> None:
        """A frame arrived (its header stamp)."""
        self.input.arrived(stamp)

    def array(self, report: StatsReport, node: NodeCounts, stamp: Time) -> DiagnosticArray:
        """The /diagnostics message of one period, stamped `stamp`."""
        extra = {
            "dropped_frames": str(node.dropped_frames),
            "instances": str(node.instances),
            "stream_resets": str(node.stream_resets),
            "rss_mb": f"{node.rss_bytes / 2**20:.0f}",
        }
        array = DiagnosticArray(status=self.statuses(report, extra))
        array.header.stamp = stamp
        return array

    def statuses(self, report: StatsReport, extra: Mapping[str, str]) -> list[DiagnosticStatus]:
        """The input and engine statuses; `extra` adds node values (drops, instances, memory)."""
        summary = self.input.summary()
        level, message = input_level(summary, self._settings, self._topic)
        input_values = {
            "topic": self._topic,
            "input_rate_hz": f"{summary.rate_hz:.2f}",
            "publisher_rate_hz": f"{summary.publisher_rate_hz:.2f}",
            "frames_lost": str(summary.lost),
            "loss_percent": f"{summary.loss * 100:.1f}",
            "seconds_since_last_frame": f"{summary.silent_s:.1f}",
            "window_s": f"{self._settings.window_s:g}",
        }
        processed, refused, errors = self._engine.add(report)
        engine = engine_level(processed, refused, errors, self._settings.window_s, report)
        engine_values = {
            "input_rate_hz": f"{report.input_rate_hz:.2f}",
            "processed_rate_hz": f"{report.processed_rate_hz:.2f}",
            **extra,
            "frames_received": str(report.frames_in),
            "frames_processed": str(report.frames_processed),
            "frames_refused": str(report.frames_refused),
            "errors": str(report.errors),
            "latency_ms_p50": f"{report.latency_ms_p50:.1f}",
            "latency_ms_p95": f"{report.latency_ms_p95:.1f}",
            "stamp_age_ms_p50": f"{report.age_ms_p50:.1f}",
            "stamp_age_ms_p95": f"{report.age_ms_p95:.1f}",
            "engine_ms_p50": f"{report.engine_ms_p50:.1f}",
        }
        return [
            _status(self._names[0], self._topic, (level, message), input_values),
            _status(self._names[1], self._hardware_id, engine, engine_values),
        ]


def _status(
    name: str, hardware_id: str, level: tuple[bytes, str], values: Mapping[str, str]
) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=level[0],
        name=name,
        message=level[1],
        hardware_id=hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in values.items()],
    )
