"""pixret_node as a managed node: its lifecycle driven over DDS through lifecycle_msgs services.

A real node process started with autostart:=false, the test's peer calling ~/get_state and
~/change_state as `ros2 lifecycle set` does, real frames of the photo scenes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions, GetState
from node_harness import START_TIMEOUT, NodeProcess, Received, RosPeer, Scene, StartNode, wait_for

pytestmark = pytest.mark.dds

POSE = (320.0, 240.0, 0.9, 0.0)  # astronaut in the middle of the frame


def _state(peer: RosPeer, node: NodeProcess) -> str:
    answer = peer.call(GetState, f"{node.name}/get_state", GetState.Request(), START_TIMEOUT)
    return str(answer.current_state.label)


def _change(peer: RosPeer, node: NodeProcess, transition: int) -> bool:
    request = ChangeState.Request(transition=Transition(id=transition))
    return bool(peer.call(ChangeState, f"{node.name}/change_state", request, 60.0).success)


def _frames_for(peer: RosPeer, node: NodeProcess, scene: Scene, seconds: float) -> None:
    """Publish the astronaut scene at about 10 Hz for `seconds`."""
    frame, _ = scene.frame({"astronaut": POSE})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peer.publish_frame(frame, node.image_topic)
        time.sleep(0.1)


def _found(received: Received) -> bool:
    with received.lock:
        return any(
            det.name == "astronaut" for _, msg in received.detections for det in msg.detections
        )


def test_lifecycle_transitions_over_dds(
    ros_peer: RosPeer, start_node: StartNode, scene: Scene
) -> None:
    node = start_node(wait=False, autostart=False)
    assert _state(ros_peer, node) == "unconfigured"
    transitions = ros_peer.call(
        GetAvailableTransitions,
        f"{node.name}/get_available_transitions",
        GetAvailableTransitions.Request(),
    )
    labels = {t.transition.label for t in transitions.available_transitions}
    assert "configure" in labels
    # What `ros2 lifecycle nodes` looks for: a node serving lifecycle_msgs/srv/GetState.
    services = dict(ros_peer.node.get_service_names_and_types())
    assert services[f"{node.name}/get_state"] == ["lifecycle_msgs/srv/GetState"]
    assert services[f"{node.name}/change_state"] == ["lifecycle_msgs/srv/ChangeState"]

    assert _change(ros_peer, node, Transition.TRANSITION_CONFIGURE), node.log_text()
    assert _state(ros_peer, node) == "inactive"
    # Inactive: the gallery services answer (they touch no camera topic), frames are ignored.
    answer = ros_peer.register(node.name, "astronaut", [scene.views["astronaut"]])
    assert answer.success, answer.message
    received = ros_peer.listen(node.name)
    _frames_for(ros_peer, node, scene, 2.0)
    assert not received.detections, "an inactive node published detections"

    assert _change(ros_peer, node, Transition.TRANSITION_ACTIVATE), node.log_text()
    assert _state(ros_peer, node) == "active"
    frame, _ = scene.frame({"astronaut": POSE})

    def published() -> bool:
        ros_peer.publish_frame(frame, node.image_topic)
        return _found(received)

    assert wait_for(published, 60.0, period=0.3), f"no detection while active:\n{node.log_text()}"

    assert _change(ros_peer, node, Transition.TRANSITION_DEACTIVATE)
    assert _state(ros_peer, node) == "inactive"
    time.sleep(1.0)  # results of a frame in flight at the transition may still arrive
    with received.lock:
        count = len(received.detections)
    _frames_for(ros_peer, node, scene, 2.0)
    assert len(received.detections) == count, "a deactivated node still published"

    assert _change(ros_peer, node, Transition.TRANSITION_CLEANUP)
    assert _state(ros_peer, node) == "unconfigured"
    assert _change(ros_peer, node, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
    assert _state(ros_peer, node) == "finalized"
    assert node.alive()
    assert "Traceback" not in node.log_text(), node.log_text()


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"gallery_path": "FILE"}, "gallery.txt"),
        ({"qos_reliability": "sometimes"}, "qos_reliability='sometimes' is not one of"),
    ],
)
def test_failed_configure_says_why_and_the_node_stays_up(
    ros_peer: RosPeer, start_node: StartNode, tmp_path: Path, params: dict[str, Any], reason: str
) -> None:
    if params.get("gallery_path") == "FILE":
        not_a_folder = tmp_path / "gallery.txt"
        not_a_folder.write_text("not a gallery")
        params = {**params, "gallery_path": str(not_a_folder)}
    gallery = Path(params.pop("gallery_path", tmp_path / "gallery"))
    node = start_node(gallery, wait=False, autostart=False, **params)
    assert _state(ros_peer, node) == "unconfigured"
    assert not _change(ros_peer, node, Transition.TRANSITION_CONFIGURE)
    assert _state(ros_peer, node) == "unconfigured"
    assert node.alive()
    log = node.log_text()
    assert "configure failed" in log, log
    assert reason in log, log
    assert "Traceback" not in log, log


def test_a_node_without_the_person_model_says_so_and_runs(
    start_node: StartNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child process inherits the environment: the engine then finds no person model and
    # says so once, in the node's output (as the gallery's warnings do).
    monkeypatch.setenv("PIXRET_PERSON_MODEL", str(tmp_path / "absent.tflite"))
    node = start_node(tmp_path / "gallery")
    log = node.log_text()
    assert log.count("person segmenter's model is not installed") == 1, log
    assert "person_prior" in log, log
    assert "install_person_model.py" in log, log
    assert "Traceback" not in log, log
    assert node.alive()
