"""What a configured pixret_node holds: the engine, its thread, its outputs and services.

Why a class of its own: the lifecycle node builds one on configure and releases it on
cleanup (or shutdown), so every part that lives from configure to cleanup is here, and the
node itself only moves between states.

Concurrency: image callbacks only drop the message, undecoded, into a one-message slot (the
newest wins, older ones count as dropped). The engine runs on its own thread
(ros/frame_worker.py), outside the executor: it waits on the slot, decodes and processes the
newest frame and publishes the results, and syncs the gallery between frames. The engine is
used under one lock (process and sync never overlap); a live score_threshold reaches it on
that thread, before a frame. Services write through their own Gallery object, atomically,
then sync the engine.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, TypeAlias

import psutil
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from sensor_msgs.msg import CompressedImage, Image
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from pixret_ros.engine.render import label_image, overlay
from pixret_ros.errors import ConversionError, PixretError
from pixret_ros.msg import InstanceDetectionArray
from pixret_ros.ros.convert import any_to_rgb, to_image_msg
from pixret_ros.ros.detection_msgs import detection_array
from pixret_ros.ros.diagnostics import HealthSettings, NodeCounts, NodeHealth
from pixret_ros.ros.frame_worker import FrameWorker
from pixret_ros.ros.gallery_services import GalleryServices, NodeSide
from pixret_ros.ros.latest import Arrival, LatestSlot
from pixret_ros.ros.markers import markers_for
from pixret_ros.ros.optional_publisher import OptionalPublisher
from pixret_ros.ros.stats import FrameStats
from pixret_ros.ros.stream_reset import StreamResetRule

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rclpy.lifecycle import LifecycleNode
    from std_msgs.msg import Header

    from pixret_ros.engine import Gallery, PixelRetriever
    from pixret_ros.engine.auto_enroll import Enrollment
    from pixret_ros.engine.types import Detection, RGBImage
    from pixret_ros.ros.params import NodeSettings

Frame: TypeAlias = Image | CompressedImage  # a camera frame message, decoded when taken
_SYNC_WAIT_S = 300.0  # a service waits this long for the engine to load a registration


class EngineRun:
    """The engine of a configured node; frames count only while `active()` holds."""

    def __init__(
        self,
        node: LifecycleNode,
        retriever: PixelRetriever,
        writer: Gallery,
        settings: Callable[[], NodeSettings],
        active: Callable[[], bool],
    ) -> None:
        self._node = node
        self._retriever = retriever
        self._writer = writer  # the services' own Gallery object (they write, the engine reads)
        self._settings = settings
        self._active = active
        now = settings()
        self._lock = threading.Lock()
        self._slot: LatestSlot[Frame] = LatestSlot()
        self.stats = FrameStats()
        self._health = NodeHealth(
            node.get_name(),
            node.get_fully_qualified_name(),
            node.resolve_topic_name("image"),
            HealthSettings(now.diagnostics_window, now.input_timeout, now.expected_input_rate),
        )
        self._stream_rule = StreamResetRule()  # used on the engine thread only
        self._stream_resets = 0
        self.instances = len(writer.names())
        self.last_frame: Frame | None = None  # ~/register_from_camera's
        self._process = psutil.Process()
        pub = node.create_lifecycle_publisher  # enabled only while the node is active
        self._publishers: dict[str, Any] = {
            "detections": pub(InstanceDetectionArray, "~/detections", 10),
            "mask": pub(Image, "~/mask", 5),
            "markers": pub(MarkerArray, "~/markers", 5),
            "diagnostics": pub(DiagnosticArray, "/diagnostics", 10),
        }
        self.debug = OptionalPublisher(node, Image, "~/debug_image", 5)
        self.debug.enable(now.publish_debug_image)
        # Groups matter only in a multi-threaded executor (a user's): frames are never held
        # up by a service call there, and the diagnostics never wait for either.
        group = MutuallyExclusiveCallbackGroup()
        side = NodeSide(settings, lambda: self.last_frame, self._sync_now, self._show_learned)
        self._services = GalleryServices(node, writer, side, group)
        self._reset_service = node.create_service(
            Trigger, "~/reset_tracks", self._on_reset_tracks, callback_group=group
        )
        self._worker = FrameWorker(
            self._slot, self._process_arrival, self._sync, now.sync_period, on_error=self._failed
        )
        self._worker.start()

    def submit(self, msg: Frame) -> None:
        """Hand a camera frame to the engine thread (the newest wins); returns at once."""
        self.stats.received()
        self._health.arrived(msg.header.stamp)
        self.last_frame = msg
        self._slot.put(msg)

    def release(self) -> None:
        """Stop the engine thread (after its current frame), then remove services, publishers."""
        if not self._worker.stop():
            self._node.get_logger().warning("engine thread still busy at release")
        self._services.destroy()
        self._node.destroy_service(self._reset_service)
        self.debug.enable(on=False)
        for publisher in self._publishers.values():
            self._node.destroy_lifecycle_publisher(publisher)

    def publish_diagnostics(self) -> None:
        """The input and engine statuses (levels and names: diagnostics.py)."""
        rss = self._process.memory_info().rss
        counts = NodeCounts(self._slot.dropped, self.instances, self._stream_resets, rss)
        stamp = self._node.get_clock().now().to_msg()
        array = self._health.array(self.stats.report(), counts, stamp)
        self._publishers["diagnostics"].publish(array)

    # --- frames (engine thread) -------------------------------------------------------------

    def _process_arrival(self, arrival: Arrival[Frame]) -> None:
        """Process one frame; errors are counted and logged, never raised."""
        try:
            self._process_frame(arrival.message, arrival.received)
        except PixretError as err:
            self.stats.failed()
            self._node.get_logger().error(f"frame skipped: {err}", throttle_duration_sec=5.0)
        except Exception:  # noqa: BLE001 - a robot's node logs a bug and keeps serving
            if not self._node.context.ok():
                return  # Ctrl-C arrived mid-frame: publishers are gone, nothing to report
            self.stats.failed()
            self._node.get_logger().error(
                f"frame skipped, unexpected error:\n{traceback.format_exc()}",
                throttle_duration_sec=5.0,
            )

    def _failed(self, err: BaseException) -> None:
        if self._node.context.ok():
            self._node.get_logger().error(f"engine thread: {err!r}", throttle_duration_sec=5.0)

    def _process_frame(self, msg: Frame, received: float) -> None:
        settings = self._settings()
        if not self._active():
            return  # deactivated since it arrived: nothing is processed or published
        try:
            frame = any_to_rgb(msg, settings.max_image_pixels)
        except ConversionError as err:
            self.stats.refused()
            self._node.get_logger().warning(f"frame refused: {err}", throttle_duration_sec=5.0)
            return
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        size = (frame.shape[1], frame.shape[0])
        new_stream = self._stream_rule.check(stamp, size, settings.stream_gap_reset)
        with self._lock:
            if self._retriever.config.score_threshold != settings.score_threshold:
                self._retriever.set_score_threshold(settings.score_threshold)  # a live change
            if new_stream is not None:
                self._reset_stream_locked(new_stream)
            detections = self._retriever.process(frame)
            engine_ms = self._retriever.last_timings.get("total", math.nan)
            enrollments = self._retriever.take_enrollments()
        published = [d for d in detections if d.accepted][: settings.max_detections]
        self._publish(msg.header, frame, published, settings.publish_markers)
        for enrollment in enrollments:
            self._enroll(enrollment)
        now = self._node.get_clock().now().nanoseconds
        self.stats.processed(
            latency_ms=(time.monotonic() - received) * 1e3,
            age_ms=(now - stamp) / 1e6,
            engine_ms=engine_ms,
        )

    def _publish(
        self, header: Header, frame: RGBImage, kept: Sequence[Detection], markers_on: bool
    ) -> None:
        array = detection_array(header, kept)
        self._publishers["detections"].publish(array)
        markers, mask = self._publishers["markers"], self._publishers["mask"]
        if markers_on and markers.get_subscription_count() > 0:
            markers.publish(markers_for(array))
        if mask.get_subscription_count() > 0:
            labels = label_image(kept, (frame.shape[0], frame.shape[1]))
            mask.publish(to_image_msg(labels, "mono16", header))
        self.debug.publish(lambda: to_image_msg(overlay(frame, kept), "rgb8", header))

    def _enroll(self, enrollment: Enrollment) -> None:
        """auto_enroll: add a view the stream taught (the next gallery sync loads it)."""
        name = enrollment.name
        try:
            views = self._writer.add(name, [enrollment.image], [enrollment.mask])
        except (PixretError, OSError) as err:  # the gallery stays as it was (add is atomic)
            self._node.get_logger().warning(f"auto_enroll: view of {name!r} not added: {err}")
            return
        self._node.get_logger().info(f"auto_enroll: added a view of {name!r} (now {views} views)")

    def _show_learned(self, image: RGBImage, msg: Frame) -> None:
        """~/debug_image of what ~/register_from_camera learned (while it is on)."""
        self.debug.publish(lambda: to_image_msg(image, "rgb8", msg.header))

    def _reset_stream_locked(self, reason: str) -> None:
        """Forget the engine's stream state (tracks); the caller holds the engine lock."""
        self._retriever.reset_stream()
        self._stream_resets += 1
        self._node.get_logger().info(f"stream state reset: {reason}", throttle_duration_sec=2.0)

    def _on_reset_tracks(
        self, _request: Trigger.Request, response: Trigger.Response
    ) -> Trigger.Response:
        """~/reset_tracks: the next frame is searched from scratch (after the current one)."""
        with self._lock:
            self._reset_stream_locked("~/reset_tracks called")
        response.success = True
        response.message = "stream state reset: the next frame is searched from scratch"
        return response

    # --- gallery ----------------------------------------------------------------------------

    def _sync(self) -> None:
        """Pick up registrations made by other nodes sharing the gallery folder.

        Runs on the engine thread between frames (every sync_period s): a stat of each
        instance folder, no waiting for the engine lock while a frame is processed. A failure
        is logged, never raised: one damaged folder must not take the node down.
        """
        try:
            with self._lock:
                changed = self._retriever.sync()
            self.instances = len(self._writer.names())
        except Exception as err:  # noqa: BLE001 - logged; the next sync retries
            self._node.get_logger().warning(
                f"gallery sync failed: {err}", throttle_duration_sec=10.0
            )
            return
        if changed:
            self._node.get_logger().info(f"gallery changed on disk: {self.instances} instance(s)")

    def _sync_now(self) -> None:
        """A service changed the gallery: the engine loads it between two frames (waits)."""
        self._worker.chore_now(_SYNC_WAIT_S)
