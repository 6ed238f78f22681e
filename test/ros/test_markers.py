"""markers_for: the RViz markers of one detection array (message content, no DDS)."""

from __future__ import annotations

from visualization_msgs.msg import Marker

from pixret_ros.engine.render import label_colour
from pixret_ros.msg import InstanceDetection, InstanceDetectionArray
from pixret_ros.ros.markers import BOX_NAMESPACE, LABEL_NAMESPACE, markers_for


def test_no_detections_clears_what_rviz_shows() -> None:
    array = InstanceDetectionArray()
    array.header.frame_id = "camera_optical"
    markers = markers_for(array).markers
    assert [m.action for m in markers] == [Marker.DELETEALL]
    assert markers[0].header.frame_id == "camera_optical"


def test_each_detection_gets_its_box_and_label_in_its_overlay_colour() -> None:
    array = InstanceDetectionArray(
        detections=[
            InstanceDetection(
                name="mug", score=0.91, label=1, x_offset=10, y_offset=20, width=30, height=40
            ),
            InstanceDetection(
                name="book", score=0.5, label=2, x_offset=0, y_offset=0, width=5, height=6
            ),
        ]
    )
    array.header.frame_id = "camera_optical"
    array.header.stamp.sec = 7
    markers = markers_for(array).markers
    assert len(markers) == 5
    mug_box, mug_text = markers[1], markers[2]
    assert (mug_box.ns, mug_box.id, mug_box.type) == (BOX_NAMESPACE, 1, Marker.LINE_STRIP)
    assert [(p.x, p.y, p.z) for p in mug_box.points] == [
        (10, 20, 0), (40, 20, 0), (40, 60, 0), (10, 60, 0), (10, 20, 0)
    ]  # fmt: skip
    assert (mug_text.ns, mug_text.id, mug_text.text) == (LABEL_NAMESPACE, 1, "mug 0.91")
    assert mug_box.header.stamp.sec == 7
    r, g, b = label_colour(2)
    book_box = markers[3]
    assert (book_box.color.r, book_box.color.g, book_box.color.b) == (
        r / 255, g / 255, b / 255
    )  # fmt: skip
    assert label_colour(2) != label_colour(1)
