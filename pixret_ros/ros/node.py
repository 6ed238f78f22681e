"""pixret_node: the ROS face of the engine (DESIGN section 3). A thin adapter, no vision here.

Concurrency (why it is shaped like this): image callbacks only drop the message, undecoded,
into a one-message slot (the newest wins, older ones count as dropped). The engine runs on
its own thread (ros/frame_worker.py), outside the executor: it waits on the slot, decodes
and processes the newest frame and publishes the results, and syncs the gallery between
frames. So a slow frame never queues frames up, the executor's Python overhead never sits
between two frames, and the node works in any executor (a user's, next to a camera driver:
see `submit_frame`). The engine is used under one lock (process and sync never overlap);
services write through their own Gallery object, atomically, then sync the engine.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import psutil
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from pixret_ros.engine import Gallery, PixelRetriever
from pixret_ros.engine.render import label_image, overlay
from pixret_ros.errors import ConversionError, GalleryError, PixretError
from pixret_ros.msg import InstanceDetection, InstanceDetectionArray
from pixret_ros.ros import node_process, params
from pixret_ros.ros.convert import (
    any_to_rgb,
    image_to_rgb,
    mask_from_image,
    to_image_msg,
)
from pixret_ros.ros.diagnostics import HealthSettings, NodeHealth
from pixret_ros.ros.frame_worker import FrameWorker
from pixret_ros.ros.latest import Arrival, LatestSlot
from pixret_ros.ros.markers import markers_for
from pixret_ros.ros.optional_publisher import OptionalPublisher
from pixret_ros.ros.register_camera import mask_msg, register_from_frame
from pixret_ros.ros.stats import FrameStats
from pixret_ros.ros.stream_reset import StreamResetRule
from pixret_ros.srv import ListInstances, RegisterFromCamera, RegisterInstance, RemoveInstance

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rclpy.parameter import Parameter
    from std_msgs.msg import Header

    from pixret_ros.engine.types import BoolMask, Detection, RGBImage

NODE_NAME = "pixret_node"
_Answer = TypeVar(
    "_Answer", RegisterInstance.Response, RemoveInstance.Response, RegisterFromCamera.Response
)
_NO_HOMOGRAPHY = [0.0] * 9
_SYNC_WAIT_S = 300.0  # a service waits this long for the engine to load a registration


def detection_msgs(detections: Sequence[Detection]) -> list[InstanceDetection]:
    """Messages for `detections`; detection i gets label i + 1, as in render.label_image."""
    out = []
    for i, det in enumerate(detections):
        msg = InstanceDetection(name=det.name, score=float(det.score), label=i + 1)
        msg.x_offset, msg.y_offset = det.box.x, det.box.y
        msg.width, msg.height = det.box.width, det.box.height
        msg.inliers = int(det.inliers)
        homography = det.homography
        msg.homography = (
            _NO_HOMOGRAPHY if homography is None else [float(v) for v in homography.ravel()]
        )
        out.append(msg)
    return out


class PixretNode(Node):
    """Subscribes camera frames, publishes detections, label masks and diagnostics."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self._settings = params.declare(self)
        engine_config = params.declare_engine(self, self._settings)
        self.add_on_set_parameters_callback(params.check_changes)
        self.add_post_set_parameters_callback(self._apply_parameters)

        path = Path(self._settings.gallery_path).expanduser()
        self._engine_lock = threading.Lock()
        self._retriever = PixelRetriever(Gallery(path), engine_config)
        self._writer = Gallery(path)  # used only by the services (one callback group)
        self._instances = len(self._writer.names())
        self._slot: LatestSlot[Image | CompressedImage] = LatestSlot()
        self._last_frame: Image | CompressedImage | None = None  # ~/register_from_camera's
        self._stats = FrameStats()
        self._stream_rule = StreamResetRule()  # used on the engine thread only
        self._stream_resets = 0
        self._health = NodeHealth(
            self.get_name(),
            self.get_fully_qualified_name(),
            self.resolve_topic_name("image"),
            HealthSettings(
                self._settings.diagnostics_window,
                self._settings.input_timeout,
                self._settings.expected_input_rate,
            ),
        )
        self._process = psutil.Process()

        # Groups matter only in a multi-threaded executor (a user's): frames are never held
        # up by a service call there, and the diagnostics never wait for either.
        inputs = MutuallyExclusiveCallbackGroup()
        services = MutuallyExclusiveCallbackGroup()

        reliability = {
            "best_effort": ReliabilityPolicy.BEST_EFFORT,
            "reliable": ReliabilityPolicy.RELIABLE,
        }[self._settings.qos_reliability]
        image_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self._settings.qos_depth,
            reliability=reliability,
        )
        self.create_subscription(
            Image, "image", self.submit_frame, image_qos, callback_group=inputs
        )
        if self._settings.compressed_input:
            self.create_subscription(
                CompressedImage, "image/compressed", self.submit_frame, image_qos,
                callback_group=inputs,
            )  # fmt: skip

        self._detections_pub = self.create_publisher(InstanceDetectionArray, "~/detections", 10)
        self._mask_pub = self.create_publisher(Image, "~/mask", 5)
        self._debug_pub = OptionalPublisher(self, Image, "~/debug_image", 5)
        self._debug_pub.enable(self._settings.publish_debug_image)
        self._markers_pub = self.create_publisher(MarkerArray, "~/markers", 5)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        self.create_service(
            RegisterInstance, "~/register_instance", self._on_register, callback_group=services
        )
        self.create_service(
            RemoveInstance, "~/remove_instance", self._on_remove, callback_group=services
        )
        self.create_service(
            ListInstances, "~/list_instances", self._on_list, callback_group=services
        )
        self.create_service(
            RegisterFromCamera,
            "~/register_from_camera",
            self._on_register_from_camera,
            callback_group=services,
        )
        self.create_service(
            Trigger, "~/reset_tracks", self._on_reset_tracks, callback_group=services
        )
        self.create_timer(
            self._settings.diagnostics_period,
            self._publish_diagnostics,
            callback_group=MutuallyExclusiveCallbackGroup(),  # never waits for a sync
        )
        self._worker = FrameWorker(
            self._slot,
            self._process_arrival,
            self._sync,
            self._settings.sync_period,
            on_error=self._worker_failed,
        )
        self._worker.start()
        self.get_logger().info(
            f"ready: gallery {path} ({self._instances} instance(s)), "
            f"input {self.resolve_topic_name('image')}"
        )

    # --- parameters -------------------------------------------------------------------------

    def set_parameters_atomically(self, parameter_list: list[Parameter]) -> SetParametersResult:
        """Behind both set_parameters services: an unchanged read-only value is accepted."""
        return params.set_atomically(self, parameter_list, super().set_parameters_atomically)

    def _apply_parameters(self, changes: Sequence[Parameter]) -> None:
        """After check_changes accepted them: swap in a new settings snapshot."""
        ours = {p.name: p.value for p in changes if p.name in self._settings.__dataclass_fields__}
        if ours:
            self._settings = self._settings.updated(ours)
            self._debug_pub.enable(self._settings.publish_debug_image)
            self.get_logger().info(f"parameters changed: {ours}")

    # --- frames -----------------------------------------------------------------------------

    def submit_frame(self, msg: Image | CompressedImage) -> None:
        """Hand a camera frame to the engine thread (the newest wins); returns at once.

        The image subscriptions call this; so may a camera driver in the same process, for a
        hand-off without DDS (rclpy has no intra-process transport): the message object
        itself is passed, decoded only if the engine takes it.
        """
        self._stats.received()
        self._health.arrived(msg.header.stamp)
        self._last_frame = msg
        self._slot.put(msg)

    def _process_arrival(self, arrival: Arrival[Image | CompressedImage]) -> None:
        """Process one frame on the engine thread; errors are counted and logged, never raised."""
        try:
            self._process_frame(arrival.message, arrival.received)
        except PixretError as err:
            self._stats.failed()
            self.get_logger().error(f"frame skipped: {err}", throttle_duration_sec=5.0)
        except Exception:  # noqa: BLE001 - a robot's node logs a bug and keeps serving
            if not self.context.ok():
                return  # Ctrl-C arrived mid-frame: publishers are gone, nothing to report
            self._stats.failed()
            self.get_logger().error(
                f"frame skipped, unexpected error:\n{traceback.format_exc()}",
                throttle_duration_sec=5.0,
            )

    def _worker_failed(self, err: BaseException) -> None:
        if self.context.ok():
            self.get_logger().error(f"engine thread: {err!r}", throttle_duration_sec=5.0)

    def _process_frame(self, msg: Image | CompressedImage, received: float) -> None:
        settings = self._settings
        try:
            frame = any_to_rgb(msg, settings.max_image_pixels)
        except ConversionError as err:
            self._stats.refused()
            self.get_logger().warning(f"frame refused: {err}", throttle_duration_sec=5.0)
            return
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        size = (frame.shape[1], frame.shape[0])
        new_stream = self._stream_rule.check(stamp, size, settings.stream_gap_reset)
        with self._engine_lock:
            if new_stream is not None:
                self._reset_stream_locked(new_stream)
            detections = self._retriever.process(frame)
            engine_ms = self._retriever.last_timings.get("total", math.nan)
        kept = [d for d in detections if d.score >= settings.score_threshold]
        kept = kept[: settings.max_detections]
        self._publish(msg.header, frame, kept)
        now = self.get_clock().now().nanoseconds
        self._stats.processed(
            latency_ms=(time.monotonic() - received) * 1e3,
            age_ms=(now - stamp) / 1e6,
            engine_ms=engine_ms,
        )

    def _publish(self, header: Header, frame: RGBImage, kept: Sequence[Detection]) -> None:
        array = InstanceDetectionArray(header=header, detections=detection_msgs(kept))
        self._detections_pub.publish(array)
        if self._settings.publish_markers and self._markers_pub.get_subscription_count() > 0:
            self._markers_pub.publish(markers_for(array))
        if self._mask_pub.get_subscription_count() > 0:
            labels = label_image(kept, (frame.shape[0], frame.shape[1]))
            self._mask_pub.publish(to_image_msg(labels, "mono16", header))
        self._debug_pub.publish(lambda: to_image_msg(overlay(frame, kept), "rgb8", header))

    def _reset_stream_locked(self, reason: str) -> None:
        """Forget the engine's stream state (tracks); the caller holds the engine lock."""
        self._retriever.reset_stream()
        self._stream_resets += 1
        self.get_logger().info(f"stream state reset: {reason}", throttle_duration_sec=2.0)

    def _on_reset_tracks(
        self, _request: Trigger.Request, response: Trigger.Response
    ) -> Trigger.Response:
        """~/reset_tracks: the next frame is searched from scratch (after the current one)."""
        with self._engine_lock:
            self._reset_stream_locked("~/reset_tracks called")
        response.success = True
        response.message = "stream state reset: the next frame is searched from scratch"
        return response

    # --- gallery ----------------------------------------------------------------------------

    def _sync(self) -> None:
        """Pick up registrations made by other nodes sharing the gallery folder.

        Runs on the engine thread between frames (every sync_period s): a stat of each
        instance folder, no waiting for the engine lock while a frame is processed.
        """
        if self._sync_engine():
            self.get_logger().info(f"gallery changed on disk: {self._instances} instance(s)")

    def _sync_engine(self) -> bool:
        """Run retriever.sync() under the engine lock; True if the gallery reloaded.

        A failure is logged, never raised: a timer or a service must not take the node down
        because of one damaged folder.
        """
        try:
            with self._engine_lock:
                changed = self._retriever.sync()
            self._instances = len(self._writer.names())
        except Exception as err:  # noqa: BLE001 - logged; the next sync retries
            self.get_logger().warning(f"gallery sync failed: {err}", throttle_duration_sec=10.0)
            return False
        return changed

    def _on_register(
        self, request: RegisterInstance.Request, response: RegisterInstance.Response
    ) -> RegisterInstance.Response:
        try:
            images, masks = self._decode_views(request)
            response.num_views = self._writer.add(
                request.name, images, masks, replace=request.replace
            )
        except (ConversionError, GalleryError) as err:
            return self._refuse(response, f"register {request.name!r} refused: {err}")
        except Exception as err:  # noqa: BLE001 - answer the caller, keep the node up
            self.get_logger().error(traceback.format_exc())
            return self._refuse(response, f"register {request.name!r} failed: {err!r}")
        # Live at once here (the engine thread loads it between two frames); other nodes pick
        # it up at their next sync.
        self._worker.chore_now(_SYNC_WAIT_S)
        response.success = True
        response.message = f"registered {request.name!r}: {response.num_views} view(s)"
        self.get_logger().info(response.message)
        return response

    def _decode_views(
        self, request: RegisterInstance.Request
    ) -> tuple[list[RGBImage], list[BoolMask] | None]:
        """Check and convert the request's views; ConversionError names the view and the fix."""
        limit = self._settings.max_image_pixels
        count = len(request.images)
        if count == 0:
            raise ConversionError("images is empty; send at least one view")
        if count > self._settings.max_views_per_request:
            raise ConversionError(
                f"{count} views in one request, more than max_views_per_request="
                f"{self._settings.max_views_per_request}; send them in several requests"
            )
        if request.masks and len(request.masks) != count:
            raise ConversionError(
                f"{len(request.masks)} masks for {count} images; send one mono8 mask per "
                "image, or none (whole image = object)"
            )
        images: list[RGBImage] = []
        for i, msg in enumerate(request.images):
            try:
                images.append(image_to_rgb(msg, limit))
            except ConversionError as err:
                raise ConversionError(f"images[{i}]: {err}") from None
        if not request.masks:
            return images, None
        masks: list[BoolMask] = []
        for i, (msg, image) in enumerate(zip(request.masks, images, strict=True)):
            try:
                mask = mask_from_image(msg, limit)
            except ConversionError as err:
                raise ConversionError(f"masks[{i}]: {err}") from None
            if mask.shape != image.shape[:2]:
                raise ConversionError(
                    f"masks[{i}] is {mask.shape[1]}x{mask.shape[0]} but images[{i}] is "
                    f"{image.shape[1]}x{image.shape[0]}; a mask must have its image's size"
                )
            masks.append(mask)
        return images, masks

    def _on_register_from_camera(
        self, request: RegisterFromCamera.Request, response: RegisterFromCamera.Response
    ) -> RegisterFromCamera.Response:
        """Segment the request's box/points on the last frame received and register it."""
        msg = self._last_frame
        if msg is None:
            return self._refuse(
                response,
                f"register {request.name!r} refused: no frame received yet on "
                f"{self.resolve_topic_name('image')}; check the camera and the remapping",
            )
        try:
            frame = any_to_rgb(msg, self._settings.max_image_pixels)
            done = register_from_frame(request, frame, self._writer)
        except PixretError as err:  # bad name, box, points, frame; empty segmentation
            return self._refuse(response, f"register {request.name!r} refused: {err}")
        except Exception as err:  # noqa: BLE001 - answer the caller, keep the node up
            self.get_logger().error(traceback.format_exc())
            return self._refuse(response, f"register {request.name!r} failed: {err!r}")
        self._worker.chore_now(_SYNC_WAIT_S)
        response.success, response.message = True, done.message
        response.num_views, response.mask = done.num_views, mask_msg(done.mask, msg.header)
        # Show what was learned (while publish_debug_image is on; the mask is in the answer).
        self._debug_pub.publish(lambda: to_image_msg(done.overlay, "rgb8", msg.header))
        self.get_logger().info(done.message)
        return response

    def _on_remove(
        self, request: RemoveInstance.Request, response: RemoveInstance.Response
    ) -> RemoveInstance.Response:
        try:
            self._writer.remove(request.name)
        except GalleryError as err:
            return self._refuse(response, f"remove {request.name!r} refused: {err}")
        except Exception as err:  # noqa: BLE001 - answer the caller, keep the node up
            self.get_logger().error(traceback.format_exc())
            return self._refuse(response, f"remove {request.name!r} failed: {err!r}")
        self._worker.chore_now(_SYNC_WAIT_S)
        response.success = True
        response.message = f"removed {request.name!r}"
        self.get_logger().info(response.message)
        return response

    def _on_list(
        self, _request: ListInstances.Request, response: ListInstances.Response
    ) -> ListInstances.Response:
        listed: list[tuple[str, int]] = []
        for name in self._writer.names():
            try:
                listed.append((name, self._writer.num_views(name)))
            except GalleryError:
                continue  # removed by another node since names() looked
        response.names = [name for name, _ in listed]
        response.num_views = [count for _, count in listed]
        return response

    def _refuse(self, response: _Answer, message: str) -> _Answer:
        response.success = False
        response.message = message
        self.get_logger().warning(message)
        return response

    def destroy_node(self) -> None:
        """Stop the engine thread (after its current frame) before the publishers go."""
        if not self._worker.stop():
            self.get_logger().warning("engine thread still busy at shutdown")
        super().destroy_node()

    # --- diagnostics ------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        """The input and engine statuses (levels and names: diagnostics.py)."""
        extra = {
            "dropped_frames": str(self._slot.dropped),
            "instances": str(self._instances),
            "stream_resets": str(self._stream_resets),
            "rss_mb": f"{self._process.memory_info().rss / 2**20:.0f}",
        }
        array = DiagnosticArray(status=self._health.statuses(self._stats.report(), extra))
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    """Run pixret_node until Ctrl-C, SIGTERM or shutdown (shape of ros2/demos talker).

    Start it through node_process.main (the console script does): its signal handlers make a
    stop during the imports clean; rclpy's then shut the context down on SIGINT and SIGTERM.
    """
    try:
        rclpy.init(args=args)
    except RuntimeError as err:  # rcl rejects the --ros-args (bad remap, params file...)
        print(f"pixret_node: cannot start: {err}", file=sys.stderr)
        return 1
    if node_process.stop_asked():  # a signal came before rclpy's handlers were in place
        rclpy.try_shutdown()
        return 0
    node: PixretNode | None = None
    executor = SingleThreadedExecutor()  # callbacks are short: the engine has its own thread
    status = 0
    try:
        node = PixretNode()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (PixretError, ParameterException, OSError) as err:
        print(f"pixret_node: cannot start: {err}", file=sys.stderr)
        status = 1
    except Exception:
        if rclpy.ok():
            raise
        # else a signal shut rclpy down while the node was being built: a stop, not a failure
    finally:
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    raise SystemExit(node_process.main())
