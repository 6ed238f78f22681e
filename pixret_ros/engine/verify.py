"""Geometric verification of a frame's candidate views, with a rectified second look.

Each candidate instance keeps its best fit (most inliers over its views); the weaker fits
are then rectified and matched again (orientation.py) where that clearly improves them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from pixret_ros.engine.localize import localize, scaled
from pixret_ros.engine.orientation import Rectifier, off_scale, off_template

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.features import FeatureExtractor, Features
    from pixret_ros.engine.localize import Localization
    from pixret_ros.engine.types import Float64, RGBImage, ViewTemplate

    # The best fit of each candidate instance, and the template it matched.
    Verified = dict[int, tuple[Localization, ViewTemplate]]


def verify(feats: Features, pairs: Sequence[ViewTemplate], config: EngineConfig) -> Verified:
    """The best verified fit of each candidate instance (most inliers over its views)."""
    found: Verified = {}
    for template in pairs:
        loc = localize(
            feats.keypoints, feats.descriptors, template.keypoints,
            template.descriptors.astype(np.float32), config,
        )  # fmt: skip
        if loc is None or (template.rotation and turned_away(loc.transform, template)):
            continue
        best = found.get(template.instance)
        if best is None or loc.inliers > best[0].inliers:
            found[template.instance] = (loc, template)
    return found


def turned_away(transform: Float64, template: ViewTemplate) -> bool:
    """A fit through a turned copy that does not turn the view near that copy's angle.

    A true fit lies within 45 degrees of the copy that matched it (else another copy would
    match better); one outside is random consensus, which the turned copies would otherwise
    add to every frame (the background null is calibrated on the upright templates).
    """
    return off_template(transform, template.rotation, limit=50.0)


def rectify(  # noqa: PLR0917 (one call site; the names say what each is)
    found: Verified,
    frame: RGBImage,
    work_shape: tuple[int, int],
    views_of: Callable[[int], Sequence[ViewTemplate]],
    extractor: FeatureExtractor,
    config: EngineConfig,
    plausible: Collection[int] | None = None,
) -> None:
    """Replace weak fits by their rectified refit where it has more inliers (orientation.py).

    Weak: an object turned well away from the template that matched (between two turned
    copies, where the fit is rough), or a fit with fewer than `rectify_below_inliers`
    inliers of a second-pass template (turned copy, extra small scale) or at a size far
    from its template's. Other weak fits of the primary templates (upright, at
    `view_scales`) are left alone: there the object already looks as registered, and on the
    dev set's DAVIS objects rectifying them lifted wrong fits over the acceptance (precision
    0.955 -> 0.862).
    `frame` is the full-resolution frame, `work_shape` the working frame's (height, width),
    `views_of` the templates of an instance, `plausible` the instances whose weak fits of a
    primary template may be looked at (None: all; the pipeline's `rectify_min_votes` gate).

    The refit is in working-frame pixels like every other fit, and names the upright
    template it matched (its view's mask is the same).
    """
    sx, sy = frame.shape[1] / work_shape[1], frame.shape[0] / work_shape[0]
    weak = [
        i
        for i, (loc, template) in found.items()
        if looks_at(loc, template, config, plausible=plausible is None or i in plausible)
    ]
    weak.sort(key=lambda i: -found[i][0].inliers)
    for instance in weak[: config.rectify_candidates]:
        loc, template = found[instance]
        uprights = [
            t
            for t in views_of(instance)
            if t.view_index == template.view_index and t.rotation == 0 and len(t.ranks)
        ]
        result = Rectifier(
            extractor,
            frame,
            uprights=[(t.keypoints, t.descriptors, t.scale) for t in uprights],
            view_shape=template.mask.shape,
            config=config,
        ).refit(scaled(loc.transform, sx, sy))
        if result is None or not improves(loc, result[0], config):
            continue
        refit, chosen = result
        better = replace(
            refit,
            transform=scaled(refit.transform, 1.0 / sx, 1.0 / sy),
            frame_points=(refit.frame_points / np.array([sx, sy], np.float32)).astype(np.float32),
        )
        found[instance] = (better, uprights[chosen])


def looks_at(
    loc: Localization, template: ViewTemplate, config: EngineConfig, *, plausible: bool
) -> bool:
    """True where a fit is weak enough for a rectified look (see `rectify`).

    A weak fit of a primary template only where its instance is `plausible`; second-pass
    fits are gated before they are made (`second_min_votes`).
    """
    weak = off_template(loc.transform, template.rotation) or (
        loc.inliers < config.rectify_below_inliers
        and (not template.primary or off_scale(loc.transform, template.scale))
    )
    return weak and (plausible or not template.primary)


def improves(coarse: Localization, refit: Localization, config: EngineConfig) -> bool:
    """True where a rectified refit should replace the coarse fit.

    Only a planar refit strong enough to keep its warped mask (`trust_warp_inliers`) and
    clearly better: twice the inliers, or more inliers where the coarse fit is accepted.

    On the dev set's DAVIS objects (not planar) a refit gaining only a few inliers
    lifted wrong fits over the acceptance (precision 0.81 instead of 0.95).
    """
    if not refit.planar or refit.inliers < config.trust_warp_inliers:
        return False  # a weaker refit would swap a segmented mask for a rough warp
    if refit.inliers >= 2 * coarse.inliers:
        return True
    return coarse.inliers >= config.accept_inliers and refit.inliers > coarse.inliers
