"""File-system steps that survive a crash: fsynced writes, atomic replace, advisory locks.

A registration is only as safe as its weakest step, so every write the gallery makes goes
through these few helpers: a file is complete on disk (fsync) before a rename publishes it,
and a directory is fsynced after the renames in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def token() -> str:
    """Eight random hex digits, for names of temporary files and folders."""
    return secrets.token_hex(4)


def fsync_dir(path: Path) -> None:
    """Make the entries of directory `path` (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes) -> None:
    """Create `path` (it must not exist) holding `data`, fsynced before returning."""
    with path.open("xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def replace_file(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace `path` by a file holding `data`: readers see the old or the new bytes, never a mix.

    The temporary file is named `.tmp-<name>-<random>` next to `path`, which the gallery's crash
    recovery recognizes as debris. sync=False skips the fsyncs where losing the new content in
    a power cut is harmless (it is still atomic for readers and across a killed process).
    """
    tmp = path.with_name(f".tmp-{path.name}-{token()}")
    try:
        if sync:
            write_new(tmp, data)
        else:
            tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        fsync_dir(path.parent)


def remove_tree(path: Path) -> None:
    """Delete a folder tree, a file or a symbolic link; nothing if it is already gone."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


@contextlib.contextmanager
def file_lock(path: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold an flock on `path` (created if missing): exclusive for writers, shared for readers.

    A fresh descriptor is opened on each call, so the lock also separates threads of one
    process. Where the lock file cannot be created (a read-only gallery), a shared lock is
    skipped: nobody can write there. An exclusive lock then raises the OSError.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    except OSError:
        if exclusive:
            raise
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
