"""A tiny PROxford fixture in the official layout, shared by the proxford tests.

Fixture: 3 queries, 6 database images (20 x 30 pixels). Every true instance is the
rectangle columns 2..11, rows 3..12 (100 pixels), drawn as a LabelMe polygon with
fractional vertices that truncate to those corners.

    query  easy    hard    junk   ranking column (best first)
    0      0, 1    2       3      3 2 4 0 5 1
    1      -       4, 5    -      4 0 5 1 2 3
    2      5       -       0      1 5 0 2 3 4

Predicted masks (S = mask IoU, D = box IoU with the truth):
    (0,0) exact rectangle          S 1.00  D 1.00
    (0,1) none (an easy pair without a mask)
    (0,2) the rectangle's outline  S 0.36  D 1.00   (36 of 100 pixels, same box)
    (1,4) rows 3..10 only          S 0.80  D 0.80
    (1,5) none (a hard pair without a mask)
    (2,5) columns 2..6 only        S 0.50  D 0.50   (exactly at t = 0.50: not > t)
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np

from pixret_ros.evaluation.proxford_inputs import (
    PairIoU,
    PredictedMasks,
    load_pair_labels,
    load_revisitop,
    pair_ious,
)

H, W = 20, 30
GND = [
    {"easy": [0, 1], "hard": [2], "junk": [3]},
    {"easy": [], "hard": [4, 5], "junk": []},
    {"easy": [5], "hard": [], "junk": [0]},
]
RANKS = np.array([[3, 2, 4, 0, 5, 1], [4, 0, 5, 1, 2, 3], [1, 5, 0, 2, 3, 4]]).T  # db x q
POLYGON = [[2.7, 3.2], [11.9, 3.0], [11.0, 12.99], [2.0, 12.0]]


def rect(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[rows, cols] = 255
    return mask


def predictions() -> dict[str, np.ndarray]:
    outline = rect(slice(3, 13), slice(2, 12))
    outline[4:12, 3:11] = 0
    return {
        "0_0": rect(slice(3, 13), slice(2, 12)),
        "0_2": outline,
        "1_4": rect(slice(3, 11), slice(2, 12)),
        "2_5": rect(slice(3, 13), slice(2, 7)),
        "0_3": rect(slice(0, 5), slice(0, 5)),  # a junk pair: has no label, never read
    }


def write_labelme(path: Path, shapes: list[list[list[float]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "version": "4.5.6",
        "shapes": [{"label": "object", "points": s, "shape_type": "polygon"} for s in shapes],
        "imagePath": path.stem + ".jpg",
        "imageHeight": H,
        "imageWidth": W,
    }
    path.write_text(json.dumps(doc))


def write_layout(tmp_path: Path) -> dict[str, Path]:
    """Writes the official layout: gnd pickle, pair2labelpath npy, LabelMe files, ranks,
    and the predicted masks as PNGs and as an npz."""
    root = tmp_path / "pixel_retrieval_benchmarks"
    gnd_path = tmp_path / "revisitop" / "gnd_roxford5k.pkl"
    gnd_path.parent.mkdir(parents=True)
    data = {
        "imlist": [f"oxford_{i:06d}" for i in range(6)],
        "qimlist": ["all_souls_1", "ashmolean_2", "balliol_3"],
        "gnd": [
            {"bbx": [0.0, 0.0, 5.0, 5.0], **{k: np.array(v, dtype=np.int64) for k, v in g.items()}}
            for g in GND
        ],
    }
    gnd_path.write_bytes(pickle.dumps(data))
    pairs = {}
    for q, g in enumerate(GND):
        for i in [*g["easy"], *g["hard"]]:
            pairs[f"{q}_{i}"] = f"labels/oxford/{q}_{i}.json"
            write_labelme(root / pairs[f"{q}_{i}"], [POLYGON])
    labels_path = root / "oxford_pair2labelpath.npy"
    np.save(labels_path, np.array(pairs, dtype=object), allow_pickle=True)
    ranks_path = tmp_path / "roxford_ranks.npy"
    np.save(ranks_path, RANKS)
    mask_dir = tmp_path / "masks"
    mask_dir.mkdir()
    for key, mask in predictions().items():
        assert cv2.imwrite(str(mask_dir / f"{key}.png"), mask)
    npz_path = tmp_path / "masks.npz"
    arrays = {k: v > 0 for k, v in predictions().items()}
    np.savez_compressed(npz_path, **arrays)  # type: ignore[arg-type]  # numpy stubs: kwargs vs allow_pickle
    return {
        "gnd": gnd_path,
        "labels": labels_path,
        "ranks": ranks_path,
        "masks": mask_dir,
        "npz": npz_path,
        "root": root,
    }


def fixture_ious(layout: dict[str, Path], masks: str = "masks") -> dict[tuple[int, int], PairIoU]:
    data = load_revisitop(layout["gnd"])
    labels = load_pair_labels(layout["labels"])
    return pair_ious(data, labels, layout["root"], PredictedMasks(layout[masks]))
