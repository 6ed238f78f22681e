"""`make demo`'s live path on the quick demo: what the node publishes scores as offline does.

The real pixret_node runs as a process; the demo instances are registered through its
service with `pixret register`; the bag is played to it over Fast DDS and its outputs are
recorded into an mcap bag; `pixret-eval run --recorded` scores that recording. Played in
lockstep, the node sees every frame, so every accuracy figure must equal the offline run's
within published.TOLERANCE and no frame may be missing. Played far faster than real time,
the node keeps only the newest frame: the frames it skipped must be counted as dropped.

"Agree" compares like with like: the node publishes only accepted detections, in one label
image per frame, so the recording is compared with the offline run's accepted detections
flattened the same way (evaluation/published.py), not with its full candidate ranking.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pixret_ros.demo import build
from pixret_ros.demo.live import dds_env, record_live, run_offline, run_recorded
from pixret_ros.evaluation.published import compare, published_metrics

pytestmark = pytest.mark.dds

STEP = 15  # 20 frames: every shot, the stereo motorcycle and frames without any instance


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build(tmp_path_factory.mktemp("demo") / "data", step=STEP, progress=False).out


@pytest.mark.timeout(1800)
def test_recorded_numbers_agree_with_offline_ones(quick_demo: Path, tmp_path: Path) -> None:
    env = dds_env()
    offline = run_offline(quick_demo, tmp_path, env)
    recording = record_live(quick_demo, tmp_path, env, rate=None)
    live = run_recorded(quick_demo, recording, tmp_path, env)
    published = published_metrics(tmp_path / "offline" / "predictions.json", quick_demo / "gt.json")
    table, off_tolerance = compare(offline, published, live)
    assert offline["dropped_frames"] == 0, table
    assert live["dropped_frames"] == 0, table
    assert not off_tolerance, table
    # Not a vacuous agreement: the demo is found at all.
    assert isinstance(live["strict_pixel_map_S"], float)
    assert live["strict_pixel_map_S"] > 0.3, table


@pytest.mark.timeout(1200)
def test_frames_the_node_skips_are_counted_as_dropped(quick_demo: Path, tmp_path: Path) -> None:
    env = dds_env()
    # 20 frames of a 15 Hz bag at 50x: all sent within about 30 ms, faster than any frame
    # is processed, so the node's newest-frame slot drops most of them.
    recording = record_live(quick_demo, tmp_path, env, rate=50.0)
    live = run_recorded(quick_demo, recording, tmp_path, env)
    dropped = live["dropped_frames"]
    assert isinstance(dropped, int)
    assert 1 <= dropped < 20
