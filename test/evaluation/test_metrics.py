"""Metrics of DESIGN section 5 against hand-computed values and the official revisitop code."""

from __future__ import annotations

import numpy as np
import pytest
from metric_records import FRAMES, det, revisitop_compute_ap, truth

from pixret_ros.errors import EvaluationError, InputError
from pixret_ros.evaluation.metrics import (
    METRIC_KEYS,
    PIXEL_THRESHOLDS,
    compute_metrics,
    image_map,
    miou,
    pixel_map,
    pr_curve,
    precision,
    recall,
    strict_pixel_map,
)
from pixret_ros.evaluation.ranking import ranking
from pixret_ros.evaluation.records import RankedFrame

# ----------------------------------------------------------------- reference (official)


def revisitop_positions(order: list[int], ok: set[int], junk: set[int]) -> list[int]:
    """The junk shift of revisitop compute_map: positions of positives in the full ranking,
    each decreased by the number of junk images ranked before it."""
    pos = [p for p, i in enumerate(order) if i in ok]
    junk_pos = [p for p, i in enumerate(order) if i in junk]
    k = ij = 0
    out = []
    for p in pos:
        while ij < len(junk_pos) and p > junk_pos[ij]:
            k += 1
            ij += 1
        out.append(p - k)
    return out


def test_image_map_matches_revisitop_with_junk_and_ties_on_random_cases() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        size = int(rng.integers(2, 31))
        frames = [f"{i:03d}.png" for i in range(size)]
        labels = [str(c) for c in rng.choice(list("pnj"), size=size)]  # positive, negative, junk
        if "p" not in labels:
            labels[int(rng.integers(size))] = "p"
        ok = {i for i, x in enumerate(labels) if x == "p"}
        junk = {i for i, x in enumerate(labels) if x == "j"}
        scores = {  # few distinct values: many ties
            i: float(rng.choice([0.1, 0.2, 0.3, 0.5])) for i in range(size) if rng.random() < 0.7
        }
        records = [det(frames[i], "q", s, 0.0, ok=True) for i, s in scores.items()]
        t = truth("q", {frames[i] for i in ok}, junk={frames[i] for i in junk})
        ours = image_map({"q": ranking(frames, records, truth=t)})
        # Independent order: detected by score (stable), then the rest, junk left in.
        order = sorted(scores, key=lambda i: (-scores[i], i))
        order += [i for i in range(size) if i not in scores]
        expected = revisitop_compute_ap(revisitop_positions(order, ok, junk), len(ok))
        assert ours == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------- the hand-made set


# Instance a: positives f1 (mask .72, box .90) and f2 (mask .50, box .55); f0 is a confident
# false positive; f4 is junk with the highest score. Instance b: one positive f3 (.96).
# Instance c: never annotated (no positive anywhere).
# a's ranking: f0 (.9), f1 (.8), f2 (.1), f3 (undetected) -> positives at ranks 1 and 2.
HAND_FRAMES = ["f0", "f1", "f2", "f3", "f4"]
HAND_TRUTHS = [truth("a", {"f1", "f2"}, junk={"f4"}), truth("b", {"f3"}), truth("c", set())]
HAND_DETS = [
    det("f0", "a", 0.9, 0.0, ok=True),
    det("f1", "a", 0.8, 0.72, 0.90, ok=True),
    det("f2", "a", 0.1, 0.50, 0.55, ok=False),
    det("f4", "a", 0.99, 0.0, ok=True),
    det("f3", "b", 0.3, 0.96, 0.96, ok=True),
    det("f0", "c", 0.4, 0.0, ok=True),
]


@pytest.fixture
def hand_rankings() -> dict[str, list[RankedFrame]]:
    return {t.name: ranking(HAND_FRAMES, HAND_DETS, truth=t) for t in HAND_TRUTHS}


def test_image_map_by_hand(hand_rankings: dict[str, list[RankedFrame]]) -> None:
    # a: ranks 1, 2 of n=2: (0 + 1/2)/4 + (1/2 + 2/3)/4 = 1/8 + 7/24 = 5/12; b: 1; c: left out.
    assert image_map(hand_rankings) == pytest.approx((5 / 12 + 1) / 2)


def test_pixel_map_by_hand_strict_threshold(hand_rankings: dict[str, list[RankedFrame]]) -> None:
    # S, a: f1 (.72) is a positive for t = .50 .. .70 (5 thresholds), AP = (0 + 1/2)/2 = 1/4;
    #   f2 (.50) is never one: IoU .50 at t = .50 is not > t. For t >= .75 a is left out.
    #   b: AP 1 at every t (.96 > .95). Per t: 5 x (1/4 + 1)/2 and 5 x 1 -> 13/16.
    assert pixel_map(hand_rankings, kind="S") == pytest.approx((5 * 0.625 + 5 * 1.0) / 10)
    # D, a: t = .50: f1 (.90) and f2 (.55) -> 5/12; t = .55 .. .85 (7): f1 only -> 1/4
    #   (.55 at t = .55 is not > t); t = .90, .95: none (.90 is not > .90) -> left out.
    #   Per t: (5/12 + 1)/2, 7 x (1/4 + 1)/2, 2 x 1 -> (17/24 + 35/8 + 2) / 10 = 17/24.
    assert pixel_map(hand_rankings, kind="D") == pytest.approx(17 / 24)


def test_strict_pixel_map_by_hand(hand_rankings: dict[str, list[RankedFrame]]) -> None:
    # S, a with n = 2 always: t = .50 .. .70: hit at rank 1 -> (0 + 1/2)/4 = 1/8; t >= .75: 0.
    #   Per t: 5 x (1/8 + 1)/2, 5 x (0 + 1)/2 -> (9/16 + 8/16)/2 = 17/32.
    assert strict_pixel_map(hand_rankings, kind="S") == pytest.approx(17 / 32)
    # D, a: t = .50: 5/12; 7 x 1/8; 2 x 0 -> per t: 17/24, 7 x 9/16, 2 x 1/2 -> 271/480.
    assert strict_pixel_map(hand_rankings, kind="D") == pytest.approx(271 / 480)


def test_miou_by_hand(hand_rankings: dict[str, list[RankedFrame]]) -> None:
    assert miou(hand_rankings, kind="S") == pytest.approx(((0.72 + 0.50) / 2 + 0.96) / 2)
    assert miou(hand_rankings, kind="D") == pytest.approx(((0.90 + 0.55) / 2 + 0.96) / 2)


def test_undetected_positive_counts_zero_in_miou() -> None:
    t = truth("a", {"f1", "f2"})
    ranked = ranking(FRAMES, [det("f1", "a", 0.5, 0.8, ok=True)], truth=t)
    assert miou({"a": ranked}, kind="S") == pytest.approx(0.4)


def test_threshold_without_any_positive_counts_zero() -> None:
    ranked = ranking(FRAMES, [det("f1", "a", 0.5, 0.6, ok=True)], truth=truth("a", {"f1"}))
    # IoU .6 > t only for t = .50, .55 (AP 1); the 8 other thresholds have no instance -> 0.
    assert pixel_map({"a": ranked}, kind="S") == pytest.approx(0.2)
    assert strict_pixel_map({"a": ranked}, kind="S") == pytest.approx(0.2)
    # Exactly at a threshold: IoU .55 is a positive at t = .50 only.
    ranked = ranking(FRAMES, [det("f1", "a", 0.5, 0.55, ok=True)], truth=truth("a", {"f1"}))
    assert pixel_map({"a": ranked}, kind="S") == pytest.approx(0.1)


def test_precision_recall_by_hand() -> None:
    # Accepted, non-junk pairs: (f0,a) miss, (f1,a) hit, (f3,b) hit, (f0,c) miss -> 2/4.
    # (f4,a) is junk: out of both. Annotated pairs: (f1,a), (f2,a), (f3,b) -> recall 2/3.
    assert precision(HAND_FRAMES, HAND_TRUTHS, HAND_DETS) == pytest.approx(0.5)
    assert recall(HAND_FRAMES, HAND_TRUTHS, HAND_DETS) == pytest.approx(2 / 3)


def test_precision_uses_the_best_accepted_detection_per_pair() -> None:
    t = [truth("a", {"f1", "f2"})]
    dets = [
        det("f1", "a", 0.9, 0.3, ok=True),  # best accepted of (f1, a): a miss
        det("f1", "a", 0.8, 0.9, ok=True),  # a better mask, but lower score: ignored
        det("f2", "a", 0.95, 0.1, ok=False),  # best of (f2, a) but not accepted
        det("f2", "a", 0.7, 0.51, ok=True),  # best accepted of (f2, a): a hit
        det("f3", "a", 0.7, 0.0, ok=False),  # not accepted: not counted
    ]
    assert precision(FRAMES, t, dets) == pytest.approx(0.5)
    assert recall(FRAMES, t, dets) == pytest.approx(0.5)
    # IoU exactly 0.5 is not a hit.
    dets = [det("f1", "a", 0.9, 0.5, ok=True)]
    assert precision(FRAMES, t, dets) == 0.0
    assert recall(FRAMES, t, []) == 0.0
    assert precision(FRAMES, t, []) is None


def test_pr_curve_along_the_ranking(hand_rankings: dict[str, list[RankedFrame]]) -> None:
    points = pr_curve(hand_rankings["a"])
    assert [(p.rank, p.score) for p in points] == [(0, 0.9), (1, 0.8), (2, 0.1)]
    assert [p.recall for p in points] == pytest.approx([0.0, 0.5, 1.0])
    assert [p.precision for p in points] == pytest.approx([0.0, 0.5, 2 / 3])
    strict = pr_curve(hand_rankings["a"], kind="S", min_iou=0.5)  # f2 (IoU .50) is no hit
    assert [p.recall for p in strict] == pytest.approx([0.0, 0.5, 0.5])
    assert [p.precision for p in strict] == pytest.approx([0.0, 0.5, 1 / 3])
    assert pr_curve(hand_rankings["c"]) == []


def test_compute_metrics_has_every_key_and_the_hand_values() -> None:
    m = compute_metrics(HAND_FRAMES, HAND_TRUTHS, HAND_DETS)
    assert tuple(m) == METRIC_KEYS
    assert m["image_map"] == pytest.approx(17 / 24)
    assert m["pixel_map_S"] == pytest.approx(13 / 16)
    assert m["pixel_map_D"] == pytest.approx(17 / 24)
    assert m["strict_pixel_map_S"] == pytest.approx(17 / 32)
    assert m["strict_pixel_map_D"] == pytest.approx(271 / 480)
    assert m["miou_S"] == pytest.approx(0.785)
    assert m["miou_D"] == pytest.approx(0.8425)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(2 / 3)
    per = m["per_instance"]
    assert isinstance(per, dict)
    assert per["a"]["image_ap"] == pytest.approx(5 / 12)
    assert per["a"]["pixel_ap_S"] == pytest.approx(5 / 4 / 10)  # 5 x 1/4, 5 x 0
    assert per["a"]["strict_pixel_ap_D"] == pytest.approx((5 / 12 + 7 / 8) / 10)
    assert per["a"]["num_junk"] == 1
    assert per["a"]["num_detected"] == 3
    assert per["a"]["precision"] == pytest.approx(0.5)
    assert per["a"]["recall"] == pytest.approx(0.5)
    assert per["b"]["pixel_ap_D"] == 1.0
    assert per["c"] == {
        "num_positives": 0,
        "num_junk": 0,
        "num_detected": 1,
        "image_ap": None,
        "pixel_ap_S": None,
        "pixel_ap_D": None,
        "strict_pixel_ap_S": None,
        "strict_pixel_ap_D": None,
        "miou_S": None,
        "miou_D": None,
        "precision": 0.0,
        "recall": None,
    }


def test_compute_metrics_without_positives_gives_none_not_nan() -> None:
    m = compute_metrics(FRAMES, [truth("a", set())], [det("f1", "a", 0.9, 0.0, ok=False)])
    assert m["image_map"] is None
    assert m["miou_S"] is None
    assert m["recall"] is None
    assert m["precision"] is None
    assert m["pixel_map_S"] == 0.0


def test_compute_metrics_rejects_unknown_instances_and_options() -> None:
    with pytest.raises(InputError, match=r"does not know: \['zz'\]"):
        compute_metrics(FRAMES, [truth("a", {"f1"})], [det("f1", "zz", 0.9, 0.0, ok=True)])
    with pytest.raises(InputError, match=r"two ground-truth records"):
        compute_metrics(FRAMES, [truth("a", {"f1"}), truth("a", set())], [])
    with pytest.raises(InputError, match=r"thresholds"):
        compute_metrics(FRAMES, [truth("a", {"f1"})], [], thresholds=[])
    with pytest.raises(InputError, match=r"hit_iou"):
        compute_metrics(FRAMES, [truth("a", {"f1"})], [], hit_iou=1.0)
    with pytest.raises(EvaluationError, match=r"kind must be"):
        pixel_map({"a": ranking(FRAMES, [], truth=truth("a", {"f1"}))}, kind="X")  # type: ignore[arg-type]


def test_thresholds_are_the_official_floats() -> None:
    assert tuple(t / 100 for t in range(50, 100, 5)) == PIXEL_THRESHOLDS
    assert PIXEL_THRESHOLDS[1] == 0.55
    assert len(PIXEL_THRESHOLDS) == 10
