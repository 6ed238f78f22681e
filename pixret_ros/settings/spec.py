"""What one parameter is: name, default, description, range, and whether it may change live.

Why a record of its own: the node turns it into a ROS descriptor, the evaluator checks the
values of a params file against it, and both give the same reason for a refused value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Value = bool | int | float | str | list[float]

#: Prefix of the node parameters that are engine settings (`engine.working_size`).
ENGINE_PREFIX = "engine."
#: Engine settings that are node parameters of their own (top level, not under `engine.`).
NODE_LEVEL_ENGINE = ("score_threshold", "temporal")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: what it means, its default, its range, whether it may change live."""

    name: str
    default: Value
    description: str
    dynamic: bool
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    constraints: str = ""

    def problem(self, value: object) -> str:
        """Why `value` is not acceptable here, or '' when it is (type, choices, range)."""
        expected = type(self.default)
        if expected is list:
            if not isinstance(value, list | tuple) or not all(_is_number(v) for v in value):
                return f"{self.name}={value!r} must be a list of numbers"
        elif expected is float:
            if not _is_number(value):
                return f"{self.name}={value!r} must be a number"
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            return f"{self.name}={value!r} must be of type {expected.__name__}"
        if self.choices and value not in self.choices:
            return f"{self.name}={value!r} is not one of {', '.join(self.choices)}"
        low, high = self.low, self.high
        if low is not None and high is not None and not low <= value <= high:  # type: ignore[operator]
            return f"{self.name}={value!r} is outside its range [{_num(low)}, {_num(high)}]"
        return ""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"
