"""auto_enroll on a real node over DDS: a tracked instance's view is added to the gallery folder.

The engine side (which samples are novel enough) is tested in test/engine; here the node's
part: it writes the engine's proposals into the gallery (atomically, bounded by
auto_enroll_views), says so in its log, and keeps serving frames.
"""

from __future__ import annotations

import time

import pytest
from node_harness import RosPeer, Scene, StartNode, wait_for

from pixret_ros.engine import Gallery

pytestmark = pytest.mark.dds

POSE = (320.0, 240.0, 0.9, 0.0)  # astronaut in the middle of the frame


def test_node_adds_a_tracked_view_to_the_gallery(
    ros_peer: RosPeer, start_node: StartNode, scene: Scene
) -> None:
    # Novelty 0: every sample the stream memory keeps is novel enough, so the first verified
    # frame is enrolled; auto_enroll_views 2 then stops it (the registered view counts).
    node = start_node(
        **{
            "engine.auto_enroll": True,
            "engine.auto_enroll_novelty": 0.0,
            "engine.auto_enroll_views": 2,
            "engine.memory_every": 1,
        }
    )
    answer = ros_peer.register(node.name, "astronaut", [scene.views["astronaut"]])
    assert answer.success, answer.message
    gallery = Gallery(node.gallery)
    frame, _ = scene.frame({"astronaut": POSE})

    def enrolled() -> bool:
        ros_peer.publish_frame(frame, node.image_topic)
        gallery.refresh()
        return gallery.num_views("astronaut") == 2

    assert wait_for(enrolled, 90.0, period=0.2), node.log_text()
    received = ros_peer.listen(node.name)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # more verified frames: the limit holds
        ros_peer.publish_frame(frame, node.image_topic)
        time.sleep(0.1)
    gallery.refresh()
    assert gallery.num_views("astronaut") == 2
    with received.lock:  # still found, now with two views (the sync reloaded the gallery)
        names = {det.name for _, msg in received.detections for det in msg.detections}
    assert "astronaut" in names, node.log_text()
    log = node.log_text()
    assert "auto_enroll: added a view of 'astronaut' (now 2 views)" in log, log
    assert node.alive()
