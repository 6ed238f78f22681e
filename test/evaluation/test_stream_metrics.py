"""stream_metrics: J and F against hand-computed cases and DAVIS's own definitions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_dilation
from skimage.morphology import disk

from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.stream_metrics import (
    PairScore,
    Published,
    StreamScorer,
    boundary_f,
    boundary_map,
    boundary_radius,
    stream_metrics,
)
from pixret_ros.evaluation.stream_report import pick_stream_frames


def davis_f_measure(foreground: np.ndarray, truth: np.ndarray, bound_th: float = 0.008) -> float:
    """DAVIS 2016's db_eval_boundary, transcribed (binary dilation by skimage's disk)."""

    def seg2bmap(seg: np.ndarray) -> np.ndarray:
        seg = seg.astype(bool)
        e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
        e[:, :-1] = seg[:, 1:]
        s[:-1, :] = seg[1:, :]
        se[:-1, :-1] = seg[1:, 1:]
        b = seg ^ e | seg ^ s | seg ^ se
        b[-1, :] = seg[-1, :] ^ e[-1, :]
        b[:, -1] = seg[:, -1] ^ s[:, -1]
        b[-1, -1] = 0
        return np.asarray(b)

    bound_pix = np.ceil(bound_th * np.linalg.norm(foreground.shape))
    fg_boundary, gt_boundary = seg2bmap(foreground), seg2bmap(truth)
    fg_dil = binary_dilation(fg_boundary, structure=disk(bound_pix))
    gt_dil = binary_dilation(gt_boundary, structure=disk(bound_pix))
    n_fg, n_gt = np.sum(fg_boundary), np.sum(gt_boundary)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = np.sum(fg_boundary * gt_dil) / n_fg
        recall = np.sum(gt_boundary * fg_dil) / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def test_boundary_map_of_a_square_by_hand() -> None:
    seg = np.zeros((4, 4), bool)
    seg[1:3, 1:3] = True
    expected = np.array(
        [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]],
        dtype=bool,
    )
    np.testing.assert_array_equal(boundary_map(seg), expected)


def test_boundary_radius_is_davis_bound_pix() -> None:
    assert boundary_radius((480, 854)) == 8  # ceil(0.008 * 979.6)
    assert boundary_radius((50, 50)) == 1  # ceil(0.566)


def strip(first_row: int, last_row: int) -> np.ndarray:
    mask = np.zeros((50, 50), bool)
    mask[first_row : last_row + 1] = True
    return mask


def test_boundary_f_by_hand() -> None:
    # 50x50: tolerance 1 pixel. Full-width strips have two boundary rows of 50 pixels each
    # (the row above the strip and its last row); only row distance matters.
    truth = strip(10, 29)  # boundary rows 9 and 29
    assert boundary_f(truth, truth) == 1.0
    assert boundary_f(strip(10, 30), truth) == 1.0  # rows 9 and 30: 30 is 1 from 29
    assert boundary_f(strip(10, 31), truth) == 0.5  # row 31 is 2 from 29: P = R = 1/2
    assert boundary_f(strip(40, 45), truth) == 0.0  # nothing within 1 pixel
    empty = np.zeros_like(truth)
    assert boundary_f(empty, truth) == 0.0  # DAVIS: precision 1, recall 0
    assert boundary_f(truth, empty) == 0.0
    assert boundary_f(empty, empty) == 1.0


def test_boundary_f_equals_davis_on_random_shapes() -> None:
    """Blobs of all sizes, some touching the image border (where seg2bmap is special)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:120, 0:200]
    partial = 0
    for _ in range(40):
        cy, cx = rng.uniform(-10, 130), rng.uniform(-10, 210)
        ry, rx = rng.uniform(2, 50), rng.uniform(2, 80)
        truth = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        # The prediction: the same blob moved and resized, as a tracker's error would be.
        cy, cx = cy + rng.uniform(-15, 15), cx + rng.uniform(-15, 15)
        ry, rx = ry * rng.uniform(0.7, 1.3), rx * rng.uniform(0.7, 1.3)
        pred = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        expected = davis_f_measure(pred, truth)
        assert boundary_f(pred, truth) == pytest.approx(expected, abs=1e-12)
        partial += 0 < expected < 1
    assert partial > 20  # not only the trivial 0 and 1 cases


def detection(name: str, mask: np.ndarray, *, accepted: bool = True) -> Detection:
    return Detection(name, 0.8, Box.of_mask(mask), mask, 20, None, 0, accepted=accepted)


def coco_truth(path: Path, frames: list[str], masks: dict[tuple[int, str], np.ndarray]) -> Path:
    """A COCO file with polygon-free RLE masks (`counts` as lists) and a junk annotation."""
    from pycocotools import mask as coco_mask

    names = ["cup", "mug"]
    anns: list[dict[str, object]] = []
    for (index, name), mask in masks.items():
        rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        anns.append(
            {
                "id": len(anns) + 1,
                "image_id": index + 1,
                "category_id": names.index(name) + 1,
                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                "iscrowd": 1 if name == "mug" else 0,
            }
        )
    data = {
        "images": [
            {"id": i + 1, "file_name": f, "height": 40, "width": 60} for i, f in enumerate(frames)
        ],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)],
        "annotations": anns,
    }
    path.write_text(json.dumps(data))
    return path


def test_scorer_uses_the_union_of_accepted_masks_only(tmp_path: Path) -> None:
    truth = np.zeros((40, 60), bool)
    truth[10:30, 10:50] = True
    left, right = truth.copy(), truth.copy()
    left[:, 30:] = False
    right[:, :30] = False
    junk = np.zeros_like(truth)
    junk[0:5, 0:5] = True
    gt = load_ground_truth(
        coco_truth(tmp_path / "gt.json", ["0.png", "1.png", "2.png"], {
            (0, "cup"): truth, (1, "cup"): truth, (2, "mug"): junk,
        })
    )  # fmt: skip
    scorer = StreamScorer(gt)
    # Frame 0: two accepted halves make the whole cup; a rejected full mask earns nothing.
    scorer.add("0.png", gt.masks("0.png"), [detection("cup", left), detection("cup", right)])
    # Frame 1: only a rejected detection: J 0, F 0, as the node publishes nothing.
    scorer.add("1.png", gt.masks("1.png"), [detection("cup", truth, accepted=False)])
    # Frame 2: the cup published where it is absent (a false positive); the mug is junk here.
    scorer.add("2.png", gt.masks("2.png"), [detection("cup", left), detection("mug", junk)])
    assert scorer.scores == [PairScore("0.png", "cup", 1.0, 1.0), PairScore("1.png", "cup", 0, 0)]
    assert scorer.false_positives == {"2.png": ["cup"]}
    np.testing.assert_array_equal(scorer.published[("0.png", "cup")].mask(truth.shape), truth)


def test_stream_metrics_by_hand() -> None:
    class Scored(StreamScorer):
        def __init__(self) -> None:  # only the records stream_metrics reads
            self.scores = [
                PairScore("a0", "x", 1.0, 0.8),
                PairScore("a1", "x", 0.5, 0.4),
                PairScore("a2", "x", 0.0, 0.0),
                PairScore("b0", "y", 1.0, 1.0),
            ]
            self.false_positives = {"a2": ["y"], "c0": ["x", "y"]}

    streams = [("a", ["a0", "a1", "a2"]), ("b", ["b0"]), ("c", ["c0", "c1"])]
    metrics = stream_metrics(streams, Scored())
    assert metrics["J"] == pytest.approx((0.5 + 1.0) / 2)  # stream c shows nothing: left out
    assert metrics["J_frames"] == pytest.approx(2.5 / 4)
    assert metrics["F"] == pytest.approx((0.4 + 1.0) / 2)
    assert metrics["F_frames"] == pytest.approx(2.2 / 4)
    assert metrics["recall50"] == 3 / 4  # J >= 0.5 counts
    assert metrics["fp_per_frame"] == 3 / 6
    assert metrics["num_streams"] == 3
    per_stream = metrics["per_stream"]
    assert isinstance(per_stream, dict)
    assert per_stream["a"] == {
        "J": 0.5,
        "F": pytest.approx(0.4),
        "recall50": pytest.approx(2 / 3),
        "frames": 3,
        "positives": 3,
        "false_positives": 1,
        "fp_per_frame": pytest.approx(1 / 3),
    }
    assert per_stream["c"]["J"] is None
    assert per_stream["c"]["fp_per_frame"] == 1.0


def test_filmstrip_picks_first_miss_worst_published_and_first_false_positive() -> None:
    empty = np.zeros((1, 1), bool)

    class Scored(StreamScorer):
        def __init__(self) -> None:  # only the records the filmstrip reads
            self.scores = [
                PairScore("f0", "x", 0.9, 0.9),
                PairScore("f1", "x", 0.0, 0.0),  # not published: the first miss
                PairScore("f2", "x", 0.3, 0.2),
                PairScore("f3", "x", 0.0, 0.0),  # not published either
                PairScore("f4", "x", 0.6, 0.5),
            ]
            self.published = {
                (f, "x"): Published(Box(0, 0, 1, 1), empty, 0.7) for f in ("f0", "f2", "f4")
            }
            self.false_positives = {"f3": ["y"]}

    picks = pick_stream_frames(["f0", "f1", "f2", "f3", "f4"], Scored())
    assert [(p.kind, p.frame) for p in picks] == [
        ("first miss", "f1"),
        ("worst", "f2"),
        ("worst", "f4"),
        ("worst", "f0"),
        ("first false positive", "f3"),
    ]
    assert picks[-1].instance == "y"
