"""pixret_node exits cleanly on SIGINT (Ctrl-C) and SIGTERM (launch, systemd, docker stop).

Real node processes over DDS, stopped while frames stream (so mostly mid-frame), also by a
second signal during the teardown (`ros2 launch` follows SIGINT with SIGTERM; a second Ctrl-C)
and during the start-up imports: exit status 0, no traceback, the engine thread stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from node_harness import NodeProcess, Received, RosPeer, Scene, launch_node, wait_for

pytestmark = pytest.mark.dds

INT, TERM = signal.SIGINT, signal.SIGTERM
# Per node: the signals sent while frames stream, the second one this many seconds later.
STOPS = ((INT,), (TERM,), (INT, INT), (INT, TERM), (TERM, INT))
SECOND_AFTER = (0.0, 0.0, 0.02, 0.1, 0.05)


@pytest.fixture
def nodes(ros_peer: RosPeer, tmp_path: Path) -> Iterator[list[NodeProcess]]:
    """One node per signal, started together (start-up is the slow part), each streamed to."""
    started = [
        launch_node(
            tmp_path / f"gallery{i}",
            tmp_path / f"node{i}.log",
            namespace=f"/shutdown_{os.getpid()}_{i}",
        )
        for i in range(len(STOPS))
    ]
    try:
        for node in started:
            ros_peer.wait_ready(node)
        yield started
    finally:
        for node in started:
            if node.alive():
                node.process.kill()
                node.process.wait()


def test_sigint_and_sigterm_mid_frame_exit_cleanly(
    ros_peer: RosPeer, scene: Scene, nodes: list[NodeProcess]
) -> None:
    listening = [ros_peer.listen(node.name) for node in nodes]
    streaming = threading.Event()
    streaming.set()

    def stream() -> None:
        while streaming.is_set():
            for node in nodes:
                if node.alive():
                    ros_peer.publish_frame(scene.background, node.image_topic)
            time.sleep(0.05)

    feeder = threading.Thread(target=stream, daemon=True)
    feeder.start()
    try:
        for node, received in zip(nodes, listening, strict=True):
            assert wait_for(partial(_has_detections, received), 60.0), node.log_text()
        for i, (node, sigs) in enumerate(zip(nodes, STOPS, strict=True)):
            time.sleep(0.03 * i)  # land at different points of a frame
            node.process.send_signal(sigs[0])
        time.sleep(0.02)
        for node, sigs, after in zip(nodes, STOPS, SECOND_AFTER, strict=True):
            if len(sigs) > 1:
                time.sleep(after)
                node.process.send_signal(sigs[1])
        for node, sigs in zip(nodes, STOPS, strict=True):
            _assert_clean_exit(node, "+".join(sig.name for sig in sigs))
    finally:
        streaming.clear()
        feeder.join(5.0)


def _catches(pid: int, signals: tuple[signal.Signals, ...]) -> bool:
    """Whether process `pid` runs the node's module and handles all `signals` (Linux /proc).

    Before its exec the child still shows the test process's handlers: hence the cmdline.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if b"pixret_ros.ros.node_process" not in cmdline:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    mask = int(caught.split()[1], 16)
    return all(mask >> (sig - 1) & 1 for sig in signals)


def _has_detections(received: Received) -> bool:
    return bool(received.detections)


def _assert_clean_exit(node: NodeProcess, what: str) -> None:
    try:
        status = node.process.wait(30.0)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{node.name} ignored {what} for 30 s:\n{node.log_text()}")
    log = node.log_text()
    assert status == 0, f"{what}: exit status {status}:\n{log}"
    assert "Traceback" not in log, f"{what}:\n{log}"
    assert "engine thread still busy" not in log, f"{what}:\n{log}"


@pytest.mark.parametrize(
    ("sig", "after"), [(INT, 0.0), (TERM, 0.0), (TERM, 0.5)], ids=["INT", "TERM", "TERM-later"]
)
def test_a_signal_during_the_start_up_imports_exits_cleanly(
    tmp_path: Path, sig: signal.Signals, after: float
) -> None:
    """Torch takes seconds to import: SIGTERM's default action would kill (status -15), SIGINT
    would print a KeyboardInterrupt traceback."""
    node = launch_node(tmp_path / "gallery", tmp_path / "node.log", namespace="/shutdown_early")
    try:
        # Once the process catches both signals (its first act), while it imports for seconds.
        caught = partial(_catches, node.process.pid, (INT, TERM))
        assert wait_for(caught, 30.0), node.log_text()
        time.sleep(after)  # 0.5 s: into torch's import (a raise there would abort: -6)
        assert node.alive(), node.log_text()
        node.process.send_signal(sig)
        _assert_clean_exit(node, sig.name)
    finally:
        if node.alive():
            node.process.kill()
            node.process.wait()
