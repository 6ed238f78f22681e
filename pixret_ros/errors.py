"""Every error pixret_ros raises on purpose, in one hierarchy under `PixretError`.

Why one module: a caller (the node, a CLI, a test) catches `PixretError` or one child without
knowing which layer raised it, and each layer (engine, evaluation, ros) imports from here
without importing another layer. Each error names the instance, file or value at fault and
how to fix it. CLIs print the message on one line and exit 1; the node answers
`success=False` with it and keeps running.
"""

from __future__ import annotations


class PixretError(Exception):
    """Base of every error pixret_ros raises on purpose."""


# Engine


class GalleryError(PixretError):
    """A gallery operation was refused (bad name, image, mask or file); the gallery is unchanged."""


class ConfigError(PixretError):
    """An engine setting or parameter is out of range or inconsistent."""


class FrameError(PixretError):
    """A frame given to the engine has the wrong shape or dtype."""


class PromptError(PixretError):
    """The prompt cannot be segmented (outside the frame, too small, nothing found)."""


# Evaluation


class EvaluationError(PixretError):
    """Base of every error the evaluator raises on purpose."""


class GroundTruthError(EvaluationError):
    """A ground-truth file (COCO json, PROxford pickle/npy/LabelMe json) is missing or malformed."""


class BagError(EvaluationError):
    """A rosbag2 recording cannot be read, or the requested topic is absent or of the wrong type."""


class InputError(EvaluationError, ValueError):
    """Values handed to a metric or a reader are inconsistent (shape, range, unknown name)."""


# ROS side


class ConversionError(PixretError):
    """A message could not be turned into an image: names the encoding or size and the fix."""


class RequestError(PixretError):
    """The request itself is malformed (box with one side 0, odd number of point values)."""


class BagToolError(PixretError):
    """The player or recorder cannot go on: a bag, topic, type or peer is missing or wrong."""
