"""Rewrite the `engine:` section of config/pixret.yaml from EngineConfig (fields, defaults, docs).

Why: the node declares one `engine.<field>` parameter per EngineConfig field, and
test/ros/test_params.py checks that the file lists exactly those with their defaults. When the
engine gains or changes a field, run this instead of editing the section by hand:

    PYTHONPATH=. .venv/bin/python tools/update_params_yaml.py
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from pixret_ros.ros import params

CONFIG = Path(__file__).resolve().parents[1] / "config" / "pixret.yaml"
MARKER = "    # Engine settings"
GROUPS = {"segmenter": "The appearance segmenter (SegmentConfig: engine.segmenter.<knob>)."}


def _yaml(value: params.Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


def engine_section() -> str:
    """The section's text: a header, then per field its documentation and default."""
    lines = [
        f"{MARKER} (EngineConfig; fixed while the node runs). Defaults are the engine's;",
        "    # regenerate this section with tools/update_params_yaml.py.",
        "    engine:",
    ]
    group = ""
    for spec in params.engine_specs():
        *parents, leaf = spec.name.removeprefix(params.ENGINE_PREFIX).split(".")
        indent = "      " + "  " * len(parents)
        if parents and parents[0] != group:  # a nested group: engine.segmenter.*
            group = parents[0]
            lines += [f"      # {GROUPS[group]}", f"      {group}:"]
        text = spec.description[0].upper() + spec.description[1:]
        lines += [f"{indent}# {line}" for line in textwrap.wrap(text, 92 - len(indent))]
        lines.append(f"{indent}{leaf}: {_yaml(spec.default)}")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Replace everything from the marker line on; the node section above stays as written."""
    text = CONFIG.read_text()
    head, found, _ = text.partition(MARKER)
    if not found:
        print(f"update_params_yaml: no line starting with {MARKER.strip()!r} in {CONFIG}")
        return 1
    CONFIG.write_text(head + engine_section())
    print(f"update_params_yaml: wrote {len(params.engine_specs())} engine parameters to {CONFIG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
