"""The `pixret` console script against a running pixret_node (separate processes, real DDS)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from node_harness import NodeProcess, RosPeer, Scene, dds_env, folder_hash

from pixret_ros.entry_points import installed_launcher

pytestmark = [pytest.mark.dds, pytest.mark.installed]

# The installed launcher (a colcon workspace's lib/pixret_ros, or the venv of `make setup`).
PIXRET = installed_launcher("pixret")


def pixret(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    assert PIXRET is not None, "pixret is not installed: run `make setup` or `colcon build`"
    return subprocess.run(
        [str(PIXRET), *args],
        env=dds_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _grey(path: Path) -> np.ndarray:
    pixels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert pixels is not None, path
    return np.asarray(pixels)


@pytest.fixture
def view_files(scene: Scene, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A view and its mask, and a second view (the photo mirrored) without a mask."""
    image, mask = scene.views["cat"]
    image_path, mask_path = tmp_path / "cat.png", tmp_path / "cat_mask.png"
    mirrored_path = tmp_path / "cat_mirrored.jpg"
    cv2.imwrite(str(image_path), image[:, :, ::-1])
    cv2.imwrite(str(mask_path), mask.astype(np.uint8) * 255)
    cv2.imwrite(str(mirrored_path), image[:, ::-1, ::-1])
    return image_path, mask_path, mirrored_path


def test_help_shows_examples_and_exit_codes() -> None:
    result = pixret("--help")
    assert result.returncode == 0
    assert "pixret register mug" in result.stdout
    assert "exit status" in result.stdout


def test_register_list_remove_round_trip(
    shared_node: NodeProcess, ros_peer: RosPeer, view_files: tuple[Path, Path, Path]
) -> None:
    image, mask, mirrored = view_files
    node = ["--node", shared_node.name]
    result = pixret(*node, "register", "cli_cat", f"{image}:{mask}", str(mirrored))
    assert result.returncode == 0, result.stderr
    assert "registered 'cli_cat': 2 view(s)" in result.stdout
    assert ros_peer.list(shared_node.name)["cli_cat"] == 2
    views = sorted((shared_node.gallery / "cli_cat").glob("view_*_mask.png"))
    assert len(views) == 2
    first, second, given = (_grey(path) for path in (views[0], views[1], mask))
    assert np.array_equal(first > 0, given > 0)
    assert (second > 0).all(), "a view given without a mask must be all object"

    result = pixret(*node, "list")
    assert result.returncode == 0
    assert "cli_cat\t2 view(s)" in result.stdout

    result = pixret(*node, "remove", "cli_cat")
    assert result.returncode == 0, result.stderr
    assert "removed 'cli_cat'" in result.stdout
    assert "cli_cat" not in ros_peer.list(shared_node.name)

    result = pixret(*node, "remove", "cli_cat")
    assert result.returncode == 1
    assert "cli_cat" in result.stderr


def test_refusals_and_unreachable_node(
    shared_node: NodeProcess, view_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    image = view_files[0]
    before = folder_hash(shared_node.gallery)
    node = ["--node", shared_node.name]

    result = pixret(*node, "register", "../evil", str(image))
    assert result.returncode == 1
    assert "../evil" in result.stderr

    result = pixret(*node, "register", "ghost", str(tmp_path / "missing.png"))
    assert result.returncode == 1
    assert "missing.png does not exist" in result.stderr

    small = tmp_path / "small_mask.png"
    cv2.imwrite(str(small), np.full((10, 10), 255, np.uint8))
    result = pixret(*node, "register", "ghost", f"{image}:{small}")
    assert result.returncode == 1
    assert "a mask must have its image's size" in result.stderr

    result = pixret(*node, "register", "ghost")
    assert result.returncode == 2  # argparse: at least one view

    result = pixret("--node", "/nobody_here", "--timeout", "2", "list")
    assert result.returncode == 3
    assert "/nobody_here/list_instances" in result.stderr
    assert folder_hash(shared_node.gallery) == before
