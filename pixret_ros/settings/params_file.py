"""A node params file (YAML) and `KEY=VALUE` strings as EngineConfig keyword arguments.

Why: offline numbers should be the node's numbers, so `pixret-eval run --params-file
config/pixret.yaml` runs the engine with exactly the settings the node reads from that file
(its `engine.*` parameters, `engine.segmenter.*` included, plus `score_threshold` and
`temporal`), without rclpy, checked against the same table (engine_params) as the node's.
`--config KEY=VALUE` then overrides single settings (`working_size=320`,
`segmenter.work_side=96`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pixret_ros.errors import ConfigError, InputError
from pixret_ros.settings.engine_params import SEGMENTER, engine_config, engine_specs
from pixret_ros.settings.spec import ENGINE_PREFIX, NODE_LEVEL_ENGINE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def engine_settings(
    params_file: Path | str | None = None, items: Sequence[str] = ()
) -> dict[str, object]:
    """EngineConfig keyword arguments from a params file, then `KEY=VALUE` overrides.

    Only what the file or the overrides set is returned (the rest keeps the engine's default),
    so that callers can still tell whether e.g. `temporal` was given. The segmenter's knobs
    come back as one `segmenter` SegmentConfig (the file's knobs and the overrides' merged).
    """
    flat = {} if params_file is None else _params_file_settings(Path(params_file))
    flat.update(_parse_items(items))
    config = engine_config(flat)  # both parts were checked on their own: this one passes
    kwargs = {name: _value(value) for name, value in flat.items() if "." not in name}
    if any(name.startswith(f"{SEGMENTER}.") for name in flat):
        kwargs[SEGMENTER] = config.segmenter
    return kwargs


def params_file_overrides(path: Path | str) -> dict[str, object]:
    """The EngineConfig keyword arguments a node would take from its `--params-file` YAML."""
    return engine_settings(path)


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """`KEY=VALUE` strings (VALUE read as YAML) to EngineConfig keyword arguments."""
    return engine_settings(None, items)


def _known() -> set[str]:
    """Engine setting names as `--config` takes them (`segmenter.work_side`)."""
    return {spec.name.removeprefix(ENGINE_PREFIX) for spec in engine_specs()} | set(
        NODE_LEVEL_ENGINE
    )


def _value(value: object) -> object:
    """YAML lists become tuples, as EngineConfig's sequence fields are."""
    return tuple(value) if isinstance(value, list) else value


def _parse_items(items: Sequence[str]) -> dict[str, object]:
    known = _known()
    settings: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise InputError(
                f"--config {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(known))}"
            )
        try:
            settings[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise InputError(f"--config {item!r}: {text!r} is not a valid value") from None
    try:
        engine_config(settings)
    except ConfigError as err:
        raise InputError(f"--config: {err}") from None
    return settings


def _params_file_settings(path: Path) -> dict[str, object]:
    """The engine settings of a params file, named without `engine.`.

    Every `ros__parameters` section of the file (`/**`, a node name or a namespace path) is
    read, in file order, later ones winning; node parameters that are not engine settings
    (gallery_path, QoS, ...) are ignored.
    """
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
    known = _known()
    settings: dict[str, object] = {}
    for section in sections:
        for key, value in flatten_parameters(section).items():
            name = key.removeprefix(ENGINE_PREFIX)
            if key.startswith(ENGINE_PREFIX) and name not in known:
                raise InputError(
                    f"params file {path}: {key} is not an engine setting; known: "
                    f"{', '.join(ENGINE_PREFIX + f for f in sorted(known))}"
                )
            if key.startswith(ENGINE_PREFIX) or name in NODE_LEVEL_ENGINE:
                settings[name] = value
    try:
        engine_config(settings)
    except ConfigError as err:
        raise InputError(f"params file {path}: {err}") from None
    return settings


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
