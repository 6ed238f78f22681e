"""Fixtures of the gallery tests (test_gallery, test_gallery_files, test_names, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gallery_helpers import Writers, make_views, photo
from gallery_peer import Views

from pixret_ros.engine.gallery import Gallery


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
