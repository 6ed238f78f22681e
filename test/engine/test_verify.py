"""Verification of candidate views on real-photo scenes, and when a rectified refit wins."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from engine_scenes import scene, shared_retriever, similarity

from pixret_ros.engine import EngineConfig
from pixret_ros.engine.localize import Localization
from pixret_ros.engine.resize import working
from pixret_ros.engine.types import ViewTemplate
from pixret_ros.engine.verify import improves, looks_at, turned_away, verify

CONFIG = EngineConfig()


def _fit(inliers: int, *, planar: bool) -> Localization:
    none = np.zeros((0, 2), np.float32)
    return Localization(np.eye(3), inliers, inliers, planar, none, none, 0.9)


def test_each_candidate_keeps_its_best_view_fit() -> None:
    retriever = shared_retriever()
    shot = scene({"cat_face": similarity(1.0, 10.0, 260, 140)})
    feats = retriever.extractor.extract(working(shot.frame, CONFIG.working_size))
    ranked, pairs, _ = retriever.loaded.candidates(feats)
    cat = retriever.names.index("cat_face")
    assert ranked[0] == cat
    found = verify(feats, pairs, CONFIG)
    loc, template = found[cat]
    assert template.instance == cat
    assert loc.inliers >= CONFIG.accept_inliers
    best = max(
        (verify(feats, [p], CONFIG).get(cat) for p in pairs if p.instance == cat),
        key=lambda fit: -1 if fit is None else fit[0].inliers,
    )
    assert best is not None
    assert loc.inliers == best[0].inliers  # the most inliers over the instance's views
    assert all(fit[0].inliers < CONFIG.accept_inliers for i, fit in found.items() if i != cat)


def test_a_refit_wins_only_when_planar_strong_and_clearly_better() -> None:
    strong = CONFIG.trust_warp_inliers
    assert improves(_fit(10, planar=False), _fit(strong, planar=True), CONFIG)  # twice as many
    assert not improves(_fit(10, planar=False), _fit(strong, planar=False), CONFIG)  # not planar
    assert not improves(_fit(5, planar=False), _fit(strong - 1, planar=True), CONFIG)  # weak
    accepted = CONFIG.accept_inliers
    assert improves(_fit(accepted, planar=False), _fit(accepted + 5, planar=True), CONFIG)
    below = accepted - 1  # not accepted yet: a few more inliers are not enough
    assert not improves(_fit(below, planar=False), _fit(below + 5, planar=True), CONFIG)


def test_a_turned_copy_only_explains_fits_near_its_angle() -> None:
    template = ViewTemplate(
        0, 0, np.zeros((0, 2), np.float32), np.zeros((0, 64), np.float16),
        np.ones((2, 2), bool), np.zeros(0, np.int32), rotation=90.0,
    )  # fmt: skip
    assert not turned_away(similarity(1.0, 100.0, 0, 0), template)
    assert not turned_away(similarity(1.0, 45.0, 0, 0), template)
    assert turned_away(similarity(1.0, 0.0, 0, 0), template)
    assert turned_away(similarity(1.0, 200.0, 0, 0), template)


def _template(rotation: float, *, primary: bool) -> ViewTemplate:
    return ViewTemplate(
        0, 0, np.zeros((0, 2), np.float32), np.zeros((0, 64), np.float16),
        np.ones((2, 2), bool), np.zeros(0, np.int32), rotation=rotation, primary=primary,
    )  # fmt: skip


def test_an_implausible_upright_fit_gets_no_look() -> None:
    """The `rectify_min_votes` gate (pipeline) skips weak primary fits only."""
    turned = replace(_fit(10, planar=True), transform=similarity(1.0, 45.0, 0, 0))
    upright, copy = _template(0.0, primary=True), _template(0.0, primary=False)
    assert looks_at(turned, upright, CONFIG, plausible=True)
    assert not looks_at(turned, upright, CONFIG, plausible=False)
    assert looks_at(turned, copy, CONFIG, plausible=False)  # `second_min_votes` gates these
    assert not looks_at(_fit(10, planar=True), upright, CONFIG, plausible=True)  # not weak
