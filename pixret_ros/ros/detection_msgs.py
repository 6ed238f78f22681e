"""The ~/detections message of one frame: what the engine accepted, as InstanceDetection fields.

Why a module of its own: the node, the markers and the recorded bags must agree on every
field (the label above all: the mask pixels of a detection carry the same value), so the
building lives in one place, next to nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixret_ros.engine.render import detection_label
from pixret_ros.msg import InstanceDetection, InstanceDetectionArray

if TYPE_CHECKING:
    from collections.abc import Sequence

    from std_msgs.msg import Header

    from pixret_ros.engine.types import Detection

NO_HOMOGRAPHY = [0.0] * 9  # a detection without a plane fit (e.g. a followed track)


def detection_msgs(detections: Sequence[Detection]) -> list[InstanceDetection]:
    """Messages for `detections`, in order; detection i gets render.detection_label(i)."""
    out = []
    for i, det in enumerate(detections):
        msg = InstanceDetection(name=det.name, score=float(det.score), label=detection_label(i))
        msg.x_offset, msg.y_offset = det.box.x, det.box.y
        msg.width, msg.height = det.box.width, det.box.height
        msg.inliers = int(det.inliers)
        homography = det.homography
        msg.homography = (
            NO_HOMOGRAPHY if homography is None else [float(v) for v in homography.ravel()]
        )
        out.append(msg)
    return out


def detection_array(header: Header, detections: Sequence[Detection]) -> InstanceDetectionArray:
    """The ~/detections message of one frame (its camera header, its published detections)."""
    return InstanceDetectionArray(header=header, detections=detection_msgs(detections))
