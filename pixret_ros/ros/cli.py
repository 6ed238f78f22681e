"""`pixret`: register, remove and list instances through a running pixret_node's services.

Thin on purpose: read the files, call one service, print the node's answer on one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import rclpy
from rclpy.utilities import remove_ros_args

from pixret_ros.io.image_codec import ConversionError, mask_from_image
from pixret_ros.ros.convert import to_image_msg
from pixret_ros.srv import ListInstances, RegisterFromCamera, RegisterInstance, RemoveInstance

if TYPE_CHECKING:
    from rclpy.node import Node
    from sensor_msgs.msg import Image

OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3

EXAMPLES = """\
examples:
  pixret register mug mug_front.jpg:mug_front_mask.png mug_side.jpg:mug_side_mask.png
  pixret register poster poster.png                  # no mask: the whole image is the object
  pixret register mug mug_top.jpg:mug_top_mask.png --replace   # drop the old views first
  pixret register-box mug 120 80 200 240            # box x y w h on the node's newest frame
  pixret register-box mug 120 80 200 240 --point 210 190 --save-mask mug_mask.png
  pixret register-box mug 0 0 0 0 --point 210 190   # a click alone (no box)
  pixret list
  pixret remove mug
  pixret --node /cam_left/pixret_node list           # a node in a camera's namespace

masks: 8-bit images of the view's size, nonzero = object. Give every view a mask or none
(a view without one counts as all object when others have masks).

exit status: 0 done, 1 refused by the node (reason printed) or unreadable or unwritable file,
2 bad usage, 3 node not reachable (not running, other ROS_DOMAIN_ID, wrong --node) or no
answer within --timeout.
"""


class CliError(Exception):
    """A failure the user can fix; carries the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_view(spec: str) -> tuple[Path, Path | None]:
    """'IMAGE' or 'IMAGE:MASK' -> paths (a path that exists as given wins over splitting)."""
    if Path(spec).exists():
        return Path(spec), None
    image, sep, mask = spec.rpartition(":")
    if sep and image and mask:
        return Path(image), Path(mask)
    return Path(spec), None


def _read(path: Path, flags: int, what: str) -> cv2.typing.MatLike:
    pixels = cv2.imread(str(path), flags)
    if pixels is None:
        problem = "does not exist" if not path.exists() else "is not an image OpenCV can read"
        raise CliError(f"{what} {path} {problem}; give a png or jpeg file", REFUSED)
    return pixels


def read_views(specs: list[str]) -> tuple[list[Image], list[Image]]:
    """Image and mask messages for IMAGE[:MASK] arguments (masks empty when none is given)."""
    views = [parse_view(spec) for spec in specs]
    images = [to_image_msg(_read(img, cv2.IMREAD_COLOR, "image"), "bgr8") for img, _ in views]
    if all(mask is None for _, mask in views):
        return images, []
    masks = []
    for (image, mask), msg in zip(views, images, strict=True):
        if mask is None:  # this view has no mask: all of it is the object
            pixels = np.full((msg.height, msg.width), 255, np.uint8)
        else:
            pixels = _read(mask, cv2.IMREAD_GRAYSCALE, "mask")
            if pixels.shape != (msg.height, msg.width):
                raise CliError(
                    f"mask {mask} is {pixels.shape[1]}x{pixels.shape[0]} but image {image} "
                    f"is {msg.width}x{msg.height}; a mask must have its image's size",
                    REFUSED,
                )
        masks.append(to_image_msg(pixels, "mono8"))
    return images, masks


def _call(node: Node, srv_type: type, service: str, request: object, timeout: float) -> object:
    client = node.create_client(srv_type, service)
    if not client.wait_for_service(timeout_sec=timeout):
        raise CliError(
            f"no service {service} within {timeout:g} s: is pixret_node running in this "
            f"ROS_DOMAIN_ID ({os.environ.get('ROS_DOMAIN_ID', '0')})? Use --node for another name",
            UNREACHABLE,
        )
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    if not future.done():
        raise CliError(f"{service} did not answer within {timeout:g} s", UNREACHABLE)
    return future.result()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so that tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="pixret",
        description="Register, remove and list object instances of a running pixret_node.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--node", default="/pixret_node", help="the node's name (default: /pixret_node)"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the node (default: 10)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser(
        "register", help="register an instance from image files (and masks)"
    )
    register.add_argument("name", help="instance name: letters, digits, _ . - (1-64)")
    register.add_argument("views", nargs="+", metavar="IMAGE[:MASK]", help="view files")
    register.add_argument(
        "--replace", action="store_true", help="replace the instance's views instead of adding"
    )
    box = commands.add_parser(
        "register-box",
        help="register what a box (and/or clicks) marks on the node's newest camera frame",
    )
    box.add_argument("name", help="instance name: letters, digits, _ . - (1-64)")
    box.add_argument("X", type=int, help="box left column, pixels of the camera frame")
    box.add_argument("Y", type=int, help="box top row")
    box.add_argument("W", type=int, help="box width (W and H 0: no box, --point only)")
    box.add_argument("H", type=int, help="box height")
    box.add_argument(
        "--point",
        nargs=2,
        type=float,
        action="append",
        default=[],
        metavar=("X", "Y"),
        help="a pixel on the object (foreground click); repeat for more",
    )
    box.add_argument(
        "--replace", action="store_true", help="replace the instance's views instead of adding"
    )
    box.add_argument(
        "--save-mask",
        type=Path,
        metavar="PATH",
        help="write the learned mask (frame size, png, 255 = object)",
    )
    remove = commands.add_parser("remove", help="remove a registered instance")
    remove.add_argument("name")
    commands.add_parser("list", help="list registered instances and their number of views")
    return parser


def run(args: argparse.Namespace, node: Node) -> int:
    """Carry out one parsed command with `node`; print the result; return the exit status."""
    base = args.node.rstrip("/")
    if args.command == "list":
        answer = _call(
            node, ListInstances, f"{base}/list_instances", ListInstances.Request(), args.timeout
        )
        rows = list(zip(answer.names, answer.num_views, strict=True))  # type: ignore[attr-defined]
        if not rows:
            print(f"{base}: no instances registered")
        for name, views in rows:
            print(f"{name}\t{views} view(s)")
        return OK
    if args.command == "register-box":
        return register_box(args, node, f"{base}/register_from_camera")
    if args.command == "remove":
        request: object = RemoveInstance.Request(name=args.name)
        answer = _call(node, RemoveInstance, f"{base}/remove_instance", request, args.timeout)
    else:
        images, masks = read_views(args.views)
        request = RegisterInstance.Request(
            name=args.name, images=images, masks=masks, replace=args.replace
        )
        answer = _call(node, RegisterInstance, f"{base}/register_instance", request, args.timeout)
    if not answer.success:  # type: ignore[attr-defined]
        raise CliError(answer.message, REFUSED)  # type: ignore[attr-defined]
    print(answer.message)  # type: ignore[attr-defined]
    return OK


def register_box(args: argparse.Namespace, node: Node, service: str) -> int:
    """Call ~/register_from_camera; print the answer; save the learned mask if asked."""
    request = RegisterFromCamera.Request(
        name=args.name, x=args.X, y=args.Y, width=args.W, height=args.H, replace=args.replace
    )
    request.points = [float(v) for point in args.point for v in point]
    answer = _call(node, RegisterFromCamera, service, request, args.timeout)
    if not answer.success:  # type: ignore[attr-defined]
        raise CliError(answer.message, REFUSED)  # type: ignore[attr-defined]
    print(answer.message)  # type: ignore[attr-defined]
    if args.save_mask is not None:
        try:
            pixels = mask_from_image(answer.mask).astype(np.uint8) * 255  # type: ignore[attr-defined]
        except ConversionError as err:
            raise CliError(f"the node's mask cannot be read: {err}", REFUSED) from None
        if not cv2.imwrite(str(args.save_mask), pixels):
            raise CliError(
                f"cannot write the mask to {args.save_mask}; give a writable .png path "
                "(the instance is registered)",
                REFUSED,
            )
        print(f"mask saved to {args.save_mask}")
    return OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `pixret` (console script)."""
    argv = sys.argv if argv is None else ["pixret", *argv]
    args = build_parser().parse_args(remove_ros_args(argv)[1:])
    rclpy.init(args=argv)
    node = rclpy.create_node(f"pixret_cli_{os.getpid()}")
    try:
        return run(args, node)
    except CliError as err:
        print(f"pixret: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        return 130
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
