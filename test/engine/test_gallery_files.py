"""Gallery files on disk (engine/gallery_files.py): damaged, missing or garbled view and mask
files are reported with the file and a fix, and skipped; the rest of the gallery works."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from gallery_helpers import photo

from pixret_ros.engine.gallery import Gallery
from pixret_ros.errors import GalleryError


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
