"""typestore: Jazzy's types plus pixret_ros's own, found from the package's msg files."""

from __future__ import annotations

from pixret_ros.io.typestore import DETECTION, DETECTION_ARRAY, IMAGE, header_stamp_ns, typestore


def test_package_types_are_registered_beside_jazzy() -> None:
    store = typestore()
    assert {IMAGE, DETECTION, DETECTION_ARRAY} <= set(store.types)
    fields = store.types[DETECTION].__dataclass_fields__
    assert {"name", "score", "label", "homography"} <= set(fields)


def test_header_stamp_in_nanoseconds() -> None:
    types = typestore().types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=1_700_000_000, nanosec=33_000_000),
        frame_id="cam",
    )
    assert header_stamp_ns(header) == 1_700_000_000_033_000_000
