"""~/register_from_camera, `pixret register-box` and ~/markers against a real pixret_node.

One node (separate process, real Fast DDS) for the module: it first has no frame, then gets
a real photo frame (the cat photo pasted on the coffee photo, its exact mask known), learns
the cat from a box on it, finds it in the next frame and draws it on ~/markers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from node_harness import (
    NodeProcess,
    RosPeer,
    Scene,
    folder_hash,
    iou,
    launch_node,
    wait_for,
)
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from sensor_msgs.msg import Image
from test_service_cli import pixret  # the `pixret` console script, found as that file finds it
from visualization_msgs.msg import Marker, MarkerArray

from pixret_ros.engine.types import Box
from pixret_ros.io.image_codec import image_to_rgb, mask_from_image
from pixret_ros.srv import RegisterFromCamera

pytestmark = pytest.mark.dds

CAT_AT = {"cat": (300.0, 250.0, 0.9, 0.0)}  # centre x, y, scale, degrees


@pytest.fixture(scope="module")
def node(ros_peer: RosPeer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    folder = tmp_path_factory.mktemp("register_camera")
    started = launch_node(
        folder / "gallery",
        folder / "node.log",
        namespace=f"/regcam_{os.getpid()}",
        params={"publish_debug_image": True},  # the overlay of what was learned
    )
    try:
        ros_peer.wait_ready(started)
        yield started
    finally:
        status = started.stop()
    assert status == 0, f"pixret_node exited with {status}:\n{started.log_text()}"
    assert "Traceback" not in started.log_text(), started.log_text()


def _request(
    name: str, box: Box | None, points: tuple[float, ...] = ()
) -> RegisterFromCamera.Request:
    request = RegisterFromCamera.Request(name=name, points=list(points))
    if box is not None:
        request.x, request.y, request.width, request.height = box.x, box.y, box.width, box.height
    return request


def _call(ros_peer: RosPeer, node: NodeProcess, request: RegisterFromCamera.Request) -> Any:
    return ros_peer.call(RegisterFromCamera, f"{node.name}/register_from_camera", request, 60.0)


def _grown(box: Box, pixels: int) -> Box:
    return Box(box.x - pixels, box.y - pixels, box.width + 2 * pixels, box.height + 2 * pixels)


def _send_frame(ros_peer: RosPeer, node: NodeProcess, frame: np.ndarray) -> tuple[int, int]:
    """Publish `frame` until the node has processed it (its detections answer that stamp)."""
    received = ros_peer.listen(node.name)
    for _ in range(5):
        stamp = ros_peer.publish_frame(frame, node.image_topic)
        if wait_for(lambda s=stamp: received.for_stamp(s) is not None, 30.0):  # type: ignore[misc]
            return stamp
    pytest.fail(f"{node.name} never processed a frame:\n{node.log_text()}")


def test_no_frame_yet_is_refused(node: NodeProcess, ros_peer: RosPeer) -> None:
    # First in this module: the node has not received any frame yet.
    before = folder_hash(node.gallery)
    answer = _call(ros_peer, node, _request("cat_cam", Box(10, 10, 50, 50)))
    assert not answer.success
    assert "no frame received yet" in answer.message
    assert folder_hash(node.gallery) == before
    assert ros_peer.list(node.name) == {}


@dataclass
class CatFrame:
    """The frame sent to the node: the cat at CAT_AT, its true mask, the user's box, stamp."""

    frame: np.ndarray
    truth: np.ndarray
    box: Box
    stamp: tuple[int, int]


@pytest.fixture(scope="module")
def cat_frame(node: NodeProcess, ros_peer: RosPeer, scene: Scene) -> CatFrame:
    frame, truths = scene.frame(CAT_AT)
    stamp = _send_frame(ros_peer, node, frame)
    return CatFrame(frame, truths["cat"], _grown(Box.of_mask(truths["cat"]), 10), stamp)


@dataclass
class Learned:
    """The answer of the registration from cat_frame and the overlays seen meanwhile."""

    answer: Any
    overlays: list[Image]


@pytest.fixture(scope="module")
def learned_cat(node: NodeProcess, ros_peer: RosPeer, cat_frame: CatFrame) -> Learned:
    overlays: list[Image] = []
    subscription = ros_peer.node.create_subscription(
        Image, f"{node.name}/debug_image", overlays.append, 5
    )
    assert wait_for(lambda: subscription.get_publisher_count() > 0, 10.0)
    answer = _call(ros_peer, node, _request("cat_cam", cat_frame.box))
    wait_for(lambda: len(overlays) > 0, 10.0)
    ros_peer.node.destroy_subscription(subscription)
    return Learned(answer, overlays)


@pytest.mark.parametrize(
    ("request_args", "words"),
    [
        (("../cat", "box"), "invalid"),
        (("cat_cam", Box(900, 10, 50, 50)), "does not overlap"),
        (("cat_cam", Box(10, 10, 0, 50)), "both > 0"),
        (("cat_cam", "box", (1.0, 2.0, 3.0)), "pairs"),
        (("cat_cam", None, (10.0, 900.0)), "outside"),
        (("cat_cam", Box(0, 0, 640, 480)), "no background"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    node: NodeProcess,
    ros_peer: RosPeer,
    cat_frame: CatFrame,
    request_args: tuple[Any, ...],
    words: str,
) -> None:
    name, box, *points = request_args
    node.gallery.mkdir(parents=True, exist_ok=True)
    before = folder_hash(node.gallery)
    request = _request(name, cat_frame.box if box == "box" else box, *points)
    answer = _call(ros_peer, node, request)
    assert not answer.success
    assert words in answer.message, answer.message
    assert folder_hash(node.gallery) == before
    assert node.alive()


def test_the_cat_is_learned_from_a_box_and_stored_as_a_view(
    node: NodeProcess, ros_peer: RosPeer, cat_frame: CatFrame, learned_cat: Learned
) -> None:
    answer = learned_cat.answer
    assert answer.success, answer.message
    assert answer.num_views == 1
    assert (answer.mask.header.stamp.sec, answer.mask.header.stamp.nanosec) == cat_frame.stamp
    learned = mask_from_image(answer.mask)
    assert learned.shape == cat_frame.truth.shape
    assert iou(learned, cat_frame.truth) >= 0.8

    folder = node.gallery / "cat_cam"
    stored = cv2.imread(str(folder / "view_000.png"))
    assert stored is not None
    view = np.ascontiguousarray(stored[:, :, ::-1])
    view_mask = _read_mask(folder / "view_000_mask.png")
    assert view_mask.sum() == learned.sum()
    found = cv2.matchTemplate(cat_frame.frame, view, cv2.TM_SQDIFF)
    best, _, (x0, y0), _ = cv2.minMaxLoc(found)
    assert best == 0  # the view is a crop of the frame, unchanged
    assert np.array_equal(view_mask, learned[y0 : y0 + view.shape[0], x0 : x0 + view.shape[1]])
    assert ros_peer.list(node.name) == {"cat_cam": 1}


def test_debug_image_shows_what_was_learned(cat_frame: CatFrame, learned_cat: Learned) -> None:
    assert learned_cat.overlays, "no overlay on ~/debug_image after the registration"
    shown = image_to_rgb(learned_cat.overlays[-1])
    learned = mask_from_image(learned_cat.answer.mask)
    assert not np.array_equal(shown[learned], cat_frame.frame[learned])  # tinted
    far = ~_dilated(learned)
    assert np.array_equal(shown[far], cat_frame.frame[far])  # untouched elsewhere


def test_markers_match_the_detections(
    node: NodeProcess, ros_peer: RosPeer, cat_frame: CatFrame, learned_cat: Learned
) -> None:
    assert learned_cat.answer.success
    markers: list[MarkerArray] = []
    ros_peer.node.create_subscription(MarkerArray, f"{node.name}/markers", markers.append, 20)
    received = ros_peer.listen(node.name)

    def cat_found() -> bool:
        stamp = ros_peer.publish_frame(cat_frame.frame, node.image_topic)
        wait_for(lambda: received.for_stamp(stamp) is not None, 10.0)
        msg = received.for_stamp(stamp)
        return msg is not None and any(d.name == "cat_cam" for d in msg.detections)

    assert wait_for(cat_found, 60.0, period=0.5), node.log_text()
    assert wait_for(lambda: any(len(a.markers) > 1 for a in markers), 10.0)
    array = next(a for a in reversed(markers) if len(a.markers) > 1)
    header = array.markers[0].header
    detections = received.for_stamp((header.stamp.sec, header.stamp.nanosec))
    assert detections is not None
    assert array.markers[0].action == Marker.DELETEALL
    boxes = [m for m in array.markers if m.ns == "pixret_boxes"]
    texts = [m for m in array.markers if m.ns == "pixret_labels"]
    assert len(boxes) == len(texts) == len(detections.detections)
    for det, box, text in zip(detections.detections, boxes, texts, strict=True):
        assert box.header.frame_id == "test_camera"
        assert box.type == Marker.LINE_STRIP
        assert box.id == det.label
        xs = [p.x for p in box.points]
        ys = [p.y for p in box.points]
        assert (min(xs), min(ys)) == (det.x_offset, det.y_offset)
        assert (max(xs) - min(xs), max(ys) - min(ys)) == (det.width, det.height)
        assert text.type == Marker.TEXT_VIEW_FACING
        assert text.text.startswith(det.name)


def test_markers_stop_when_publish_markers_is_false(
    node: NodeProcess, ros_peer: RosPeer, cat_frame: CatFrame, learned_cat: Learned
) -> None:
    assert learned_cat.answer.success
    markers: list[MarkerArray] = []
    subscription = ros_peer.node.create_subscription(
        MarkerArray, f"{node.name}/markers", markers.append, 20
    )
    received = ros_peer.listen(node.name)
    parameters = AsyncParameterClient(ros_peer.node, node.name)
    try:
        assert parameters.wait_for_services(10.0)
        switched = parameters.set_parameters([Parameter("publish_markers", value=False)])
        assert wait_for(switched.done, 10.0)
        assert switched.result().results[0].successful
        stamp = _send_frame(ros_peer, node, cat_frame.frame)
        assert received.for_stamp(stamp) is not None
        time.sleep(1.0)  # markers follow the detections at once, if they are sent at all
        stamps = {
            (a.markers[0].header.stamp.sec, a.markers[0].header.stamp.nanosec) for a in markers
        }
        assert stamp not in stamps
    finally:
        restored = parameters.set_parameters([Parameter("publish_markers", value=True)])
        wait_for(restored.done, 10.0)
        ros_peer.node.destroy_subscription(subscription)


def test_nothing_standing_out_is_an_empty_segmentation(
    node: NodeProcess, ros_peer: RosPeer
) -> None:
    _send_frame(ros_peer, node, np.full((480, 640, 3), 128, np.uint8))  # a flat grey frame
    before = folder_hash(node.gallery)
    answer = _call(ros_peer, node, _request("grey", Box(200, 150, 120, 100)))
    assert not answer.success
    assert "empty segmentation" in answer.message
    assert folder_hash(node.gallery) == before


def _read_mask(path: Path) -> np.ndarray:
    pixels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert pixels is not None, path
    return np.asarray(pixels > 0, bool)


def _dilated(mask: np.ndarray) -> np.ndarray:
    """The mask grown by the overlay's box outline and text (what the overlay may touch)."""
    box = Box.of_mask(mask)
    out = np.zeros_like(mask)
    out[max(0, box.y - 30) : box.y + box.height + 3, max(0, box.x - 3) : box.x + box.width + 3] = (
        True
    )
    return np.asarray(out | mask, bool)


def test_cli_register_box_saves_the_mask_and_exit_codes(
    node: NodeProcess, ros_peer: RosPeer, scene: Scene, tmp_path: Path
) -> None:
    frame, truths = scene.frame({"astronaut": (320.0, 240.0, 0.8, 0.0)})
    _send_frame(ros_peer, node, frame)
    box = _grown(Box.of_mask(truths["astronaut"]), 10)
    saved = tmp_path / "astro_mask.png"
    base = ["--node", node.name, "--timeout", "60", "register-box", "astro_cli"]
    args = [str(v) for v in (box.x, box.y, box.width, box.height)]
    centre = ["--point", "320", "240"]
    result = pixret(*base, *args, *centre, "--save-mask", str(saved))
    assert result.returncode == 0, result.stderr
    assert "registered 'astro_cli' from the camera" in result.stdout
    mask = cv2.imread(str(saved), cv2.IMREAD_GRAYSCALE)
    assert mask is not None
    assert mask.shape == truths["astronaut"].shape
    assert iou(mask > 0, truths["astronaut"]) >= 0.7
    stored = _read_mask(node.gallery / "astro_cli" / "view_000_mask.png")
    assert int(stored.sum()) == int((mask > 0).sum())

    clicked = pixret(*base[:-1], "astro_click", "0", "0", "0", "0", *centre)
    assert clicked.returncode == 0, clicked.stderr
    assert ros_peer.list(node.name)["astro_click"] == 1
    assert ros_peer.remove(node.name, "astro_click").success

    before = folder_hash(node.gallery)
    refused = pixret(*base, "900", "10", "50", "50")
    assert refused.returncode == 1
    assert "does not overlap" in refused.stderr
    usage = pixret(*base, "ten", "10", "50", "50")
    assert usage.returncode == 2
    unreachable = pixret("--node", "/nobody_here", "--timeout", "1", "register-box", "a", *args)
    assert unreachable.returncode == 3
    assert folder_hash(node.gallery) == before
    assert ros_peer.remove(node.name, "astro_cli").success
