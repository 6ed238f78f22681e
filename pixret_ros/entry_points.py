"""The console scripts of pixret_ros, in one table.

CMake installs a small launcher per name (for `ros2 run` and the venv's bin/) and setup.py
declares the same names for a pip-only install; both read this table, so the two never
disagree. Targets are imported lazily: `pixret-eval` must work without rclpy installed.
"""

from __future__ import annotations

import importlib

ENTRY_POINTS: dict[str, str] = {
    "pixret_node": "pixret_ros.ros.node:main",
    "pixret": "pixret_ros.ros.cli:main",
    "pixret-eval": "pixret_ros.evaluation.cli:main",
}


def run(name: str) -> int:
    """Import and call the entry point `name`; return its exit status."""
    module_name, _, function_name = ENTRY_POINTS[name].partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    status = function()
    return int(status or 0)
