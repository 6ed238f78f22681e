"""The console scripts of pixret_ros, in one table.

CMake installs a small launcher per name (for `ros2 run` and the venv's bin/;
cmake/pixret_entry_points.cmake runs this file at configure time to read the names) and
setup.py declares the same names for a pip-only install (those outside pixret_ros.ros); both
read this table, so the two never disagree. Targets are imported lazily: `pixret-eval` must
work without rclpy installed.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

PACKAGE = "pixret_ros"

ENTRY_POINTS: dict[str, str] = {
    "pixret_node": "pixret_ros.ros.node_process:main",  # signals first, then imports
    "pixret": "pixret_ros.ros.cli:main",
    "pixret-eval": "pixret_ros.evaluation.cli:main",
    # A small `ros2 bag play` / `ros2 bag record` for installs without rosbag2 (PyPI wheels).
    "pixret-play": "pixret_ros.ros.player:main",
    "pixret-record": "pixret_ros.ros.recorder:main",
}


def run(name: str) -> int:
    """Import and call the entry point `name`; return its exit status."""
    module_name, _, function_name = ENTRY_POINTS[name].partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    status = function()
    return int(status or 0)


def installed_prefix() -> Path | None:
    """The install prefix holding this package's ament index entry, or None if not installed.

    Searched like `ros2 run` does (AMENT_PREFIX_PATH, first hit wins: a sourced colcon
    workspace), then this Python's own prefix (the venv that `make setup` installs into).
    """
    prefixes = [*filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep))]
    for prefix in (*prefixes, sys.prefix):
        marker = Path(prefix, "share", "ament_index", "resource_index", "packages", PACKAGE)
        if marker.is_file():
            return Path(prefix)
    return None


def installed_launcher(name: str) -> Path | None:
    """The installed console script `name` (<prefix>/lib/pixret_ros/<name>), or None."""
    if name not in ENTRY_POINTS:
        raise KeyError(f"{name!r} is not a console script of {PACKAGE}: {sorted(ENTRY_POINTS)}")
    prefix = installed_prefix()
    launcher = None if prefix is None else prefix / "lib" / PACKAGE / name
    return launcher if launcher is not None and launcher.is_file() else None
