"""Diagnostics levels over a window, silence as ERROR, frames lost before the node (no DDS)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from node_harness import RosPeer, Scene, StartNode, wait_for
from sensor_msgs.msg import Image

from pixret_ros.ros.convert import to_image_msg
from pixret_ros.ros.diagnostics import (
    HealthSettings,
    NodeHealth,
    publisher_period_ns,
)
from pixret_ros.ros.stats import FrameStats

SETTINGS = HealthSettings(window_s=10.0, input_timeout_s=5.0)
PERIOD_NS = 33_333_333  # a 30 Hz camera


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stamp(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _health(settings: HealthSettings = SETTINGS) -> tuple[NodeHealth, FrameStats, Clock]:
    clock = Clock()
    health = NodeHealth("pixret_node", "/cam/pixret_node", "/cam/image", settings, clock)
    return health, FrameStats(), clock


def _statuses(health: NodeHealth, stats: FrameStats) -> dict[str, DiagnosticStatus]:
    return {s.name: s for s in health.statuses(stats.report(), {"instances": "2"})}


def _camera(health: NodeHealth, clock: Clock, seconds: float, keep: int = 1, start: int = 0) -> int:
    """A 30 Hz camera for `seconds`; every `keep`-th frame reaches the node. Returns frames sent."""
    frames = round(seconds * 30)
    for i in range(frames):
        clock.now += 1 / 30
        if (i + start) % keep == 0:
            health.arrived(_stamp(1_700_000_000 * 10**9 + (start + i) * PERIOD_NS))
    return start + frames


def test_names_follow_node_task_and_hardware_ids_are_node_and_camera() -> None:
    health, stats, _ = _health()
    statuses = _statuses(health, stats)
    assert set(statuses) == {"pixret_node: input", "pixret_node: engine"}
    assert statuses["pixret_node: engine"].hardware_id == "/cam/pixret_node"
    assert statuses["pixret_node: input"].hardware_id == "/cam/image"
    engine = {kv.key: kv.value for kv in statuses["pixret_node: engine"].values}
    assert engine["instances"] == "2"
    assert {"input_rate_hz", "processed_rate_hz", "frames_refused", "latency_ms_p50"} <= set(engine)


def test_no_frame_waits_then_errors_and_silence_after_frames_errors() -> None:
    health, stats, clock = _health()
    first = _statuses(health, stats)["pixret_node: input"]
    assert first.level == DiagnosticStatus.OK
    assert "waiting for the first frame on /cam/image" in first.message
    clock.now += 5.0
    silent = _statuses(health, stats)["pixret_node: input"]
    assert silent.level == DiagnosticStatus.ERROR
    assert "since the start" in silent.message
    _camera(health, clock, 2.0)
    assert _statuses(health, stats)["pixret_node: input"].level == DiagnosticStatus.OK
    clock.now += 4.9
    assert _statuses(health, stats)["pixret_node: input"].level == DiagnosticStatus.OK
    clock.now += 0.2
    stopped = _statuses(health, stats)["pixret_node: input"]
    assert stopped.level == DiagnosticStatus.ERROR
    assert "no frame on /cam/image for 5.1 s" in stopped.message


def test_a_bad_frame_warns_for_the_window_then_clears() -> None:
    health, stats, clock = _health()
    _camera(health, clock, 1.0)
    stats.received()
    stats.refused()
    warned = _statuses(health, stats)["pixret_node: engine"]
    assert warned.level == DiagnosticStatus.WARN
    assert "1 frame(s) refused" in warned.message
    for _ in range(9):  # still inside the 10 s window
        clock.now += 1.0
        stats.processed(latency_ms=5.0, age_ms=6.0, engine_ms=4.0)
        assert _statuses(health, stats)["pixret_node: engine"].level == DiagnosticStatus.WARN
    clock.now += 1.5
    stats.processed(latency_ms=5.0, age_ms=6.0, engine_ms=4.0)
    cleared = _statuses(health, stats)["pixret_node: engine"]
    assert cleared.level == DiagnosticStatus.OK, cleared.message
    assert "processing" in cleared.message
    refused = {kv.key: kv.value for kv in cleared.values}["frames_refused"]
    assert refused == "1"  # the counter since the start stays


def test_only_failures_in_the_window_is_an_error() -> None:
    health, stats, clock = _health()
    for _ in range(3):
        clock.now += 1.0
        stats.failed()
        status = _statuses(health, stats)["pixret_node: engine"]
        assert status.level == DiagnosticStatus.ERROR
    stats.processed(latency_ms=5.0, age_ms=6.0, engine_ms=4.0)
    assert _statuses(health, stats)["pixret_node: engine"].level == DiagnosticStatus.WARN


def test_frames_lost_before_the_node_warn_with_the_publisher_rate() -> None:
    health, stats, clock = _health()
    _camera(health, clock, 9.0, keep=5)  # 80 % lost: the 30 Hz camera at 6 Hz
    status = _statuses(health, stats)["pixret_node: input"]
    values = {kv.key: kv.value for kv in status.values}
    # every 5th frame only: the stamps alone cannot tell 30 Hz from 6 Hz (no frames back to back)
    assert float(values["publisher_rate_hz"]) == 6.0
    assert status.level == DiagnosticStatus.OK

    told, stats, clock = _health(dataclasses.replace(SETTINGS, expected_rate_hz=30.0))
    _camera(told, clock, 9.0, keep=5)
    status = _statuses(told, stats)["pixret_node: input"]
    assert status.level == DiagnosticStatus.WARN
    assert "80% of the publisher's frames lost" in status.message
    assert "fastdds_shm.xml" in status.message


def test_irregular_loss_is_seen_from_stamps_alone() -> None:
    health, stats, clock = _health()
    frames = round(9.0 * 30)
    for i in range(frames):  # a lossy transport: 3 of every 7 frames arrive, two back to back
        clock.now += 1 / 30
        if i % 7 in (0, 1, 4):
            health.arrived(_stamp(i * PERIOD_NS))
    status = _statuses(health, stats)["pixret_node: input"]
    values = {kv.key: kv.value for kv in status.values}
    assert abs(float(values["publisher_rate_hz"]) - 30.0) < 0.1
    assert status.level == DiagnosticStatus.WARN
    assert 55 < float(values["loss_percent"]) < 60  # 4 of 7 lost
    health2, stats2, clock2 = _health()
    _camera(health2, clock2, 9.0)  # nothing lost
    ok = _statuses(health2, stats2)["pixret_node: input"]
    assert ok.level == DiagnosticStatus.OK, ok.message
    assert {kv.key: kv.value for kv in ok.values}["frames_lost"] == "0"


def test_publisher_period_ignores_jitter_and_needs_increasing_stamps() -> None:
    jitter = [0, 2_000_000, -1_500_000, 1_000_000, -2_000_000, 500_000, 0, 1_200_000]
    stamps = [i * PERIOD_NS + j for i, j in enumerate(jitter)]
    assert abs(publisher_period_ns(stamps) - PERIOD_NS) < 2_500_000
    assert publisher_period_ns([0, 0, 0, 0]) != publisher_period_ns([0, 0, 0, 0])  # nan
    health, stats, clock = _health()
    for _ in range(40):  # a camera that leaves its stamps zero: rate unknown, no false warning
        clock.now += 0.05
        health.arrived(Time())
    status = _statuses(health, stats)["pixret_node: input"]
    assert status.level == DiagnosticStatus.OK
    assert {kv.key: kv.value for kv in status.values}["publisher_rate_hz"] == "nan"


def test_stamps_going_back_start_a_new_stream() -> None:
    health, stats, clock = _health()
    _camera(health, clock, 3.0, start=1000)
    _camera(health, clock, 3.0)  # a bag played again from its start
    status = _statuses(health, stats)["pixret_node: input"]
    assert status.level == DiagnosticStatus.OK, status.message
    assert {kv.key: kv.value for kv in status.values}["frames_lost"] == "0"


@pytest.mark.dds
def test_levels_over_dds_error_warn_and_clear(
    ros_peer: RosPeer, start_node: StartNode, scene: Scene
) -> None:
    """A real node: silent input ERROR, a refused frame WARN that clears, silence ERROR again."""
    node = start_node(input_timeout=1.0, diagnostics_period=0.2, diagnostics_window=2.0)
    latest: dict[str, DiagnosticStatus] = {}

    def keep(msg: DiagnosticArray) -> None:
        ours = (node.name, node.image_topic)
        latest.update({s.name: s for s in msg.status if s.hardware_id in ours})

    ros_peer.node.create_subscription(DiagnosticArray, "/diagnostics", keep, 10)

    def level(task: str) -> bytes | None:
        status = latest.get(f"pixret_node: {task}")
        return None if status is None else status.level

    assert wait_for(lambda: level("input") == DiagnosticStatus.ERROR, 10.0), latest
    assert "since the start" in latest["pixret_node: input"].message
    frame = scene.background

    def stream_until(condition: Callable[[], bool], timeout: float) -> bool:
        def publish_and_check() -> bool:
            ros_peer.publish_frame(frame, node.image_topic)
            return condition()

        return wait_for(publish_and_check, timeout, period=0.1)

    assert stream_until(lambda: level("input") == DiagnosticStatus.OK, 20.0), latest
    bayer = to_image_msg(frame[:, :, 0], "mono8")
    bayer.encoding = "nv21"

    def refused() -> bool:
        ros_peer.publish_msg(bayer, node.image_topic)
        return bool(level("engine") == DiagnosticStatus.WARN)

    assert wait_for(refused, 10.0, period=0.3), latest
    assert "refused" in latest["pixret_node: engine"].message
    warned_at = time.monotonic()
    assert stream_until(lambda: level("engine") == DiagnosticStatus.OK, 10.0), latest
    assert time.monotonic() - warned_at > 1.0  # it warned for (about) the 2 s window

    # A 30 Hz camera of which 4 of every 7 frames never reach the node (never sent here):
    # the header stamps that do arrive over DDS show the gaps.
    msg = to_image_msg(frame, "rgb8")
    publisher = ros_peer.publisher(Image, node.image_topic)
    start_ns = ros_peer.node.get_clock().now().nanoseconds
    for i in range(120):
        if i % 7 in (0, 1, 4):
            stamp_ns = start_ns + i * 33_333_333
            msg.header.stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
            publisher.publish(msg)
        time.sleep(1 / 30)
        if level("input") == DiagnosticStatus.WARN:
            break
    assert level("input") == DiagnosticStatus.WARN, latest
    assert "lost before reaching the node" in latest["pixret_node: input"].message
    assert wait_for(lambda: level("input") == DiagnosticStatus.ERROR, 5.0), latest
    assert "for 1." in latest["pixret_node: input"].message
