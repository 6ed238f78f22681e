"""PROxford/PRParis official figures on the tiny fixture of proxford_layout.py, values by hand,
and against a transcription of the official code on random cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from proxford_layout import fixture_ious

from pixret_ros.evaluation.proxford import (
    OFFICIAL_IGNORED,
    evaluate_proxford,
    official_miou,
    official_pixel_map,
)
from pixret_ros.evaluation.proxford_inputs import (
    PairIoU,
    Query,
    Revisitop,
    load_ranks,
    load_revisitop,
)


def test_official_figures_by_hand(layout: dict[str, Path]) -> None:
    data = load_revisitop(layout["gnd"])
    ranks = load_ranks(layout["ranks"], num_images=6, num_queries=3)
    result = evaluate_proxford(
        data, ranks, fixture_ious(layout), dataset="oxford", ignored=OFFICIAL_IGNORED["oxford"]
    )
    medium, hard = result.medium, result.hard
    # Image mAP, medium. q0 without junk 3: [2 4 0 5 1], positives at 0, 2, 4 (n = 3):
    #   (1+1)/6 + (1/2+2/3)/6 + (2/4+3/5)/6 = 32/45. q1: positives at 0, 2: 19/24.
    #   q2 without junk 0: [1 5 2 3 4], positive at 1: (0 + 1/2)/2 = 1/4.
    assert medium.image_map == pytest.approx((32 / 45 + 19 / 24 + 1 / 4) / 3)
    # Hard: q0 [2 4 5] -> 1; q1 19/24; q2 has no hard positive -> left out.
    assert hard.image_map == pytest.approx((1 + 19 / 24) / 2)
    # Pixel mAP D, medium. q0: 0 and 2 (D 1.0) hit at every t: ranks 0, 2 -> 19/24.
    #   q1: 4 (.80) hits for t = .50..  .75 (6 thresholds), AP 1. q2: .50 never > t.
    #   t <= .75: (19/24 + 1) / 2 (q2 empty); t >= .80: 19/24 / 1 -> 41/48.
    assert medium.pixel_map_D == pytest.approx((6 * 43 / 48 + 4 * 19 / 24) / 10)
    # S, medium. q0: only 0 (S 1.0) hits, at rank 2 of [2 4 0 5 1]: (0 + 1/3)/2 = 1/6.
    #   t <= .75: (1/6 + 1)/2 = 7/12; t >= .80: 1/6 -> 5/12.
    assert medium.pixel_map_S == pytest.approx(5 / 12)
    # Hard D: q0 (2, D 1.0) AP 1 always; q1 AP 1 for 6 thresholds; q2 empty -> 1.
    assert hard.pixel_map_D == pytest.approx(1.0)
    # Hard S: q0's 2 (S .36) never hits; t <= .75: q1 alone -> 1; t >= .80 nobody is left
    #   (the official code divides by zero there; counted 0) -> 6/10.
    assert hard.pixel_map_S == pytest.approx(0.6)
    # mIoU medium S: q0: hard .36, easy 1.0, easy (0,1) without mask skipped -> .68;
    #   q1: .80 and 0 (hard without mask) -> .40; q2: .50 -> (.68 + .40 + .50)/3.
    assert medium.miou_S == pytest.approx((0.68 + 0.40 + 0.50) / 3)
    assert medium.miou_D == pytest.approx((1.0 + 0.40 + 0.50) / 3)
    # Hard: q2 has no hard positive: mean of an empty list = NaN, and so the mean (official).
    assert hard.per_query_miou_S[:2] == pytest.approx((0.36, 0.40))
    assert np.isnan(hard.per_query_miou_S[2])
    assert np.isnan(hard.miou_S)
    out = result.to_json()
    assert out["hard"]["miou_S"] is None  # type: ignore[index]
    assert out["ignored_queries"] == [56, 63]


def test_ignored_queries_still_count_in_the_mean(layout: dict[str, Path]) -> None:
    data = load_revisitop(layout["gnd"])
    ranks = load_ranks(layout["ranks"], num_images=6, num_queries=3)
    ious = fixture_ious(layout)
    # Ignoring q1: every t has q0 (1/6) and q2 empty; divisor 3 - 1 = 2 -> 1/12, not 1/6.
    value = official_pixel_map(ranks, data, ious, "medium", kind="S", ignored=(1,))
    assert value == pytest.approx(1 / 12)
    # mIoU ignores no query.
    assert official_miou(data, ious, "medium", kind="S")[0] == pytest.approx(1.58 / 3)
    assert OFFICIAL_IGNORED == {"oxford": (56, 63), "paris": (57, 59)}


# ------------------------------------------- against a transcription of the official code

RawGnd = list[dict[str, list[int]]]


def official_compute_ap(ranks: np.ndarray, nres: int) -> float:
    """evaluation_code/utils/evaluate_pixel.py compute_ap, line by line."""
    ap = 0.0
    recall_step = 1.0 / nres
    for j in np.arange(len(ranks)):
        rank = ranks[j]
        precision_0 = 1.0 if rank == 0 else float(j) / rank
        precision_1 = float(j + 1) / (rank + 1)
        ap += (precision_0 + precision_1) * recall_step / 2.0
    return ap


def official_compute_map(
    ignore: list[int], ranks: np.ndarray, ious: dict[str, list[float]], thresh: int, gnd: RawGnd
) -> float:
    """evaluate_pixel.py compute_map(dataset, ...), with its try/except chain reduced to what
    it does on mious.py's IoU dict (values [bbox, seg]): missing pairs skipped, value [0]."""
    total, nq, nempty = 0.0, len(gnd), 0
    for i in np.arange(nq):
        if i in ignore:
            continue
        qgnd = []
        for j in gnd[i]["ok"]:
            key = str(i) + "_" + str(int(j))
            if key in ious and ious[key][0] > (thresh / 100):
                qgnd.append(j)
        if len(qgnd) == 0:
            nempty += 1
            continue
        pos = np.arange(ranks.shape[0])[np.isin(ranks[:, i], np.array(qgnd))]
        junk = np.arange(ranks.shape[0])[np.isin(ranks[:, i], np.array(gnd[i]["junk"]))]
        k = ij = ip = 0
        if len(junk):
            while ip < len(pos):
                while ij < len(junk) and pos[ip] > junk[ij]:
                    k += 1
                    ij += 1
                pos[ip] = pos[ip] - k
                ip += 1
        total += official_compute_ap(pos, len(qgnd))
    return total / (nq - nempty)


def official_mious(gnd: RawGnd, match: dict[str, float], setting: str) -> float:
    """evaluation_code/mious.py for one IoU kind: `match` holds the IoU of pairs with
    found points; hard pairs without count 0, easy ones are skipped."""
    per_query = []
    for q in range(len(gnd)):
        values = [match.get(f"{q}_{i}", 0.0) for i in gnd[q]["hard"]]
        if setting == "medium":
            values += [match[f"{q}_{i}"] for i in gnd[q]["easy"] if f"{q}_{i}" in match]
        per_query.append(np.mean(values))
    return float(np.mean(per_query))


def random_case(
    rng: np.random.Generator,
) -> tuple[RawGnd, Revisitop, np.ndarray, dict[tuple[int, int], PairIoU]]:
    nq, nimg = 9, 40
    gnd_raw: RawGnd = []
    for _q in range(nq):
        labels = rng.choice(4, size=nimg, p=[0.15, 0.15, 0.1, 0.6])  # easy hard junk none
        parts = [np.flatnonzero(labels == k).tolist() for k in range(3)]
        if not parts[1]:
            parts[1] = [int(np.flatnonzero(labels == 3)[0])]  # every query has a hard one
        gnd_raw.append(dict(zip(("easy", "hard", "junk"), parts, strict=True)))
    queries = tuple(Query(*(tuple(g[k]) for k in ("easy", "hard", "junk"))) for g in gnd_raw)
    data = Revisitop(tuple(map(str, range(nimg))), tuple(map(str, range(nq))), queries)
    ranks = np.stack([rng.permutation(nimg) for _q in range(nq)], axis=1)
    ious: dict[tuple[int, int], PairIoU] = {}
    for q, g in enumerate(gnd_raw):
        for i in g["easy"] + g["hard"]:
            if rng.random() < 0.8:  # some pairs without a predicted mask
                s = float(rng.choice([0.0, 0.5, 0.55, 0.95, 1.0, rng.random()]))
                ious[q, i] = PairIoU(s, float(rng.random()))
    return gnd_raw, data, ranks, ious


def official_protocol(gnd_raw: RawGnd, setting: str) -> RawGnd:
    """evaluate.py ParseEasyMediumHardGroundTruth for medium or hard."""
    if setting == "medium":
        return [{"ok": g["easy"] + g["hard"], "junk": g["junk"]} for g in gnd_raw]
    return [{"ok": g["hard"], "junk": g["junk"] + g["easy"]} for g in gnd_raw]


@pytest.mark.parametrize("setting", ["medium", "hard"])
@pytest.mark.parametrize(("kind", "index"), [("D", 1), ("S", 0)])
def test_matches_the_official_code_on_random_cases(setting: str, kind: str, index: int) -> None:
    rng = np.random.default_rng(5)
    ignored = [2, 6]
    for _ in range(25):
        gnd_raw, data, ranks, ious = random_case(rng)
        # mious.py stores [bbox, seg] per detected pair and [0, 0] for hard pairs without.
        table = {f"{q}_{i}": [v[index], v[index]] for (q, i), v in ious.items()}
        for q, g in enumerate(gnd_raw):
            for i in g["hard"]:
                table.setdefault(f"{q}_{i}", [0.0, 0.0])
        gnd = official_protocol(gnd_raw, setting)
        expected = np.average(
            [official_compute_map(ignored, ranks, table, t, gnd) for t in range(50, 100, 5)]
        )
        ours = official_pixel_map(ranks, data, ious, setting, kind=kind, ignored=ignored)  # type: ignore[arg-type]
        assert ours == pytest.approx(expected, abs=1e-12)
        match = {f"{q}_{i}": v[index] for (q, i), v in ious.items()}
        miou = official_miou(data, ious, setting, kind=kind)[0]  # type: ignore[arg-type]
        assert miou == pytest.approx(official_mious(gnd_raw, match, setting), abs=1e-12)
