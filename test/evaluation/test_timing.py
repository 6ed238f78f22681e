"""timing: only `process()` is engine time; the figures of metrics.json come from it."""

from __future__ import annotations

import time

from tiny_scene import ENGINE_CONFIG, Scene

from pixret_ros.engine.baseline import SiftBaseline
from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.gallery import Gallery
from pixret_ros.evaluation.timing import Timer


def test_timer_counts_each_process_call_and_its_stages(tiny: Scene) -> None:
    engine = SiftBaseline(Gallery(tiny.gallery), EngineConfig(**ENGINE_CONFIG))  # type: ignore[arg-type]
    timer = Timer()
    assert timer.overhead_ratio() is None  # no engine time yet
    for frame in tiny.frames:
        detections = timer.process(engine, frame)
        assert [d.name for d in detections] == [d.name for d in engine.process(frame)]
    time.sleep(0.05)  # evaluator time: counted as overhead, never as engine time
    assert len(timer.latencies_ms) == len(tiny.frames)
    assert all(ms > 0 for ms in timer.latencies_ms)
    assert set(timer.stages) == set(engine.last_timings)
    assert all(len(v) == len(tiny.frames) for v in timer.stages.values())
    assert timer.engine_s() == sum(timer.latencies_ms) / 1000
    assert timer.overhead_s() >= 0.05
    ratio = timer.overhead_ratio()
    assert ratio is not None
    assert ratio > 0
    figures = timer.figures(len(tiny.frames))
    assert figures["fps"] == len(tiny.frames) / timer.engine_s()
    assert figures["latency_ms_max"] == max(timer.latencies_ms)
    medians = figures["stage_ms_median"]
    assert isinstance(medians, dict)
    assert set(medians) == set(timer.stages)


def test_timer_without_frames_has_no_figures() -> None:
    figures = Timer().figures(0)
    assert figures["fps"] is None
    assert figures["latency_ms_p50"] is None
    assert figures["latency_ms_max"] is None
