"""Stream state resets: the time-jump / size rule alone, then a real node over DDS."""

from __future__ import annotations

import time

import cv2
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from node_harness import RosPeer, Scene, StartNode, wait_for
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from pixret_ros.ros.convert import to_image_msg
from pixret_ros.ros.stream_reset import StreamResetRule

S = 1_000_000_000
VGA = (640, 480)


def test_a_continuous_stream_never_resets() -> None:
    rule = StreamResetRule()
    for i in range(100):
        assert rule.check(1000 * S + i * S // 30, VGA, 1.0) is None
    assert rule.check(1000 * S + 100 * S // 30, VGA, 1.0) is None
    assert rule.check(1000 * S + 100 * S // 30, VGA, 1.0) is None  # the same stamp again


def test_unstamped_frames_never_reset() -> None:
    rule = StreamResetRule()
    assert all(rule.check(0, VGA, 1.0) is None for _ in range(5))


def test_stamp_going_backwards_resets() -> None:
    rule = StreamResetRule()
    rule.check(100 * S, VGA, 1.0)
    reason = rule.check(90 * S, VGA, 1.0)
    assert reason is not None
    assert "went back 10.000 s" in reason
    assert rule.check(90 * S + S // 30, VGA, 1.0) is None  # the new stream goes on


def test_a_gap_above_the_limit_resets_and_zero_turns_the_gap_rule_off() -> None:
    rule = StreamResetRule()
    rule.check(100 * S, VGA, 1.0)
    assert rule.check(100 * S + 900_000_000, VGA, 1.0) is None
    reason = rule.check(102 * S, VGA, 1.0)
    assert reason is not None
    assert "stream_gap_reset=1" in reason
    assert rule.check(500 * S, VGA, 0.0) is None
    assert rule.check(400 * S, VGA, 0.0) is not None  # backwards still resets


def test_a_new_frame_size_resets() -> None:
    rule = StreamResetRule()
    rule.check(100 * S, VGA, 1.0)
    reason = rule.check(100 * S + S // 30, (320, 240), 1.0)
    assert reason == "frame size changed from 640x480 to 320x240"


@pytest.mark.dds
def test_node_resets_on_time_jumps_size_changes_and_the_service(
    ros_peer: RosPeer, start_node: StartNode, scene: Scene
) -> None:
    """A real node counts a reset for each jump back, gap, new size and ~/reset_tracks call."""
    node = start_node(diagnostics_period=0.2)
    received = ros_peer.listen(node.name)
    resets: list[int] = []

    def keep(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id == node.name:
                values = {kv.key: kv.value for kv in status.values}
                if "stream_resets" in values:
                    resets.append(int(values["stream_resets"]))

    ros_peer.node.create_subscription(DiagnosticArray, "/diagnostics", keep, 10)
    publisher = ros_peer.publisher(Image, node.image_topic)
    small = cv2.resize(scene.background, (320, 240), interpolation=cv2.INTER_AREA)

    def send(frame: object, stamp_ns: int) -> None:
        """Publish until the node processed this frame (one at a time: none is dropped)."""
        msg = to_image_msg(frame, "rgb8")  # type: ignore[arg-type]
        msg.header.stamp = Time(sec=stamp_ns // S, nanosec=stamp_ns % S)

        def processed() -> bool:
            publisher.publish(msg)
            return received.for_stamp((msg.header.stamp.sec, msg.header.stamp.nanosec)) is not None

        assert wait_for(processed, 60.0, period=0.5), node.log_text()

    def count_becomes(expected: int) -> None:
        assert wait_for(lambda: bool(resets) and resets[-1] == expected, 10.0), (
            resets[-5:],
            node.log_text(),
        )

    start = 1_700_000_000 * S
    send(scene.background, start)
    send(scene.background, start + S // 10)
    count_becomes(0)
    send(scene.background, start + S // 20)  # back 50 ms: a bag loop
    count_becomes(1)
    send(small, start + S // 10)  # another size
    count_becomes(2)
    send(small, start + 3 * S)  # 2.9 s later: more than stream_gap_reset=1.0
    count_becomes(3)
    answer = ros_peer.call(Trigger, f"{node.name}/reset_tracks", Trigger.Request())
    assert answer.success, answer.message
    count_becomes(4)
    time.sleep(0.5)
    assert resets[-1] == 4
    log = node.log_text()
    assert "stream state reset: header stamp went back 0.050 s" in log
