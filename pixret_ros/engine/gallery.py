"""The gallery: registered instances (views + masks) in a folder, shared by several processes.

Layout (DESIGN section 4)::

    <gallery>/<name>/view_000.png        the view, as given (RGB stored losslessly as PNG)
    <gallery>/<name>/view_000_mask.png   8-bit, 255 = object, 0 = background
    <gallery>/<name>/cache/<key>.npz     engine feature caches (ours)
    <gallery>/.lock, .generation         ours: flock for writers, change counter

Every change is atomic and survives a crash at any moment (gallery_commit.py says how); the
files of one instance folder are checked and decoded by gallery_files.py, feature caches
stored by gallery_cache.py. This module is the API over them: what the engine and the node
call, safe to share between threads and processes.

Opening does not decode images: 1000 instances cost one directory listing and a few small
reads each. `views()` decodes on demand; the engine calls it only when its cache is stale.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pixret_ros.engine.gallery_cache import (
    cache_path,
    check_arrays,
    load_arrays,
    save_arrays,
    unstamped,
)
from pixret_ros.engine.gallery_commit import (
    bump_generation,
    gallery_lock,
    generation,
    has_debris,
    publish_instance,
    recover,
    remove_instance,
)
from pixret_ros.engine.gallery_files import (
    MAX_VIEWS,
    decode_view,
    encode_view,
    fingerprint,
    read_files,
    scan_instance,
)
from pixret_ros.engine.names import check_cache_key, check_name, is_valid_name
from pixret_ros.engine.view_checks import checked_views
from pixret_ros.errors import GalleryError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pixret_ros.engine.types import BoolMask, RGBImage

__all__ = ["Gallery", "View"]

_LOG = logging.getLogger(__name__)


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
        # Read the bytes of one version under the lock, decode unlocked.
        with gallery_lock(self._root, exclusive=False):
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
        with gallery_lock(self._root, exclusive=True):
            recover(self._root)
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
            publish_instance(self._root, folder, files)
            bump_generation(self._root)
        self.refresh()
        return len(files)

    def remove(self, name: str) -> None:
        """Delete instance `name` (atomic); GalleryError if there is no such instance."""
        check_name(name)
        folder = self._root / name
        with gallery_lock(self._root, exclusive=True):
            recover(self._root)
            if not folder.exists():
                raise self._unknown(name)
            remove_instance(self._root, name)
            bump_generation(self._root)
        self.refresh()

    def signature(self) -> str:
        """A token that changes whenever instances on disk change (by any process): stat only.

        Covers the gallery folder, each instance folder (inode and mtime: a registration makes
        a new folder) and a counter every change through a Gallery increments, so two changes
        within one timestamp tick still give different tokens. Feature caches do not count.
        """
        digest = hashlib.blake2b(digest_size=16)
        stat = self._root.stat()
        digest.update(f"{stat.st_ino}:{stat.st_mtime_ns}:{generation(self._root)};".encode())
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
        with gallery_lock(self._root, exclusive=False):
            if not folder.is_dir():
                raise self._unknown(name)
            return fingerprint(folder)

    def refresh(self) -> bool:
        """Rescan the folder (only changed instance folders are looked into); True if changed."""
        with gallery_lock(self._root, exclusive=False):
            if not has_debris(self._root) or self._recovery_failed:
                return self._rescan(self._folder_keys())
        self._recover_if_possible()  # debris while no writer holds the lock: a writer crashed
        with gallery_lock(self._root, exclusive=False):
            return self._rescan(self._folder_keys())

    def read_cache(self, name: str, key: str) -> dict[str, npt.NDArray[np.generic]] | None:
        """Arrays stored by `write_cache(name, key, ...)`; None if missing or stale.

        Stale: made from views that have changed since. GalleryError if `name` is unknown.
        """
        check_name(name)
        check_cache_key(key)
        folder = self._root / name
        with gallery_lock(self._root, exclusive=False):
            if not folder.is_dir():
                raise self._unknown(name)
            stored = load_arrays(cache_path(folder, key))
            if stored is None:
                return None
            current = fingerprint(folder)
        arrays = unstamped(stored, current)
        if arrays is None:
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
        check_arrays(name, key, arrays)
        folder = self._root / name
        with gallery_lock(self._root, exclusive=False):
            if not folder.is_dir():
                raise self._unknown(name)
            with self._mutex:
                basis = self._basis.get(name)
            if basis is None:
                basis = fingerprint(folder)
            save_arrays(cache_path(folder, key), arrays, basis)

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

    # -- crash recovery ----------------------------------------------------------------------

    def _recover_if_possible(self) -> None:
        """Settle crash debris under the writer lock; a read-only gallery is left as it is."""
        try:
            with gallery_lock(self._root, exclusive=True):
                recover(self._root)
        except GalleryError as error:
            if not self._recovery_failed:
                _LOG.warning("gallery %s: cannot recover from a crash: %s", self._root, error)
            self._recovery_failed = True

    # -- helpers -----------------------------------------------------------------------------

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
