"""`make demo`'s live path on the quick demo: what the node publishes scores as offline does.

The real pixret_node runs as a process; the demo instances are registered through its
service with `pixret register`; the bag is played to it over Fast DDS and its outputs are
recorded into an mcap bag; `pixret-eval run --recorded` scores that recording. Played in
lockstep, the node sees every frame, so every accuracy figure must equal the offline run's
within demo.TOLERANCE and no frame may be missing. Played far faster than real time, the node
keeps only the newest frame: the frames it skipped must be counted as dropped.

"Agree" compares like with like: the node publishes only accepted detections, in one label
image per frame, so the recording is compared with the offline run's accepted detections
flattened the same way (demo.published_metrics), not with its full candidate ranking.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pixret_ros.evaluation import demo_data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import demo

pytestmark = pytest.mark.dds

STEP = 15  # 20 frames: every shot, the stereo motorcycle and frames without any instance


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_data.build(tmp_path_factory.mktemp("demo") / "data", step=STEP, progress=False).out


@pytest.mark.timeout(1800)
def test_recorded_numbers_agree_with_offline_ones(quick_demo: Path, tmp_path: Path) -> None:
    env = demo.dds_env()
    offline = demo.run_offline(quick_demo, tmp_path, env)
    recording = demo.record_live(quick_demo, tmp_path, env, rate=None)
    live = demo.run_recorded(quick_demo, recording, tmp_path, env)
    published = demo.published_metrics(
        tmp_path / "offline" / "predictions.json", quick_demo / "gt.json"
    )
    table, off_tolerance = demo.compare(offline, published, live)
    assert offline["dropped_frames"] == 0, table
    assert live["dropped_frames"] == 0, table
    assert not off_tolerance, table
    # Not a vacuous agreement: the demo is found at all.
    assert isinstance(live["strict_pixel_map_S"], float)
    assert live["strict_pixel_map_S"] > 0.3, table


@pytest.mark.timeout(1200)
def test_frames_the_node_skips_are_counted_as_dropped(quick_demo: Path, tmp_path: Path) -> None:
    env = demo.dds_env()
    # 20 frames of a 15 Hz bag at 50x: all sent within about 30 ms, faster than any frame
    # is processed, so the node's newest-frame slot drops most of them.
    recording = demo.record_live(quick_demo, tmp_path, env, rate=50.0)
    live = demo.run_recorded(quick_demo, recording, tmp_path, env)
    dropped = live["dropped_frames"]
    assert isinstance(dropped, int)
    assert 1 <= dropped < 20
