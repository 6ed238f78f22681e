"""ROS-free pixel retrieval engine: register instances, then find and segment them in frames.

Example:
    >>> from pixret_ros.engine import Gallery, PixelRetriever, EngineConfig
    >>> retriever = PixelRetriever(Gallery("/tmp/gallery"), EngineConfig())  # doctest: +SKIP
    >>> detections = retriever.process(frame_rgb)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.errors import ConfigError, FrameError, GalleryError
from pixret_ros.engine.pipeline import PixelRetriever
from pixret_ros.engine.render import label_image, overlay
from pixret_ros.engine.types import Box, Detection

if TYPE_CHECKING:
    from pixret_ros.engine.gallery import Gallery, View

__all__ = [
    "Box",
    "ConfigError",
    "Detection",
    "EngineConfig",
    "FrameError",
    "Gallery",
    "GalleryError",
    "PixelRetriever",
    "View",
    "label_image",
    "overlay",
]


def __getattr__(name: str) -> object:
    """Import the gallery module on first use, so the engine imports even while it is absent."""
    if name in {"Gallery", "View"}:
        return getattr(importlib.import_module("pixret_ros.engine.gallery"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
