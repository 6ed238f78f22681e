"""The installed package: what `colcon build` (or `make setup`) puts where ROS tools look.

Run by `make unit` against the venv and by `make colcon-test` inside a colcon workspace
(`installed_prefix()` then finds the workspace's install folder first, as `ros2 run` would).
"""

from __future__ import annotations

import filecmp
import os
import subprocess
from pathlib import Path

import pytest
from node_harness import REPO, RosPeer, launch_node

import pixret_ros.msg
import pixret_ros.srv
from pixret_ros.entry_points import ENTRY_POINTS, PACKAGE, installed_launcher, installed_prefix

pytestmark = pytest.mark.installed


@pytest.fixture(scope="module")
def prefix() -> Path:
    found = installed_prefix()
    assert found is not None, "pixret_ros is not installed: run `make setup` or `colcon build`"
    built = os.environ.get("PIXRET_INSTALL_PREFIX")  # set by CMake's tests (`colcon test`)
    if built:
        assert found.resolve() == Path(built).resolve(), "testing another install than this build's"
    return found


def test_share_holds_package_xml_launch_config_and_interfaces(prefix: Path) -> None:
    share = prefix / "share" / PACKAGE
    assert filecmp.cmp(share / "package.xml", REPO / "package.xml", shallow=False)
    for folder in ("launch", "config", "msg", "srv"):
        sources = sorted(p.name for p in (REPO / folder).iterdir() if p.is_file())
        assert sources, folder
        for name in sources:
            installed = share / folder / name
            assert installed.is_file(), f"{installed} missing: rebuild"
            assert filecmp.cmp(installed, REPO / folder / name, shallow=False), (
                f"{installed} differs from the source: rebuild"
            )


def test_every_console_script_is_an_executable_in_lib(prefix: Path) -> None:
    for name in ENTRY_POINTS:
        launcher = installed_launcher(name)
        assert launcher == prefix / "lib" / PACKAGE / name
        assert os.access(launcher, os.X_OK), launcher


def test_lib_holds_exactly_the_console_scripts_of_the_table(prefix: Path) -> None:
    """CMake reads entry_points.py: nothing installed that the table lacks, nothing missing."""
    lib = prefix / "lib" / PACKAGE
    assert sorted(p.name for p in lib.iterdir() if p.is_file()) == sorted(ENTRY_POINTS)


@pytest.mark.parametrize("name", ["pixret-play", "pixret-record"])
def test_bag_tools_are_installed_under_the_name_their_help_gives(name: str) -> None:
    launcher = installed_launcher(name)
    assert launcher is not None, f"{name} is not installed: rebuild"
    shown = subprocess.run(
        [str(launcher), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert shown.stdout.startswith(f"usage: {name} "), shown.stdout


def test_generated_interfaces_import_from_the_install(prefix: Path) -> None:
    for module in (pixret_ros.msg, pixret_ros.srv):
        assert module.__file__ is not None
        assert Path(module.__file__).resolve().is_relative_to(prefix.resolve()), module.__file__
    assert pixret_ros.msg.InstanceDetectionArray().detections == []
    assert pixret_ros.srv.ListInstances.Response().names == []


@pytest.mark.dds
def test_installed_node_executable_serves(ros_peer: RosPeer, tmp_path: Path) -> None:
    """lib/pixret_ros/pixret_node (what `ros2 run` and the launch file start) comes up."""
    launcher = installed_launcher("pixret_node")
    assert launcher is not None
    node = launch_node(
        tmp_path / "gallery",
        tmp_path / "node.log",
        namespace=f"/installed_{os.getpid()}",
        command=[str(launcher)],
    )
    try:
        ros_peer.wait_ready(node)
        assert ros_peer.list(node.name) == {}
    finally:
        status = node.stop()
    assert status == 0, node.log_text()
