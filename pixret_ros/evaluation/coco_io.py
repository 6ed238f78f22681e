"""COCO run-length masks and the streamed COCO results file (OUT/predictions.json).

Encoding every detection's mask is evaluator overhead counted against the engine time, so
`encode_mask` scans only a detection's box where it can.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from pixret_ros.engine.types import BoolMask, Box


def encode_mask(mask: BoolMask, box: Box | None = None) -> dict[str, object]:
    """COCO RLE of a bool mask, `counts` as a string (JSON-ready).

    With `box` (which must hold every True pixel, as `Detection.box` does) only the box's
    columns are scanned: outside them the image is background, one run on each side. Four
    times faster on a detection's mask, and evaluator overhead is counted against the engine.
    """
    height, width = mask.shape
    if box is None or not box_holds_mask(mask, box):
        rle = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
        return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    strip = mask[:, box.x : box.x + box.width]
    flat = np.ascontiguousarray(strip.T).ravel()  # the strip in column-major (COCO) order
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs: list[int] = []
    if flat.size:
        runs = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    if not runs or flat[0]:
        runs.insert(0, 0)  # COCO runs start with background
    runs[0] += box.x * height
    trailing = (width - box.x - box.width) * height
    if len(runs) % 2:  # the last run is background
        runs[-1] += trailing
    elif trailing:
        runs.append(trailing)
    rle = coco_mask.frPyObjects({"size": [height, width], "counts": runs}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def decode_mask(rle: Mapping[str, object]) -> BoolMask:
    """The bool mask of a COCO RLE as `encode_mask` writes it."""
    return np.asarray(coco_mask.decode(rle)).astype(bool)


def box_holds_mask(mask: BoolMask, box: Box) -> bool:
    """Whether `box` lies in the frame and holds every True pixel of `mask`.

    A detection's box does by definition; a recorded one comes from a message and may not.
    """
    height, width = mask.shape
    if min(box.x, box.y) < 0 or box.x + box.width > width or box.y + box.height > height:
        return False
    inside = mask[box.y : box.y + box.height, box.x : box.x + box.width]
    return int(np.count_nonzero(inside)) == int(np.count_nonzero(mask))


class PredictionWriter:
    """Streams COCO result entries to OUT/predictions.json (written beside, renamed at close)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        self._file = self._partial.open("w", encoding="utf-8")
        self._file.write("[")
        self.count = 0

    def add(self, entry: Mapping[str, object]) -> None:
        """Append one COCO result entry."""
        self._file.write(("\n" if not self.count else ",\n") + json.dumps(entry))
        self.count += 1

    def close(self) -> None:
        """Finish the file and put it in place."""
        self._file.write("\n]\n")
        self._file.close()
        self._partial.replace(self.path)

    def abort(self) -> None:
        """Drop the partial file: a failed run leaves no predictions.json behind."""
        self._file.close()
        self._partial.unlink(missing_ok=True)
