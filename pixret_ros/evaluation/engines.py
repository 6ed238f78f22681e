"""Which engine an evaluation runs, and the one API every evaluator part expects of it.

PixelRetriever and the SIFT baseline offer the same methods, so the runner, the benchmark
(tools/bench.py) and the timing code hold either through the one `Engine` protocol.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pixret_ros.errors import InputError

if TYPE_CHECKING:
    from pixret_ros.engine.types import Detection, GalleryLike, RGBImage

Method = Literal["pixret", "baseline"]
METHODS: tuple[Method, ...] = ("pixret", "baseline")


class Engine(Protocol):
    """What the evaluator needs of PixelRetriever (and of the SIFT baseline, same API)."""

    last_timings: dict[str, float]

    def process(self, frame: RGBImage) -> list[Detection]:
        """Every detection in `frame`, best score first."""
        ...

    def reset_stream(self) -> None:
        """Forget the stream state: the next frame starts a new stream."""
        ...


def open_gallery(path: Path) -> GalleryLike:
    """The gallery folder as the engine reads it; InputError if there is none."""
    if not path.is_dir():
        raise InputError(f"gallery folder {path} does not exist (DESIGN section 4 layout)")
    from pixret_ros.engine.gallery import Gallery  # noqa: PLC0415 - keeps --help fast

    return Gallery(path)


def build_engine(
    gallery: GalleryLike, method: Method, *, temporal: bool, config: Mapping[str, object]
) -> tuple[Engine, dict[str, object]]:
    """The engine of `method` over `gallery`, and its settings as a dict (for metrics.json)."""
    from pixret_ros.engine.config import EngineConfig  # noqa: PLC0415 - loads torch

    settings = EngineConfig(**{**config, "temporal": temporal})  # type: ignore[arg-type]
    engine: Engine
    if method == "baseline":
        from pixret_ros.engine.baseline import SiftBaseline  # noqa: PLC0415

        engine = SiftBaseline(gallery, settings)
    else:
        from pixret_ros.engine.pipeline import PixelRetriever  # noqa: PLC0415

        engine = PixelRetriever(gallery, settings)
    return engine, dataclasses.asdict(settings)
