"""Errors of the evaluator: each names the file, frame, instance or value at fault and the fix.

CLIs catch `EvaluationError`, print its message on one line and exit 1.
"""

from __future__ import annotations

from pixret_ros.engine.errors import PixretError


class EvaluationError(PixretError):
    """Base of every error the evaluator raises on purpose."""


class GroundTruthError(EvaluationError):
    """A ground-truth file (COCO json, PROxford pickle/npy/LabelMe json) is missing or malformed."""


class BagError(EvaluationError):
    """A rosbag2 recording cannot be read, or the requested topic is absent or of the wrong type."""


class InputError(EvaluationError, ValueError):
    """Values handed to a metric or a reader are inconsistent (shape, range, unknown name)."""
