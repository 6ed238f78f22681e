"""Play a rosbag2 over DDS: a small `ros2 bag play` for installs without rosbag2.

Two pacings:
- real time: each message leaves at its bag timestamp, scaled by `--rate` (2 = twice as
  fast); a late message is sent at once, never skipped, and the lateness is reported;
- lockstep (`--lockstep TOPIC`): as fast as the subscriber keeps up: after each message the
  player waits until a message with the same header stamp appears on TOPIC (the node's
  `~/detections` answer every frame), or `--answer-timeout` passes (counted as unanswered).
  So a slow node sees every frame and offline and live numbers can be compared.

Play starts once every topic has a subscriber (and, in lockstep, the answer topic a
publisher), then `--delay` seconds more, as `ros2 bag play --delay`: the far side of each match
may still be discovering the player, and frames sent before it has are lost.

Messages are published as the bag's CDR bytes, unchanged: header stamps (the frame names of
DESIGN section 5) and everything else arrive exactly as recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import QoSProfile, qos_profile_sensor_data

from pixret_ros.evaluation.errors import BagError
from pixret_ros.io.bag_reader import open_bag
from pixret_ros.io.typestore import header_stamp_ns, typestore
from pixret_ros.ros.bag_common import (
    EXIT_INTERRUPTED,
    BagToolError,
    message_class,
    parse_tool_args,
    start_node,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from rclpy.node import Node
    from rclpy.publisher import Publisher
    from rclpy.subscription import Subscription
    from rosbags.interfaces import Connection
    from std_msgs.msg import Header

ANSWER_TYPE = "pixret_ros/msg/InstanceDetectionArray"
# A publisher sees its subscriber matched before the subscriber has matched it back (DDS
# discovery is two one-way announcements); what is sent in between is dropped on the far side.
DEFAULT_DELAY_S = 1.0


class _Stamped(Protocol):
    header: Header


@dataclass
class PlayStats:
    """What a playback did (printed at the end; tests read it)."""

    published: int = 0
    answered: int = 0
    unanswered: int = 0
    max_late_s: float = 0.0
    seconds: float = 0.0


def parse_remaps(items: Sequence[str]) -> dict[str, str]:
    """`FROM:=TO` pairs (as in `--ros-args -r`) to a dict; BagToolError on a malformed one."""
    out = {}
    for item in items:
        source, sep, target = item.partition(":=")
        if not sep or not source or not target:
            raise BagToolError(
                f"--remap {item!r}: write it as FROM:=TO, e.g. /camera/image_raw:=/image"
            )
        out[source] = target
    return out


class _Answers:
    """Header stamps seen on the answer topic; the player waits on them."""

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._changed = threading.Condition()

    def add(self, msg: _Stamped) -> None:
        with self._changed:
            self._seen.add(header_stamp_ns(msg.header))
            self._changed.notify_all()

    def wait_for(self, stamp: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: stamp in self._seen, timeout)


def wait_until_matched(matched: Callable[[], int], count: int, deadline: float, error: str) -> None:
    """Poll a DDS match count until it reaches `count`; BagToolError(error) after `deadline`."""
    while matched() < count:
        if time.monotonic() > deadline:
            raise BagToolError(error)
        time.sleep(0.05)


class Player:
    """Publishes the messages of a bag on a node; call `play()` once."""

    def __init__(
        self,
        node: Node,
        bag: Path,
        *,
        topics: Sequence[str] = (),
        remaps: dict[str, str] | None = None,
        reliable: bool = True,
    ) -> None:
        self.node = node
        self.bag = bag
        self._remaps = remaps or {}
        self._store = typestore()
        with open_bag(bag) as reader:
            connections = [c for c in reader.connections if not topics or c.topic in topics]
            missing = sorted(set(topics) - {c.topic for c in connections})
            if missing:
                listing = ", ".join(sorted(reader.topics)) or "none"
                raise BagToolError(
                    f"bag {bag} has no topic {', '.join(missing)}; its topics: {listing}"
                )
        qos = QoSProfile(depth=10) if reliable else qos_profile_sensor_data
        self._publishers: dict[str, Publisher] = {}
        for connection in connections:
            if connection.topic not in self._publishers:
                cls = message_class(connection.msgtype)
                target = self._remaps.get(connection.topic, connection.topic)
                self._publishers[connection.topic] = node.create_publisher(cls, target, qos)
        self._topics = sorted(self._publishers)

    @property
    def targets(self) -> list[str]:
        """The topics published on, remaps applied."""
        return [self._remaps.get(t, t) for t in self._topics]

    def wait_for_subscribers(self, count: int, timeout: float) -> None:
        """Block until every publisher has `count` subscribers (0: do not wait)."""
        deadline = time.monotonic() + timeout
        for topic, publisher in self._publishers.items():
            target = self._remaps.get(topic, topic)
            wait_until_matched(
                publisher.get_subscription_count,
                count,
                deadline,
                f"no subscriber on {target} after {timeout:g} s: is the node running, "
                "in the same ROS_DOMAIN_ID, subscribed to that topic? (--remap FROM:=TO "
                "renames a bag topic; --wait-subscribers 0 plays to nobody)",
            )

    def _messages(self) -> Iterator[tuple[Connection, int, bytes]]:
        with open_bag(self.bag) as reader:
            wanted = [c for c in reader.connections if c.topic in self._publishers]
            for connection, timestamp, data in reader.messages(connections=wanted):
                yield connection, timestamp, bytes(data)

    def _stamp(self, connection: Connection, data: bytes) -> int:
        """Header stamp of a raw message (what the answer carries back)."""
        try:
            msg = self._store.deserialize_cdr(data, connection.msgtype)
            return header_stamp_ns(cast("_Stamped", msg).header)
        except (AttributeError, KeyError) as err:
            raise BagToolError(
                f"--lockstep needs messages with a std_msgs/Header; {connection.topic} carries "
                f"{connection.msgtype} ({err})"
            ) from None

    def play(
        self,
        *,
        rate: float = 1.0,
        answers: _Answers | None = None,
        answer_timeout: float = 5.0,
    ) -> PlayStats:
        """Publish every message; real time / `rate`, or lockstep when `answers` is given."""
        stats = PlayStats()
        started = time.monotonic()
        first: int | None = None
        for connection, timestamp, data in self._messages():
            if not rclpy.ok(context=self.node.context):
                break
            if answers is None:
                first = timestamp if first is None else first
                due = started + (timestamp - first) / 1e9 / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    stats.max_late_s = max(stats.max_late_s, -delay)
            self._publishers[connection.topic].publish(data)
            stats.published += 1
            if answers is not None:
                if answers.wait_for(self._stamp(connection, data), answer_timeout):
                    stats.answered += 1
                else:
                    stats.unanswered += 1
        stats.seconds = time.monotonic() - started
        return stats


def build_parser() -> argparse.ArgumentParser:
    """Command line of the player."""
    parser = argparse.ArgumentParser(
        prog="pixret-play",
        description=(
            "Play a rosbag2 (mcap or sqlite3) over DDS, messages byte-for-byte as recorded: "
            "in real time (scaled by --rate) or in lockstep with a node's answers."
        ),
        epilog=(
            "examples:\n"
            "  pixret-play build/demo/bag --remap /camera/image_raw:=/image\n"
            "  pixret-play build/demo/bag --remap /camera/image_raw:=/image --rate 0.5\n"
            "  pixret-play build/demo/bag --remap /camera/image_raw:=/image \\\n"
            "      --lockstep /pixret_node/detections"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bag", type=Path, help="rosbag2 folder")
    parser.add_argument("--topics", nargs="+", default=[], help="bag topics to play (default: all)")
    parser.add_argument(
        "--remap",
        action="append",
        default=[],
        metavar="FROM:=TO",
        help="publish bag topic FROM on TO",
    )
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument(
        "--rate", type=float, default=1.0, help="speed factor of real-time playback (default 1)"
    )
    pacing.add_argument(
        "--lockstep",
        metavar="TOPIC",
        help=f"send the next message once TOPIC ({ANSWER_TYPE}) answered this one's stamp",
    )
    parser.add_argument(
        "--answer-timeout", type=float, default=5.0, help="lockstep: seconds to wait per message"
    )
    parser.add_argument(
        "--wait-subscribers", type=int, default=1, help="subscribers each topic needs before play"
    )
    parser.add_argument(
        "--wait-timeout", type=float, default=30.0, help="seconds to wait for them (default 30)"
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=DEFAULT_DELAY_S,
        help=(
            "seconds to wait after the subscribers matched, before the first message "
            f"(default {DEFAULT_DELAY_S:g}): the subscriber may not have discovered the "
            "player yet, and what it is sent until then is lost"
        ),
    )
    parser.add_argument(
        "--best-effort", action="store_true", help="publish best effort (default: reliable)"
    )
    return parser


def _report(stats: PlayStats, targets: Sequence[str], lockstep: str | None) -> str:
    rate = stats.published / stats.seconds if stats.seconds > 0 else 0.0
    line = (
        f"pixret-play: published {stats.published} messages on {', '.join(targets)} in "
        f"{stats.seconds:.1f} s ({rate:.1f} Hz)"
    )
    if lockstep is not None:
        return f"{line}; {stats.answered} answered on {lockstep}, {stats.unanswered} not in time"
    return f"{line}; at most {stats.max_late_s * 1000:.0f} ms late"


def _invalid(args: argparse.Namespace) -> str | None:
    """What is wrong with the pacing options, or None."""
    if args.rate <= 0:
        return f"--rate must be > 0, got {args.rate}"
    if args.delay < 0:
        return f"--delay must be >= 0, got {args.delay}"
    return None


def _wait_to_start(
    player: Player, answer_sub: Subscription | None, args: argparse.Namespace
) -> None:
    """Block until the far side can hear the player (and, in lockstep, answer it)."""
    if args.wait_subscribers <= 0:
        return
    player.wait_for_subscribers(args.wait_subscribers, args.wait_timeout)
    if answer_sub is not None:
        # An answer published before its writer matched our reader is lost, and the frame
        # then counts as unanswered: wait for that match too.
        wait_until_matched(
            answer_sub.get_publisher_count,
            1,
            time.monotonic() + args.wait_timeout,
            f"nobody publishes {args.lockstep} after {args.wait_timeout:g} s: "
            "is the node running and is that its detections topic?",
        )
    time.sleep(args.delay)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the player; exit 0 when the bag was played, 1 on an error, 130 on Ctrl-C."""
    args, ros = parse_tool_args(build_parser(), argv)
    problem = _invalid(args)
    if problem is not None:
        print(f"pixret-play: {problem}", file=sys.stderr)
        return 1
    node, executor = start_node("pixret-play", "pixret_player", ros)
    spinner = threading.Thread(target=_spin, args=(executor,), daemon=True)
    try:
        player = Player(
            node,
            args.bag,
            topics=args.topics,
            remaps=parse_remaps(args.remap),
            reliable=not args.best_effort,
        )
        answers = answer_sub = None
        if args.lockstep is not None:
            answers = _Answers()
            answer_sub = node.create_subscription(
                message_class(ANSWER_TYPE), args.lockstep, answers.add, 100
            )
        spinner.start()
        _wait_to_start(player, answer_sub, args)
        stats = player.play(rate=args.rate, answers=answers, answer_timeout=args.answer_timeout)
        print(_report(stats, player.targets, args.lockstep), flush=True)
        if not rclpy.ok(context=node.context):  # SIGINT reached rclpy's handler first
            return EXIT_INTERRUPTED
    except (BagToolError, BagError) as err:
        print(f"pixret-play: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        # Stop the spinning thread before the node goes: a thread still waiting inside the
        # executor when the process exits aborts it ("terminate called ...").
        executor.shutdown(timeout_sec=10.0)
        if spinner.is_alive():
            spinner.join(timeout=10.0)
        node.destroy_node()
        rclpy.try_shutdown()
    if not stats.published:
        print(f"pixret-play: bag {args.bag} holds no message on those topics", file=sys.stderr)
        return 1
    return 0


def _spin(executor: SingleThreadedExecutor) -> None:
    """Serve the answer subscription in the background until shutdown."""
    with contextlib.suppress(ExternalShutdownException):
        executor.spin()


if __name__ == "__main__":
    sys.exit(main())
