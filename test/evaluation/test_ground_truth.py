"""COCO ground truth: RLE/polygon round trips, unions, junk, and one test per error branch."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from skimage import data

from pixret_ros.errors import GroundTruthError
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.records import InstanceTruth

H, W = 48, 64


def photo_mask(threshold: int, row: int, col: int) -> np.ndarray:
    """A real, irregular mask: part of scikit-image's camera photo, thresholded."""
    return np.asarray(data.camera()[row : row + H, col : col + W] > threshold)


def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [H, W], "counts": rle["counts"].decode("ascii")}


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE written here from scratch: column-major runs, zeros first."""
    flat = mask.flatten(order="F").astype(int)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = [0, *change.tolist(), flat.size]
    runs = [b - a for a, b in itertools.pairwise(bounds)]
    if flat[0]:
        runs = [0, *runs]
    return {"size": [H, W], "counts": runs}


def coco(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "images": [
            {"id": 1, "file_name": "frames/a.png", "height": H, "width": W},
            {"id": 2, "file_name": "b.png", "height": H, "width": W},
            {"id": 3, "file_name": "c.jpg"},
        ],
        "categories": [{"id": 7, "name": "mug"}, {"id": 9, "name": "book_2"}],
        "annotations": [],
    }
    doc.update(overrides)
    return doc


def write(tmp_path: Path, doc: dict[str, Any] | str) -> Path:
    path = tmp_path / "gt.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_rle_round_trip_union_polygon_junk_and_negatives(tmp_path: Path) -> None:
    upper = photo_mask(100, 60, 200)
    lower = photo_mask(60, 300, 150)
    assert 0 < upper.sum() < upper.size
    assert 0 < lower.sum() < lower.size
    assert not np.array_equal(upper, lower)
    polygon = [[10, 5, 30, 5, 30, 20, 10, 20]]  # x, y pairs
    doc = coco(
        annotations=[
            {"id": 1, "image_id": 1, "category_id": 7, "segmentation": compressed_rle(upper)},
            {"id": 2, "image_id": 1, "category_id": 7, "segmentation": uncompressed_rle(lower)},
            {"id": 3, "image_id": 2, "category_id": 9, "segmentation": polygon, "iscrowd": 0},
            {
                "id": 4,
                "image_id": 1,
                "category_id": 9,
                "segmentation": uncompressed_rle(upper),
                "iscrowd": 1,
            },
        ]
    )
    gt = load_ground_truth(write(tmp_path, doc))
    assert gt.frames == ("a.png", "b.png", "c.jpg")
    assert gt.instances == ("book_2", "mug")
    assert gt.image_ids == {"a.png": 1, "b.png": 2, "c.jpg": 3}
    assert gt.category_ids == {"mug": 7, "book_2": 9}
    assert gt.truths() == [
        InstanceTruth("book_2", frozenset({"b.png"}), frozenset({"a.png"})),
        InstanceTruth("mug", frozenset({"a.png"}), frozenset()),
    ]
    masks_a = gt.masks("a.png")
    assert set(masks_a) == {"mug"}  # book_2 is junk there
    assert masks_a["mug"].dtype == np.bool_
    np.testing.assert_array_equal(masks_a["mug"], upper | lower)
    masks_b = gt.masks("b.png")
    expected = np.asarray(coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygon, H, W))))
    np.testing.assert_array_equal(masks_b["book_2"], expected.astype(bool))
    assert masks_b["book_2"][10:20, 12:28].all()
    assert masks_b["book_2"].sum() < 25 * 20
    assert gt.masks("c.jpg") == {}
    assert gt.image_size("c.jpg") is None
    assert gt.image_size("a.png") == (H, W)


def test_uncompressed_rle_written_here_matches_pycocotools_encoding(tmp_path: Path) -> None:
    mask = photo_mask(120, 200, 250)
    doc = coco(
        annotations=[
            {"image_id": 1, "category_id": 7, "segmentation": uncompressed_rle(mask)},
            {"image_id": 2, "category_id": 7, "segmentation": compressed_rle(mask)},
        ]
    )
    gt = load_ground_truth(write(tmp_path, doc))
    np.testing.assert_array_equal(gt.masks("a.png")["mug"], mask)
    np.testing.assert_array_equal(gt.masks("b.png")["mug"], mask)


def test_junk_wins_over_a_positive_of_the_same_instance(tmp_path: Path) -> None:
    mask = photo_mask(100, 60, 200)
    doc = coco(
        annotations=[
            {"image_id": 2, "category_id": 7, "segmentation": compressed_rle(mask)},
            {"image_id": 2, "category_id": 7, "segmentation": compressed_rle(mask), "iscrowd": 1},
        ]
    )
    gt = load_ground_truth(write(tmp_path, doc))
    assert gt.truths()[1] == InstanceTruth("mug", frozenset(), frozenset({"b.png"}))
    assert gt.masks("b.png") == {}


def test_rle_states_the_size_of_an_image_without_one(tmp_path: Path) -> None:
    mask = photo_mask(100, 60, 200)
    doc = coco(
        annotations=[{"image_id": 3, "category_id": 9, "segmentation": compressed_rle(mask)}]
    )
    gt = load_ground_truth(write(tmp_path, doc))
    assert gt.image_size("c.jpg") == (H, W)
    np.testing.assert_array_equal(gt.masks("c.jpg")["book_2"], mask)


def ann(segmentation: object, **extra: Any) -> dict[str, Any]:
    return {"image_id": 1, "category_id": 7, "segmentation": segmentation, **extra}


GOOD = {"size": [H, W], "counts": [H * W]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", r"gt\.json: not valid JSON"),
        ("[]", r"top level must be a COCO object"),
        ({"images": [], "categories": []}, r"'annotations' missing"),
        (coco(images=[{"file_name": "a.png"}]), r"images\[0\] has no 'id'"),
        (coco(images=[{"id": 1, "file_name": ""}]), r"'file_name' must be a non-empty"),
        (
            coco(images=[{"id": 1, "file_name": "x/a.png"}, {"id": 2, "file_name": "y/a.png"}]),
            r"two images share the file name 'a\.png'",
        ),
        (
            coco(images=[{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}]),
            r"image id 1 appears twice",
        ),
        (
            coco(images=[{"id": 1, "file_name": "a.png", "height": 0, "width": 4}]),
            r"size 0x4 is not positive",
        ),
        (coco(categories=[{"id": 1, "name": "my mug"}]), r"'my mug' is not a valid instance"),
        (
            coco(categories=[{"id": 1, "name": "mug"}, {"id": 2, "name": "mug"}]),
            r"category name 'mug' appears twice",
        ),
        (coco(annotations=[{"image_id": 1, "category_id": 7}]), r"has no 'segmentation'"),
        (
            coco(annotations=[{"id": 5, "image_id": 4, "category_id": 7, "segmentation": GOOD}]),
            r"annotations\[0\] \(id 5\): image_id 4 is not in images",
        ),
        (
            coco(annotations=[{"image_id": 1, "category_id": 8, "segmentation": GOOD}]),
            r"category_id 8 is not in categories",
        ),
        (coco(annotations=[ann(GOOD, iscrowd=2)]), r"'iscrowd' must be 0 or 1"),
        (
            coco(annotations=[ann({"size": [H, W], "counts": "0!"})]),
            r"bad RLE counts string: character '!'",
        ),
        (
            coco(annotations=[ann({"size": [H, W], "counts": "0P"})]),  # P = 32: 0x20 set
            r"bad RLE counts string: string ends inside a count",
        ),
        (
            coco(annotations=[ann({"size": [H, W], "counts": "52"})]),
            rf"bad RLE: runs cover 7 pixels, size {H}x{W} has {H * W}",
        ),
        (
            coco(annotations=[ann({"size": [H, W], "counts": [H * W - 1]})]),
            r"bad RLE: runs cover",
        ),
        (coco(annotations=[ann({"size": [H, W], "counts": [-1, 5]})]), r"non-negative integers"),
        (
            coco(annotations=[ann({"size": [H], "counts": [H]})]),
            r"'size' must be \[height, width\]",
        ),
        (
            coco(annotations=[ann({"size": [H, W + 1], "counts": [H * (W + 1)]})]),
            rf"RLE size {H}x{W + 1} differs from the image's {H}x{W}",
        ),
        (
            coco(
                annotations=[
                    {"image_id": 3, "category_id": 7, "segmentation": [[1, 2, 3, 4, 5, 6]]}
                ]
            ),
            r"polygons need the image's 'height' and 'width'",
        ),
        (coco(annotations=[ann([[1, 2, 3, 4]])]), r"at least 3 x, y pairs"),
        (coco(annotations=[ann([])]), r"empty polygon list"),
        (coco(annotations=[ann("mask.png")]), r"RLE object or a list of polygons"),
    ],
)
def test_errors_name_the_file_and_the_entry(
    tmp_path: Path, doc: dict[str, Any] | str, message: str
) -> None:
    with pytest.raises(GroundTruthError, match=message):
        load_ground_truth(write(tmp_path, doc))


def test_missing_file_and_unknown_frame(tmp_path: Path) -> None:
    with pytest.raises(GroundTruthError, match=r"missing\.json: cannot read"):
        load_ground_truth(tmp_path / "missing.json")
    gt = load_ground_truth(write(tmp_path, coco()))
    with pytest.raises(GroundTruthError, match=r"no image named 'z\.png'"):
        gt.masks("z.png")
