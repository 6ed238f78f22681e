"""The engine alone for tools/bench_node.py, in a child process without ROS (prints JSON).

Why a child process: in the bench process the engine shares the GIL with the peer's rclpy
executor threads, which made it 2-4x slower than inside the node; a separate process is the
engine's own speed on the same frames, gallery and params files, in the same process tree.

    python tools/bench_engine_alone.py camera GALLERY --data DIR --frames N [--params-file F]
    python tools/bench_engine_alone.py streams GALLERY --streams DIR [--streams-limit N] ...
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

import bench_node_streams as streams
import cv2
import numpy as np

from pixret_ros.engine import EngineConfig, Gallery, PixelRetriever
from pixret_ros.evaluation.engine_settings import params_file_overrides
from pixret_ros.io.frames import read_frame_folder

SIZE = (640, 480)


def engine_of(gallery: Path, params: list[Path]) -> PixelRetriever:
    """The engine with the settings the node reads from the same params files."""
    overrides: dict[str, object] = {}
    for path in params:
        overrides.update(params_file_overrides(path))
    return PixelRetriever(Gallery(gallery), EngineConfig(**overrides))  # type: ignore[arg-type]


def camera(engine: PixelRetriever, data: Path, count: int | None, passes: int) -> dict[str, float]:
    """Back-to-back process() over the bench's 640x480 frames: rate and latency percentiles."""
    import time  # noqa: PLC0415

    images = [
        np.asarray(cv2.resize(f.image, SIZE, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        for f in read_frame_folder(data / "frames")
    ][:count]
    times = []
    for image in images * passes:
        start = time.perf_counter()
        engine.process(image)
        times.append(time.perf_counter() - start)
    return {
        "frames": len(times),
        "rate_hz": len(times) / sum(times),
        "latency_ms_p50": float(np.percentile(times, 50) * 1e3),
        "latency_ms_p95": float(np.percentile(times, 95) * 1e3),
    }


def main(argv: list[str] | None = None) -> int:
    """Run one mode and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["camera", "streams"])
    parser.add_argument("gallery", type=Path)
    parser.add_argument("--params-file", type=Path, action="append", default=[])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--streams", type=Path)
    parser.add_argument("--streams-limit", type=int, default=None)
    args = parser.parse_args(argv)
    engine = engine_of(args.gallery, args.params_file)
    result: dict[str, object] = {}

    def work() -> None:
        if args.mode == "camera":
            result.update(camera(engine, args.data, args.frames, args.passes))
        else:
            gt = streams.load(args.streams)
            chosen = streams.streams_of(gt, args.streams_limit)
            result.update(streams.engine_alone(engine, args.streams, chosen, gt))

    # On a thread of its own, as in the node (frame_worker.py): the same torch threading.
    thread = threading.Thread(target=work, name="pixret_engine")
    thread.start()
    thread.join()
    if not result:
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
