"""Benchmark registration-from-camera segmentation: a box (and a click) on a real frame.

For every positive (frame, instance) of the development set (real photos with exact masks),
the user's prompt is simulated from the true mask: its box grown by `--grow` per side (a
user's box is rarely tight), and for the "+click" rows one click at the mask's most interior
pixel. Each method segments the frame from that prompt; the table gives the mean IoU with
the true mask per group (DAVIS: objects that turn and deform; Oxford: planar regions of a
wall / trees) and the median ms per prompt. Baselines in the same run: plain GrabCut from
the box and the box itself taken as the mask.

Example:
    PYTHONPATH=. .venv/bin/python tools/prompt_seg_bench.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from pixret_ros.engine.features import dense_map
from pixret_ros.engine.prompt_segment import (
    GRABCUT_ITERATIONS,
    GRABCUT_SIDE,
    PROMPT_CONFIG,
    Prompt,
    grabcut_prompt,
    prompt_box,
    segment_prompt,
)
from pixret_ros.engine.segment import SegmentConfig
from pixret_ros.engine.types import BoolMask, Box, RGBImage
from pixret_ros.errors import PromptError
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.ground_truth_checks import file_frame_name
from pixret_ros.io.frames import list_frame_files, read_image_file

Method = Callable[[RGBImage, Prompt], BoolMask]


def iou(a: BoolMask, b: BoolMask) -> float:
    """Intersection over union of two masks."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def user_box(truth: BoolMask, grow: float) -> Box:
    """The true box grown by `grow` of its size per side (a user's loose box)."""
    box = Box.of_mask(truth)
    pad_x, pad_y = round(grow * box.width), round(grow * box.height)
    return Box(box.x - pad_x, box.y - pad_y, box.width + 2 * pad_x, box.height + 2 * pad_y)


def interior_point(truth: BoolMask) -> tuple[float, float]:
    """The mask's most interior pixel (x, y): where a user would click."""
    distance = cv2.distanceTransform(truth.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return float(x), float(y)


def box_as_mask(frame: RGBImage, prompt: Prompt) -> BoolMask:
    """Baseline: the (clipped) box itself as the mask."""
    box = prompt_box(prompt, frame.shape[:2])
    mask = np.zeros(frame.shape[:2], bool)
    mask[box.y : box.y + box.height, box.x : box.x + box.width] = True
    return mask


def engine(config: SegmentConfig, grabcut: int) -> Method:
    """segment_prompt with these settings."""
    return lambda frame, prompt: segment_prompt(
        frame, prompt, config=config, grabcut_iterations=grabcut
    )


def main() -> None:
    """Run every method on every positive and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--grow", type=float, default=0.05, help="box growth per side")
    parser.add_argument("--step", type=int, default=1, help="every n-th positive")
    args = parser.parse_args()

    gt = load_ground_truth(args.data / "gt.json")
    files = {file_frame_name(p.name): p for p in list_frame_files(args.data / "frames")}
    methods: dict[str, Method] = {
        "box as mask": box_as_mask,
        "GrabCut, full resolution": lambda f, p: grabcut_prompt(f, p, work_side=100_000),
        f"GrabCut, {GRABCUT_SIDE} px": grabcut_prompt,
        "engine only": engine(PROMPT_CONFIG, 0),
        "engine + GrabCut where they agree (segment_prompt)": engine(
            PROMPT_CONFIG, GRABCUT_ITERATIONS
        ),
    }
    dense_map(np.zeros((64, 64, 3), np.uint8))  # load XFeat before timing
    scores: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    cases = [(f, n, m) for f in gt.frames for n, m in gt.masks(f).items()][:: args.step]
    for frame_id, instance, truth in cases:
        frame = read_image_file(files[frame_id])
        group = "DAVIS" if instance.startswith("davis") else "Oxford"
        box = user_box(truth, args.grow)
        for clicks, prompt in (
            ("box", Prompt(box=box)),
            ("box+click", Prompt(box=box, points=(interior_point(truth),))),
        ):
            for name, method in methods.items():
                start = time.perf_counter()
                try:
                    mask = method(frame, prompt)
                except PromptError:
                    mask = np.zeros_like(truth)
                times[(name, clicks)].append((time.perf_counter() - start) * 1e3)
                for key in (group, "all"):
                    scores[(name, clicks, key)].append(iou(mask, truth))
    print(f"{len(cases)} positives, boxes grown by {args.grow:.0%} per side\n")
    print("| method | prompt | mIoU all | mIoU DAVIS | mIoU Oxford | ms p50 |")
    print("|---|---|---|---|---|---|")
    for name in methods:
        for clicks in ("box", "box+click"):
            row = [np.mean(scores[(name, clicks, g)]) for g in ("all", "DAVIS", "Oxford")]
            ms = np.median(times[(name, clicks)])
            cells = " | ".join(f"{v:.3f}" for v in row)
            print(f"| {name} | {clicks} | {cells} | {ms:.0f} |")


if __name__ == "__main__":
    main()
