"""coco_io: the box-limited COCO RLE equals pycocotools' own, and decodes back."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from pixret_ros.engine.types import Box
from pixret_ros.evaluation import coco_io


@pytest.mark.parametrize(
    "case", ["random", "empty", "full", "edges", "box_too_small", "box_beyond_the_frame"]
)
def test_encode_mask_within_its_box_gives_the_full_image_encoding(case: str) -> None:
    """Scanning only the box's columns must give pycocotools' own string, run for run."""
    rng = np.random.default_rng(len(case))
    for _ in range(20):
        mask = np.zeros((48, 64), bool)
        if case == "full":
            mask[:] = True
        elif case == "edges":
            mask[:, 0] = mask[:, -1] = mask[0, :] = mask[-1, :] = True
        elif case != "empty":
            x0, y0 = rng.integers(0, 60), rng.integers(0, 44)
            mask[y0 : y0 + rng.integers(1, 30), x0 : x0 + rng.integers(1, 30)] = True
            mask &= rng.random(mask.shape) < rng.uniform(0.3, 1.0)  # holes, ragged edges
        box = Box.of_mask(mask)
        if case == "box_too_small" and box.width > 1:
            box = Box(box.x + 1, box.y, box.width - 1, box.height)  # misses a column: fall back
        if case == "box_beyond_the_frame":
            box = Box(box.x, box.y, 64 - box.x + 5, box.height)  # e.g. a recorded message's
        expected = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))["counts"].decode()
        assert coco_io.encode_mask(mask, box) == {"size": [48, 64], "counts": expected}


def test_encode_mask_round_trip() -> None:
    mask = np.zeros((7, 9), bool)
    mask[2:5, 3:8] = True
    rle = coco_io.encode_mask(mask)
    assert isinstance(rle["counts"], str)
    assert rle["size"] == [7, 9]
    np.testing.assert_array_equal(coco_mask.decode(rle).astype(bool), mask)
