"""RViz markers of one frame's detections: a box outline and a "name score" label each.

Coordinates are the image's pixels, on the camera's frame_id (the input header's): x =
column, y = row, z = 0, 1 unit = 1 pixel. Those are the axes of a camera optical frame (x
right, y down), so in RViz, with the camera's frame as fixed frame and a top-down view, the
boxes lie where ~/debug_image draws them. Pixels, not metres, because the node knows no
camera model; a user with one can project them. Each array starts with DELETEALL, so boxes
of earlier frames vanish when an instance leaves the view.
"""

from __future__ import annotations

from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from pixret_ros.engine.render import label_colour
from pixret_ros.msg import InstanceDetectionArray

BOX_NAMESPACE = "pixret_boxes"
LABEL_NAMESPACE = "pixret_labels"
LINE_WIDTH = 2.0  # pixels, as the overlay's rectangles
TEXT_HEIGHT = 16.0  # pixels


def _colour(label: int) -> ColorRGBA:
    r, g, b = label_colour(label)
    return ColorRGBA(r=r / 255, g=g / 255, b=b / 255, a=1.0)


def markers_for(array: InstanceDetectionArray) -> MarkerArray:
    """DELETEALL, then per detection a closed LINE_STRIP box and a TEXT_VIEW_FACING label.

    Marker ids are the detections' `label` values (namespaces tell box from text), so a
    marker matches the detection and the mask pixels with the same label.
    """
    markers = [Marker(header=array.header, action=Marker.DELETEALL)]
    for det in array.detections:
        x0, y0 = float(det.x_offset), float(det.y_offset)
        x1, y1 = x0 + det.width, y0 + det.height
        box = Marker(header=array.header, ns=BOX_NAMESPACE, id=int(det.label))
        box.type, box.action = Marker.LINE_STRIP, Marker.ADD
        box.pose.orientation.w = 1.0
        box.scale.x = LINE_WIDTH
        box.color = _colour(det.label)
        corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
        box.points = [Point(x=x, y=y, z=0.0) for x, y in corners]
        text = Marker(header=array.header, ns=LABEL_NAMESPACE, id=int(det.label))
        text.type, text.action = Marker.TEXT_VIEW_FACING, Marker.ADD
        text.pose.position = Point(x=x0, y=y0 - TEXT_HEIGHT, z=0.0)
        text.pose.orientation.w = 1.0
        text.scale.z = TEXT_HEIGHT
        text.color = box.color
        text.text = f"{det.name} {det.score:.2f}"
        markers += [box, text]
    return MarkerArray(markers=markers)
