"""Helpers of the gallery tests: real photos, exact trees, a peer process that writes.

Views are scikit-image photos. Crash tests run gallery_peer.py in real processes that are
SIGKILLed, at random moments and right after each file-system call of an operation.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from gallery_peer import Op, Views
from skimage import data

from pixret_ros.engine.gallery import Gallery
from pixret_ros.errors import GalleryError

PEER = Path(__file__).with_name("gallery_peer.py")
REPO = Path(__file__).resolve().parents[2]
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
DEBRIS = (".tmp-", ".old-", ".del-")
Args = tuple[object, object, object, bool]  # name, images, masks, replace
Refusal = Callable[[np.ndarray], Args]  # a photo -> the arguments of a refused add()


def photo(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """A scikit-image photo as RGB uint8, resized to `size` (width, height) if given."""
    rgb = np.ascontiguousarray(getattr(data, name)()[..., :3])
    if size is not None:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb


def ellipse(shape: tuple[int, ...], scale: float = 0.35) -> np.ndarray:
    """A centred elliptic object mask (bool) of `shape[:2]`."""
    height, width = shape[:2]
    rows, cols = np.ogrid[:height, :width]
    return ((rows - height / 2) / (scale * height)) ** 2 + (
        (cols - width / 2) / (scale * width)
    ) ** 2 <= 1


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under `root` with a hash of its bytes: 'unchanged' made exact."""
    listing = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        listing[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return listing


def debris(folder: Path) -> list[str]:
    """Temporary and old folders a writer left in `folder`."""
    return [path.name for path in folder.iterdir() if path.name.startswith(DEBRIS)]


def make_views(size: tuple[int, int], count: int) -> Views:
    """`count` distinct views (photos, then mirrored photos) of `size` with distinct masks."""
    views: Views = {}
    for view_id in range(count):
        image = photo(PHOTOS[view_id % len(PHOTOS)], size)
        if view_id >= len(PHOTOS):
            image = np.ascontiguousarray(image[:, ::-1])
        views[view_id] = (image, ellipse(image.shape, 0.25 + 0.04 * view_id))
    return views


def save_views(views: Views, path: Path) -> Path:
    """Write views for gallery_peer.py (image_<id>, mask_<id>)."""
    arrays = {f"image_{i}": image for i, (image, _) in views.items()}
    arrays |= {f"mask_{i}": mask for i, (_, mask) in views.items()}
    np.savez(path, allow_pickle=False, **arrays)
    return path


def state_of(gallery: Gallery, views: Views) -> dict[str, list[int]]:
    """Instance -> ids of its views, decoded from disk; fails if a view or mask is not exact."""
    ids = {hashlib.sha256(image.tobytes()).digest(): i for i, (image, _) in views.items()}
    state = {}
    for name in gallery.names():
        found = []
        for view in gallery.views(name):
            view_id = ids[hashlib.sha256(view.image.tobytes()).digest()]
            assert np.array_equal(view.mask, views[view_id][1]), f"{name}: mask of {view_id}"
            found.append(view_id)
        assert gallery.num_views(name) == len(found)
        state[name] = found
    return state


def apply(state: dict[str, list[int]], op: Op) -> dict[str, list[int]]:
    """The state an operation leads to, computed without a gallery."""
    kind, name, ids = op
    after = {key: list(value) for key, value in state.items()}
    if kind == "add":
        after[name] = after.get(name, []) + list(ids)
    elif kind == "replace":
        after[name] = list(ids)
    else:
        del after[name]
    return after


class Writers:
    """gallery_peer.py serving commands: it forks the writer processes the tests kill."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(PEER)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.readline() == "serving"

    def send(self, **command: object) -> None:
        """Send one command (see gallery_peer.py)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def readline(self) -> str:
        """The next line the peer or one of its writers printed."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"gallery_peer.py ended with status {self.process.wait()}"
        return line.strip()

    def close(self) -> None:
        """End the peer (it leaves when stdin closes)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=60) == 0


def assert_add_refused(gallery: Gallery, case: str, args: Args, match: str) -> None:
    """`gallery.add(*args)` (gallery: only 'cat') is refused with `match`, changing nothing."""
    root = gallery.path
    before, signature = tree(root), gallery.signature()
    name, images, masks, replace = args
    with pytest.raises(GalleryError, match=match):
        gallery.add(name, images, masks, replace=replace)  # type: ignore[arg-type]
    assert tree(root) == before, case
    assert gallery.signature() == signature
    assert Gallery(root).names() == ["cat"]
