"""Changes to a gallery folder that survive a crash at any moment, and the lock around them.

Every change is atomic: a registration is written to `.tmp-<name>-<random>/`, fsynced, then
swapped in by renames (the old folder goes to `.old-<name>-<random>` and is deleted after). A
removal renames the folder to `.del-<name>-<random>` before deleting it. Whoever next holds
the lock finds any debris of a crash and settles it: `.tmp-*` and `.del-*` are deleted, an
`.old-*` whose instance is missing is renamed back (the crash came between the two renames),
otherwise deleted. Writers hold an exclusive flock on `.lock`, readers a shared one, so nobody
sees a swap half done; `.generation` counts the changes, so that two within one timestamp
tick still tell apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from typing import TYPE_CHECKING

from pixret_ros.engine import durable
from pixret_ros.engine.gallery_files import CACHE_DIR, mask_file, view_file
from pixret_ros.errors import GalleryError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_LOG = logging.getLogger(__name__)
_LOCK = ".lock"
_GENERATION = ".generation"
_DEBRIS_PREFIXES = (".tmp-", ".old-", ".del-")
_OLD_RE = re.compile(r"\.old-(?P<name>.+)-[0-9a-f]{8}")


@contextlib.contextmanager
def gallery_lock(root: Path, *, exclusive: bool) -> Iterator[None]:
    """The flock of gallery `root`; an exclusive one that cannot be had is a GalleryError."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(durable.file_lock(root / _LOCK, exclusive=exclusive))
        except OSError as error:
            raise GalleryError(
                f"cannot lock gallery {root} for writing ({error.strerror}); the "
                "folder must be writable to add or remove instances"
            ) from None
        yield


# -- writing ---------------------------------------------------------------------------------


def publish_instance(root: Path, folder: Path, files: list[tuple[bytes, bytes]]) -> None:
    """Write `files` as instance `folder` of gallery `root`, replacing it: all or nothing.

    The commit is the rename of the complete temporary folder to `folder`; until then a
    crash (or an error here) leaves the gallery as it was. Call with the exclusive lock held.
    """
    tmp = root / f".tmp-{folder.name}-{durable.token()}"
    old = root / f".old-{folder.name}-{durable.token()}"
    had_old = False
    try:
        tmp.mkdir()
        for index, (view_png, mask_png) in enumerate(files):
            durable.write_new(tmp / view_file(index), view_png)
            durable.write_new(tmp / mask_file(index), mask_png)
        (tmp / CACHE_DIR).mkdir()
        now = time.time_ns()  # a unique mtime: (inode, mtime) then names this registration
        os.utime(tmp, ns=(now, now))
        durable.fsync_dir(tmp)
        if folder.exists() or folder.is_symlink():
            folder.rename(old)
            had_old = True
        tmp.rename(folder)
    except OSError as error:
        if had_old:
            with contextlib.suppress(OSError):  # else the next writer's recovery does it
                old.rename(folder)
        _delete_quietly(root, tmp)
        raise GalleryError(
            f"cannot write instance {folder.name!r} to {root}: {error}; free disk "
            "space or fix permissions (the gallery is unchanged)"
        ) from None
    try:
        durable.fsync_dir(root)
    except OSError as error:  # committed for every process; only a power cut could undo it
        _LOG.warning("gallery %s: cannot fsync after registering: %s", root, error)
    if had_old:
        _delete_quietly(root, old)


def remove_instance(root: Path, name: str) -> None:
    """Delete instance folder `name` of gallery `root`: the rename to `.del-*` commits it.

    Call with the exclusive lock held, after checking that the instance exists.
    """
    folder = root / name
    doomed = root / f".del-{name}-{durable.token()}"
    _rename(
        root,
        folder,
        doomed,
        f"cannot remove instance {name!r} ({folder})",
        "check the gallery folder's permissions",
    )
    _delete_quietly(root, doomed)


def bump_generation(root: Path) -> None:
    """Count a change, so that the gallery signature differs even within one timestamp tick."""
    count = f"{generation(root) + 1}\n".encode()
    try:  # not fsynced: after a power cut the change itself still shows in the folder stats
        durable.replace_file(root / _GENERATION, count, sync=False)
    except OSError as error:  # the change itself is done; only the token is weaker
        _LOG.warning("gallery %s: cannot update %s: %s", root, _GENERATION, error)


def generation(root: Path) -> int:
    """The change counter of gallery `root` (0 if never written or unreadable)."""
    try:
        return int((root / _GENERATION).read_text())
    except (OSError, ValueError):
        return 0


# -- crash recovery --------------------------------------------------------------------------


def has_debris(root: Path) -> bool:
    """True if a crashed writer left temporary or old folders behind."""
    with os.scandir(root) as entries:
        return any(entry.name.startswith(_DEBRIS_PREFIXES) for entry in entries)


def recover(root: Path) -> None:
    """Settle debris of a crashed writer. Call with the exclusive lock held."""
    with os.scandir(root) as listing:
        debris = sorted(e.name for e in listing if e.name.startswith(_DEBRIS_PREFIXES))
    for entry in debris:
        path = root / entry
        match = _OLD_RE.fullmatch(entry)
        target = root / match["name"] if match else None
        if target is not None and not target.exists() and not target.is_symlink():
            _LOG.warning("gallery %s: restoring %s after a crash", root, target.name)
            _rename(
                root,
                path,
                target,
                f"cannot restore {target} from {path} after a crash",
                f"rename {path.name} to {target.name} by hand",
            )
        else:
            _LOG.info("gallery %s: deleting %s left by a crash", root, entry)
            _delete_quietly(root, path)


def _rename(root: Path, source: Path, target: Path, failure: str, fix: str) -> None:
    """Rename within gallery `root`, durably; GalleryError "failure: reason; fix"."""
    try:
        source.rename(target)
        durable.fsync_dir(root)
    except OSError as error:
        raise GalleryError(f"{failure}: {error.strerror}; {fix}") from None


def _delete_quietly(root: Path, path: Path) -> None:
    """Delete `path`; a failure only leaves debris the next writer removes."""
    try:
        durable.remove_tree(path)
    except OSError as error:
        _LOG.warning("gallery %s: cannot delete %s: %s", root, path, error)
