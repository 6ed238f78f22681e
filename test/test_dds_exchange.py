"""Two real processes talk over Fast DDS with the package's own interfaces."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image

from pixret_ros.msg import InstanceDetectionArray
from pixret_ros.srv import RegisterInstance

PEER = Path(__file__).with_name("peers") / "interface_peer.py"

pytestmark = pytest.mark.dds


@pytest.fixture
def peer() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, str(PEER)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def node() -> Iterator[Node]:
    context = rclpy.Context()
    rclpy.init(context=context)
    test_node = rclpy.create_node("dds_exchange_test", context=context)
    yield test_node
    test_node.destroy_node()
    rclpy.try_shutdown(context=context)


def _photo_640x480() -> np.ndarray:
    from skimage import data, transform

    resized = transform.resize(data.coffee(), (480, 640), anti_aliasing=True)
    return np.asarray(resized * 255, dtype=np.uint8)


def _spin_until(node: Node, done: object, timeout: float) -> None:
    executor = rclpy.executors.SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        executor.spin_once(timeout_sec=0.05)
    executor.remove_node(node)


def test_detections_and_registration_cross_processes(
    peer: subprocess.Popen[str], node: Node
) -> None:
    received: list[InstanceDetectionArray] = []
    node.create_subscription(InstanceDetectionArray, "peer/detections", received.append, 10)
    _spin_until(node, lambda: len(received) >= 3, timeout=20.0)
    assert len(received) >= 3, "no detections arrived from the peer process over DDS"
    assert received[-1].header.frame_id == "peer_camera"
    assert received[-1].detections[0].name == "peer_object"
    assert received[-1].detections[0].inliers == 7

    rgb = _photo_640x480()
    image = Image(height=480, width=640, encoding="rgb8", step=640 * 3)
    image.data = rgb.tobytes()
    client = node.create_client(RegisterInstance, "peer/register_instance")
    assert client.wait_for_service(timeout_sec=10.0)
    future = client.call_async(RegisterInstance.Request(name="coffee", images=[image]))
    _spin_until(node, future.done, timeout=10.0)
    response = future.result()
    assert response is not None
    assert response.success
    assert response.num_views == 1
    expected = f"coffee;640x480:rgb8:{hashlib.sha256(rgb.tobytes()).hexdigest()}"
    assert response.message == expected

    peer.send_signal(signal.SIGINT)
    output, _ = peer.communicate(timeout=15)
    assert peer.returncode == 0, output
