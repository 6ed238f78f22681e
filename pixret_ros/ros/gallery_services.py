"""pixret_node's gallery services: register_instance, remove, list, register_from_camera.

Why a module of its own: these answer callers and write the gallery folder; they need from
the node only its settings, its last camera frame and a way to make the engine load the
change (`sync`). They write through their own Gallery object, atomically, then sync the
engine; every refusal leaves the gallery as it was and the node up. They exist from
configure to cleanup (also while the node is inactive: they touch no camera topic).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pixret_ros.engine.errors import GalleryError, PixretError
from pixret_ros.io.image_codec import ConversionError, image_to_rgb, mask_from_image
from pixret_ros.ros.convert import any_to_rgb
from pixret_ros.ros.register_camera import mask_msg, register_from_frame
from pixret_ros.srv import ListInstances, RegisterFromCamera, RegisterInstance, RemoveInstance

if TYPE_CHECKING:
    from collections.abc import Callable

    from rclpy.callback_groups import CallbackGroup
    from rclpy.node import Node
    from rclpy.service import Service
    from sensor_msgs.msg import CompressedImage, Image

    from pixret_ros.engine import Gallery
    from pixret_ros.engine.types import BoolMask, RGBImage
    from pixret_ros.ros.params import NodeSettings

_Answer = TypeVar(
    "_Answer", RegisterInstance.Response, RemoveInstance.Response, RegisterFromCamera.Response
)


@dataclass(frozen=True)
class NodeSide:
    """What the services read from the node, each when a call comes (values change live)."""

    settings: Callable[[], NodeSettings]
    last_frame: Callable[[], Image | CompressedImage | None]
    sync: Callable[[], None]  # the engine loads the gallery change (waits for it)
    show: Callable[[RGBImage, Image | CompressedImage], None]  # ~/debug_image of a learned view


class GalleryServices:
    """Creates the four services on `node`; `destroy()` removes them (cleanup)."""

    def __init__(self, node: Node, writer: Gallery, side: NodeSide, group: CallbackGroup) -> None:
        self._node = node
        self._writer = writer
        self._side = side
        self._services: list[Service] = [
            node.create_service(
                RegisterInstance, "~/register_instance", self._on_register, callback_group=group
            ),
            node.create_service(
                RemoveInstance, "~/remove_instance", self._on_remove, callback_group=group
            ),
            node.create_service(
                ListInstances, "~/list_instances", self._on_list, callback_group=group
            ),
            node.create_service(
                RegisterFromCamera,
                "~/register_from_camera",
                self._on_register_from_camera,
                callback_group=group,
            ),
        ]

    def destroy(self) -> None:
        """Remove the services (the node's cleanup)."""
        for service in self._services:
            self._node.destroy_service(service)
        self._services = []

    def _on_register(
        self, request: RegisterInstance.Request, response: RegisterInstance.Response
    ) -> RegisterInstance.Response:
        def register() -> str:
            images, masks = decode_views(request, self._side.settings())
            response.num_views = self._writer.add(
                request.name, images, masks, replace=request.replace
            )
            return f"registered {request.name!r}: {response.num_views} view(s)"

        refused = (ConversionError, GalleryError)
        return self._write(response, f"register {request.name!r}", refused, register)

    def _on_register_from_camera(
        self, request: RegisterFromCamera.Request, response: RegisterFromCamera.Response
    ) -> RegisterFromCamera.Response:
        """Segment the request's box/points on the last frame received and register it."""
        msg = self._side.last_frame()
        if msg is None:
            return self._refuse(
                response,
                f"register {request.name!r} refused: no frame received yet on "
                f"{self._node.resolve_topic_name('image')}; check the camera and the remapping",
            )

        def register() -> str:
            frame = any_to_rgb(msg, self._side.settings().max_image_pixels)
            done = register_from_frame(request, frame, self._writer)
            response.num_views, response.mask = done.num_views, mask_msg(done.mask, msg.header)
            self._side.show(done.overlay, msg)  # what was learned; the mask is in the answer
            return done.message

        # PixretError: bad name, box, points, frame; empty segmentation
        return self._write(response, f"register {request.name!r}", (PixretError,), register)

    def _on_remove(
        self, request: RemoveInstance.Request, response: RemoveInstance.Response
    ) -> RemoveInstance.Response:
        def remove() -> str:
            self._writer.remove(request.name)
            return f"removed {request.name!r}"

        return self._write(response, f"remove {request.name!r}", (GalleryError,), remove)

    def _write(
        self,
        response: _Answer,
        what: str,
        refused: tuple[type[Exception], ...],
        change: Callable[[], str],
    ) -> _Answer:
        """Run `change` (a gallery write; returns the success message), then sync the engine.

        `refused` errors answer "refused" with the reason, any other "failed" (logged with its
        traceback); either way the node stays up. Live at once here (the engine thread loads
        the change between two frames); other nodes pick it up at their next sync.
        """
        try:
            message = change()
        except refused as err:
            return self._refuse(response, f"{what} refused: {err}")
        except Exception as err:  # noqa: BLE001 - answer the caller, keep the node up
            self._node.get_logger().error(traceback.format_exc())
            return self._refuse(response, f"{what} failed: {err!r}")
        self._side.sync()
        response.success, response.message = True, message
        self._node.get_logger().info(message)
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
        self._node.get_logger().warning(message)
        return response


def decode_views(
    request: RegisterInstance.Request, settings: NodeSettings
) -> tuple[list[RGBImage], list[BoolMask] | None]:
    """Decode the request's views; ConversionError names the request field and the fix.

    Only what concerns the messages is checked here (how many, their encodings and sizes,
    which field): the arrays' own checks (dtype, shape, empty masks) are Gallery.add's
    (engine/view_checks.py).
    """
    limit = settings.max_image_pixels
    count = len(request.images)
    if count == 0:
        raise ConversionError("images is empty; send at least one view")
    if count > settings.max_views_per_request:
        raise ConversionError(
            f"{count} views in one request, more than max_views_per_request="
            f"{settings.max_views_per_request}; send them in several requests"
        )
    if request.masks and len(request.masks) != count:
        raise ConversionError(
            f"{len(request.masks)} masks for {count} images; send one mono8 mask per "
            "image, or none (whole image = object)"
        )
    images = [_field(image_to_rgb, m, limit, f"images[{i}]") for i, m in enumerate(request.images)]
    if not request.masks:
        return images, None
    masks: list[BoolMask] = []
    for i, (msg, image) in enumerate(zip(request.masks, images, strict=True)):
        mask = _field(mask_from_image, msg, limit, f"masks[{i}]")
        if mask.shape != image.shape[:2]:
            raise ConversionError(
                f"masks[{i}] is {mask.shape[1]}x{mask.shape[0]} but images[{i}] is "
                f"{image.shape[1]}x{image.shape[0]}; a mask must have its image's size"
            )
        masks.append(mask)
    return images, masks


_T = TypeVar("_T")


def _field(decode: Callable[[Image, int], _T], msg: Image, limit: int, field: str) -> _T:
    """`decode(msg, limit)`, its ConversionError prefixed with the request field's name."""
    try:
        return decode(msg, limit)
    except ConversionError as err:
        raise ConversionError(f"{field}: {err}") from None
