"""Views and masks given to `Gallery.add` (engine/view_checks.py): each malformed image or
mask is refused with a message that says how to fix it, leaving the gallery as it was."""

from __future__ import annotations

import numpy as np
import pytest
from gallery_helpers import Refusal, assert_add_refused, photo

from pixret_ros.engine.gallery import Gallery

big = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (8193, 100, 3))
huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (6000, 7000, 3))

VIEW_REFUSALS: dict[str, tuple[Refusal, str]] = {
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
}


@pytest.mark.parametrize("case", VIEW_REFUSALS)
def test_view_refusals_leave_the_gallery_unchanged(cat_gallery: Gallery, case: str) -> None:
    args, match = VIEW_REFUSALS[case]
    assert_add_refused(cat_gallery, case, args(photo("coffee")), match)
