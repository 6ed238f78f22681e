"""The gallery: registered instances (views + masks) in a folder, shared by several processes.

Layout (DESIGN section 4)::

    <gallery>/<name>/view_000.png        the view, as given (RGB stored losslessly as PNG)
    <gallery>/<name>/view_000_mask.png   8-bit, 255 = object, 0 = background
    <gallery>/<name>/cache/<key>.npz     engine feature caches (ours)
    <gallery>/.lock, .generation         ours: flock for writers, change counter

Every change is atomic and survives a crash at any moment: a registration is written to
`.tmp-<name>-<random>/`, fsynced, then swapped in by renames (the old folder goes to
`.old-<name>-<random>` and is deleted after). A removal renames the folder to
`.del-<name>-<random>` before deleting it. Whoever next holds the lock finds any debris of a
crash and settles it: `.tmp-*` and `.del-*` are deleted, an `.old-*` whose instance is missing
is renamed back (the crash came between the two renames), otherwise deleted. Writers hold an
exclusive flock on `.lock`, readers a shared one, so nobody sees a swap half done.

Opening does not decode images: 1000 instances cost one directory listing and a few small
reads each. `views()` decodes on demand; the engine calls it only when its cache is stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pixret_ros.engine import durable
from pixret_ros.engine.gallery_files import (
    CACHE_DIR,
    MAX_VIEWS,
    decode_view,
    encode_view,
    fingerprint,
    mask_file,
    read_files,
    scan_instance,
    view_file,
)
from pixret_ros.engine.names import check_cache_key, check_name, is_valid_name
from pixret_ros.engine.view_checks import checked_views
from pixret_ros.errors import GalleryError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pixret_ros.engine.types import BoolMask, RGBImage

__all__ = ["Gallery", "View"]

_LOG = logging.getLogger(__name__)
_LOCK = ".lock"
_GENERATION = ".generation"
_DEBRIS_PREFIXES = (".tmp-", ".old-", ".del-")
_OLD_RE = re.compile(r"\.old-(?P<name>.+)-[0-9a-f]{8}")
_STAMP = "_gallery_views"  # reserved array name: the view fingerprint a cache was made from
_ARRAY_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True)
class View:
    """One registered view: `image` RGB uint8 (H, W, 3), `mask` bool (H, W), True = object."""

    index: int
    image: RGBImage
    mask: BoolMask


@dataclass(frozen=True)
class _Entry:
    """What a scan found for one instance folder; `key` tells when to look again."""

    key: tuple[int, int]  # (inode, mtime_ns) of the folder; a registration makes a new folder
    num_views: int


class Gallery:
    """A gallery folder (created if missing), safe to share between threads and processes.

    `names()` rescans the folder (stat only, cheap when nothing changed); `num_views()` answers
    from the last scan (made at opening, by `names()`, `refresh()` or a change through this
    object); `views()` always reads what is on disk now. Instance folders that are damaged are
    skipped and listed in `problems`, so one bad file does not keep the others from loading.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._root = Path(path)
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise GalleryError(
                f"cannot create gallery folder {self._root}: {error.strerror}; "
                "give a writable folder"
            ) from None
        if not self._root.is_dir():
            raise GalleryError(f"gallery path {self._root} is not a folder; give a folder")
        self._mutex = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._problems: dict[str, tuple[tuple[int, int], GalleryError]] = {}
        self._basis: dict[str, str] = {}  # name -> fingerprint of the views last read
        self._recovery_failed = False  # read-only gallery with crash debris: warn once
        self._recover_if_possible()
        self.refresh()

    @property
    def path(self) -> Path:
        """The gallery folder."""
        return self._root

    @property
    def problems(self) -> list[GalleryError]:
        """Damaged instance folders found by the last scan, each naming its file and the fix."""
        with self._mutex:
            return [error for _, error in self._problems.values()]

    def names(self) -> list[str]:
        """Sorted names of the loadable instances, as on disk now."""
        self.refresh()
        with self._mutex:
            return sorted(self._entries)

    def num_views(self, name: str) -> int:
        """Number of views of instance `name`; GalleryError if unknown."""
        check_name(name)
        with self._mutex:
            entry = self._entries.get(name)
        if entry is None:  # maybe registered by another process since the last scan
            self.refresh()
            with self._mutex:
                entry = self._entries.get(name)
        if entry is None:
            raise self._unknown(name)
        return entry.num_views

    def views(self, name: str) -> list[View]:
        """Decode all views of `name` from disk; GalleryError naming the file if one is damaged."""
        check_name(name)
        folder = self._root / name
        with self._lock(exclusive=False):  # read the bytes of one version, decode unlocked
            if not folder.is_dir():
                raise self._unknown(name)
            files = read_files(folder)
            basis = fingerprint(folder)
        views = [View(index, *decode_view(folder, index, pair)) for index, pair in enumerate(files)]
        with self._mutex:
            self._basis[name] = basis
        return views

    def add(
        self,
        name: str,
        images: object,
        masks: object = None,
        *,
        replace: bool = False,
    ) -> int:
        """Register views of `name`; returns how many views the instance has now.

        `images`: sequence of RGB uint8 (H, W, 3). `masks`: None (whole images), or one entry
        per image: None, or bool / uint8 (H, W) with nonzero = object. With replace=False the
        views are added to an existing instance (a view identical to one it has is refused);
        with replace=True they replace it. Atomic: all views or none, also across a crash.
        """
        check_name(name)
        new_views = checked_views(name, images, masks)
        _refuse_repeats(name, [image for image, _ in new_views], [])
        encoded = [encode_view(image, mask) for image, mask in new_views]
        folder = self._root / name
        with self._lock(exclusive=True):
            self._recover()
            kept: list[tuple[bytes, bytes]] = []
            if folder.exists() and not replace:
                kept = read_files(folder)
                old_images = [decode_view(folder, i, files)[0] for i, files in enumerate(kept)]
                _refuse_repeats(name, [image for image, _ in new_views], old_images)
            files = kept + encoded
            if len(files) > MAX_VIEWS:
                raise GalleryError(
                    f"add({name!r}): the instance would have {len(files)} views; at most "
                    f"{MAX_VIEWS} are allowed: replace it with fewer (replace=True)"
                )
            self._publish(folder, files)
            self._bump_generation()
        self.refresh()
        return len(files)

    def remove(self, name: str) -> None:
        """Delete instance `name` (atomic); GalleryError if there is no such instance."""
        check_name(name)
        folder = self._root / name
        with self._lock(exclusive=True):
            self._recover()
            if not folder.exists():
                raise self._unknown(name)
            doomed = self._root / f".del-{name}-{durable.token()}"
            self._rename(
                folder,
                doomed,
                f"cannot remove instance {name!r} ({folder})",
                "check the gallery folder's permissions",
            )
            self._delete_quietly(doomed)
            self._bump_generation()
        self.refresh()

    def signature(self) -> str:
        """A token that changes whenever instances on disk change (by any process): stat only.

        Covers the gallery folder, each instance folder (inode and mtime: a registration makes
        a new folder) and a counter every change through a Gallery increments, so two changes
        within one timestamp tick still give different tokens. Feature caches do not count.
        """
        digest = hashlib.blake2b(digest_size=16)
        stat = self._root.stat()
        digest.update(f"{stat.st_ino}:{stat.st_mtime_ns}:{self._generation()};".encode())
        for name, key in sorted(self._folder_keys().items()):
            digest.update(f"{name}:{key[0]}:{key[1]};".encode())
        return digest.hexdigest()

    def views_token(self, name: str) -> str:
        """Identity of the view files of `name` (stat only); GalleryError if unknown.

        Equal tokens mean the same views, so whatever was computed from them can be kept:
        the engine reloads only the instances whose token changed, not the whole gallery.
        """
        check_name(name)
        folder = self._root / name
        with self._lock(exclusive=False):
            if not folder.is_dir():
                raise self._unknown(name)
            return fingerprint(folder)

    def refresh(self) -> bool:
        """Rescan the folder (only changed instance folders are looked into); True if changed."""
        with self._lock(exclusive=False):
            if not self._has_debris() or self._recovery_failed:
                return self._rescan(self._folder_keys())
        self._recover_if_possible()  # debris while no writer holds the lock: a writer crashed
        with self._lock(exclusive=False):
            return self._rescan(self._folder_keys())

    def read_cache(self, name: str, key: str) -> dict[str, npt.NDArray[np.generic]] | None:
        """Arrays stored by `write_cache(name, key, ...)`; None if missing or stale.

        Stale: made from views that have changed since. GalleryError if `name` is unknown.
        """
        check_name(name)
        check_cache_key(key)
        folder = self._root / name
        with self._lock(exclusive=False):
            if not folder.is_dir():
                raise self._unknown(name)
            path = folder / CACHE_DIR / f"{key}.npz"
            if not path.exists():
                return None
            try:
                with np.load(path, allow_pickle=False) as archive:
                    arrays = {array: archive[array] for array in archive.files}
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
                _LOG.warning("ignoring unreadable feature cache %s: %s", path, error)
                return None
            current = fingerprint(folder)
        stamp = arrays.pop(_STAMP, None)
        if stamp is None or str(stamp) != current:
            return None
        with self._mutex:
            self._basis[name] = current
        return arrays

    def write_cache(
        self, name: str, key: str, arrays: Mapping[str, npt.NDArray[np.generic]]
    ) -> None:
        """Store `arrays` (numeric numpy arrays, names [A-Za-z0-9_]) as cache `key` of `name`.

        The cache is stamped with the views it was computed from: those of the last `views()`
        or successful `read_cache()` of `name` through this object, so a cache computed from
        views that were replaced meanwhile is never taken as valid. Atomic (temp file + rename).
        """
        check_name(name)
        check_cache_key(key)
        _check_arrays(name, key, arrays)
        folder = self._root / name
        with self._lock(exclusive=False):
            if not folder.is_dir():
                raise self._unknown(name)
            with self._mutex:
                basis = self._basis.get(name)
            if basis is None:
                basis = fingerprint(folder)
            buffer = io.BytesIO()
            np.savez(buffer, allow_pickle=False, **arrays, **{_STAMP: np.array(basis)})
            path = folder / CACHE_DIR / f"{key}.npz"
            try:
                path.parent.mkdir(exist_ok=True)
                durable.replace_file(path, buffer.getvalue(), sync=False)  # lost = recomputed
            except OSError as error:
                raise GalleryError(
                    f"cannot write feature cache {path}: {error.strerror}; "
                    "free disk space or fix permissions"
                ) from None

    # -- scanning ---------------------------------------------------------------------------

    def _folder_keys(self) -> dict[str, tuple[int, int]]:
        """(inode, mtime_ns) of every non-dot folder in the gallery, by name."""
        keys = {}
        with os.scandir(self._root) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir():
                        stat = entry.stat()
                        keys[entry.name] = (stat.st_ino, stat.st_mtime_ns)
                except OSError:  # vanished while listing
                    continue
        return keys

    def _rescan(self, keys: dict[str, tuple[int, int]]) -> bool:
        """Update entries and problems from folder `keys`, looking into changed folders only."""
        with self._mutex:
            old_entries, old_problems = self._entries, self._problems
        entries: dict[str, _Entry] = {}
        problems: dict[str, tuple[tuple[int, int], GalleryError]] = {}
        for name, key in keys.items():
            known = old_entries.get(name)
            if known is not None and known.key == key:
                entries[name] = known
                continue
            seen = old_problems.get(name)
            if seen is not None and seen[0] == key:
                problems[name] = seen
                continue
            try:
                entries[name] = _Entry(key, self._scan_folder(name))
            except GalleryError as error:
                problems[name] = (key, error)
                _LOG.warning("gallery %s: skipping %s", self._root, error)
        changed = entries.keys() != old_entries.keys() or any(
            entries[name] is not old_entries[name] for name in entries
        )
        with self._mutex:
            self._entries, self._problems = entries, problems
        return changed

    def _scan_folder(self, name: str) -> int:
        """Number of views of instance folder `name`; GalleryError if it cannot be loaded."""
        if not is_valid_name(name):
            raise GalleryError(
                f"folder {self._root / name} is not a valid instance name: rename it to 1 to 64 "
                "characters from A-Z a-z 0-9 _ . - (not starting with '.')"
            )
        return scan_instance(self._root / name)

    # -- writing -----------------------------------------------------------------------------

    def _publish(self, folder: Path, files: list[tuple[bytes, bytes]]) -> None:
        """Write `files` as instance `folder`, replacing what is there: all or nothing.

        The commit is the rename of the complete temporary folder to `folder`; until then a
        crash (or an error here) leaves the gallery as it was.
        """
        tmp = self._root / f".tmp-{folder.name}-{durable.token()}"
        old = self._root / f".old-{folder.name}-{durable.token()}"
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
            self._delete_quietly(tmp)
            raise GalleryError(
                f"cannot write instance {folder.name!r} to {self._root}: {error}; free disk "
                "space or fix permissions (the gallery is unchanged)"
            ) from None
        try:
            durable.fsync_dir(self._root)
        except OSError as error:  # committed for every process; only a power cut could undo it
            _LOG.warning("gallery %s: cannot fsync after registering: %s", self._root, error)
        if had_old:
            self._delete_quietly(old)

    def _bump_generation(self) -> None:
        """Count a change, so that signature() differs even within one timestamp tick."""
        count = f"{self._generation() + 1}\n".encode()
        try:  # not fsynced: after a power cut the change itself still shows in the folder stats
            durable.replace_file(self._root / _GENERATION, count, sync=False)
        except OSError as error:  # the change itself is done; only the token is weaker
            _LOG.warning("gallery %s: cannot update %s: %s", self._root, _GENERATION, error)

    def _generation(self) -> int:
        """The change counter (0 if never written or unreadable)."""
        try:
            return int((self._root / _GENERATION).read_text())
        except (OSError, ValueError):
            return 0

    # -- crash recovery ----------------------------------------------------------------------

    def _has_debris(self) -> bool:
        """True if a crashed writer left temporary or old folders behind."""
        with os.scandir(self._root) as entries:
            return any(entry.name.startswith(_DEBRIS_PREFIXES) for entry in entries)

    def _recover_if_possible(self) -> None:
        """Settle crash debris under the writer lock; a read-only gallery is left as it is."""
        try:
            with self._lock(exclusive=True):
                self._recover()
        except GalleryError as error:
            if not self._recovery_failed:
                _LOG.warning("gallery %s: cannot recover from a crash: %s", self._root, error)
            self._recovery_failed = True

    def _recover(self) -> None:
        """Settle debris of a crashed writer. Call with the exclusive lock held."""
        with os.scandir(self._root) as listing:
            debris = sorted(e.name for e in listing if e.name.startswith(_DEBRIS_PREFIXES))
        for entry in debris:
            path = self._root / entry
            match = _OLD_RE.fullmatch(entry)
            target = self._root / match["name"] if match else None
            if target is not None and not target.exists() and not target.is_symlink():
                _LOG.warning("gallery %s: restoring %s after a crash", self._root, target.name)
                self._rename(
                    path,
                    target,
                    f"cannot restore {target} from {path} after a crash",
                    f"rename {path.name} to {target.name} by hand",
                )
            else:
                _LOG.info("gallery %s: deleting %s left by a crash", self._root, entry)
                self._delete_quietly(path)

    def _rename(self, source: Path, target: Path, failure: str, fix: str) -> None:
        """Rename within the gallery folder, durably; GalleryError "failure: reason; fix"."""
        try:
            source.rename(target)
            durable.fsync_dir(self._root)
        except OSError as error:
            raise GalleryError(f"{failure}: {error.strerror}; {fix}") from None

    def _delete_quietly(self, path: Path) -> None:
        """Delete `path`; a failure only leaves debris the next writer removes."""
        try:
            durable.remove_tree(path)
        except OSError as error:
            _LOG.warning("gallery %s: cannot delete %s: %s", self._root, path, error)

    # -- helpers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, *, exclusive: bool) -> Iterator[None]:
        """The gallery's flock; an exclusive one that cannot be had is a GalleryError."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(durable.file_lock(self._root / _LOCK, exclusive=exclusive))
            except OSError as error:
                raise GalleryError(
                    f"cannot lock gallery {self._root} for writing ({error.strerror}); the "
                    "folder must be writable to add or remove instances"
                ) from None
            yield

    def _unknown(self, name: str) -> GalleryError:
        """The error for an instance that is not in the gallery, listing some that are."""
        with self._mutex:
            known = sorted(self._entries)
        listing = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        return GalleryError(
            f"unknown instance {name!r} in gallery {self._root}; "
            + (f"known: {listing}" if known else "the gallery is empty")
        )


def _refuse_repeats(name: str, new: list[RGBImage], old: list[RGBImage]) -> None:
    """GalleryError if a new image equals an existing view or another new image of `name`."""
    seen = {_digest(image): f"its registered view {index}" for index, image in enumerate(old)}
    for index, image in enumerate(new):
        digest = _digest(image)
        if digest in seen:
            raise GalleryError(
                f"add({name!r}): view {index} is identical to {seen[digest]}; give a different "
                "photo, or use replace=True to register the instance anew"
            )
        seen[digest] = f"view {index} of the same call"


def _digest(image: RGBImage) -> bytes:
    """Hash of an image's shape and pixels."""
    return hashlib.blake2b(repr(image.shape).encode() + image.tobytes(), digest_size=16).digest()


def _check_arrays(name: str, key: str, arrays: Mapping[str, npt.NDArray[np.generic]]) -> None:
    """GalleryError unless `arrays` maps plain names to numeric numpy arrays."""
    where = f"write_cache({name!r}, {key!r})"
    for array_name, array in arrays.items():
        if not isinstance(array_name, str) or not _ARRAY_NAME_RE.fullmatch(array_name):
            raise GalleryError(
                f"{where}: array name {array_name!r} must match [A-Za-z0-9_]{{1,64}}"
            )
        if array_name == _STAMP:
            raise GalleryError(f"{where}: array name {_STAMP!r} is reserved; rename the array")
        if not isinstance(array, np.ndarray) or array.dtype.hasobject:
            raise GalleryError(
                f"{where}: {array_name!r} must be a numpy array of numbers, got "
                f"{type(array).__name__}{' of objects' if isinstance(array, np.ndarray) else ''}"
            )
