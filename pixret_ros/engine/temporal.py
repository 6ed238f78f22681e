"""Stream mode: carry accepted detections from frame to frame (filled in below)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixret_ros.engine.config import EngineConfig


class StreamState:
    """What the previous frames of a stream found."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.frame_count = 0

    def reset(self) -> None:
        """Forget everything."""
        self.frame_count = 0
