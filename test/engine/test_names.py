"""Instance names and cache keys (engine/names.py), as the gallery enforces them: each
refused name leaves the gallery exactly as it was."""

from __future__ import annotations

import pytest
from gallery_helpers import Refusal, assert_add_refused, photo

from pixret_ros.engine.gallery import Gallery

NAME_REFUSALS: dict[str, tuple[Refusal, str]] = {
    "empty name": (lambda p: ("", [p], None, False), r"instance name '' is invalid"),
    "space": (lambda p: ("red mug", [p], None, False), r"'red mug' is invalid: use 1 to 64"),
    "dot": (lambda p: (".", [p], None, False), r"'\.' is invalid.*not start with '\.'"),
    "dotdot": (lambda p: ("..", [p], None, False), r"'\.\.' is invalid"),
    "hidden": (lambda p: (".tmp-x", [p], None, False), r"'\.tmp-x' is invalid"),
    "long": (lambda p: ("x" * 65, [p], None, False), r"'x{65}' is invalid"),
    "umlaut": (lambda p: ("tasse_\u00e4", [p], None, False), r"is invalid"),
    "slash": (lambda p: ("a/b", [p], None, False), r"'a/b' is invalid"),
    "not str": (lambda p: (5, [p], None, False), r"must be a str, got int 5"),
}


@pytest.mark.parametrize("case", NAME_REFUSALS)
def test_name_refusals_leave_the_gallery_unchanged(cat_gallery: Gallery, case: str) -> None:
    args, match = NAME_REFUSALS[case]
    assert_add_refused(cat_gallery, case, args(photo("coffee")), match)
