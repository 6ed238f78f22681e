"""pixret_node's process: SIGINT and SIGTERM end it cleanly, whenever they come.

Why a module of its own, importing nothing heavy: torch and rclpy take seconds to import, and
a signal meanwhile used to end the process with a traceback (SIGINT) or status -15 (SIGTERM,
whose default action kills). Here both signals are only recorded, never raised: an exception
thrown into torch's C++ import aborts the process (pybind11 terminate, status -6). The node
starts only if no stop was asked for by then; once rclpy.init has installed its handlers,
they shut its context down on either signal (and then call this one), so spin() returns and
the node tears down. Further signals (`ros2 launch` sends SIGINT, then SIGTERM; a second
Ctrl-C) change nothing, so the teardown always completes: it is bounded (the engine thread
gets 10 s to finish its frame), and they stay ignored while Python exits.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"asked": False}


def _record(_signum: int, _frame: FrameType | None) -> None:
    _state["asked"] = True


def stop_asked() -> bool:
    """Whether SIGINT or SIGTERM arrived since the handlers were installed."""
    return _state["asked"]


def main(args: list[str] | None = None) -> int:
    """Install the handlers, then import and run the node (`pixret_node`'s entry point)."""
    for sig in SIGNALS:
        signal.signal(sig, _record)
    try:
        from pixret_ros.ros import node  # noqa: PLC0415 - after the handlers: imports are slow

        return 0 if stop_asked() else node.main(args)
    finally:
        # Python's own exit restores the default actions of signals it handled, and SIGTERM's
        # default kills: a late signal would turn this exit into status -15. Ignored ones stay.
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


if __name__ == "__main__":  # `python -m`: run the importable module's copy (one shared state)
    from pixret_ros.ros.node_process import main as process_main

    raise SystemExit(process_main())
