"""The segmenter's score (engine/appearance_score.py) on a real scene: the cat-in-horse object
of seg_scenes pasted into the coffee photo, and the engine's background photos."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from seg_scenes import frame_with_object, view

from pixret_ros.engine.appearance import AppearanceModel, build_appearance, xfeat_dense_map
from pixret_ros.engine.appearance_score import (
    UNCALIBRATED_CENTRE,
    agreement,
    tail_probability,
)
from pixret_ros.engine.background import APPEARANCE_PHOTOS, background_bank
from pixret_ros.engine.calibration import appearance_null_scores
from pixret_ros.engine.region import region_around, to_work
from pixret_ros.engine.segment import DEFAULT_CONFIG, Evidence, SegmentPrior, gather_evidence
from pixret_ros.engine.types import BoolMask, Box


@functools.cache
def model() -> AppearanceModel:
    rgb, mask = view()
    return build_appearance(rgb, mask, None)


@functools.cache
def scene() -> tuple[Evidence, BoolMask]:
    """Evidence around the pasted object (its true box) and the true mask at working size."""
    frame, truth = frame_with_object()
    box = Box.of_mask(truth)
    config = DEFAULT_CONFIG
    region = region_around(box, truth.shape, margin=config.margin, work_side=config.work_side)
    evidence = gather_evidence(
        frame,
        xfeat_dense_map(frame),
        model(),
        region=region,
        box=box,
        prior=SegmentPrior(box=box),
        config=config,
    )
    return evidence, to_work(truth, region)


def score(mask: BoolMask) -> float:
    evidence, _ = scene()
    return agreement(evidence.cell_sims, evidence.cell_xy, evidence.colour, mask)


def test_the_object_agrees_more_than_its_surroundings() -> None:
    _, truth = scene()
    outside = ~truth
    assert score(truth) > 0.5
    assert score(outside) < score(truth) - 0.3
    assert score(np.zeros_like(truth)) == 0.0


def test_a_mask_smaller_than_a_cell_still_gets_a_score() -> None:
    _, truth = scene()
    rows, cols = np.nonzero(truth)
    dot = np.zeros_like(truth)
    dot[rows[len(rows) // 2], cols[len(cols) // 2]] = True
    assert 0.0 < score(dot) <= 1.5


def test_without_a_null_the_fixed_logistic_is_centred_on_its_constant() -> None:
    empty = np.zeros(0, np.float32)
    assert tail_probability(UNCALIBRATED_CENTRE, empty) == pytest.approx(0.5)
    values = [tail_probability(raw, empty) for raw in np.linspace(0.0, 1.5, 31)]
    assert np.all(np.diff(values) > 0)
    assert values[0] < 0.01
    assert values[-1] > 0.99


def test_tail_probability_ranks_among_the_background_agreements() -> None:
    # Two photos that do not show the object (chelsea does: the object is her fur), 12 boxes.
    bank = [
        image
        for name, image in zip(APPEARANCE_PHOTOS, background_bank(xfeat_dense_map), strict=True)
        if name in {"rocket", "camera"}
    ]
    null = np.sort(appearance_null_scores(model(), bank))
    assert len(null) == 12
    probabilities = [tail_probability(float(raw), null) for raw in null]
    assert np.all(np.diff(probabilities) >= 0)
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    _, truth = scene()
    above = tail_probability(score(truth), null)
    assert score(truth) > null[-1]  # the object agrees more than any background box
    assert above > 0.9
    assert tail_probability(float(null[0]) - 1.0, null) < 0.1
