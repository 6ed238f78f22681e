"""The QoS of camera image topics, built in one place from the node's two QoS parameters.

Why: the subscriptions of pixret_node (Image and CompressedImage) must match what cameras
publish (sensor-data QoS is best_effort), and the choice is a parameter (params.RELIABILITIES).
"""

from __future__ import annotations

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

_RELIABILITY = {
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
}


def image_qos(reliability: str, depth: int) -> QoSProfile:
    """Keep-last `depth` with `reliability` ("best_effort" or "reliable")."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=_RELIABILITY[reliability]
    )
