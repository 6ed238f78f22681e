"""A 60 Hz camera flood for 30 s: the node keeps serving the newest frame with bounded memory."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
from node_harness import NodeProcess, RosPeer, Scene, StartNode, wait_for
from sensor_msgs.msg import Image

from pixret_ros.ros.convert import to_image_msg

pytestmark = pytest.mark.dds

RATE_HZ = 60.0
DURATION_S = 30.0
RSS_GROWTH_LIMIT_MB = 150.0


@dataclass
class Flood:
    """What the flood sent: frame count, the last stamp, when it ended, list_instances times."""

    sent: int
    last_stamp: tuple[int, int]
    end: float
    list_times: list[float]


def _flood(ros_peer: RosPeer, node: NodeProcess, msg: Image) -> Flood:
    """Publish `msg` at RATE_HZ for DURATION_S; call list_instances halfway through."""
    list_times: list[float] = []

    def list_midway() -> None:  # services must answer while frames pour in
        time.sleep(DURATION_S / 2)
        start = time.monotonic()
        names = ros_peer.list(node.name)
        list_times.append(time.monotonic() - start)
        assert "astronaut" in names

    lister = threading.Thread(target=list_midway)
    lister.start()
    flood_start = next_at = time.monotonic()
    sent = 0
    last_stamp = (0, 0)
    while next_at - flood_start < DURATION_S:
        last_stamp = ros_peer.publish_msg(msg, node.image_topic)
        sent += 1
        next_at += 1.0 / RATE_HZ
        time.sleep(max(0.0, next_at - time.monotonic()))
    end = time.monotonic()
    lister.join(30.0)
    return Flood(sent, last_stamp, end, list_times)


def test_flood_serves_newest_frames_with_bounded_memory(
    ros_peer: RosPeer, start_node: StartNode, scene: Scene
) -> None:
    node = start_node()
    answer = ros_peer.register(node.name, "astronaut", [scene.views["astronaut"]])
    assert answer.success, answer.message
    received = ros_peer.listen(node.name)
    frame, _ = scene.frame({"astronaut": (320.0, 240.0, 0.8, 10.0)})
    msg = to_image_msg(frame, "rgb8")

    # Warm up (first frames allocate the engine's buffers), then take the baseline.
    def warm() -> bool:
        ros_peer.publish_msg(msg, node.image_topic)
        return len(received.detections) >= 3

    assert wait_for(warm, 60.0, period=0.1), "no detections during warm-up"
    rss_before = node.rss_mb()

    first_index = len(received.detections)
    flood = _flood(ros_peer, node, msg)

    # The newest frame (the last one sent) must be processed: no stale queue in front of it.
    assert wait_for(lambda: received.for_stamp(flood.last_stamp) is not None, 30.0), (
        "the last frame of the flood never got its detections"
    )
    rss_after = node.rss_mb()
    with received.lock:
        during = received.detections[first_index:]
        ages = received.ages[first_index:]
    arrivals = [t for t, _ in during if t <= flood.end]
    pairs = [(t, a) for (t, _), a in zip(during, ages, strict=True)]
    late_ages = [a for t, a in pairs if flood.end - 10.0 <= t <= flood.end]

    assert flood.sent >= 0.9 * RATE_HZ * DURATION_S, (
        f"the test itself sent only {flood.sent} frames"
    )
    assert len(arrivals) >= 5, f"only {len(arrivals)} frames processed during the flood"
    assert len(arrivals) < flood.sent, "every frame processed: this flood did not test dropping"
    period = float(np.median(np.diff(arrivals)))
    age = float(np.median(late_ages)) if late_ages else float("inf")
    # Newest-frame processing: a result is at most ~2 processing periods old. A queue would
    # make the age grow through the flood to many seconds.
    assert age < 2.5 * period + 0.5, f"stamp age {age:.2f} s at the end, period {period:.2f} s"
    assert flood.list_times, "list_instances did not answer during the flood"
    assert flood.list_times[0] < 5.0, (
        f"list_instances took {flood.list_times[0]:.1f} s during the flood"
    )
    growth = rss_after - rss_before
    print(
        f"flood: sent {flood.sent} frames at {RATE_HZ:g} Hz, processed {len(arrivals)} "
        f"(period {period * 1e3:.0f} ms), stamp age p50 {age * 1e3:.0f} ms at the end, "
        f"RSS {rss_before:.0f} -> {rss_after:.0f} MiB"
    )
    assert growth < RSS_GROWTH_LIMIT_MB, (
        f"RSS grew {growth:.0f} MiB ({rss_before:.0f} -> {rss_after:.0f}) over {flood.sent} frames"
    )
    assert node.alive()
