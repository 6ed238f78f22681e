"""Two cameras, two pixret_node processes, one gallery folder (DESIGN section 3).

A registration made through one node reaches the other through the folder (its sync
timer); the first node also reads jpeg CompressedImage frames.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from node_harness import NodeProcess, Received, RosPeer, Scene, StartNode

from pixret_ros.ros.convert import rgb_to_compressed, to_image_msg

pytestmark = pytest.mark.dds


def _names_seen(
    peer: RosPeer, received: Received, msg: Any, topic: str, *, want: bool, timeout: float = 30.0
) -> bool:
    """Publish `msg` at 10 Hz until the answers to frames sent from now on show 'coins'
    (want=True) or, for two frames in a row, no longer show it (want=False)."""
    first = peer.publish_msg(msg, topic)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        peer.publish_msg(msg, topic)
        with received.lock:
            answers = [
                "coins" in {d.name for d in m.detections}
                for _, m in received.detections
                if (m.header.stamp.sec, m.header.stamp.nanosec) >= first
            ]
        if (want and any(answers)) or (not want and answers[-2:] == [False, False]):
            return True
    return False


def test_registration_reaches_every_camera_and_compressed_input_works(
    ros_peer: RosPeer, start_node: StartNode, scene: Scene, tmp_path: Path
) -> None:
    gallery = tmp_path / "shared_gallery"
    cam_a = start_node(gallery, namespace="cam_a", wait=False, compressed_input=True)
    cam_b = start_node(gallery, namespace="cam_b", wait=False, sync_period=0.5)
    for node in (cam_a, cam_b):
        ros_peer.wait_ready(node)
    heard_a, heard_b = ros_peer.listen(cam_a.name), ros_peer.listen(cam_b.name)
    frame, _ = scene.frame({"coins": (320.0, 240.0, 0.9, 15.0)})
    jpeg = rgb_to_compressed(frame, "jpeg", quality=92)
    raw = to_image_msg(frame, "rgb8")
    jpeg_topic = f"{cam_a.image_topic}/compressed"

    answer = ros_peer.register(cam_a.name, "coins", [scene.views["coins"]])
    assert answer.success, answer.message
    registered = time.monotonic()
    assert _names_seen(ros_peer, heard_b, raw, cam_b.image_topic, want=True), (
        "cam_b never detected the instance registered through cam_a"
    )
    print(f"cam_b picked up cam_a's registration after {time.monotonic() - registered:.1f} s")
    assert ros_peer.list(cam_b.name) == {"coins": 1}
    assert _names_seen(ros_peer, heard_a, jpeg, jpeg_topic, want=True), (
        "cam_a found nothing in jpeg frames"
    )

    answer = ros_peer.remove(cam_b.name, "coins")
    assert answer.success, answer.message
    assert _names_seen(ros_peer, heard_a, jpeg, jpeg_topic, want=False), (
        "cam_a kept detecting an instance removed through cam_b"
    )
    for node in (cam_a, cam_b):
        assert node.alive()
    _assert_frames_went_to_their_own_node(cam_a, cam_b)


def _assert_frames_went_to_their_own_node(cam_a: NodeProcess, cam_b: NodeProcess) -> None:
    assert cam_a.name == "/cam_a/pixret_node"
    assert cam_b.image_topic == "/cam_b/image"
