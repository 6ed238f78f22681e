"""EngineConfig overrides for an evaluation run: from the node's params file and KEY=VALUE.

Why: offline numbers should be the node's numbers, so `pixret-eval run --params-file
config/pixret.yaml` runs the engine with exactly the settings the node reads from that file
(its `engine.*` parameters plus `score_threshold` and `temporal`, as pixret_ros/ros/params.py
maps them), without needing rclpy. `--config KEY=VALUE` then overrides single fields.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pixret_ros.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: Prefix of the node parameters that are EngineConfig fields (ros/params.py ENGINE_PREFIX).
ENGINE_PREFIX = "engine."
#: EngineConfig fields that are top-level node parameters.
NODE_LEVEL = ("score_threshold", "temporal")


def engine_fields() -> set[str]:
    """Names of the EngineConfig fields."""
    from pixret_ros.engine.config import EngineConfig  # noqa: PLC0415 - the engine loads torch

    return {f.name for f in dataclasses.fields(EngineConfig)}


def _value(value: object) -> object:
    """YAML lists become tuples, as EngineConfig's sequence fields are."""
    return tuple(value) if isinstance(value, list) else value


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """`KEY=VALUE` strings to EngineConfig overrides (VALUE read as YAML)."""
    fields = engine_fields()
    overrides: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise InputError(
                f"--config {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(fields))}"
            )
        try:
            overrides[key] = _value(yaml.safe_load(text))
        except yaml.YAMLError:
            raise InputError(f"--config {item!r}: {text!r} is not a valid value") from None
    return overrides


def params_file_overrides(path: Path | str) -> dict[str, object]:
    """The EngineConfig settings a node would take from its `--params-file` YAML.

    Every `ros__parameters` section of the file is read (`/**`, a node name or a namespace
    path), in file order, later ones winning; node parameters that are not engine settings
    (gallery_path, QoS, ...) are ignored.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"params file {path} cannot be read: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise InputError(f"params file {path} is not valid YAML: {err}") from None
    sections = list(_parameter_sections(data))
    if not sections:
        raise InputError(
            f"params file {path} has no ros__parameters section (expected the layout of "
            "config/pixret.yaml: '/**: {ros__parameters: {...}}')"
        )
    fields = engine_fields()
    overrides: dict[str, object] = {}
    for section in sections:
        for key, value in flatten_parameters(section).items():
            name = str(key).removeprefix(ENGINE_PREFIX)
            if str(key).startswith(ENGINE_PREFIX) and name not in fields:
                raise InputError(
                    f"params file {path}: {key} is not an engine setting; known: "
                    f"{', '.join(ENGINE_PREFIX + f for f in sorted(fields))}"
                )
            if str(key).startswith(ENGINE_PREFIX) or name in NODE_LEVEL:
                overrides[name] = _value(value)
    return overrides


def flatten_parameters(section: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Nested parameter mappings to dotted names, as rcl reads them.

    `engine: {a: 1}` is the parameter `engine.a`; lists and scalars are values.
    """
    flat: dict[str, object] = {}
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_parameters(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _parameter_sections(data: object) -> list[Mapping[str, object]]:
    """Every `ros__parameters` mapping nested anywhere in a params file, in file order."""
    if not isinstance(data, dict):
        return []
    found: list[Mapping[str, object]] = []
    for key, value in data.items():
        if key == "ros__parameters" and isinstance(value, dict):
            found.append(value)
        else:
            found.extend(_parameter_sections(value))
    return found
