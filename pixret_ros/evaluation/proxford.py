"""PROxford / PRParis evaluation (An et al., ICCV 2023) the way the official code computes it.

Matched against github.com/anguoyuan/Pixel_retrieval-Segmented_instance_retrieval,
`evaluation_code/utils/evaluate_pixel.py` (`compute_ap`, `compute_map`, `compute_maps`:
pixel mAP@50:5:95), `evaluation_code/utils/evaluate.py` (`compute_map`,
`ParseEasyMediumHardGroundTruth`: image mAP and the medium/hard protocols),
`evaluation_code/mious.py` (mIoU) and `evaluation_code/utils/iou_compute.py` (IoU).

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

Quirks of the official code, reproduced on purpose and printed next to the numbers:
1. Pixel mAP skips queries 56, 63 (Oxford) / 57, 59 (Paris) but still divides by all queries
   (less those without any positive at that threshold), so each ignored query counts as 0.
2. In medium mIoU an *easy* positive without a predicted mask is skipped, while a *hard*
   one counts 0 (mious.py `continue`s before appending for easy pairs).
3. mIoU is averaged over all queries with no query ignored; a query without positives
   would make it NaN (reported as null).
4. Pixel mAP ranks database images by the image-level ranking, not by any mask score.
Deviation: the official code rasterizes polygons on a square canvas whose side is the
largest coordinate, dropping that last row/column; here the LabelMe mask is rasterized at
the image size (`imageHeight` x `imageWidth`) with the same vertex rounding (truncation)
and `cv2.fillPoly`, and compared with the predicted mask pixel for pixel.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from pixret_ros.errors import EvaluationError, GroundTruthError, InputError
from pixret_ros.evaluation.ground_truth_checks import read_json
from pixret_ros.evaluation.iou import box_iou_of_masks, mask_iou
from pixret_ros.evaluation.metrics import PIXEL_THRESHOLDS
from pixret_ros.evaluation.ranking import average_precision

if TYPE_CHECKING:
    BoolMask = npt.NDArray[np.bool_]
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001

#: Queries the official pixel mAP skips (but still counts in the mean), by dataset.
OFFICIAL_IGNORED: dict[str, tuple[int, ...]] = {"oxford": (56, 63), "paris": (57, 59)}

Setting = Literal["medium", "hard"]
Kind = Literal["S", "D"]
_FIELD: dict[Kind, str] = {"S": "mask", "D": "box"}


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


def protocol(query: Query, setting: Setting) -> tuple[list[int], list[int]]:
    """(positives, junk) of a query; medium: easy+hard / junk, hard: hard / junk+easy."""
    if setting == "medium":
        return [*query.easy, *query.hard], list(query.junk)
    return list(query.hard), [*query.junk, *query.easy]


# ------------------------------------------------------------------------------ inputs


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


# ------------------------------------------------------------------------ official maths


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


def _ap(column: npt.NDArray[np.int64], positives: Sequence[int], junk: Sequence[int]) -> float:
    """Revisitop AP of one ranking column; junk removed (= the official junk shift)."""
    junk_set = set(junk)
    positive_set = set(positives)
    kept = [i for i in column.tolist() if i not in junk_set]
    ranks = [r for r, i in enumerate(kept) if i in positive_set]
    return average_precision(ranks, num_positives=len(positives))


def official_image_map(ranks: npt.NDArray[np.int64], data: Revisitop, setting: Setting) -> float:
    """evaluate.py `compute_map`: mean AP over queries with a positive (none ignored)."""
    aps = []
    for q, query in enumerate(data.gnd):
        positives, junk = protocol(query, setting)
        if positives:
            aps.append(_ap(ranks[:, q], positives, junk))
    return sum(aps) / len(aps) if aps else math.nan


def official_pixel_map(
    ranks: npt.NDArray[np.int64],
    data: Revisitop,
    ious: Mapping[tuple[int, int], PairIoU],
    setting: Setting,
    *,
    kind: Kind,
    ignored: Sequence[int],
    thresholds: Sequence[float] = PIXEL_THRESHOLDS,
) -> float:
    """evaluate_pixel.py `compute_maps`: mean over t of `compute_map` at t.

    At t the positives of a query are its positives with IoU > t (strict; pairs without a
    predicted mask have none). Queries in `ignored` are skipped yet still in the divisor;
    queries without a positive at t are left out of the divisor (a t where that leaves
    none counts 0; the official code would divide by zero there).
    """
    nq = len(data.gnd)
    maps = []
    for t in thresholds:
        total, empty = 0.0, 0
        for q, query in enumerate(data.gnd):
            if q in ignored:
                continue
            positives, junk = protocol(query, setting)
            hits = [
                i for i in positives if (q, i) in ious and getattr(ious[q, i], _FIELD[kind]) > t
            ]
            if not hits:
                empty += 1
                continue
            total += _ap(ranks[:, q], hits, junk)
        # Official: ZeroDivisionError when nothing is left; never on the real sets (the ignored
        # queries stay in the divisor). Here such a t counts 0, as in DESIGN section 5.
        maps.append(total / (nq - empty) if nq > empty else 0.0)
    return sum(maps) / len(maps)


def official_miou(
    data: Revisitop, ious: Mapping[tuple[int, int], PairIoU], setting: Setting, *, kind: Kind
) -> tuple[float, list[float]]:
    """mious.py: per query mean IoU, then the mean over all queries (NaN if any is empty).

    Hard positives without a predicted mask count 0; in the medium setting easy positives
    without one are skipped (the official quirk). Returns (mean, per-query means).
    """
    per_query = []
    for q, query in enumerate(data.gnd):
        values = [getattr(ious[q, i], _FIELD[kind]) if (q, i) in ious else 0.0 for i in query.hard]
        if setting == "medium":
            values += [getattr(ious[q, i], _FIELD[kind]) for i in query.easy if (q, i) in ious]
        per_query.append(sum(values) / len(values) if values else math.nan)
    return (sum(per_query) / len(per_query) if per_query else math.nan), per_query


QUIRKS = (
    "pixel mAP skips queries {ignored} but still divides by all queries (each counts as 0)",
    "medium mIoU skips easy positives without a predicted mask (hard ones count 0)",
    "mIoU averages over all queries, none ignored; a query without positives makes it n/a",
    "pixel mAP ranks images by the image-level ranking, not by mask scores",
    "labels rasterized at the image size, not on the official max-coordinate square canvas",
)


class SettingResult(NamedTuple):
    """Official figures of one setting (fractions; NaN where the official code gives NaN)."""

    image_map: float
    pixel_map_D: float  # noqa: N815 (D/S as in the paper)
    pixel_map_S: float  # noqa: N815
    miou_D: float  # noqa: N815
    miou_S: float  # noqa: N815
    per_query_miou_D: tuple[float, ...]  # noqa: N815
    per_query_miou_S: tuple[float, ...]  # noqa: N815


class ProxfordResult(NamedTuple):
    """Everything `pixret-eval proxford` reports."""

    dataset: str
    num_queries: int
    num_images: int
    ignored_queries: tuple[int, ...]
    medium: SettingResult
    hard: SettingResult

    def quirks(self) -> list[str]:
        """The official quirks behind these numbers, in words."""
        return [q.format(ignored=list(self.ignored_queries)) for q in QUIRKS]

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict; NaN becomes null."""

        def clean(value: object) -> object:
            if isinstance(value, float) and math.isnan(value):
                return None
            if isinstance(value, tuple):
                return [clean(v) for v in value]
            return value

        out: dict[str, object] = {
            "dataset": self.dataset,
            "num_queries": self.num_queries,
            "num_images": self.num_images,
            "ignored_queries": list(self.ignored_queries),
            "quirks": self.quirks(),
        }
        for name, setting in (("medium", self.medium), ("hard", self.hard)):
            out[name] = {k: clean(v) for k, v in setting._asdict().items()}
        return out


def evaluate_proxford(
    data: Revisitop,
    ranks: npt.NDArray[np.int64],
    ious: Mapping[tuple[int, int], PairIoU],
    *,
    dataset: str,
    ignored: Sequence[int],
    thresholds: Sequence[float] = PIXEL_THRESHOLDS,
) -> ProxfordResult:
    """All official figures, medium and hard."""

    def one(setting: Setting) -> SettingResult:
        miou_s, per_s = official_miou(data, ious, setting, kind="S")
        miou_d, per_d = official_miou(data, ious, setting, kind="D")
        maps = {
            kind: official_pixel_map(
                ranks, data, ious, setting, kind=kind, ignored=ignored, thresholds=thresholds
            )
            for kind in ("D", "S")
        }
        return SettingResult(
            official_image_map(ranks, data, setting),
            maps["D"],
            maps["S"],
            miou_d,
            miou_s,
            tuple(per_d),
            tuple(per_s),
        )

    return ProxfordResult(
        dataset, len(data.gnd), len(data.imlist), tuple(ignored), one("medium"), one("hard")
    )


# --------------------------------------------------------------------------------- CLI

EPILOG = """\
examples:
  pixret-eval proxford --gnd revisitop/data/roxford5k/gnd_roxford5k.pkl \\
      --pair-labels pixel_retrieval_benchmarks/oxford_pair2labelpath.npy \\
      --ranks results/roxford_ranks.npy --masks results/proxford_masks/ --out proxford.json
  pixret-eval proxford --gnd gnd_rparis6k.pkl --pair-labels paris_pair2labelpath.npy \\
      --ranks rparis_ranks.npy --masks rparis_masks.npz

--ranks: integer .npy, shape (database size, queries), column q = database indices for
query q, best first. --masks: folder of {q}_{i}.png or .npz with arrays {q}_{i}; (H, W) of
database image i, nonzero = query q's object; missing or empty = not found.
"""


def add_proxford_parser(subparsers: SubParsers) -> argparse.ArgumentParser:
    """Add `proxford` to the `pixret-eval` sub-commands; `run_proxford` runs it."""
    parser = subparsers.add_parser(
        "proxford",
        help="PROxford/PRParis medium/hard D and S mAP@50:5:95 and mIoU (official protocol)",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--gnd", type=Path, required=True, help="revisitop gnd_*.pkl")
    parser.add_argument(
        "--pair-labels", type=Path, required=True, help="oxford/paris_pair2labelpath.npy"
    )
    parser.add_argument(
        "--label-root",
        type=Path,
        help="folder the label paths are relative to (default: that of --pair-labels)",
    )
    parser.add_argument("--ranks", type=Path, required=True, help="image-level ranking .npy")
    parser.add_argument("--masks", type=Path, required=True, help="folder of PNGs or .npz")
    parser.add_argument(
        "--dataset",
        choices=sorted(OFFICIAL_IGNORED),
        help="selects the ignored queries (default: from the --gnd file name)",
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.set_defaults(func=run_proxford)
    return parser


def _dataset(args: argparse.Namespace) -> str:
    if args.dataset:
        return str(args.dataset)
    for name in OFFICIAL_IGNORED:
        if name in args.gnd.name.lower():
            return name
    raise InputError(f"cannot tell oxford from paris by {args.gnd.name!r}; pass --dataset")


def format_table(result: ProxfordResult) -> str:
    """The figures in percent, as the paper prints them, the quirks underneath."""

    def pct(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{100 * value:.2f}"

    title = "PR" + result.dataset.capitalize()
    lines = [f"{title:<10} {'D mAP':>8} {'S mAP':>8} {'D mIoU':>8} {'S mIoU':>8} {'image mAP':>10}"]
    for name, row in (("medium", result.medium), ("hard", result.hard)):
        lines.append(
            f"{name:<10} {pct(row.pixel_map_D):>8} {pct(row.pixel_map_S):>8} "
            f"{pct(row.miou_D):>8} {pct(row.miou_S):>8} {pct(row.image_map):>10}"
        )
    lines.append(f"{result.num_queries} queries, {result.num_images} database images; quirks:")
    lines += [f"  - {q}" for q in result.quirks()]
    return "\n".join(lines)


def run_proxford(args: argparse.Namespace) -> int:
    """Run `pixret-eval proxford`; print the table (and write --out); 1 on bad input."""
    try:
        dataset = _dataset(args)
        data = load_revisitop(args.gnd)
        labels = load_pair_labels(args.pair_labels)
        ranks = load_ranks(args.ranks, num_images=len(data.imlist), num_queries=len(data.qimlist))
        masks = PredictedMasks(args.masks)
        root = args.label_root or args.pair_labels.parent
        ious = pair_ious(data, labels, root, masks, progress=sys.stderr.isatty())
        result = evaluate_proxford(
            data, ranks, ious, dataset=dataset, ignored=OFFICIAL_IGNORED[dataset]
        )
        if args.out:
            args.out.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    except EvaluationError as exc:
        print(f"pixret-eval proxford: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pixret-eval proxford: {exc}", file=sys.stderr)
        return 1
    print(format_table(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m pixret_ros.evaluation.proxford`) until the CLI wires it."""
    parser = argparse.ArgumentParser(prog="pixret-eval")
    add_proxford_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
