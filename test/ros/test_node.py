"""pixret_node as a separate process over Fast DDS: detections, masks, services, parameters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from node_harness import (
    NodeProcess,
    RosPeer,
    Scene,
    folder_hash,
    iou,
    launch_node,
    wait_for,
)
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import Image

from pixret_ros.io.image_codec import image_to_array
from pixret_ros.ros.convert import to_image_msg
from pixret_ros.srv import RegisterInstance

pytestmark = pytest.mark.dds

# Where the objects sit in the test frames: (centre x, centre y, scale, degrees).
ASTRONAUT_POSE = (220.0, 250.0, 0.8, 12.0)
CAMERA_POSE = (480.0, 230.0, 0.7, -8.0)
CAT_POSE = (470.0, 250.0, 0.8, 5.0)


def _stream_until(
    peer: RosPeer,
    topic: str,
    frame: np.ndarray,
    condition: Any,
    timeout: float,
    *,
    rate_hz: float = 10.0,
) -> bool:
    """Publish `frame` on `topic` at `rate_hz` until `condition()` holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        peer.publish_frame(frame, topic)
        if condition():
            return True
        time.sleep(1.0 / rate_hz)
    return bool(condition())


def _detections_after(received: Any, start: float) -> list[Any]:
    with received.lock:
        return [msg for t, msg in received.detections if t >= start]


def test_finds_segments_and_labels_registered_instances(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    received = ros_peer.listen(shared_node.name, masks=True)
    frame, truths = scene.frame({"astronaut": ASTRONAUT_POSE, "camera": CAMERA_POSE})
    stamps: list[tuple[int, int]] = []

    def answered() -> bool:
        return any(s in received.masks and received.for_stamp(s) is not None for s in stamps)

    deadline = time.monotonic() + 30.0
    while not answered() and time.monotonic() < deadline:
        stamps.append(ros_peer.publish_frame(frame, shared_node.image_topic))
        time.sleep(0.2)
    assert answered(), f"no detections+mask for any of {len(stamps)} frames"
    stamp = next(s for s in stamps if s in received.masks and received.for_stamp(s) is not None)
    msg = received.for_stamp(stamp)
    assert msg is not None
    assert msg.header.frame_id == "test_camera"
    mask_msg = received.masks[stamp]
    assert (mask_msg.encoding, mask_msg.width, mask_msg.height) == ("mono16", 640, 480)
    assert mask_msg.header.frame_id == "test_camera"
    labels = image_to_array(mask_msg)[:, :, 0]
    by_name = {d.name: d for d in msg.detections}
    assert set(by_name) == {"astronaut", "camera"}, [(d.name, d.score) for d in msg.detections]
    for i, det in enumerate(msg.detections):
        assert det.label == i + 1
        assert 0.5 <= det.score <= 1.0
        overlap = iou(labels == det.label, truths[det.name])
        assert overlap > 0.7, f"{det.name}: mask IoU {overlap:.2f} with the truth"
        rows, cols = np.nonzero(labels == det.label)
        box = (int(cols.min()), int(rows.min()), int(np.ptp(cols)) + 1, int(np.ptp(rows)) + 1)
        assert (det.x_offset, det.y_offset, det.width, det.height) == box


def test_frame_without_registered_objects_gives_no_detections(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    received = ros_peer.listen(shared_node.name)
    frame, _ = scene.frame({"cat": CAT_POSE})  # cat is not registered in the shared node
    stamps = [ros_peer.publish_frame(frame, shared_node.image_topic)]
    deadline = time.monotonic() + 60.0
    while sum(received.for_stamp(s) is not None for s in stamps) < 3:
        assert time.monotonic() < deadline, "fewer than 3 frames answered in 60 s"
        time.sleep(0.3)
        stamps.append(ros_peer.publish_frame(frame, shared_node.image_topic))
    answers = [m for s in stamps if (m := received.for_stamp(s)) is not None]
    assert len(answers) >= 3
    assert all(not m.detections for m in answers), [
        [(d.name, d.score) for d in m.detections] for m in answers
    ]


def test_register_and_remove_while_streaming(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    received = ros_peer.listen(shared_node.name)
    frame, _ = scene.frame({"astronaut": ASTRONAUT_POSE, "cat": CAT_POSE})

    def names_since(start: float) -> list[set[str]]:
        return [{d.name for d in m.detections} for m in _detections_after(received, start)]

    start = time.monotonic()
    assert _stream_until(
        ros_peer, shared_node.image_topic, frame, lambda: len(names_since(start)) >= 3, 20.0
    )
    assert all("cat" not in names for names in names_since(start))

    answer = ros_peer.register(shared_node.name, "cat", [scene.views["cat"]])
    assert answer.success, answer.message
    assert answer.num_views == 1
    assert "cat" in answer.message
    registered = time.monotonic()
    assert _stream_until(
        ros_peer,
        shared_node.image_topic,
        frame,
        lambda: any("cat" in n for n in names_since(registered)),
        20.0,
    ), "the registered instance never showed up in the detections"
    assert ros_peer.list(shared_node.name)["cat"] == 1

    answer = ros_peer.remove(shared_node.name, "cat")
    assert answer.success, answer.message
    removed = time.monotonic()
    assert _stream_until(
        ros_peer, shared_node.image_topic, frame, lambda: len(names_since(removed)) >= 3, 20.0
    )
    assert all("cat" not in names for names in names_since(removed)[1:])
    assert "astronaut" in names_since(removed)[-1]
    assert "cat" not in ros_peer.list(shared_node.name)


def _request(images: list[Image], masks: list[Image] | None = None, name: str = "newthing") -> Any:
    return RegisterInstance.Request(name=name, images=images, masks=masks or [], replace=False)


def test_bad_requests_are_refused_cleanly(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    photo, mask = scene.views["cat"]
    good = to_image_msg(photo, "rgb8")
    good_mask = to_image_msg(mask.astype(np.uint8) * 255, "mono8")
    unknown = to_image_msg(photo, "rgb8")
    unknown.encoding = "nv21"
    wrong = to_image_msg(photo, "rgb8")
    wrong.encoding, wrong.step = "mono8", wrong.width  # data is 3x what the header says
    small_mask = to_image_msg(mask[:-10].astype(np.uint8) * 255, "mono8")
    huge_header = Image(encoding="mono8", width=20000, height=20000, step=20000)
    huge_header.data = bytes(4096)
    cases: list[tuple[Any, str]] = [
        (_request([]), "images is empty"),
        (_request([unknown]), "nv21"),
        (_request([wrong]), "data holds"),
        (_request([good], [small_mask]), "masks[0] is 270x260 but images[0] is 270x270"),
        (_request([good, good], [good_mask]), "1 masks for 2 images"),
        (_request([huge_header]), "20000x20000"),
        (_request([good], [to_image_msg(photo, "rgb8")]), "mask encoding 'rgb8'"),
        (_request([good], name="../x"), "../x"),
        (_request([good], name=""), "''"),
        (_request([good], name="a/b"), "a/b"),
        (_request([good], name="x" * 65), "x" * 65),
    ]
    gallery = shared_node.gallery
    before = folder_hash(gallery)
    listed = ros_peer.list(shared_node.name)
    for request, expected in cases:
        answer = ros_peer.call(RegisterInstance, f"{shared_node.name}/register_instance", request)
        assert not answer.success, f"accepted a bad request ({expected})"
        assert expected in answer.message, answer.message
        assert shared_node.alive(), shared_node.log_text()
    answer = ros_peer.remove(shared_node.name, "never_registered")
    assert not answer.success
    assert "never_registered" in answer.message
    answer = ros_peer.remove(shared_node.name, "../astronaut")
    assert not answer.success
    assert ros_peer.list(shared_node.name) == listed
    assert folder_hash(gallery) == before, "a refused request changed the gallery on disk"


def test_really_large_image_is_refused(ros_peer: RosPeer, shared_node: NodeProcess) -> None:
    # 20000 x 20000 mono8 = 400 MB really sent over DDS: refused by size, node unharmed.
    big = Image(encoding="mono8", width=20000, height=20000, step=20000)
    big.data = bytes(20000 * 20000)
    before = folder_hash(shared_node.gallery)
    answer = ros_peer.call(
        RegisterInstance, f"{shared_node.name}/register_instance", _request([big]), timeout=120
    )
    del big
    assert not answer.success
    assert "max_image_pixels" in answer.message
    assert shared_node.alive()
    assert folder_hash(shared_node.gallery) == before


def _set(peer: RosPeer, node: NodeProcess, name: str, value: Any) -> Any:
    kinds = {
        bool: ("bool_value", ParameterType.PARAMETER_BOOL),
        int: ("integer_value", ParameterType.PARAMETER_INTEGER),
        float: ("double_value", ParameterType.PARAMETER_DOUBLE),
        str: ("string_value", ParameterType.PARAMETER_STRING),
    }
    field, kind = kinds[type(value)]
    param_value = ParameterValue(type=kind, **{field: value})
    request = SetParameters.Request(parameters=[Parameter(name=name, value=param_value)])
    return peer.call(SetParameters, f"{node.name}/set_parameters", request).results[0]


def test_parameters_live_and_fixed(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    for name, value in [
        ("gallery_path", "elsewhere"),
        ("qos_reliability", "reliable"),
        ("compressed_input", True),
        ("engine.working_size", 640),
    ]:
        result = _set(ros_peer, shared_node, name, value)
        assert not result.successful, name
        assert "restart" in result.reason, result.reason
    result = _set(ros_peer, shared_node, "score_threshold", 1.5)
    assert not result.successful  # out of the descriptor's range [0, 1]

    received = ros_peer.listen(shared_node.name)
    frame, _ = scene.frame({"astronaut": ASTRONAUT_POSE, "camera": CAMERA_POSE})
    assert _set(ros_peer, shared_node, "max_detections", 1).successful
    try:
        start = time.monotonic()
        assert _stream_until(
            ros_peer,
            shared_node.image_topic,
            frame,
            lambda: len(_detections_after(received, start)) >= 4,
            20.0,
        )
        counts = [len(m.detections) for m in _detections_after(received, start)[1:]]
        assert counts, "no detections after the change"
        assert max(counts) == 1, counts
    finally:
        assert _set(ros_peer, shared_node, "max_detections", 20).successful


def test_live_score_threshold_changes_what_the_next_frames_publish(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    """A `ros2 param set score_threshold` reaches the engine: its `accepted` decides.

    The engine also reports weak candidates (the camera, absent from the frame, scores about
    0.03, not accepted at 0.5); at threshold 0 the engine accepts them, so the node publishes
    them, and no longer once the threshold is back. The node is in stream mode: between full
    searches (every `redetect_every` frames) it verifies only what it found in the previous
    frame, so the first weak candidate may take up to that many frames; once accepted, it is
    verified in every frame.
    """
    received = ros_peer.listen(shared_node.name)
    frame, _ = scene.frame({"astronaut": ASTRONAUT_POSE})

    def scores_after(start: float, skip: int = 1) -> list[list[float]]:
        """Scores per message after `start`; the first may be of a frame begun before it."""
        found = _detections_after(received, start)[skip:]
        return [[float(d.score) for d in m.detections] for m in found]

    def settled(start: float) -> bool:
        return len(scores_after(start)) >= 3

    start = time.monotonic()
    assert _stream_until(ros_peer, shared_node.image_topic, frame, lambda: settled(start), 20.0)
    assert all(s >= 0.5 for scores in scores_after(start) for s in scores), scores_after(start)
    assert all(scores_after(start)), "the astronaut was not published"
    assert _set(ros_peer, shared_node, "score_threshold", 0.0).successful
    try:
        start = time.monotonic()

        def weak_published() -> bool:
            return any(s < 0.5 for scores in scores_after(start) for s in scores)

        assert _stream_until(ros_peer, shared_node.image_topic, frame, weak_published, 20.0), (
            f"threshold 0 published no weak candidate: {scores_after(start)}"
        )
        first = next(k for k, scores in enumerate(scores_after(start)) if min(scores) < 0.5)
        later = time.monotonic()
        assert _stream_until(ros_peer, shared_node.image_topic, frame, lambda: settled(later), 20.0)
        kept = scores_after(start)[first:]
        assert all(min(scores) < 0.5 for scores in kept), kept  # a sighting: verified each frame
    finally:
        assert _set(ros_peer, shared_node, "score_threshold", 0.5).successful
    start = time.monotonic()
    assert _stream_until(ros_peer, shared_node.image_topic, frame, lambda: settled(start), 20.0)
    assert all(s >= 0.5 for scores in scores_after(start) for s in scores), scores_after(start)


def test_debug_image_when_enabled_and_subscribed(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    images: list[Image] = []
    ros_peer.node.create_subscription(Image, f"{shared_node.name}/debug_image", images.append, 5)
    frame, _ = scene.frame({"astronaut": ASTRONAUT_POSE})
    assert _set(ros_peer, shared_node, "publish_debug_image", value=True).successful
    try:
        assert _stream_until(ros_peer, shared_node.image_topic, frame, lambda: bool(images), 20.0)
    finally:
        assert _set(ros_peer, shared_node, "publish_debug_image", value=False).successful
    debug = images[-1]
    assert (debug.encoding, debug.width, debug.height) == ("rgb8", 640, 480)
    overlay = image_to_array(debug)
    assert not np.array_equal(overlay, frame), "the overlay drew nothing"


def _advertised(ros_peer: RosPeer, node: NodeProcess) -> set[str]:
    """The topics `node` publishes, as the ROS graph lists them."""
    namespace, name = node.name.rsplit("/", 1)
    listed = ros_peer.node.get_publisher_names_and_types_by_node(name, namespace or "/")
    return {topic for topic, _ in listed}


def test_debug_image_advertised_only_while_enabled(
    ros_peer: RosPeer, shared_node: NodeProcess
) -> None:
    """publish_debug_image creates ~/debug_image when turned on and destroys it when off."""
    topic = f"{shared_node.name}/debug_image"

    def advertised() -> bool:
        topics = _advertised(ros_peer, shared_node)
        assert f"{shared_node.name}/detections" in topics, topics  # the node is listed
        return topic in topics and ros_peer.node.count_publishers(topic) == 1

    assert wait_for(lambda: not advertised(), 10.0), "advertised while publish_debug_image off"
    assert _set(ros_peer, shared_node, "publish_debug_image", value=True).successful
    try:
        assert wait_for(advertised, 10.0), "not advertised after publish_debug_image on"
    finally:
        assert _set(ros_peer, shared_node, "publish_debug_image", value=False).successful
    assert wait_for(lambda: not advertised(), 10.0), "still advertised after turning it off"


def _collect_diagnostics(ros_peer: RosPeer, node: NodeProcess) -> list[Any]:
    """Subscribe /diagnostics; the returned list fills with `node`'s statuses as they arrive."""
    statuses: list[Any] = []

    def keep(msg: DiagnosticArray) -> None:
        statuses.extend(s for s in msg.status if s.hardware_id == node.name)

    ros_peer.node.create_subscription(DiagnosticArray, "/diagnostics", keep, 10)
    return statuses


def test_diagnostics_report_rates_latency_and_memory(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    statuses = _collect_diagnostics(ros_peer, shared_node)
    frame, _ = scene.frame({"astronaut": ASTRONAUT_POSE})

    def busy() -> bool:
        return any(
            float({kv.key: kv.value for kv in s.values}["processed_rate_hz"]) > 0 for s in statuses
        )

    assert _stream_until(ros_peer, shared_node.image_topic, frame, busy, 20.0)
    values = {kv.key: kv.value for kv in statuses[-1].values}
    for key in (
        "input_rate_hz",
        "processed_rate_hz",
        "dropped_frames",
        "latency_ms_p50",
        "latency_ms_p95",
        "instances",
        "rss_mb",
    ):
        assert key in values, key
    assert int(values["instances"]) == len(ros_peer.list(shared_node.name))
    assert 50 < float(values["rss_mb"]) < 4000


def _refused(status: Any) -> int:
    """The node's frames_refused counter (since its start) in one diagnostics status."""
    return int({kv.key: kv.value for kv in status.values}["frames_refused"])


def test_bad_frames_are_refused_counted_and_survived(
    ros_peer: RosPeer, shared_node: NodeProcess, scene: Scene
) -> None:
    statuses = _collect_diagnostics(ros_peer, shared_node)
    assert wait_for(lambda: bool(statuses), 10.0), "the node publishes no diagnostics"
    before = _refused(statuses[-1])  # the node is shared: count from here
    log_start = len(shared_node.log_text())
    bayer = to_image_msg(scene.background[:, :, 0], "mono8")
    bayer.encoding = "nv21"
    short = to_image_msg(scene.background, "rgb8")
    short.data = bytes(short.data[:1000])  # header promises 640x480, data holds 1000 bytes
    # One kind at a time, each until the node's log names it: the node keeps only the newest
    # frame (one published right after would replace it) and logs refusals at most every 5 s.
    for msg, reason in ((bayer, "'nv21'"), (short, "data holds 1000 bytes")):

        def logged(msg: Image = msg, reason: str = reason) -> bool:
            ros_peer.publish_msg(msg, shared_node.image_topic)
            new_lines = shared_node.log_text()[log_start:].splitlines()
            return any("frame refused" in line and reason in line for line in new_lines)

        assert wait_for(logged, 30.0, period=0.3), f"no 'frame refused' log naming {reason}"
    assert wait_for(lambda: _refused(statuses[-1]) >= before + 2, 10.0), (
        "bad frames were not counted as refused"
    )
    assert statuses[-1].level == DiagnosticStatus.WARN
    assert "refused" in statuses[-1].message
    received = ros_peer.listen(shared_node.name)  # still serving good frames
    frame, _ = scene.frame({"astronaut": ASTRONAUT_POSE})
    assert _stream_until(
        ros_peer, shared_node.image_topic, frame, lambda: bool(received.detections), 30.0
    )
    assert shared_node.alive()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"qos_reliability": "sometimes"}, "qos_reliability='sometimes' is not one of"),
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"engine.working_size": 8}, "working_size"),
    ],
)
def test_bad_settings_stop_the_start_with_one_clear_line(
    tmp_path: Path, params: dict[str, Any], expected: str
) -> None:
    node = launch_node(tmp_path / "gallery", tmp_path / "node.log", namespace="/bad", params=params)
    try:
        status = node.process.wait(60)
    finally:
        if node.alive():
            node.process.kill()
    log = node.log_text()
    assert status == 1, log
    assert "pixret_node: cannot start" in log
    assert expected in log
    assert "Traceback" not in log


def test_gallery_path_that_is_a_file_stops_the_start(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "gallery.txt"
    not_a_folder.write_text("not a gallery")
    node = launch_node(not_a_folder, tmp_path / "node.log", namespace="/bad_gallery")
    status = node.process.wait(60)
    assert status == 1, node.log_text()
    assert f"{not_a_folder}" in node.log_text()
    assert "Traceback" not in node.log_text()
