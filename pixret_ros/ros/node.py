"""pixret_node: the ROS face of the engine (DESIGN section 3). A thin adapter, no vision here.

Concurrency (why it is shaped like this): image callbacks only drop the message into a
one-message slot (the newest wins, older ones count as dropped) and wake the processing
callback through a guard condition; processing runs in its own callback group, services in
another, timers in a third, all on a MultiThreadedExecutor. So a slow frame never queues
frames up, and a registration never waits for a queue of frames. The engine itself is used
under one lock (process and sync never overlap); services write through their own Gallery
object, atomically, then sync the engine.
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
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from pixret_ros.engine import Gallery, PixelRetriever
from pixret_ros.engine.errors import GalleryError, PixretError
from pixret_ros.engine.render import label_image, overlay
from pixret_ros.msg import InstanceDetection, InstanceDetectionArray
from pixret_ros.ros import params
from pixret_ros.ros.convert import (
    ConversionError,
    any_to_rgb,
    compressed_to_rgb,
    image_to_rgb,
    mask_from_image,
    to_image_msg,
)
from pixret_ros.ros.diagnostics import HealthSettings, NodeHealth
from pixret_ros.ros.latest import LatestSlot
from pixret_ros.ros.markers import markers_for
from pixret_ros.ros.register_camera import mask_msg, register_from_frame
from pixret_ros.ros.stats import FrameStats
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

        inputs = MutuallyExclusiveCallbackGroup()
        processing = MutuallyExclusiveCallbackGroup()
        services = MutuallyExclusiveCallbackGroup()
        timers = MutuallyExclusiveCallbackGroup()  # gallery sync

        reliability = {
            "best_effort": ReliabilityPolicy.BEST_EFFORT,
            "reliable": ReliabilityPolicy.RELIABLE,
        }[self._settings.qos_reliability]
        image_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self._settings.qos_depth,
            reliability=reliability,
        )
        self.create_subscription(Image, "image", self._on_frame, image_qos, callback_group=inputs)
        if self._settings.compressed_input:
            self.create_subscription(
                CompressedImage, "image/compressed", self._on_frame, image_qos,
                callback_group=inputs,
            )  # fmt: skip
        self._wake = self.create_guard_condition(self._process_newest, processing)

        self._detections_pub = self.create_publisher(InstanceDetectionArray, "~/detections", 10)
        self._mask_pub = self.create_publisher(Image, "~/mask", 5)
        self._debug_pub = self.create_publisher(Image, "~/debug_image", 5)
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
        self.create_timer(self._settings.sync_period, self._sync, callback_group=timers)
        self.create_timer(
            self._settings.diagnostics_period,
            self._publish_diagnostics,
            callback_group=MutuallyExclusiveCallbackGroup(),  # never waits for a sync
        )
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
            self.get_logger().info(f"parameters changed: {ours}")

    # --- frames -----------------------------------------------------------------------------

    def _on_frame(self, msg: Image | CompressedImage) -> None:
        """Keep only the newest frame and wake the processing callback (which may be busy)."""
        self._stats.received()
        self._health.arrived(msg.header.stamp)
        self._last_frame = msg
        self._slot.put(msg)
        self._wake.trigger()

    def _process_newest(self) -> None:
        """Process the newest frame, if any; re-wake itself when another arrived meanwhile."""
        arrival = self._slot.take()
        if arrival is None:
            return
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
        finally:
            if self._slot.pending() and self.context.ok():
                self._wake.trigger()

    def _process_frame(self, msg: Image | CompressedImage, received: float) -> None:
        settings = self._settings
        try:
            if isinstance(msg, CompressedImage):
                frame = compressed_to_rgb(msg, settings.max_image_pixels)
            else:
                frame = image_to_rgb(msg, settings.max_image_pixels)
        except ConversionError as err:
            self._stats.refused()
            self.get_logger().warning(f"frame refused: {err}", throttle_duration_sec=5.0)
            return
        with self._engine_lock:
            detections = self._retriever.process(frame)
            engine_ms = self._retriever.last_timings.get("total", math.nan)
        kept = [d for d in detections if d.score >= settings.score_threshold]
        kept = kept[: settings.max_detections]
        self._publish(msg.header, frame, kept, debug=settings.publish_debug_image)
        now = self.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self._stats.processed(
            latency_ms=(time.monotonic() - received) * 1e3,
            age_ms=(now - stamp) / 1e6,
            engine_ms=engine_ms,
        )

    def _publish(
        self, header: Header, frame: RGBImage, kept: Sequence[Detection], *, debug: bool
    ) -> None:
        array = InstanceDetectionArray(header=header, detections=detection_msgs(kept))
        self._detections_pub.publish(array)
        if self._settings.publish_markers and self._markers_pub.get_subscription_count() > 0:
            self._markers_pub.publish(markers_for(array))
        if self._mask_pub.get_subscription_count() > 0:
            labels = label_image(kept, (frame.shape[0], frame.shape[1]))
            self._mask_pub.publish(to_image_msg(labels, "mono16", header))
        if debug and self._debug_pub.get_subscription_count() > 0:
            self._debug_pub.publish(to_image_msg(overlay(frame, kept), "rgb8", header))

    # --- gallery ----------------------------------------------------------------------------

    def _sync(self) -> None:
        """Pick up registrations made by other nodes sharing the gallery folder."""
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
        self._sync_engine()  # live at once here; other nodes pick it up by their timer
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
        self._sync_engine()
        response.success, response.message = True, done.message
        response.num_views, response.mask = done.num_views, mask_msg(done.mask, msg.header)
        if self._debug_pub.get_subscription_count() > 0:  # show what was learned
            self._debug_pub.publish(to_image_msg(done.overlay, "rgb8", msg.header))
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
        self._sync_engine()
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

    # --- diagnostics ------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        """The input and engine statuses (levels and names: diagnostics.py)."""
        extra = {
            "dropped_frames": str(self._slot.dropped),
            "instances": str(self._instances),
            "rss_mb": f"{self._process.memory_info().rss / 2**20:.0f}",
        }
        array = DiagnosticArray(status=self._health.statuses(self._stats.report(), extra))
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    """Run pixret_node until Ctrl-C or shutdown (shape of ros2/demos talker)."""
    try:
        rclpy.init(args=args)
    except RuntimeError as err:  # rcl rejects the --ros-args (bad remap, params file...)
        print(f"pixret_node: cannot start: {err}", file=sys.stderr)
        return 1
    node: PixretNode | None = None
    executor = MultiThreadedExecutor(num_threads=5)
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
    finally:
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
