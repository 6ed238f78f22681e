"""A separate ROS 2 process for the DDS exchange test: publishes detections, serves registration.

It answers RegisterInstance with the size and a checksum of every image it received, so the
test can tell that a 640x480 image crossed the process boundary intact.
"""

from __future__ import annotations

import hashlib
import sys

from peer_main import run_peer
from rclpy.node import Node

from pixret_ros.msg import InstanceDetection, InstanceDetectionArray
from pixret_ros.srv import RegisterInstance


class InterfacePeer(Node):
    """Publishes one known detection array at 20 Hz and echoes registrations."""

    def __init__(self) -> None:
        super().__init__("interface_peer")
        self._publisher = self.create_publisher(InstanceDetectionArray, "peer/detections", 10)
        self.create_service(RegisterInstance, "peer/register_instance", self._register)
        self.create_timer(0.05, self._publish)
        self._count = 0

    def _publish(self) -> None:
        self._count += 1
        msg = InstanceDetectionArray()
        msg.header.frame_id = "peer_camera"
        msg.header.stamp.sec = self._count
        msg.detections = [InstanceDetection(name="peer_object", score=0.5, label=1, inliers=7)]
        self._publisher.publish(msg)

    def _register(
        self, request: RegisterInstance.Request, response: RegisterInstance.Response
    ) -> RegisterInstance.Response:
        digests = [
            f"{im.width}x{im.height}:{im.encoding}:{hashlib.sha256(bytes(im.data)).hexdigest()}"
            for im in request.images
        ]
        response.success = True
        response.num_views = len(request.images)
        response.message = f"{request.name};" + ";".join(digests)
        return response


def main() -> int:
    """Spin until SIGINT, then shut down cleanly (exit status 0)."""
    return run_peer(InterfacePeer, "peer ready")


if __name__ == "__main__":
    sys.exit(main())
