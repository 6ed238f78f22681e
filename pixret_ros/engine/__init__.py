"""ROS-free pixel retrieval engine: register instances, then find and segment them in frames.

Example:
    >>> from pixret_ros.engine import Gallery, PixelRetriever, EngineConfig
    >>> retriever = PixelRetriever(Gallery("/tmp/gallery"), EngineConfig())  # doctest: +SKIP
    >>> detections = retriever.process(frame_rgb)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.gallery import Gallery, View
    from pixret_ros.engine.pipeline import PixelRetriever
    from pixret_ros.engine.render import label_image, overlay
    from pixret_ros.engine.types import Box, Detection
    from pixret_ros.errors import ConfigError, FrameError, GalleryError

# Exported name -> module. Imported on first use: the pipeline pulls in torch (seconds), which
# the gallery, the metrics and the CLIs that only touch errors or records must not pay for.
_EXPORTS = {
    "Box": "types",
    "ConfigError": "pixret_ros.errors",
    "Detection": "types",
    "EngineConfig": "config",
    "FrameError": "pixret_ros.errors",
    "Gallery": "gallery",
    "GalleryError": "pixret_ros.errors",
    "PixelRetriever": "pipeline",
    "View": "gallery",
    "label_image": "render",
    "overlay": "render",
}
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
    """Import the module that defines `name` on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    path = module if module.startswith("pixret_ros.") else f"{__name__}.{module}"
    return getattr(importlib.import_module(path), name)
