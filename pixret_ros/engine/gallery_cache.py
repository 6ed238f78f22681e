"""Feature caches of an instance: named numeric arrays in `<instance>/cache/<key>.npz`.

Why a stamp: features are slow to compute and views can be replaced by any process, so each
cache carries the fingerprint of the views it was made from (the reserved array
`_gallery_views`); a cache whose stamp differs from the views on disk now is stale. The
`Gallery` takes the lock and picks the fingerprint; this module only writes, reads and checks.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pixret_ros.engine import durable
from pixret_ros.engine.gallery_files import CACHE_DIR
from pixret_ros.errors import GalleryError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

_LOG = logging.getLogger(__name__)
_STAMP = "_gallery_views"  # reserved array name: the view fingerprint a cache was made from
_ARRAY_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,64}")


def cache_path(folder: Path, key: str) -> Path:
    """The file of cache `key` of instance `folder`."""
    return folder / CACHE_DIR / f"{key}.npz"


def load_arrays(path: Path) -> dict[str, npt.NDArray[np.generic]] | None:
    """All arrays of cache file `path`, stamp included; None if missing or unreadable (warned)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {array: archive[array] for array in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        _LOG.warning("ignoring unreadable feature cache %s: %s", path, error)
        return None


def unstamped(
    arrays: dict[str, npt.NDArray[np.generic]], current: str
) -> dict[str, npt.NDArray[np.generic]] | None:
    """`arrays` without their stamp if it equals the views' fingerprint `current`, else None."""
    stamp = arrays.pop(_STAMP, None)
    if stamp is None or str(stamp) != current:
        return None
    return arrays


def save_arrays(path: Path, arrays: Mapping[str, npt.NDArray[np.generic]], basis: str) -> None:
    """Write `arrays` stamped with view fingerprint `basis` to `path` (temp file + rename)."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays, **{_STAMP: np.array(basis)})
    try:
        path.parent.mkdir(exist_ok=True)
        durable.replace_file(path, buffer.getvalue(), sync=False)  # lost = recomputed
    except OSError as error:
        raise GalleryError(
            f"cannot write feature cache {path}: {error.strerror}; "
            "free disk space or fix permissions"
        ) from None


def check_arrays(name: str, key: str, arrays: Mapping[str, npt.NDArray[np.generic]]) -> None:
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
