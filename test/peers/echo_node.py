"""A separate ROS 2 process that answers every frame the way pixret_node does, without vision.

For the player/recorder tests: it subscribes `image` with sensor-data QoS, and for each frame
publishes `~/detections` (header copied, one detection "bright" with the box of the pixels
brighter than 128) and `~/mask` (mono16, label 1 on those pixels), then prints the stamp and
the sha256 of both serialized messages, so the test can check that the recorder stored
exactly these bytes.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import numpy.typing as npt
from peer_main import run_peer
from rclpy.node import Node
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image

from pixret_ros.msg import InstanceDetection, InstanceDetectionArray


def bright_labels(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint16]:
    """The label image the echo node publishes for an RGB frame (the test recomputes it)."""
    grey = rgb.astype(np.uint16).sum(axis=2) // 3
    return np.asarray(grey > 128, dtype=np.uint16)


class EchoNode(Node):
    """Answers each frame on ~/detections and ~/mask, as the real node's interface does."""

    def __init__(self) -> None:
        super().__init__("echo_node")
        self._detections = self.create_publisher(InstanceDetectionArray, "~/detections", 10)
        self._mask = self.create_publisher(Image, "~/mask", 5)
        # Reliable: in lockstep every frame must arrive, also on a loaded machine (a best-effort
        # subscription lost one of 8 frames under load on a fresh-clone run).
        self.create_subscription(Image, "image", self._on_frame, 10)

    def _on_frame(self, msg: Image) -> None:
        rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
        labels = bright_labels(rgb)
        rows, cols = np.nonzero(labels)
        det = InstanceDetection(name="bright", score=float(labels.mean()), label=1, inliers=3)
        if rows.size:
            det.x_offset, det.y_offset = int(cols.min()), int(rows.min())
            det.width, det.height = (
                int(cols.max() - cols.min() + 1),
                int(rows.max() - rows.min() + 1),
            )
        array = InstanceDetectionArray(header=msg.header, detections=[det])
        mask = Image(header=msg.header, height=msg.height, width=msg.width, encoding="mono16")
        mask.step = 2 * msg.width
        mask.data = labels.astype("<u2").tobytes()
        self._mask.publish(mask)
        self._detections.publish(array)
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        digests = [hashlib.sha256(serialize_message(m)).hexdigest() for m in (array, mask)]
        print(f"answered {stamp} {digests[0]} {digests[1]}", flush=True)


def main() -> int:
    """Spin until SIGINT, then shut down cleanly (exit status 0)."""
    return run_peer(EchoNode, "echo ready")


if __name__ == "__main__":
    sys.exit(main())
