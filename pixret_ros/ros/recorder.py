"""Record topics into a rosbag2 (mcap): a small `ros2 bag record` for installs without rosbag2.

Made for recording the node's `~/detections` and `~/mask` so that `pixret-eval run
--recorded` scores what the node really published. Subscriptions are raw: the bag stores
the CDR bytes exactly as they crossed DDS, nothing decoded and encoded again. A topic is
subscribed once a publisher of it shows up, with that publisher's reliability and
durability (a reliable subscription would never match a best-effort publisher). pixret's
own message types come from the package's msg files (pixret_ros.io.typestore), so the bag carries
their definitions and reads back anywhere.

Stop it with Ctrl-C / SIGINT or SIGTERM (or --duration): the bag is closed properly.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from rosbags.rosbag2 import Writer, WriterError
from rosbags.typesys import TypesysError

from pixret_ros.io.typestore import STORAGES, typestore
from pixret_ros.ros.bag_common import BagToolError, message_class, parse_tool_args, start_node

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rclpy.event_handler import QoSSubscriptionMatchedInfo
    from rclpy.node import Node
    from rosbags.interfaces import Connection

#: Messages a subscription may hold while the bag is being written (a burst of masks).
QUEUE_DEPTH = 100


@dataclass
class TopicState:
    """One recorded topic: its type once known, its bag connection and what arrived."""

    name: str
    msgtype: str | None = None
    connection: Connection | None = None
    publishers: int = 0
    received: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    _subscription: object = field(default=None, repr=False)


class Recorder:
    """Subscribes topics as their publishers appear and writes every message to a bag."""

    def __init__(
        self, node: Node, out: Path, topics: Sequence[str], *, storage: str = "mcap"
    ) -> None:
        if storage not in STORAGES:
            raise BagToolError(f"unknown storage {storage!r}; use {' or '.join(STORAGES)}")
        if out.exists():
            raise BagToolError(
                f"{out} exists; the recorder writes a new bag folder, give another path"
            )
        self.node = node
        self.out = out
        self._store = typestore()
        self.topics = {name: TopicState(node.resolve_topic_name(name)) for name in topics}
        self._writer = Writer(out, version=9, storage_plugin=STORAGES[storage])
        try:
            self._writer.open()
        except WriterError as err:
            raise BagToolError(f"cannot write bag {out}: {err}") from None
        self._ready_printed = False
        node.create_timer(0.1, self._discover)

    def _discover(self) -> None:
        """Subscribe every topic whose publisher has appeared, with that publisher's QoS."""
        for state in self.topics.values():
            if state.connection is None:
                self._try_subscribe(state)
        self._announce_ready()

    def _try_subscribe(self, state: TopicState) -> None:
        infos = self.node.get_publishers_info_by_topic(state.name)
        if not infos:
            return
        msgtype = infos[0].topic_type
        cls = message_class(msgtype)
        try:
            state.connection = self._writer.add_connection(
                state.name, msgtype, typestore=self._store
            )
        except (TypesysError, KeyError) as err:
            raise BagToolError(f"cannot store {msgtype} of {state.name} in a bag: {err}") from None
        reliable = all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos)
        latched = all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos)
        qos = QoSProfile(
            depth=QUEUE_DEPTH,
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )

        def on_matched(info: QoSSubscriptionMatchedInfo) -> None:
            state.publishers = int(info.current_count)

        def on_message(data: bytes) -> None:
            self._write(state, data)

        state.msgtype = msgtype
        state._subscription = self.node.create_subscription(  # noqa: SLF001 - keeps it alive
            cls,
            state.name,
            on_message,
            qos,
            raw=True,
            event_callbacks=SubscriptionEventCallbacks(matched=on_matched),
        )

    def _write(self, state: TopicState, data: bytes) -> None:
        if state.connection is None:
            return
        now = time.time_ns()
        self._writer.write(state.connection, now, data)
        state.received += 1
        state.first_ns = now if state.first_ns is None else state.first_ns
        state.last_ns = now

    def _announce_ready(self) -> None:
        """Print one `ready` line once every topic is matched with a publisher (for scripts)."""
        if self._ready_printed or not all(s.publishers > 0 for s in self.topics.values()):
            return
        self._ready_printed = True
        listing = ", ".join(f"{s.name} ({s.msgtype})" for s in self.topics.values())
        print(f"pixret-record: ready, recording {listing} into {self.out}", flush=True)

    def close(self) -> None:
        """Finish the bag (index and summary written): it is complete after this."""
        self._writer.close()

    def summary(self) -> str:
        """One line: how many messages of each topic were written."""
        counts = ", ".join(f"{s.name}: {s.received}" for s in self.topics.values())
        return f"pixret-record: wrote {self.out} ({counts})"


def build_parser() -> argparse.ArgumentParser:
    """Command line of the recorder."""
    parser = argparse.ArgumentParser(
        prog="pixret-record",
        description=(
            "Record topics into a new rosbag2 folder, message bytes exactly as received. "
            "Prints a `ready` line once every topic has a matched publisher; stop with Ctrl-C."
        ),
        epilog=(
            "examples:\n"
            "  pixret-record build/demo/live/recording \\\n"
            "      --topics /pixret_node/detections /pixret_node/mask\n"
            "  pixret-eval run --recorded build/demo/live/recording --gt build/demo/gt.json ..."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", type=Path, help="bag folder to create (must not exist)")
    parser.add_argument("--topics", nargs="+", required=True, help="topics to record")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap", help="default mcap")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0: on Ctrl-C)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Record until SIGINT/SIGTERM (or --duration); 0 when the bag was closed properly."""
    args, ros = parse_tool_args(build_parser(), argv)
    node, executor = start_node("pixret-record", "pixret_recorder", ros)
    recorder = None
    status = 0
    try:
        recorder = Recorder(node, args.out, args.topics, storage=args.storage)
        if args.duration > 0:  # a future that never completes: spin for the duration
            executor.spin_until_future_complete(Future(), timeout_sec=args.duration)
        else:
            executor.spin()
    except BagToolError as err:
        print(f"pixret-record: {err}", file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        status = 0
    finally:
        if recorder is not None:
            recorder.close()
            print(recorder.summary(), flush=True)
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
