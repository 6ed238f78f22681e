"""Instance names and cache keys: what the gallery accepts, checked in one place.

Names become folder names, so they are restricted to characters that are safe on every file
system and in ROS messages. A leading dot is refused because the gallery keeps its own
bookkeeping (lock file, temporary folders of a registration in progress) under dot names.
"""

from __future__ import annotations

import re

from pixret_ros.errors import GalleryError

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
CACHE_KEY_RE = re.compile(r"[a-z0-9_]{1,64}")


def is_valid_name(name: str) -> bool:
    """True if `name` may be an instance name (and thus an instance folder)."""
    return NAME_RE.fullmatch(name) is not None and not name.startswith(".")


def check_name(name: object) -> str:
    """Return `name` if it is a valid instance name, else GalleryError saying what is allowed."""
    if not isinstance(name, str):
        raise GalleryError(
            f"instance name must be a str, got {type(name).__name__} {name!r}; use e.g. 'red_mug-2'"
        )
    if not is_valid_name(name):
        raise GalleryError(
            f"instance name {name!r} is invalid: use 1 to 64 characters from "
            "A-Z a-z 0-9 _ . - that do not start with '.', e.g. 'red_mug-2'"
        )
    return name


def check_cache_key(key: object) -> str:
    """Return `key` if it is a valid feature-cache key ([a-z0-9_]{1,64}); GalleryError otherwise."""
    if not isinstance(key, str) or CACHE_KEY_RE.fullmatch(key) is None:
        raise GalleryError(
            f"cache key {key!r} is invalid: use 1 to 64 characters from a-z 0-9 _, "
            "e.g. 'xfeat_4096'"
        )
    return key
