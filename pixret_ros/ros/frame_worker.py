"""The engine thread of pixret_node: newest frame in, results out, chores in between.

Why a plain thread and not an executor callback: rclpy's executors are Python code that
rebuilds its wait set on every wake-up, and the MultiThreadedExecutor wakes several times
per frame (take, hand-off to its pool, completion); each of those wake-ups takes the GIL
from the engine, whose work is a long chain of short C calls that release and re-take it.
Measured (`make bench-node BENCH_NODE_ARGS="--py-spy DIR"`, README "Threads"): the
executor's own Python took a whole core beside the engine's 55 %; now 2-3 %. A thread that
blocks on the newest-frame slot costs nothing while it waits, takes no part in the executor,
and so works the same in any executor a user adds the node to (component use).

Chores (the gallery sync) run on this thread between frames, so they never wait for the
engine lock while a frame is processed, nor stall one that is.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixret_ros.ros.latest import Arrival, LatestSlot

T = TypeVar("T")


class FrameWorker(Generic[T]):
    """Runs `handle(arrival)` for the newest message of `slot`, `chore()` every `period` s."""

    def __init__(
        self,
        slot: LatestSlot[T],
        handle: Callable[[Arrival[T]], None],
        chore: Callable[[], None],
        period: float,
        *,
        on_error: Callable[[BaseException], None],
        name: str = "pixret_engine",
    ) -> None:
        self._slot = slot
        self._handle = handle
        self._chore = chore
        self._period = period
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._chores = threading.Condition()
        self._chores_asked = 0  # chore_now() calls so far
        self._chores_done = 0  # of those, how many a finished chore covered

    def start(self) -> None:
        """Start the thread (once)."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Close the slot and wait for the frame in progress; True if the thread ended."""
        self._slot.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def chore_now(self, timeout: float) -> bool:
        """Run the chore on the worker thread after the current frame and wait for it.

        Why not in the caller's thread: the engine's torch state (thread pools) belongs to
        this thread, and the chore must not race the frames anyway. False on timeout.
        """
        with self._chores:
            self._chores_asked += 1
            ticket = self._chores_asked
        self._slot.nudge()
        with self._chores:
            return (
                self._chores.wait_for(
                    lambda: self._chores_done >= ticket or self._slot.closed, timeout
                )
                and self._chores_done >= ticket
            )

    def _run(self) -> None:
        next_chore = time.monotonic() + self._period
        while not self._slot.closed:
            arrival = self._slot.wait(max(0.0, next_chore - time.monotonic()))
            try:
                if arrival is not None:
                    self._handle(arrival)
                with self._chores:
                    asked = self._chores_asked
                due = asked > self._chores_done or time.monotonic() >= next_chore
                if due and not self._slot.closed:
                    self._chore()
                    next_chore = time.monotonic() + self._period
                    with self._chores:
                        self._chores_done = asked
                        self._chores.notify_all()
            except Exception as err:  # noqa: BLE001 - the thread must outlive any one frame
                self._on_error(err)
