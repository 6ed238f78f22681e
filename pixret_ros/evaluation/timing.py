"""Engine time versus evaluator time: only `process()` calls count as engine time.

Everything else a run does (reading and decoding frames, judging, writing files, the report)
is evaluator overhead, reported as a ratio of the engine time (`evaluator_overhead_ratio`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from pixret_ros.engine.types import Detection, RGBImage
from pixret_ros.evaluation.engines import Engine


class Timer:
    """Wall time of the whole run and the part spent inside the engine."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.setup_s = 0.0
        self.latencies_ms: list[float] = []
        self.stages: dict[str, list[float]] = {}

    def process(self, engine: Engine, image: RGBImage) -> list[Detection]:
        """`engine.process(image)`, its latency and its stage timings recorded."""
        start = time.perf_counter()
        detections = engine.process(image)
        self.latencies_ms.append((time.perf_counter() - start) * 1000)
        for stage, ms in engine.last_timings.items():
            self.stages.setdefault(stage, []).append(ms)
        return detections

    def engine_s(self) -> float:
        """Seconds spent inside `process()`."""
        return sum(self.latencies_ms) / 1000

    def overhead_s(self) -> float:
        """Seconds of the run so far spent outside the engine (set-up aside)."""
        return time.perf_counter() - self.start - self.setup_s - self.engine_s()

    def overhead_ratio(self) -> float | None:
        """Evaluator overhead per second of engine time; None before any engine time."""
        engine_s = self.engine_s()
        return self.overhead_s() / engine_s if engine_s > 0 else None

    def figures(self, num_frames: int) -> dict[str, object]:
        """The timing keys of metrics.json (DESIGN section 5)."""
        engine_s = self.engine_s()
        return {
            "fps": num_frames / engine_s if engine_s > 0 else None,
            "latency_ms_p50": _percentile(self.latencies_ms, 50),
            "latency_ms_p95": _percentile(self.latencies_ms, 95),
            "latency_ms_max": max(self.latencies_ms, default=None),
            "stage_ms_median": {s: float(np.median(v)) for s, v in self.stages.items()},
            "engine_setup_s": self.setup_s,
            "engine_time_s": engine_s,
        }


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None
