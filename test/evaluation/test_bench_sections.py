"""`make bench` runs each method's section in a process of its own (tools/bench.py).

Why a test: in one process the stream rows ran 20-30 % slower after the 1000-instance rows,
so tools/bench.py spawns one child per method and section and merges what each child writes.
This runs the real script on a two-stream set built from the tiny scene's real frames and
checks that every method's rows come from its own child, and that a failing child stops the
bench with its name.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from tiny_scene import ENGINE_CONFIG, Scene, coco

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench.py"
#: stream -> the tiny scene's frame numbers it shows, in time order.
STREAMS = {"cup": [0, 2], "empty": [3]}


@pytest.fixture(scope="module")
def stream_set(tiny: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gallery/, frames/<stream>/<k>.png and gt.json, as DATA/streams is laid out."""
    root = tmp_path_factory.mktemp("bench_streams")
    shutil.copytree(tiny.gallery, root / "gallery")
    names, truths = [], []
    for stream, shown in STREAMS.items():
        (root / "frames" / stream).mkdir(parents=True)
        for k, index in enumerate(shown):
            frame = cv2.cvtColor(tiny.frames[index], cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(root / "frames" / stream / f"{k}.png"), frame)
            names.append(f"{stream}/{k}.png")
            truths.append(tiny.truths[index])
    (root / "gt.json").write_text(json.dumps(coco(names, truths)))
    return root


def bench(streams: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """tools/bench.py's stream rows of both pixret profiles on `streams`."""
    command = [
        sys.executable, str(BENCH), "--only", "streams", "--streams", str(streams),
        "--skip-baseline", "--work", str(work),
        "--config", f"working_size={ENGINE_CONFIG['working_size']}",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=240)


def test_each_methods_stream_rows_come_from_a_child_of_its_own(
    stream_set: Path, tmp_path: Path
) -> None:
    done = bench(stream_set, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for method in ("pixret", "pixret-realtime"):
        section = json.loads((tmp_path / f"streams_{method}.json").read_text())
        assert list(section) == [method]  # that child ran this method only
        assert section[method]["per_stream"]["empty"]["false_positives"] == 0
        assert f"| {method} | streams | {section[method]['J']:.3f} |" in done.stdout


def test_a_failing_child_stops_the_bench_and_is_named(stream_set: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(stream_set, broken)
    (broken / "gt.json").write_text("{not json")
    done = bench(broken, tmp_path / "work")
    assert done.returncode != 0
    assert "bench: the streams rows of pixret failed" in done.stderr
    assert not (tmp_path / "work" / "streams_pixret-realtime.json").exists()  # stopped there
