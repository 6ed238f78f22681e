"""Reading the PROxford / PRParis inputs in the official layout, and the IoU of each pair.

Its own module because loading and checking five kinds of file (pickle, npy, LabelMe json,
PNG folder or npz) is a job apart from the official maths of `proxford.py`: every loader
names the file and the problem, so a bad input fails before any figure is computed.

Inputs (the official layout):
- revisitop `gnd_roxford5k.pkl` / `gnd_rparis6k.pkl`: a pickle of a dict with `imlist`
  (database names), `qimlist` (query names) and `gnd` (one dict per query with `easy`,
  `hard`, `junk`: 0-based database indices; `bbx` is not used).
- `oxford_pair2labelpath.npy` / `paris_pair2labelpath.npy`: a pickled dict
  `"{query}_{db}" -> LabelMe json path` (relative to the folder given by `--label-root`,
  by default the npy's folder) for the positive pairs.
- LabelMe json: `shapes[].points` ([x, y] polygons of the segmented instance; all shapes form
  one mask), `imageHeight`, `imageWidth`.
- the method's image-level ranking: an integer .npy of shape (database size, queries),
  column q = database indices for query q, best first (as the official `ranks`).
- the method's predicted masks (pixret's format; the official one is a dict of polygons):
  either a folder of PNGs `{query}_{db}.png` or an .npz with arrays named `{query}_{db}`,
  (H, W) of the database image, nonzero = the query object. A missing or empty mask means
  "not found" (the official empty `found_points`).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from pixret_ros.engine.types import BoolMask
from pixret_ros.errors import GroundTruthError, InputError
from pixret_ros.evaluation.ground_truth_checks import read_json
from pixret_ros.evaluation.iou import box_iou_of_masks, mask_iou


class Query(NamedTuple):
    """Revisitop ground truth of one query: 0-based database indices."""

    easy: tuple[int, ...]
    hard: tuple[int, ...]
    junk: tuple[int, ...]


class Revisitop(NamedTuple):
    """Contents of a revisitop `gnd_*.pkl`."""

    imlist: tuple[str, ...]
    qimlist: tuple[str, ...]
    gnd: tuple[Query, ...]


class PairIoU(NamedTuple):
    """IoUs of one (query, database image) pair with a predicted mask: S (mask), D (box)."""

    mask: float
    box: float


def _indices(value: object, where: str, size: int) -> tuple[int, ...]:
    array = np.asarray(value).reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise GroundTruthError(f"{where} must hold integer indices, got {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= size):
        raise GroundTruthError(f"{where} has indices outside 0..{size - 1}")
    return tuple(int(v) for v in array)


def load_revisitop(path: Path) -> Revisitop:
    """Read a revisitop `gnd_*.pkl` (a pickle: only open files you trust)."""
    try:
        with path.open("rb") as f:
            data = pickle.load(f)  # noqa: S301 (the official format is a pickle)
    except OSError as exc:
        raise GroundTruthError(f"{path}: cannot read: {exc.strerror}") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise GroundTruthError(f"{path}: not a revisitop pickle: {exc}") from None
    if not isinstance(data, dict) or not {"imlist", "qimlist", "gnd"} <= set(data):
        raise GroundTruthError(f"{path}: expected a dict with 'imlist', 'qimlist' and 'gnd'")
    imlist = tuple(str(v) for v in data["imlist"])
    qimlist = tuple(str(v) for v in data["qimlist"])
    gnd_raw = data["gnd"]
    if not isinstance(gnd_raw, Sequence) or len(gnd_raw) != len(qimlist):
        raise GroundTruthError(f"{path}: 'gnd' must hold one entry per query ({len(qimlist)})")
    gnd = []
    for q, entry in enumerate(gnd_raw):
        if not isinstance(entry, Mapping) or not {"easy", "hard", "junk"} <= set(entry):
            raise GroundTruthError(f"{path}: gnd[{q}] lacks 'easy', 'hard' or 'junk'")
        gnd.append(
            Query(
                *(
                    _indices(entry[k], f"{path}: gnd[{q}][{k!r}]", len(imlist))
                    for k in Query._fields
                )
            )
        )
    return Revisitop(imlist, qimlist, tuple(gnd))


def load_pair_labels(path: Path) -> dict[str, str]:
    """Read `*_pair2labelpath.npy`: a pickled dict "{query}_{db}" -> LabelMe json path."""
    try:
        data = np.load(path, allow_pickle=True)  # the official format is a pickled dict
        labels = data.item() if isinstance(data, np.ndarray) and data.shape == () else data
    except (OSError, ValueError, pickle.UnpicklingError) as exc:
        raise GroundTruthError(f"{path}: cannot read pair labels: {exc}") from None
    if not isinstance(labels, dict):
        raise GroundTruthError(f"{path}: expected a pickled dict '{{q}}_{{i}}' -> label path")
    return {str(k): str(v) for k, v in labels.items()}


def label_mask(path: Path) -> BoolMask:
    """Rasterize a LabelMe json: every shape's polygon filled (union), as iou_compute.py.

    Vertices are truncated to integers (`astype(int)`) and filled with `cv2.fillPoly`, one
    call per shape, on an `imageHeight` x `imageWidth` canvas.
    """
    doc = read_json(path, "LabelMe label")
    if not isinstance(doc, dict):
        raise GroundTruthError(f"{path}: a LabelMe label must be a JSON object")
    height, width, shapes = doc.get("imageHeight"), doc.get("imageWidth"), doc.get("shapes")
    if not isinstance(height, int) or not isinstance(width, int) or height <= 0 or width <= 0:
        raise GroundTruthError(f"{path}: 'imageHeight'/'imageWidth' missing or not positive")
    if not isinstance(shapes, list) or not shapes:
        raise GroundTruthError(f"{path}: 'shapes' missing or empty")
    canvas = np.zeros((height, width), np.uint8)
    for index, shape in enumerate(shapes):
        points = shape.get("points") if isinstance(shape, dict) else None
        try:
            vertices = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError):
            vertices = np.empty((0,))
        if vertices.ndim != 2 or vertices.shape[1] != 2 or not len(vertices):
            raise GroundTruthError(f"{path}: shapes[{index}].points must be [[x, y], ...]")
        cv2.fillPoly(canvas, [vertices.astype(np.int32)], 1)
    return canvas.astype(bool)


def load_ranks(path: Path, *, num_images: int, num_queries: int) -> npt.NDArray[np.int64]:
    """Read the image-level ranking: integers, shape (database size, queries) as official."""
    try:
        ranks = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the ranking .npy: {exc}") from None
    if ranks.ndim != 2 or not np.issubdtype(ranks.dtype, np.integer):
        raise InputError(
            f"{path}: ranking must be a 2-D integer array, got {ranks.dtype} {ranks.shape}"
        )
    if ranks.shape[1] != num_queries:
        hint = (
            " (transposed? the official layout is database x queries)"
            if (ranks.shape[0] == num_queries)
            else ""
        )
        raise InputError(
            f"{path}: ranking has {ranks.shape[1]} columns for {num_queries} queries{hint}"
        )
    if not 0 < ranks.shape[0] <= num_images or ranks.min() < 0 or ranks.max() >= num_images:
        raise InputError(f"{path}: ranking must hold database indices 0..{num_images - 1}")
    for q in range(num_queries):
        if len(np.unique(ranks[:, q])) != ranks.shape[0]:
            raise InputError(f"{path}: column {q} ranks a database image twice")
    return np.asarray(ranks, dtype=np.int64)


class PredictedMasks:
    """The method's masks: a folder of `{q}_{i}.png` or an .npz with arrays `{q}_{i}`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: frozenset[str] = frozenset()
        if path.is_dir():
            self._npz = None
        elif path.suffix == ".npz" and path.is_file():
            try:
                self._npz = np.load(path, allow_pickle=False)  # lazy: one array per get()
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: cannot read predicted masks: {exc}") from None
            self._keys = frozenset(self._npz.files)
        else:
            raise InputError(f"{path}: predicted masks must be a folder of PNGs or an .npz file")

    def get(self, query: int, image: int) -> BoolMask | None:
        """The mask predicted for the pair, None where the method found nothing."""
        key = f"{query}_{image}"
        if self._npz is not None:
            if key not in self._keys:
                return None
            array = np.asarray(self._npz[key])
            where = f"{self.path}[{key}]"
        else:
            file = self.path / f"{key}.png"
            if not file.exists():
                return None
            read = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
            if read is None:
                raise InputError(f"{file}: not a readable PNG")
            array = np.asarray(read)
            where = str(file)
        if array.ndim != 2:
            raise InputError(f"{where}: a mask must be single-channel (H, W), got {array.shape}")
        mask = array != 0
        return mask if mask.any() else None


def pair_ious(
    data: Revisitop,
    labels: Mapping[str, str],
    label_root: Path,
    masks: PredictedMasks,
    *,
    progress: bool = False,
) -> dict[tuple[int, int], PairIoU]:
    """IoUs of every positive (easy or hard) pair that has a predicted mask.

    Pairs without a predicted mask are absent (the official IoU dict lacks undetected easy
    pairs and holds 0 for hard ones; both rank as negatives, and `official_miou` adds the 0s).
    """
    pairs = [(q, i) for q, g in enumerate(data.gnd) for i in dict.fromkeys([*g.hard, *g.easy])]
    out: dict[tuple[int, int], PairIoU] = {}
    for q, i in tqdm(pairs, desc="pairs", unit="pair", disable=not progress):
        pred = masks.get(q, i)
        if pred is None:
            continue
        key = f"{q}_{i}"
        if key not in labels:
            raise GroundTruthError(f"pair labels have no LabelMe file for pair {key!r}")
        truth_path = label_root / labels[key]
        truth = label_mask(truth_path)
        if pred.shape != truth.shape:
            raise InputError(
                f"{masks.path}: mask {key} is {pred.shape}, the label {truth_path} is "
                f"{truth.shape} (height, width)"
            )
        out[q, i] = PairIoU(mask_iou(pred, truth), box_iou_of_masks(pred, truth))
    return out
