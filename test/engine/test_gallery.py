"""Gallery store (engine/gallery.py): round trips, refusals, signatures, threads.

Views are scikit-image photos. Names, view checks, files on disk, feature caches and crash
safety have their own test modules (test_names, test_view_checks, test_gallery_files,
test_gallery_cache, test_durable).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from gallery_helpers import Refusal, assert_add_refused, debris, ellipse, photo, state_of, tree
from gallery_peer import Views

from pixret_ros.engine import gallery as gallery_module
from pixret_ros.engine.gallery import Gallery
from pixret_ros.errors import GalleryError

# -- round trips ------------------------------------------------------------------------------


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


# -- refusals: each leaves the gallery exactly as it was --------------------------------------


ADD_REFUSALS: dict[str, tuple[Refusal, str]] = {
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
    assert_add_refused(cat_gallery, case, args(photo("coffee")), match)


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


# -- signature --------------------------------------------------------------------------------


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


# -- concurrency ------------------------------------------------------------------------------


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
