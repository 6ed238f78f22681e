"""Ranking and average precision against hand-computed values and the official revisitop code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metric_records import FRAMES, det, revisitop_compute_ap, truth

from pixret_ros.errors import InputError
from pixret_ros.evaluation.metrics import image_map
from pixret_ros.evaluation.ranking import average_precision, ranking
from pixret_ros.evaluation.records import RankedFrame

# -------------------------------------------------------------------------------- AP


def test_average_precision_by_hand() -> None:
    # Positives at ranks 0 and 2 of 4, n = 2:
    #   j=0, r=0: p0 = 1,   p1 = 1/1 -> (1 + 1) / 4     = 12/24
    #   j=1, r=2: p0 = 1/2, p1 = 2/3 -> (1/2 + 2/3) / 4 =  7/24   -> AP = 19/24
    assert average_precision([0, 2], num_positives=2) == pytest.approx(19 / 24)
    # A third positive never found (n = 3): (2 + 7/6) / 6 = 19/36.
    assert average_precision([0, 2], num_positives=3) == pytest.approx(19 / 36)
    # A single positive at rank 1: (0 + 1/2) / 2.
    assert average_precision([1], num_positives=1) == pytest.approx(0.25)
    assert average_precision([], num_positives=4) == 0.0


def test_average_precision_matches_revisitop_on_random_rankings() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        size = int(rng.integers(1, 41))
        n = int(rng.integers(1, size + 1))
        found = int(rng.integers(0, n + 1))
        ranks = sorted(int(r) for r in rng.choice(size, size=found, replace=False))
        assert average_precision(ranks, num_positives=n) == pytest.approx(
            revisitop_compute_ap(ranks, n), abs=1e-12
        )


def test_average_precision_rejects_bad_ranks() -> None:
    with pytest.raises(InputError, match=r"strictly increasing"):
        average_precision([2, 2], num_positives=2)
    with pytest.raises(InputError, match=r"strictly increasing"):
        average_precision([-1], num_positives=2)
    with pytest.raises(InputError, match=r"num_positives"):
        average_precision([0, 1], num_positives=1)
    with pytest.raises(InputError, match=r"num_positives"):
        average_precision([], num_positives=0)


# ---------------------------------------------------------------------------- ranking


def test_ranking_order_ties_best_detection_junk_and_undetected() -> None:
    t = truth("a", {"f1", "f2"}, junk={"f5"})
    dets = [
        det("f4", "a", 0.5, 0.0, ok=True),  # tie with f1: frame order puts f1 first
        det("f3", "a", 0.9, 0.0, ok=True),
        det("f2", "a", 0.2, 0.1, ok=False),
        det("f1", "a", 0.5, 0.8, ok=True),
        det("f2", "a", 0.7, 0.6, 0.65, ok=True),  # best of f2: gives rank and IoU
        det("f5", "a", 0.95, 0.0, ok=True),  # junk: removed
        det("f0", "b", 0.99, 0.0, ok=True),  # another instance: ignored
    ]
    ranked = ranking(FRAMES, dets, truth=t)
    assert ranked == [
        RankedFrame("f3", 0.9, 0.0, 0.0, positive=False),
        RankedFrame("f2", 0.7, 0.6, 0.65, positive=True),
        RankedFrame("f1", 0.5, 0.8, 0.8, positive=True),
        RankedFrame("f4", 0.5, 0.0, 0.0, positive=False),
        RankedFrame("f0", None, 0.0, 0.0, positive=False),
    ]


def test_undetected_frames_come_last_in_frame_order() -> None:
    t = truth("a", {"f0", "f4"})
    ranked = ranking(FRAMES, [det("f3", "a", 0.1, 0.0, ok=False)], truth=t)
    assert [r.frame for r in ranked] == ["f3", "f0", "f1", "f2", "f4", "f5"]
    # Undetected positives still count in n: positives at ranks 1 and 4 of 6.
    expected = ((0 + 1 / 2) + (1 / 4 + 2 / 5)) / 4
    assert image_map({"a": ranked}) == pytest.approx(expected)


def test_ranking_rejects_inconsistent_input() -> None:
    with pytest.raises(InputError, match=r"both positive and junk"):
        ranking(FRAMES, [], truth=truth("a", {"f1"}, junk={"f1"}))
    with pytest.raises(InputError, match=r"not evaluated"):
        ranking(FRAMES, [], truth=truth("a", {"f9"}))
    with pytest.raises(InputError, match=r"unknown frame 'f9'"):
        ranking(FRAMES, [det("f9", "a", 0.5, 0.1, ok=True)], truth=truth("a", {"f1"}))
    with pytest.raises(InputError, match=r"score nan"):
        ranking(FRAMES, [det("f1", "a", math.nan, 0.1, ok=True)], truth=truth("a", {"f1"}))
    with pytest.raises(InputError, match=r"mask_iou 1.5"):
        ranking(FRAMES, [det("f1", "a", 0.5, 1.5, ok=True)], truth=truth("a", {"f1"}))
    with pytest.raises(InputError, match=r"unique"):
        ranking(["f1", "f1"], [], truth=truth("a", {"f1"}))
