"""Time the gallery store: add() per view, opening a large gallery, signature() and views().

Builds a gallery of N instances from scikit-image photos (one 640x480 view each by default) in
a temporary folder (or --dir), then reports median times. Numbers depend on the disk (every
registration is fsynced) and on what else the machine is doing.

Examples:
    PYTHONPATH=. .venv/bin/python tools/bench_gallery.py
    PYTHONPATH=. .venv/bin/python tools/bench_gallery.py --instances 200 --views 3
    PYTHONPATH=. .venv/bin/python tools/bench_gallery.py --dir /tmp/g1000 --keep
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data
from tqdm import tqdm

from pixret_ros.engine.gallery import Gallery

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")


def _views(count: int, width: int, height: int) -> list[np.ndarray]:
    """`count` distinct RGB views: photos, each shifted by a few pixels per use."""
    base = [cv2.resize(getattr(data, name)()[..., :3], (width, height)) for name in _PHOTOS]
    return [np.roll(base[i % len(base)], i // len(base), axis=1) for i in range(count)]


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.2f} ms (median of {len(samples)})"


def main() -> None:
    """Build the gallery, time the operations, print one line per measurement."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=1000, help="instances (default 1000)")
    parser.add_argument("--views", type=int, default=1, help="views per instance (default 1)")
    parser.add_argument("--size", default="640x480", help="view size WxH (default 640x480)")
    parser.add_argument("--dir", type=Path, help="gallery folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary gallery")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))

    root = args.dir or Path(tempfile.mkdtemp(prefix="bench_gallery_")) / "gallery"
    try:
        gallery = Gallery(root)
        views = _views(args.instances * args.views, width, height)
        adds = []
        for index in tqdm(range(args.instances), desc="add", unit="instance"):
            began = time.perf_counter()
            gallery.add(f"obj_{index:05d}", views[index * args.views : (index + 1) * args.views])
            adds.append((time.perf_counter() - began) / args.views)
        print(f"add() per {width}x{height} view: {_median_ms(adds)}")

        opens = []
        for _ in range(5):
            began = time.perf_counter()
            reopened = Gallery(root)
            names = reopened.names()
            opens.append(time.perf_counter() - began)
        if len(names) != args.instances:
            raise SystemExit(f"expected {args.instances} instances, found {len(names)}")
        print(f"Gallery(path) + names() with {args.instances} instances: {_median_ms(opens)}")

        signatures = []
        for _ in range(20):
            began = time.perf_counter()
            reopened.signature()
            signatures.append(time.perf_counter() - began)
        print(f"signature() with {args.instances} instances: {_median_ms(signatures)}")

        reads = []
        for name in names[:50]:
            began = time.perf_counter()
            reopened.views(name)
            reads.append((time.perf_counter() - began) / args.views)
        print(f"views() per view: {_median_ms(reads)}")
    finally:
        if args.keep or args.dir:
            print(f"gallery kept in {root}")
        else:
            shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
