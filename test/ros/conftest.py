"""Fixtures that start pixret_node (separate process, real DDS) and the test's ROS peer.

For other test folders: `shared_node` (one node for the session, 'astronaut' and 'camera'
registered, on /shared/image), `start_node(gallery=None, namespace=None, wait=True, **params)`
(nodes of one test, each in its own namespace unless given, so they never hear the shared
node's frames; stopped by SIGINT and checked for exit status 0), `ros_peer` (publish frames, listen,
call services), `scene` (photo frames with exact true masks). Helpers live in node_harness.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from node_harness import NodeProcess, RosPeer, Scene, StartNode, launch_node, make_scene


@pytest.fixture(scope="session")
def scene() -> Scene:
    return make_scene()


@pytest.fixture(scope="session")
def ros_peer() -> Iterator[RosPeer]:
    peer = RosPeer()
    yield peer
    peer.close()


@pytest.fixture
def start_node(ros_peer: RosPeer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartNode]:
    """Start pixret_node processes for one test; each is stopped (and checked) afterwards."""
    started: list[NodeProcess] = []

    def start(
        gallery: Path | None = None,
        *,
        namespace: str | None = None,
        wait: bool = True,
        **params: Any,
    ) -> NodeProcess:
        folder = tmp_path_factory.mktemp("node")
        if namespace is None:
            namespace = f"/test_{os.getpid()}_{len(started)}"
        node = launch_node(
            gallery or folder / "gallery", folder / "node.log", namespace=namespace, params=params
        )
        started.append(node)
        if wait:
            ros_peer.wait_ready(node)
        return node

    yield start
    for node in started:
        status = node.stop()
        assert status == 0, f"{node.name} exited with {status}:\n{node.log_text()}"


@pytest.fixture(scope="session")
def shared_node(
    ros_peer: RosPeer, scene: Scene, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    """One pixret_node for the tests that can share it, with 'astronaut' and 'camera' registered.

    Tests that register more must remove it again. Stopped with SIGINT at the end of the
    session, which must give exit status 0.
    """
    folder = tmp_path_factory.mktemp("shared_node")
    # Its own namespace: a node in the root would answer whatever another test (or the demo's
    # live path, in the same ROS domain) sends to /image, and take its service names.
    node = launch_node(folder / "gallery", folder / "node.log", namespace="/shared")
    try:
        ros_peer.wait_ready(node)
        for name in ("astronaut", "camera"):
            answer = ros_peer.register(node.name, name, [scene.views[name]])
            assert answer.success, answer.message
        yield node
    finally:
        status = node.stop()
    assert status == 0, f"pixret_node exited with {status}:\n{node.log_text()}"
    assert "Traceback" not in node.log_text(), node.log_text()
