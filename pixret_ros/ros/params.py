"""Every parameter of pixret_node in one table: default, description, range, runtime-changeable.

Why a table: the node declares each parameter with a ParameterDescriptor from it (so
`ros2 param describe` explains it), the on-set hook refuses changes the node cannot apply
while running (with a reason), and a test checks that config/pixret.yaml lists exactly
these names. Values are read into a typed, frozen `NodeSettings` snapshot.

ROS conventions kept here: parameters fixed while the node runs are `read_only` in their
descriptors; every number has a range; and setting a parameter to the value it already has
is accepted (`set_atomically`), so that `ros2 param load` of the node's own `ros2 param dump`
succeeds, read-only parameters included.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)

from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from rclpy.node import Node
    from rclpy.parameter import Parameter

Value = bool | int | float | str | list[float]

RELIABILITIES = ("best_effort", "reliable")


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: what it means, its default, its range, whether it may change live."""

    name: str
    default: Value
    description: str
    dynamic: bool
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    constraints: str = ""

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

_ENGINE_DEFAULTS = EngineConfig()

SPECS: tuple[ParamSpec, ...] = (
    # First: the node reads it even when a later parameter is refused (it then stays up,
    # unconfigured, and says why, instead of exiting).
    ParamSpec(
        "autostart",
        default=True,
        description="configure and activate at start (lifecycle node); false: wait "
        "unconfigured for lifecycle transitions (ros2 lifecycle set)",
        dynamic=False,
    ),
    ParamSpec(
        "gallery_path",
        "~/.pixret/gallery",
        "gallery folder (DESIGN section 4); nodes sharing it see each other's registrations",
        dynamic=False,
    ),
    ParamSpec(
        "score_threshold",
        _ENGINE_DEFAULTS.score_threshold,
        "publish only detections with a score at or above this (engine score_threshold)",
        dynamic=True,
        low=0.0,
        high=1.0,
    ),
    ParamSpec(
        "max_detections",
        20,
        "publish at most this many detections per frame, best score first",
        dynamic=True,
        low=1,
        high=1000,
    ),
    # Off by default, for now: on the demo's continuous shots stream mode published tracks of
    # objects that had left (make demo: offline precision 0.84 and fp_per_frame 0.21 with it,
    # 1.00 and 0 without), and a robot acts on what is published. Turned on, the node treats
    # its camera as one stream and resets it on a time jump, a new frame size or
    # ~/reset_tracks (ros/stream_reset.py).
    ParamSpec(
        "temporal",
        default=False,
        description="stream mode: follow what was found from frame to frame (engine temporal); "
        "one stream per camera",
        dynamic=False,
    ),
    ParamSpec(
        "stream_gap_reset",
        1.0,
        "forget the stream state when two frames' header stamps are more than this many "
        "seconds apart (a paused or looped bag); 0: only stamps going backwards and a new "
        "frame size reset it",
        dynamic=True,
        low=0.0,
        high=3600.0,
    ),
    ParamSpec(
        "publish_debug_image",
        default=False,
        description="advertise ~/debug_image (overlay of masks and boxes, and of what "
        "register_from_camera learned) and draw it while someone subscribes",
        dynamic=True,
    ),
    ParamSpec(
        "publish_markers",
        default=True,
        description="publish ~/markers (visualization_msgs/MarkerArray: boxes and labels in "
        "image pixels on the camera's frame_id) while someone subscribes",
        dynamic=True,
    ),
    ParamSpec(
        "compressed_input",
        default=False,
        description="also subscribe image/compressed (jpeg or png CompressedImage)",
        dynamic=False,
    ),
    ParamSpec(
        "qos_reliability",
        "best_effort",
        "reliability of the image subscriptions (sensor-data QoS is best_effort)",
        dynamic=False,
        choices=RELIABILITIES,
    ),
    ParamSpec(
        "qos_depth",
        5,
        "history depth of the image subscriptions; the node itself keeps only the newest frame",
        dynamic=False,
        low=1,
        high=100,
    ),
    ParamSpec(
        "max_image_pixels",
        4096 * 4096,
        "frames and registration views above this many pixels are refused",
        dynamic=True,
        low=1,
        high=400_000_000,
    ),
    ParamSpec(
        "max_views_per_request",
        32,
        "a register_instance request may carry at most this many views",
        dynamic=True,
        low=1,
        high=1000,
    ),
    ParamSpec(
        "sync_period",
        0.5,
        "seconds between checks of the gallery folder for registrations made by other nodes",
        dynamic=False,
        low=0.05,
        high=60.0,
    ),
    ParamSpec(
        "diagnostics_period",
        1.0,
        "seconds between /diagnostics messages (rates, dropped frames, latency, memory)",
        dynamic=False,
        low=0.1,
        high=60.0,
    ),
    ParamSpec(
        "diagnostics_window",
        10.0,
        "seconds of recent history the diagnostics levels judge: a refused or failed frame "
        "warns this long, then clears",
        dynamic=False,
        low=1.0,
        high=3600.0,
    ),
    ParamSpec(
        "input_timeout",
        5.0,
        "the input diagnostics turn ERROR when no frame arrived for this many seconds",
        dynamic=False,
        low=0.1,
        high=3600.0,
    ),
    ParamSpec(
        "expected_input_rate",
        0.0,
        "the camera's frame rate (Hz) for counting frames lost before the node; 0: estimate "
        "it from the frames' header stamps",
        dynamic=False,
        low=0.0,
        high=10000.0,
    ),
)
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
    """Why `value` is not acceptable for `spec`, or '' when it is (ranges: rclpy checks them)."""
    if spec.choices and value not in spec.choices:
        return f"{spec.name}={value!r} is not one of {', '.join(spec.choices)}"
    if spec.name == "gallery_path" and not str(value).strip():
        return "gallery_path is empty; set it to the gallery folder"
    return ""


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


ENGINE_PREFIX = "engine."
# Engine fields that are node parameters of their own (top level): not repeated under engine.
_ENGINE_SHARED = ("score_threshold", "temporal")


def _field_docs() -> dict[str, str]:
    """`name: text` entries of EngineConfig's 'Attributes:' docstring section, one line each."""
    doc = (EngineConfig.__doc__ or "").split("Attributes:", 1)[-1]
    docs: dict[str, str] = {}
    for match in re.finditer(r"^ {8}(\w+): (.*(?:\n {12}.*)*)", doc, flags=re.MULTILINE):
        docs[match.group(1)] = " ".join(match.group(2).split())
    return docs


# Ranges of the numeric engine.* parameters, shown by `ros2 param describe` and enforced by
# rclpy. Lower bounds are EngineConfig's own checks (test_params checks both agree); upper
# bounds only keep typos out (EngineConfig has none). view_scales is an array: rclpy has no
# ranges for arrays, its descriptor states the constraint instead.
ENGINE_RANGES: dict[str, tuple[float, float]] = {
    "working_size": (64, 8192),
    "frame_keypoints": (1, 100_000),
    "view_keypoints": (1, 100_000),
    "index_keypoints": (1, 100_000),
    "query_keypoints": (1, 100_000),
    "view_max_side": (1, 16_384),
    "detection_threshold": (0.0, 1.0),
    "candidates": (1, 1000),
    "views_per_candidate": (1, 1000),
    "uniqueness_ratio": (0.0, 1.0),
    "min_votes": (1, 100_000),
    "min_similarity": (-1.0, 1.0),
    "reprojection_px": (0.001, 1000.0),
    "ransac_iterations": (1, 1_000_000),
    "min_inliers": (1, 100_000),
    "accept_inliers": (1, 100_000),
    "segment_candidates": (1, 1000),
    "trust_warp_inliers": (1, 100_000),
    "search_candidates": (0, 1000),
    "rectify_candidates": (0, 1000),
    "rectify_below_inliers": (1, 100_000),
    "rectify_side": (1, 16_384),
    "search_score": (0.0, 1.0),
    "redetect_every": (1, 100_000),
    "track_mask_prior": (0.0, 10.0),
    "track_memory": (0.0, 1.0),
    "track_decay": (0.0, 1.0),
    "track_end": (0.0, 1.0),
    "memory_size": (0, 1000),
    "memory_every": (1, 100_000),
    "memory_confidence": (0.0, 1.0),
    "redetect_confirm": (0, 1000),
    "index_exact_limit": (1, 1_000_000_000),
    "index_nprobe": (1, 100_000),
    "num_threads": (1, 1024),
}
_ENGINE_CONSTRAINTS = {"view_scales": "each scale in [0.05, 8], at least one"}


def engine_specs() -> tuple[ParamSpec, ...]:
    """One fixed parameter per EngineConfig field, default and description from the engine."""
    docs = _field_docs()
    specs = []
    for field in dataclasses.fields(EngineConfig):
        if field.name in _ENGINE_SHARED:
            continue
        default = field.default
        value: Value = [float(v) for v in default] if isinstance(default, tuple) else default  # type: ignore[assignment]
        description = docs.get(field.name, f"EngineConfig.{field.name}")
        low, high = ENGINE_RANGES.get(field.name, (None, None))
        specs.append(
            ParamSpec(
                ENGINE_PREFIX + field.name,
                value,
                description,
                dynamic=False,
                low=low,
                high=high,
                constraints=_ENGINE_CONSTRAINTS.get(field.name, ""),
            )
        )
    return tuple(specs)


def declare_engine(node: Node, settings: NodeSettings) -> EngineConfig:
    """Declare the engine.* parameters and build the EngineConfig (ConfigError if out of range)."""
    values: dict[str, object] = {
        "score_threshold": settings.score_threshold,
        "temporal": settings.temporal,
    }
    for spec in engine_specs():
        value = node.declare_parameter(spec.name, spec.default, spec.descriptor()).value
        name = spec.name.removeprefix(ENGINE_PREFIX)
        values[name] = tuple(value) if isinstance(value, list | tuple) else value
    return EngineConfig(**values)  # type: ignore[arg-type]


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
