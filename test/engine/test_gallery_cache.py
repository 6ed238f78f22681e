"""Feature caches (engine/gallery_cache.py): round trips through the Gallery, stale caches
(views changed by any route, or replaced while features were computed), unreadable files.

Views are scikit-image photos.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from gallery_helpers import photo

from pixret_ros.engine.gallery import Gallery


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
    with caplog.at_level(logging.WARNING, logger="pixret_ros.engine.gallery_cache"):
        assert gallery.read_cache("cup", "xfeat") is None
    assert "cup/cache/xfeat.npz" in caplog.text
    gallery.write_cache("cup", "xfeat", {"x": np.ones(3)})  # and it is simply overwritten
    assert gallery.read_cache("cup", "xfeat") is not None
