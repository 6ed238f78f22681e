"""PROxford / PRParis evaluation (An et al., ICCV 2023) the way the official code computes it.

Matched against github.com/anguoyuan/Pixel_retrieval-Segmented_instance_retrieval,
`evaluation_code/utils/evaluate_pixel.py` (`compute_ap`, `compute_map`, `compute_maps`:
pixel mAP@50:5:95), `evaluation_code/utils/evaluate.py` (`compute_map`,
`ParseEasyMediumHardGroundTruth`: image mAP and the medium/hard protocols),
`evaluation_code/mious.py` (mIoU) and `evaluation_code/utils/iou_compute.py` (IoU).

Its own module for the official maths: the medium/hard protocols, image and pixel mAP, mIoU
and the result record. The inputs are read by `proxford_inputs.py`; the `pixret-eval
proxford` subcommand lives in `proxford_cli.py`.

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

import math
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from pixret_ros.evaluation.metrics import PIXEL_THRESHOLDS
from pixret_ros.evaluation.proxford_inputs import PairIoU, Query, Revisitop
from pixret_ros.evaluation.ranking import average_precision

#: Queries the official pixel mAP skips (but still counts in the mean), by dataset.
OFFICIAL_IGNORED: dict[str, tuple[int, ...]] = {"oxford": (56, 63), "paris": (57, 59)}

Setting = Literal["medium", "hard"]
Kind = Literal["S", "D"]
_FIELD: dict[Kind, str] = {"S": "mask", "D": "box"}


def protocol(query: Query, setting: Setting) -> tuple[list[int], list[int]]:
    """(positives, junk) of a query; medium: easy+hard / junk, hard: hard / junk+easy."""
    if setting == "medium":
        return [*query.easy, *query.hard], list(query.junk)
    return list(query.hard), [*query.junk, *query.easy]


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
