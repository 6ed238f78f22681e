"""pixret_node's process: SIGINT and SIGTERM end it cleanly, whenever they come.

Why a module of its own, importing nothing heavy: torch and rclpy take seconds to import, and
a signal meanwhile used to end the process with a traceback (SIGINT) or status -15 (SIGTERM,
whose default action kills). Here both signals raise KeyboardInterrupt in the main thread, the
first time only; rclpy.init (later) installs its own handlers, which shut its context down and
then call this one, so spin() ends either way and the node's main exits with status 0. Once
the node tears down, further signals (`ros2 launch` sends SIGINT, then SIGTERM; a second
Ctrl-C) are ignored, so the teardown always completes: it is bounded (the engine thread gets
10 s to finish its frame), and they stay ignored while Python exits.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"stopping": False}


def _stop_once(_signum: int, _frame: FrameType | None) -> None:
    if _state["stopping"]:
        return  # already stopping: let the teardown finish
    _state["stopping"] = True
    raise KeyboardInterrupt


def stopping() -> None:
    """The process is tearing down: from now on SIGINT and SIGTERM change nothing."""
    _state["stopping"] = True


def main(args: list[str] | None = None) -> int:
    """Install the handlers, then import and run the node (`pixret_node`'s entry point)."""
    for sig in SIGNALS:
        signal.signal(sig, _stop_once)
    try:
        from pixret_ros.ros import node  # noqa: PLC0415 - after the handlers: imports are slow

        return node.main(args)
    except KeyboardInterrupt:
        return 0  # stopped before the node existed
    finally:
        # Python's own exit restores the default actions of signals it handled, and SIGTERM's
        # default kills: a late signal would turn this exit into status -15. Ignored ones stay.
        stopping()
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


if __name__ == "__main__":  # `python -m`: run the importable module's copy (one shared state)
    from pixret_ros.ros.node_process import main as process_main

    raise SystemExit(process_main())
