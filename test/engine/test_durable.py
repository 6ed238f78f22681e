"""Durable writes (engine/durable.py, engine/gallery_commit.py): writers in other processes
share one gallery, and a writer SIGKILLed at any moment leaves the state before or after its
operation, no debris.

Crash tests run gallery_peer.py in real processes that are SIGKILLed, at random moments and
right after each file-system call of an operation.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from gallery_helpers import Writers, apply, debris, make_views, save_views, state_of
from gallery_peer import Op, Views, run_op

from pixret_ros.engine.gallery import Gallery


def test_two_processes_add_to_one_instance_at_once(
    root: Path, tmp_path: Path, views: Views, writers: Writers
) -> None:
    Gallery(root)
    path = save_views(views, tmp_path / "views.npz")
    groups = [[0, 1, 2, 3], [4, 5, 6, 7]]
    writers.send(cmd="append", gallery=str(root), views=str(path), name="shared", groups=groups)
    assert writers.readline() == "done 0"
    assert sorted(state_of(Gallery(root), views)["shared"]) == list(range(8))


# -- crash safety -----------------------------------------------------------------------------


class Crash(NamedTuple):
    """A crash-test case: operations that build the gallery, then the operation killed."""

    setup: list[Op]
    op: Op
    # What the kills can leave, as (new state?, debris?): a new instance leaves no old folder
    # to delete; the first step of a removal (the rename to .del-*) is its commit.
    outcomes: set[tuple[bool, bool]]


ALL_OUTCOMES = {(False, True), (True, True), (True, False)}
CRASHES = {
    "new": Crash([], ("add", "cup", [0, 1, 2]), {(False, True), (True, False)}),
    "append": Crash([("add", "cup", [0, 1, 2])], ("add", "cup", [3, 4]), ALL_OUTCOMES),
    "replace": Crash(
        [("add", "cup", [0, 1, 2]), ("add", "can", [5])], ("replace", "cup", [3, 4]), ALL_OUTCOMES
    ),
    "remove": Crash(
        [("add", "cup", [0, 1]), ("add", "can", [5])],
        ("remove", "cup", []),
        {(True, True), (True, False)},
    ),
}


@pytest.mark.parametrize("case", CRASHES)
def test_kill_after_every_file_system_call(
    tmp_path: Path, views: Views, writers: Writers, case: str
) -> None:
    """SIGKILL the writer right after its k-th mkdir/rename/fsync/... for every k."""
    setup, op, expected = CRASHES[case]
    base, work = tmp_path / "base", tmp_path / "work"
    before: dict[str, list[int]] = {}
    gallery = Gallery(base)
    for step in setup:
        run_op(gallery, views, step)
        before = apply(before, step)
    after = apply(before, op)
    path = save_views(views, tmp_path / "views.npz")
    writers.send(cmd="inject", gallery=str(base), views=str(path), work=str(work), op=op)
    calls = int(writers.readline())
    assert calls > 5, f"{case}: only {calls} file-system calls were trapped"
    outcomes, restored = set(), False
    for k in range(1, calls + 1):
        folder = work / str(k)
        left = debris(folder)
        # Killed between the two renames of a swap: only the old folder holds the instance.
        if not (folder / op[1]).exists() and any(f".old-{op[1]}-" in e for e in left):
            restored = True  # and a gallery already open before the crash recovers it too:
            live = Gallery(tmp_path / f"live_{k}")
            shutil.copytree(folder, live.path, dirs_exist_ok=True)
            assert state_of(live, views) == before
            assert not debris(live.path)
        state = state_of(Gallery(folder), views)
        assert state in (before, after), f"{case}: killed after call {k}: {state}"
        assert not debris(folder), f"{case}: debris left after reopening ({k})"
        outcomes.add((state == after, bool(left)))
    assert outcomes == expected
    assert restored == (case in {"append", "replace"})


def test_kill_at_random_moments(tmp_path: Path, writers: Writers) -> None:
    """A writer cycling through registrations of big views is SIGKILLed at random moments."""
    views = make_views((800, 600), 8)
    path = save_views(views, tmp_path / "views.npz")
    ops: list[Op] = [
        ("add", "astronaut", [0, 1, 2]),
        ("add", "astronaut", [3, 4]),
        ("add", "coffee", [5]),
        ("replace", "astronaut", [6, 7]),
        ("remove", "coffee", []),
        ("remove", "astronaut", []),
    ]
    states: list[dict[str, list[int]]] = [{}]
    for op in ops[:-1]:
        states.append(apply(states[-1], op))
    root = tmp_path / "gallery"
    Gallery(root)
    rng = np.random.default_rng(7)
    start, seen = 0, set()
    for _ in range(8):
        writers.send(cmd="ops", gallery=str(root), views=str(path), ops=ops, start=start)
        ready, pid = writers.readline().split()
        assert ready == "ready"
        began = time.monotonic()
        done = [int(writers.readline())]  # let one operation through, then kill at random
        time.sleep(rng.uniform(0, 2 * (time.monotonic() - began)))
        os.kill(int(pid), signal.SIGKILL)
        while not (line := writers.readline()).startswith("exit"):
            done.append(int(line))
        assert line == f"exit {signal.SIGKILL}"  # waitpid status of a SIGKILLed process
        last = done[-1]
        state = state_of(Gallery(root), views)
        candidates = [last + 1, last + 2]  # the op after `last` may have completed, unprinted
        matches = [i for i in candidates if states[i % len(ops)] == state]
        assert matches, (
            f"after op {last}: {state} is neither of {[states[i % len(ops)] for i in candidates]}"
        )
        start = matches[0]
        seen.add(start % len(ops))
        assert not debris(root)
    assert len(seen) > 2, f"the writers only reached states {seen}"
