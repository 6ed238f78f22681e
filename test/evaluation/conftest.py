"""Fixtures of the evaluator tests: one tiny real scene per session (its gallery warms once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from proxford_layout import write_layout
from tiny_scene import Scene, make_scene

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """Gallery, frames, bag and ground truth of tiny_scene; the engine caches into its gallery."""
    root: Path = tmp_path_factory.mktemp("tiny")
    return make_scene(root)


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """The PROxford fixture of proxford_layout.py, written in the official layout."""
    return write_layout(tmp_path)
