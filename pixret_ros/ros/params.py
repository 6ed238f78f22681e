"""pixret_node's parameters declared to ROS, from the one table in pixret_ros/settings.

Why: the node declares each parameter with a ParameterDescriptor built from its `ParamSpec`
(so `ros2 param describe` explains it), the on-set hook refuses changes the node cannot apply
while running (with a reason), and values are read into a typed, frozen `NodeSettings`
snapshot. Names, defaults, descriptions and ranges live in pixret_ros/settings (ROS-free).

ROS conventions kept here: parameters fixed while the node runs are `read_only` in their
descriptors; every number has a range; and setting a parameter to the value it already has
is accepted (`set_atomically`), so that `ros2 param load` of the node's own `ros2 param dump`
succeeds, read-only parameters included.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)

from pixret_ros.errors import ConfigError
from pixret_ros.settings import engine_params, node_params
from pixret_ros.settings.engine_params import ENGINE_RANGES, engine_config
from pixret_ros.settings.spec import ENGINE_PREFIX, NODE_LEVEL_ENGINE, ParamSpec, Value

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from pixret_ros.engine.config import EngineConfig

__all__ = [
    "ENGINE_PREFIX",
    "ENGINE_RANGES",
    "SPECS",
    "NodeSettings",
    "RosParamSpec",
    "Value",
    "all_names",
    "check_changes",
    "declare",
    "declare_engine",
    "engine_specs",
    "set_atomically",
]


@dataclass(frozen=True)
class RosParamSpec(ParamSpec):
    """A `ParamSpec` that can describe itself to ROS."""

    @classmethod
    def of(cls, spec: ParamSpec) -> RosParamSpec:
        """The same parameter, with `descriptor()`."""
        return cls(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)})

    def descriptor(self) -> ParameterDescriptor:
        """The ROS descriptor: description, range, read-only flag, when a change takes effect."""
        when = "changeable at runtime" if self.dynamic else "fixed while the node runs: restart"
        desc = ParameterDescriptor(name=self.name, description=f"{self.description} ({when})")
        desc.type = _ROS_TYPES[type(self.default)]
        desc.read_only = not self.dynamic
        desc.additional_constraints = self.constraints
        if self.choices:
            desc.additional_constraints = f"one of: {', '.join(self.choices)}"
        if self.low is not None and self.high is not None:
            if isinstance(self.default, float):
                desc.floating_point_range = [
                    FloatingPointRange(from_value=self.low, to_value=self.high, step=0.0)
                ]
            else:
                desc.integer_range = [
                    IntegerRange(from_value=int(self.low), to_value=int(self.high), step=1)
                ]
        return desc


_ROS_TYPES: dict[type, int] = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
    list: ParameterType.PARAMETER_DOUBLE_ARRAY,
}

SPECS: tuple[RosParamSpec, ...] = tuple(RosParamSpec.of(s) for s in node_params.SPECS)
_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class NodeSettings:
    """A typed snapshot of the node's parameters (field names = parameter names)."""

    autostart: bool
    gallery_path: str
    score_threshold: float
    max_detections: int
    temporal: bool
    stream_gap_reset: float
    publish_debug_image: bool
    publish_markers: bool
    compressed_input: bool
    qos_reliability: str
    qos_depth: int
    max_image_pixels: int
    max_views_per_request: int
    sync_period: float
    diagnostics_period: float
    diagnostics_window: float
    input_timeout: float
    expected_input_rate: float

    @classmethod
    def from_values(cls, values: Mapping[str, Value]) -> NodeSettings:
        """Settings from parameter values, defaults for missing ones; ConfigError on bad choices."""
        merged = {spec.name: values.get(spec.name, spec.default) for spec in SPECS}
        for name, value in merged.items():
            problem = _problem(_BY_NAME[name], value)
            if problem:
                raise ConfigError(problem)
        return cls(**merged)  # type: ignore[arg-type]

    def updated(self, changes: Mapping[str, Value]) -> NodeSettings:
        """A copy with `changes` applied (already validated by `check_changes`)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _problem(spec: ParamSpec, value: Value) -> str:
    """Why `value` is not acceptable for `spec`, or '' when it is."""
    if spec.name == "gallery_path" and not str(value).strip():
        return "gallery_path is empty; set it to the gallery folder"
    return spec.problem(value)


def declare(node: Node) -> NodeSettings:
    """Declare every parameter on `node` (values from --params-file win) and read them."""
    values: dict[str, Value] = {}
    for spec in SPECS:
        values[spec.name] = node.declare_parameter(spec.name, spec.default, spec.descriptor()).value
    return NodeSettings.from_values(values)


def check_changes(changes: Sequence[Parameter]) -> SetParametersResult:
    """The on-set hook: refuse changes of fixed parameters and bad choices, with a reason."""
    for param in changes:
        if param.name.startswith(ENGINE_PREFIX):
            return SetParametersResult(
                successful=False,
                reason=f"{param.name} cannot change while the node runs (the gallery features "
                "depend on it); restart the node with the new value",
            )
        spec = _BY_NAME.get(param.name)
        if spec is None:
            continue  # not ours (e.g. use_sim_time): rclpy handles it
        if not spec.dynamic:
            return SetParametersResult(
                successful=False,
                reason=f"{spec.name} cannot change while the node runs; restart the node with "
                "the new value (e.g. in config/pixret.yaml)",
            )
        problem = _problem(spec, param.value)
        if problem:
            return SetParametersResult(successful=False, reason=problem)
    return SetParametersResult(successful=True)


def engine_specs() -> tuple[RosParamSpec, ...]:
    """One fixed parameter per engine setting (`engine.*`, `engine.segmenter.*`)."""
    return tuple(RosParamSpec.of(s) for s in engine_params.engine_specs())


def declare_engine(node: Node, settings: NodeSettings) -> EngineConfig:
    """Declare the engine.* parameters and build the EngineConfig (ConfigError if out of range)."""
    values: dict[str, object] = {name: getattr(settings, name) for name in NODE_LEVEL_ENGINE}
    for spec in engine_specs():
        value = node.declare_parameter(spec.name, spec.default, spec.descriptor()).value
        values[spec.name.removeprefix(ENGINE_PREFIX)] = value
    return engine_config(values)


def all_names() -> list[str]:
    """Every parameter the node declares (node and engine), for checks of parameter files."""
    return [spec.name for spec in (*SPECS, *engine_specs())]


def set_atomically(
    node: Node,
    changes: Sequence[Parameter],
    apply: Callable[[list[Parameter]], SetParametersResult],
) -> SetParametersResult:
    """What the node's set_parameters services do: unchanged read-only values are accepted.

    rclpy refuses every set of a read-only parameter, even to its current value, so loading
    a parameter dump would fail. Here such no-op entries are dropped; a real change of a
    read-only parameter is refused with the reason of `check_changes` (restart with the new
    value); everything else goes to `apply` (rclpy's own set, with its range checks).
    """
    remaining: list[Parameter] = []
    for param in changes:
        if not node.has_parameter(param.name) or not node.describe_parameter(param.name).read_only:
            remaining.append(param)
        elif not _same_value(param, node.get_parameter(param.name)):
            refusal = check_changes([param])
            if refusal.successful:  # read-only, but not one of ours (e.g. rclpy's own)
                refusal = SetParametersResult(
                    successful=False, reason=f"{param.name} is read-only: set it at start-up"
                )
            return refusal
    return apply(remaining) if remaining else SetParametersResult(successful=True)


def _same_value(new: Parameter, current: Parameter) -> bool:
    """Same ROS type and value (arrays compared element by element)."""
    if new.type_ != current.type_:
        return False
    if isinstance(new.value, str | bool | int | float) or new.value is None:
        return bool(new.value == current.value)
    return list(new.value) == list(current.value)
