"""Gallery store: round trips, every refusal, caches, signatures, damaged files, crashes.

Views are scikit-image photos. Crash tests run gallery_peer.py in real processes that are
SIGKILLed, at random moments and right after each file-system call of an operation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from gallery_peer import Op, Views, run_op
from skimage import data

from pixret_ros.engine import gallery as gallery_module
from pixret_ros.engine.gallery import Gallery
from pixret_ros.errors import GalleryError

PEER = Path(__file__).with_name("gallery_peer.py")
REPO = Path(__file__).resolve().parents[2]
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
DEBRIS = (".tmp-", ".old-", ".del-")


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


@pytest.fixture(scope="module")
def writers() -> Iterator[Writers]:
    """One peer process for the module: its imports are paid once."""
    peer = Writers()
    yield peer
    peer.close()


@pytest.fixture(scope="module")
def views() -> Views:
    """Eight distinct 160x120 views with masks."""
    return make_views((160, 120), 8)


@pytest.fixture(scope="module")
def cat_gallery(tmp_path_factory: pytest.TempPathFactory) -> Gallery:
    """A gallery with one instance, 'cat' (chelsea, with a feature cache), for refusals."""
    gallery = Gallery(tmp_path_factory.mktemp("cat") / "gallery")
    gallery.add("cat", [photo("chelsea")])
    gallery.write_cache("cat", "feat", {"x": np.arange(3)})
    return gallery


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Folder of a gallery that does not exist yet."""
    return tmp_path / "gallery"


# -- round trips ---------------------------------------------------------------------------


def test_round_trip_keeps_pixels_and_masks(root: Path) -> None:
    astronaut, coffee, chelsea = photo("astronaut"), photo("coffee"), photo("chelsea")
    as_uint8 = ellipse(coffee.shape).astype(np.uint8) * 7  # nonzero = object, any value
    assert (
        Gallery(root).add(
            "cup", [astronaut, coffee, chelsea], [ellipse(astronaut.shape), as_uint8, None]
        )
        == 3
    )

    reopened = Gallery(root)
    assert reopened.names() == ["cup"]
    assert reopened.num_views("cup") == 3
    views = reopened.views("cup")
    assert [view.index for view in views] == [0, 1, 2]
    for view, image in zip(views, (astronaut, coffee, chelsea), strict=True):
        assert view.image.dtype == np.uint8
        assert np.array_equal(view.image, image)
        assert view.mask.dtype == np.bool_
    assert np.array_equal(views[0].mask, ellipse(astronaut.shape))
    assert np.array_equal(views[1].mask, as_uint8 != 0)
    assert views[2].mask.all()
    # The files follow DESIGN section 4: PNG as cv2 writes it, masks 8-bit 0 / 255.
    stored = cv2.imread(str(root / "cup" / "view_001.png"))
    assert stored is not None
    assert np.array_equal(stored, coffee[..., ::-1])
    mask = cv2.imread(str(root / "cup" / "view_001_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask is not None
    assert mask.dtype == np.uint8
    assert mask.shape == coffee.shape[:2]
    assert set(np.unique(mask)) == {0, 255}


def test_add_to_existing_instance_appends_and_keeps_old_files(root: Path) -> None:
    gallery = Gallery(root)
    chelsea, coffee, rocket = photo("chelsea"), photo("coffee"), photo("rocket")
    assert gallery.add("cat", [chelsea]) == 1
    first = (root / "cat" / "view_000.png").read_bytes()
    assert gallery.add("cat", [coffee, rocket], [ellipse(coffee.shape), None]) == 3
    assert (root / "cat" / "view_000.png").read_bytes() == first
    images = [view.image for view in Gallery(root).views("cat")]
    assert all(map(np.array_equal, images, [chelsea, coffee, rocket]))


def test_replace_drops_old_views(root: Path) -> None:
    gallery = Gallery(root)
    gallery.add("rocket", [photo("rocket"), photo("coffee")])
    assert gallery.add("rocket", [photo("astronaut")], replace=True) == 1
    (view,) = Gallery(root).views("rocket")
    assert np.array_equal(view.image, photo("astronaut"))
    assert not (root / "rocket" / "view_001.png").exists()
    # replace=True also registers a new instance.
    assert gallery.add("fresh", [photo("coffee")], replace=True) == 1


def test_remove_deletes_the_folder(root: Path) -> None:
    gallery = Gallery(root)
    gallery.add("a", [photo("coffee")])
    gallery.add("b", [photo("rocket")])
    gallery.remove("a")
    assert gallery.names() == ["b"]
    assert not (root / "a").exists()
    assert Gallery(root).names() == ["b"]
    assert not debris(root)


def test_names_are_sorted_and_shared_between_objects(root: Path) -> None:
    writer, reader = Gallery(root), Gallery(root)
    for name in ("zebra", "Apple", "mug-2", "mug.1"):
        writer.add(name, [photo("coffee")])
    assert reader.names() == sorted(["zebra", "Apple", "mug-2", "mug.1"])
    writer.add("late", [photo("rocket"), photo("chelsea")])
    assert reader.num_views("late") == 2  # an unknown name makes it look again
    writer.remove("late")
    assert "late" not in reader.names()
    with pytest.raises(GalleryError, match="unknown instance 'late'"):
        reader.num_views("late")


# -- refusals: each leaves the gallery exactly as it was ---------------------------------------

big = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (8193, 100, 3))
huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (6000, 7000, 3))
Args = tuple[object, object, object, bool]  # name, images, masks, replace

ADD_REFUSALS: dict[str, tuple[Callable[[np.ndarray], Args], str]] = {
    "empty name": (lambda p: ("", [p], None, False), r"instance name '' is invalid"),
    "space": (lambda p: ("red mug", [p], None, False), r"'red mug' is invalid: use 1 to 64"),
    "dot": (lambda p: (".", [p], None, False), r"'\.' is invalid.*not start with '\.'"),
    "dotdot": (lambda p: ("..", [p], None, False), r"'\.\.' is invalid"),
    "hidden": (lambda p: (".tmp-x", [p], None, False), r"'\.tmp-x' is invalid"),
    "long": (lambda p: ("x" * 65, [p], None, False), r"'x{65}' is invalid"),
    "umlaut": (lambda p: ("tasse_\u00e4", [p], None, False), r"is invalid"),
    "slash": (lambda p: ("a/b", [p], None, False), r"'a/b' is invalid"),
    "not str": (lambda p: (5, [p], None, False), r"must be a str, got int 5"),
    "float": (
        lambda p: ("x", [p / 255.0], None, False),
        r"view 0: image has dtype float64.*\* 255",
    ),
    "int16": (lambda p: ("x", [p.astype(np.int16)], None, False), r"dtype int16.*astype"),
    "gray": (lambda p: ("x", [p[..., 0]], None, False), r"view 0: image is grayscale.*np\.repeat"),
    "rgba": (
        lambda p: ("x", [np.dstack([p, p[..., :1]])], None, False),
        r"4 channels.*\[\.\.\., :3\]",
    ),
    "2 channels": (lambda p: ("x", [p[..., :2]], None, False), r"shape \(400, 600, 2\).*RGB"),
    "list image": (lambda _: ("x", [[[0, 0, 0]]], None, False), r"image is a list, not a numpy"),
    "lone array": (lambda p: ("x", p, None, False), r"images is a single array.*\[image\]"),
    "str images": (lambda _: ("x", "cup.png", None, False), r"images must be a list .* got str"),
    "no images": (lambda _: ("x", [], None, False), r"no images given"),
    "tiny": (
        lambda p: ("x", [p[:31]], None, False),
        r"600x31 pixels; both sides must be at least 32",
    ),
    "tall": (lambda _: ("x", [big], None, False), r"100x8193 pixels .*8192 pixels per side"),
    "42 MP": (lambda _: ("x", [huge], None, False), r"7000x6000 pixels \(42\.0 MP\).*downscale"),
    "second bad": (lambda p: ("x", [p, p[:10]], None, False), r"view 1: image is 600x10"),
    "mask count": (lambda p: ("x", [p, p[::-1]], [None], False), r"2 images but 1 masks"),
    "mask dtype": (
        lambda p: ("x", [p], [np.ones(p.shape[:2], np.int32)], False),
        r"view 0: mask has dtype int32",
    ),
    "mask size": (
        lambda p: ("x", [p], [np.ones((40, 40), bool)], False),
        r"mask has shape \(40, 40\) but its image is 600x400",
    ),
    "mask rgb": (
        lambda p: ("x", [p], [p > 0], False),
        r"mask has shape \(400, 600, 3\); give one channel",
    ),
    "mask empty": (
        lambda p: ("x", [p], [np.zeros(p.shape[:2], np.uint8)], False),
        r"view 0: mask is empty",
    ),
    "mask list": (lambda p: ("x", [p], [[[1]]], False), r"mask is a list, not a numpy"),
    "lone mask": (
        lambda p: ("x", [p], np.ones(p.shape[:2], bool), False),
        r"masks is a single array",
    ),
    "repeat": (
        lambda p: ("x", [p, p], None, False),
        r"view 1 is identical to view 0 of the same call",
    ),
    "known view": (
        lambda _: ("cat", [photo("chelsea")], None, False),
        r"'cat'.*view 0 is identical to its registered view 0.*replace=True",
    ),
}


@pytest.mark.parametrize("case", ADD_REFUSALS)
def test_add_refusals_leave_the_gallery_unchanged(cat_gallery: Gallery, case: str) -> None:
    args, match = ADD_REFUSALS[case]
    gallery, root = cat_gallery, cat_gallery.path
    before, signature = tree(root), gallery.signature()
    name, images, masks, replace = args(photo("coffee"))
    with pytest.raises(GalleryError, match=match):
        gallery.add(name, images, masks, replace=replace)  # type: ignore[arg-type]
    assert tree(root) == before, case
    assert gallery.signature() == signature
    assert Gallery(root).names() == ["cat"]


def test_other_refusals_leave_the_gallery_unchanged(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gallery = Gallery(root)
    gallery.add("cat", [photo("chelsea"), photo("coffee")])
    before = tree(root)
    refusals: list[tuple[Callable[[], object], str]] = [
        (lambda: gallery.remove("dog"), r"unknown instance 'dog' in gallery .*; known: cat"),
        (lambda: gallery.remove("../cat"), r"'\.\./cat' is invalid"),
        (lambda: gallery.views("dog"), r"unknown instance 'dog'"),
        (lambda: gallery.num_views("dog"), r"unknown instance 'dog'"),
        (lambda: gallery.read_cache("dog", "feat"), r"unknown instance 'dog'"),
        (lambda: gallery.write_cache("dog", "feat", {}), r"unknown instance 'dog'"),
        (lambda: gallery.read_cache("cat", "Feat"), r"cache key 'Feat' is invalid: use 1 to 64"),
        (lambda: gallery.write_cache("cat", "a-b", {}), r"cache key 'a-b' is invalid"),
        (lambda: gallery.write_cache("cat", "", {}), r"cache key '' is invalid"),
        (
            lambda: gallery.write_cache("cat", "k", {"o": np.array([None, 1])}),
            r"write_cache\('cat', 'k'\): 'o' must be a numpy array of numbers, got ndarray of obj",
        ),
        (
            lambda: gallery.write_cache("cat", "k", {"l": [1, 2]}),  # type: ignore[dict-item]
            r"'l' must be a numpy array.*got list",
        ),
        (
            lambda: gallery.write_cache("cat", "k", {"a b": np.ones(2)}),
            r"array name 'a b' must match",
        ),
        (lambda: gallery.write_cache("cat", "k", {"_gallery_views": np.ones(2)}), r"is reserved"),
    ]
    for call, match in refusals:
        with pytest.raises(GalleryError, match=match):
            call()
        assert tree(root) == before, match
    monkeypatch.setattr(gallery_module, "MAX_VIEWS", 3)
    with pytest.raises(GalleryError, match=r"'cat'\): the instance would have 4 views; at most 3"):
        gallery.add("cat", [photo("rocket"), photo("astronaut")])
    assert tree(root) == before


def test_gallery_path_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a gallery")
    with pytest.raises(GalleryError, match=r"cannot create gallery folder .*file"):
        Gallery(tmp_path / "file")
    with pytest.raises(GalleryError, match=r"cannot create gallery folder .*file/sub"):
        Gallery(tmp_path / "file" / "sub")


# -- damaged files on disk -----------------------------------------------------------------------


def test_damaged_instances_are_reported_and_skipped(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gallery = Gallery(root)
    for name in ("good", "truncated", "no_mask", "gap", "not_png", "sizes", "garbled"):
        gallery.add(name, [photo("coffee"), photo("rocket", (600, 400))])
    view = root / "truncated" / "view_001.png"
    view.write_bytes(view.read_bytes()[: view.stat().st_size // 2])
    (root / "no_mask" / "view_000_mask.png").unlink()
    (root / "gap" / "view_001.png").rename(root / "gap" / "view_002.png")
    (root / "gap" / "view_001_mask.png").rename(root / "gap" / "view_002_mask.png")
    (root / "not_png" / "view_000.png").write_text("hello")
    cv2.imwrite(str(root / "sizes" / "view_001_mask.png"), np.full((10, 20), 255, np.uint8))
    garbled = root / "garbled" / "view_000.png"
    png = bytearray(garbled.read_bytes())
    png[len(png) // 2 : len(png) // 2 + 64] = bytes(64)  # header and end chunk stay intact
    garbled.write_bytes(bytes(png))
    (root / "bad name").mkdir()

    with caplog.at_level(logging.WARNING, logger="pixret_ros.engine.gallery"):
        reopened = Gallery(root)
    assert reopened.names() == ["garbled", "good"]  # garbling needs decoding to be seen
    messages = sorted(str(problem) for problem in reopened.problems)
    expected = [
        r"folder .*/bad name is not a valid instance name: rename it",
        r"instance 'gap': .*gap/view_001\.png is missing \(views must be numbered 0\.\.n-1\)",
        r"instance 'no_mask': view .*no_mask/view_000\.png has no mask .*view_000_mask\.png",
        (
            r"instance 'not_png': file .*not_png/view_000\.png is not a PNG image; fix the file, "
            r"re-register the instance with add\('not_png', \.\.\., replace=True\) or remove it"
        ),
        r"instance 'sizes': mask .*sizes/view_001_mask\.png is 20x10 but its view is 600x400",
        r"instance 'truncated': file .*truncated/view_001\.png is truncated or corrupt",
    ]
    assert len(messages) == len(expected)
    for message, pattern in zip(messages, expected, strict=True):
        assert re.search(pattern, message), message
    assert "truncated/view_001.png" in caplog.text
    with pytest.raises(
        GalleryError, match=r"garbled/view_000\.png cannot be decoded \(corrupt PNG\)"
    ):
        reopened.views("garbled")
    assert len(reopened.views("good")) == 2
    # A damaged instance cannot be extended, but it can be replaced or removed.
    with pytest.raises(GalleryError, match=r"truncated/view_001\.png is truncated"):
        reopened.add("truncated", [photo("astronaut")])
    assert reopened.add("truncated", [photo("astronaut")], replace=True) == 1
    reopened.remove("no_mask")
    assert reopened.names() == ["garbled", "good", "truncated"]
    assert len(reopened.problems) == 4


def test_empty_mask_file_is_reported_when_decoded(root: Path) -> None:
    gallery = Gallery(root)
    gallery.add("cup", [photo("coffee")])
    cv2.imwrite(str(root / "cup" / "view_000_mask.png"), np.zeros((400, 600), np.uint8))
    with pytest.raises(GalleryError, match=r"mask .*cup/view_000_mask\.png is empty \(all zero\)"):
        gallery.views("cup")


# -- feature caches ------------------------------------------------------------------------------


def test_cache_round_trip_and_invalidation(root: Path) -> None:
    gallery = Gallery(root)
    gallery.add("cup", [photo("coffee")])
    assert gallery.read_cache("cup", "xfeat") is None
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "keypoints": np.random.default_rng(0).random((50, 2), dtype=np.float32),
        "descriptors": np.arange(50 * 64, dtype=np.uint8).reshape(50, 64),
        "scale": np.array(0.5),
    }
    gallery.views("cup")
    signature = gallery.signature()
    gallery.write_cache("cup", "xfeat", arrays)
    assert gallery.signature() == signature  # caches are not gallery changes
    for reader in (gallery, Gallery(root)):
        cached = reader.read_cache("cup", "xfeat")
        assert cached is not None
        assert cached.keys() == arrays.keys()
        for key, array in arrays.items():
            assert cached[key].dtype == array.dtype
            assert np.array_equal(cached[key], array)
    assert gallery.read_cache("cup", "other") is None

    gallery.add("cup", [photo("rocket")])  # new views: the cache is stale
    assert gallery.read_cache("cup", "xfeat") is None
    gallery.views("cup")
    gallery.write_cache("cup", "xfeat", arrays)
    assert gallery.read_cache("cup", "xfeat") is not None
    gallery.add("cup", [photo("chelsea")], replace=True)
    assert gallery.read_cache("cup", "xfeat") is None

    gallery.views("cup")
    gallery.write_cache("cup", "xfeat", arrays)
    view = root / "cup" / "view_000.png"
    view.write_bytes(view.read_bytes())  # edited by hand: new mtime
    os.utime(view, ns=(1, 1))
    assert gallery.read_cache("cup", "xfeat") is None


def test_cache_from_views_replaced_meanwhile_is_stale(root: Path) -> None:
    engine, other = Gallery(root), Gallery(root)
    engine.add("cup", [photo("coffee")])
    engine.views("cup")  # the engine reads the views and computes features ...
    other.add("cup", [photo("rocket")], replace=True)  # ... while another node replaces them
    engine.write_cache("cup", "xfeat", {"x": np.ones(3)})
    assert engine.read_cache("cup", "xfeat") is None
    assert other.read_cache("cup", "xfeat") is None
    engine.views("cup")
    engine.write_cache("cup", "xfeat", {"x": np.ones(3)})
    assert other.read_cache("cup", "xfeat") is not None


def test_unreadable_cache_is_ignored_with_a_warning(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gallery = Gallery(root)
    gallery.add("cup", [photo("coffee")])
    (root / "cup" / "cache" / "xfeat.npz").write_bytes(b"PK\x03\x04 not a zip")
    with caplog.at_level(logging.WARNING, logger="pixret_ros.engine.gallery"):
        assert gallery.read_cache("cup", "xfeat") is None
    assert "cup/cache/xfeat.npz" in caplog.text
    gallery.write_cache("cup", "xfeat", {"x": np.ones(3)})  # and it is simply overwritten
    assert gallery.read_cache("cup", "xfeat") is not None


# -- signature -----------------------------------------------------------------------------------


def test_signature_changes_with_every_change_by_any_object(root: Path) -> None:
    first, second = Gallery(root), Gallery(root)
    coffee, rocket = photo("coffee"), photo("rocket")
    changes: list[Callable[[Gallery], object]] = [
        lambda g: g.add("cup", [coffee]),
        lambda g: g.add("cup", [rocket]),
        lambda g: g.add("can", [rocket]),
        lambda g: g.add("cup", [coffee], replace=True),
        lambda g: g.remove("can"),
        lambda g: g.remove("cup"),
        lambda g: g.add("cup", [coffee]),  # same content as after the first change
        lambda g: g.add("cup", [rocket], replace=True),
        lambda g: g.add("cup", [coffee], replace=True),
    ]
    signatures = [first.signature()]
    for step, change in enumerate(changes):  # back to back: several land in one mtime tick
        change((first, second)[step % 2])
        signatures.append((second, first)[step % 2].signature())
    assert len(set(signatures)) == len(signatures)
    # Reading changes nothing.
    first.names()
    first.views("cup")
    first.write_cache("cup", "k", {"x": np.ones(1)})
    first.read_cache("cup", "k")
    assert second.signature() == signatures[-1]


def test_signature_sees_folders_made_by_hand(root: Path) -> None:
    gallery = Gallery(root)
    gallery.add("cup", [photo("coffee")])
    signature = gallery.signature()
    (root / "copy").mkdir()
    for file in (root / "cup").glob("view_*"):
        (root / "copy" / file.name).write_bytes(file.read_bytes())
    assert gallery.signature() != signature
    assert gallery.names() == ["copy", "cup"]


def test_views_token_changes_with_the_views_of_that_instance_only(root: Path) -> None:
    gallery = Gallery(root)
    gallery.add("cup", [photo("coffee")])
    gallery.add("can", [photo("rocket")])
    cup, can = gallery.views_token("cup"), gallery.views_token("can")
    gallery.write_cache("cup", "k", {"x": np.ones(1)})  # caches are not views
    assert gallery.views_token("cup") == cup
    Gallery(root).add("cup", [photo("rocket")])  # another object adds a view
    assert gallery.views_token("cup") != cup
    assert gallery.views_token("can") == can
    gallery.remove("can")
    with pytest.raises(GalleryError, match="can"):
        gallery.views_token("can")
    with pytest.raises(GalleryError, match="name"):
        gallery.views_token("../cup")


# -- concurrency ---------------------------------------------------------------------------------


def test_two_processes_add_to_one_instance_at_once(
    root: Path, tmp_path: Path, views: Views, writers: Writers
) -> None:
    Gallery(root)
    path = save_views(views, tmp_path / "views.npz")
    groups = [[0, 1, 2, 3], [4, 5, 6, 7]]
    writers.send(cmd="append", gallery=str(root), views=str(path), name="shared", groups=groups)
    assert writers.readline() == "done 0"
    assert sorted(state_of(Gallery(root), views)["shared"]) == list(range(8))


def test_threads_add_to_one_instance_at_once(root: Path, views: Views) -> None:
    shared = Gallery(root)
    galleries = [shared, shared, Gallery(root)]
    errors: list[BaseException] = []

    def append(gallery: Gallery, ids: list[int]) -> None:
        try:
            for i in ids:
                gallery.add("shared", [views[i][0]], [views[i][1]])
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=append, args=(gallery, ids))
        for gallery, ids in zip(galleries, ([0, 1, 2], [3, 4, 5], [6, 7]), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(state_of(Gallery(root), views)["shared"]) == list(range(8))


# -- crash safety ------------------------------------------------------------------------------


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
