"""The parameter table, its descriptors, the on-set rules and config/pixret.yaml agree."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import rclpy
import yaml
from rcl_interfaces.msg import ParameterType
from rclpy.exceptions import InvalidParameterValueException
from rclpy.parameter import Parameter

from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.segment import SegmentConfig
from pixret_ros.errors import ConfigError
from pixret_ros.ros import params
from pixret_ros.settings.params_file import flatten_parameters, params_file_overrides

CONFIG = Path(__file__).resolve().parents[2] / "config" / "pixret.yaml"


@pytest.fixture(scope="module")
def yaml_values() -> dict[str, Any]:
    document = yaml.safe_load(CONFIG.read_text())
    assert list(document) == ["/**"], "the file must apply to every node name and namespace"
    return flatten_parameters(document["/**"]["ros__parameters"])


def test_config_file_lists_every_parameter_with_its_default(yaml_values: dict[str, Any]) -> None:
    specs = {spec.name: spec for spec in (*params.SPECS, *params.engine_specs())}
    stale = "config/pixret.yaml is out of date: run tools/update_params_yaml.py"
    assert set(yaml_values) == set(specs), stale
    assert sorted(yaml_values) == sorted(params.all_names())
    for name, value in yaml_values.items():
        default = specs[name].default
        assert value == default, f"{name}: file {value!r}, table {default!r}; {stale}"
        assert type(value) is type(default), name


def test_every_parameter_in_the_file_has_a_comment() -> None:
    lines = CONFIG.read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if ":" in stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            assert lines[i - 1].strip().startswith("#"), f"no comment above {stripped!r}"


def test_engine_parameters_follow_engine_config() -> None:
    engine = {spec.name.removeprefix("engine."): spec for spec in params.engine_specs()}
    # EngineConfig's fields, its `segmenter` (a SegmentConfig) as one field per knob.
    fields = {f.name: f.default for f in dataclasses.fields(EngineConfig) if f.name != "segmenter"}
    fields |= {f"segmenter.{f.name}": f.default for f in dataclasses.fields(SegmentConfig)}
    assert set(engine) == set(fields) - {"score_threshold", "temporal"}
    for name, spec in engine.items():
        default = fields[name]
        assert spec.default == (list(default) if isinstance(default, tuple) else default)
        assert not spec.dynamic
        assert len(spec.description) > 10, f"{name}: description taken from EngineConfig docs"
    node_defaults = {spec.name: spec.default for spec in params.SPECS}
    assert node_defaults["score_threshold"] == EngineConfig().score_threshold
    # The node's camera is a stream; the engine API's default serves single photos.
    assert node_defaults["temporal"] is True
    assert EngineConfig().temporal is False


def test_descriptors_carry_type_description_and_range() -> None:
    by_name = {spec.name: spec.descriptor() for spec in params.SPECS}
    threshold = by_name["score_threshold"]
    assert threshold.type == ParameterType.PARAMETER_DOUBLE
    assert "changeable at runtime" in threshold.description
    assert (
        threshold.floating_point_range[0].from_value,
        threshold.floating_point_range[0].to_value,
    ) == (0.0, 1.0)
    depth = by_name["qos_depth"]
    assert depth.type == ParameterType.PARAMETER_INTEGER
    assert (depth.integer_range[0].from_value, depth.integer_range[0].to_value) == (1, 100)
    assert "restart" in depth.description
    assert "best_effort" in by_name["qos_reliability"].additional_constraints
    assert by_name["gallery_path"].type == ParameterType.PARAMETER_STRING
    scales = next(s for s in params.engine_specs() if s.name == "engine.view_scales")
    assert scales.descriptor().type == ParameterType.PARAMETER_DOUBLE_ARRAY


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("gallery_path", "/elsewhere"),
        ("qos_reliability", "reliable"),
        ("qos_depth", 2),
        ("compressed_input", True),
        ("temporal", True),
        ("engine.working_size", 640),
    ],
)
def test_fixed_parameters_are_refused_with_a_reason(name: str, value: Any) -> None:
    result = params.check_changes([Parameter(name, value=value)])
    assert not result.successful
    assert name in result.reason
    assert "restart" in result.reason


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("score_threshold", 0.7),
        ("max_detections", 3),
        ("publish_debug_image", True),
        ("max_image_pixels", 1000),
        ("use_sim_time", True),  # not ours: left to rclpy
    ],
)
def test_live_parameters_are_accepted(name: str, value: Any) -> None:
    assert params.check_changes([Parameter(name, value=value)]).successful


def test_settings_reject_bad_choices_and_apply_updates() -> None:
    with pytest.raises(ConfigError, match="qos_reliability='sometimes' is not one of"):
        params.NodeSettings.from_values({"qos_reliability": "sometimes"})
    with pytest.raises(ConfigError, match="gallery_path is empty"):
        params.NodeSettings.from_values({"gallery_path": " "})
    settings = params.NodeSettings.from_values({})
    assert settings.max_detections == 20
    assert settings.updated({"max_detections": 3}).max_detections == 3


def test_realtime_profile_overrides_only_engine_settings_with_valid_values() -> None:
    realtime = CONFIG.with_name("pixret_realtime.yaml")
    document = yaml.safe_load(realtime.read_text())
    assert list(document) == ["/**"]
    values = flatten_parameters(document["/**"]["ros__parameters"])
    assert values, "empty profile"
    assert set(values) <= set(params.all_names()), "the profile names unknown parameters"
    # The settings as the node and the evaluator take them from the file (arrays as tuples).
    config = dataclasses.replace(EngineConfig(), **params_file_overrides(realtime))  # type: ignore[arg-type]  # validated by __post_init__
    # it is the faster profile: fewer candidates to verify, fewer detections to segment
    assert config.candidates < EngineConfig().candidates
    assert config.segment_candidates < EngineConfig().segment_candidates
    assert config.second_candidates == 0  # and no turned copies (their cost, README)


def test_engine_ranges_agree_with_engine_config() -> None:
    numeric = [
        spec
        for spec in params.engine_specs()
        if isinstance(spec.default, int | float) and not isinstance(spec.default, bool)
    ]
    assert len(numeric) == len(params.ENGINE_RANGES)
    for spec in numeric:
        name = spec.name.removeprefix(params.ENGINE_PREFIX)
        assert spec.low is not None, f"{name} has no range"
        assert spec.high is not None, f"{name} has no range"
        kind: type[int | float] = int if isinstance(spec.default, int) else float
        for bound in (spec.low, spec.high):
            _engine_config(name, kind(bound))  # accepts both ends
        below = spec.low - 1 if kind is int else spec.low - 1e-3
        with pytest.raises(ConfigError, match=name):  # and its own check starts where ours does
            _engine_config(name, kind(below))
        assert spec.descriptor().read_only


def _engine_config(name: str, value: float) -> EngineConfig:
    """EngineConfig with one setting changed; `segmenter.<knob>` goes into its SegmentConfig."""
    group, _, knob = name.rpartition(".")
    if group:
        return EngineConfig(segmenter=SegmentConfig(**{knob: value}))  # type: ignore[arg-type]
    return EngineConfig(**{name: value})  # type: ignore[arg-type]


@pytest.mark.dds
def test_node_declares_segmenter_knobs_and_reads_them_from_a_params_file(tmp_path: Path) -> None:
    """A real rclpy node reads the nested `engine: segmenter:` YAML into the engine config."""
    params_file = tmp_path / "params.yaml"
    params_file.write_text(
        "/**:\n  ros__parameters:\n    engine:\n      segmenter:\n"
        "        work_side: 96\n        smooth_radius: 0\n"
    )
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node(
            "pixret_params_test",
            context=context,
            cli_args=["--ros-args", "--params-file", str(params_file)],
        )
        config = params.declare_engine(node, params.declare(node))
        assert config.segmenter == SegmentConfig(work_side=96, smooth_radius=0)
        described = node.describe_parameter("engine.segmenter.work_side")
        assert described.read_only
        assert described.integer_range[0].from_value == 16
        assert "region of interest" in described.description
        node.destroy_node()
        params_file.write_text(
            "/**:\n  ros__parameters:\n    engine.segmenter.work_side: 8\n"  # below 16
        )
        node = rclpy.create_node(
            "pixret_params_test_bad",
            context=context,
            cli_args=["--ros-args", "--params-file", str(params_file)],
        )
        with pytest.raises(InvalidParameterValueException, match=r"engine\.segmenter\.work_side"):
            params.declare_engine(node, params.declare(node))
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
