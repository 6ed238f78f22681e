"""Writer processes for the gallery's crash and concurrency tests.

test_gallery.py starts this script once (with the venv's python) and sends it one JSON command
per line on stdin. For each command it forks real writer processes, so that the imports are
paid once, and answers on stdout. Views come from an .npz the test wrote (image_<id>, mask_<id>).

Commands:
  {"cmd": "ops", "gallery": G, "views": V, "ops": OPS, "start": N}
      fork a writer that prints "ready <pid>", then applies OPS[N % len], OPS[(N+1) % len], ...
      forever, printing each index once done; the test SIGKILLs it. Answers "exit <status>".
  {"cmd": "append", "gallery": G, "views": V, "name": NAME, "groups": [[ids], ...]}
      fork one writer per group, all at once, each adding its views to NAME one at a time.
      Answers "done <number of writers that failed>".
  {"cmd": "inject", "gallery": G, "views": V, "work": W, "op": OP}
      for k = 1, 2, ...: copy G to W/k and fork a writer that applies OP and SIGKILLs itself
      right after its k-th file-system call (mkdir, rename, fsync, ...); stop at the first k
      where OP completes. Answers k.
An operation is [kind, instance, [view ids]] with kind add, replace or remove.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from pixret_ros.engine.gallery import Gallery

Op = tuple[str, str, list[int]]  # (kind: add | replace | remove, instance, view ids)
Views = dict[int, tuple[np.ndarray, np.ndarray]]  # view id -> (RGB image, bool mask)
_TRAPPED = ("mkdir", "rename", "replace", "utime", "fsync", "unlink", "rmdir")
_F = TypeVar("_F", bound=Callable[..., object])


def run_op(gallery: Gallery, views: Views, op: Op) -> None:
    """Apply one operation (the test builds its starting states with this function too)."""
    kind, name, ids = op
    if kind == "remove":
        gallery.remove(name)
        return
    gallery.add(
        name, [views[i][0] for i in ids], [views[i][1] for i in ids], replace=kind == "replace"
    )


def _load_views(path: str) -> Views:
    """Views saved by the test as image_<id> and mask_<id> arrays."""
    with np.load(path) as archive:
        ids = [int(key.removeprefix("image_")) for key in archive.files if key.startswith("image_")]
        return {i: (archive[f"image_{i}"], archive[f"mask_{i}"]) for i in ids}


def _fork(child: Callable[[], None]) -> int:
    """Run `child` in a forked process that never returns into this one; its pid."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            child()
        except BaseException as error:  # noqa: BLE001 - reported by the exit status
            print(f"writer failed: {error!r}", file=sys.stderr, flush=True)
            status = 1
        finally:
            sys.stdout.flush()
            os._exit(status)
    return pid


def _ops(command: dict[str, object], views: Views) -> None:
    ops: list[Op] = command["ops"]  # type: ignore[assignment]
    start: int = command["start"]  # type: ignore[assignment]

    def writer() -> None:
        gallery = Gallery(str(command["gallery"]))
        print(f"ready {os.getpid()}", flush=True)
        index = start
        while True:
            run_op(gallery, views, ops[index % len(ops)])
            # One write for the whole line: with PYTHONUNBUFFERED (set in CI's environment) print
            # writes the number and the newline separately, and a SIGKILL between the two left
            # "1exit 9" for the test to read.
            sys.stdout.write(f"{index}\n")
            sys.stdout.flush()
            index += 1

    _, status = os.waitpid(_fork(writer), 0)
    print(f"exit {status}", flush=True)


def _append(command: dict[str, object], views: Views) -> None:
    groups: list[list[int]] = command["groups"]  # type: ignore[assignment]

    def writer(ids: list[int]) -> Callable[[], None]:
        def run() -> None:
            gallery = Gallery(str(command["gallery"]))
            for i in ids:
                gallery.add(str(command["name"]), [views[i][0]], [views[i][1]])

        return run

    pids = [_fork(writer(ids)) for ids in groups]
    failed = sum(os.waitpid(pid, 0)[1] != 0 for pid in pids)
    print(f"done {failed}", flush=True)


def _die_after(calls: int) -> None:
    """Make this process SIGKILL itself right after its `calls`-th trapped os call."""
    count = [0]

    def trap(original: _F) -> _F:
        def wrapper(*args: object, **kwargs: object) -> object:
            result = original(*args, **kwargs)
            count[0] += 1
            if count[0] >= calls:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return wrapper  # type: ignore[return-value]

    for name in _TRAPPED:
        setattr(os, name, trap(getattr(os, name)))


def _inject(command: dict[str, object], views: Views) -> None:
    op: Op = command["op"]  # type: ignore[assignment]
    calls = 0
    while True:
        calls += 1
        target = Path(str(command["work"])) / str(calls)
        shutil.copytree(str(command["gallery"]), target, symlinks=True)

        def writer(target: Path = target, calls: int = calls) -> None:
            gallery = Gallery(target)  # opened (nothing to recover) before the trap is set
            _die_after(calls)
            run_op(gallery, views, op)

        _, status = os.waitpid(_fork(writer), 0)
        if os.WIFEXITED(status):
            break
    print(calls if os.WEXITSTATUS(status) == 0 else f"failed {calls}", flush=True)


def main() -> None:
    """Serve commands from stdin until it is closed."""
    handlers = {"ops": _ops, "append": _append, "inject": _inject}
    print("serving", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        handlers[command["cmd"]](command, _load_views(command["views"]))


if __name__ == "__main__":
    main()
