"""`PixelRetriever`: find, localize and segment registered instances in one frame.

Stages (DESIGN.md section 2): XFeat features of the frame at a working resolution, unique
votes from one index over the whole gallery (loaded_gallery.py), geometric verification of
the best few candidates against their views, registered at several scales (verify.py), mask
transfer by the fitted warp, refinement by the appearance segmenter where the warp is not
planar, and a score calibrated per instance against background photos. Everything the
frame-side pipeline needs from a view is computed at registration and cached in the gallery
(register.py). In stream mode the tracker (track.py) carries what was found to the next frame.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from pixret_ros.engine.auto_enroll import Enroller
from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.features import FeatureExtractor, check_rgb
from pixret_ros.engine.loaded_gallery import LoadedGallery
from pixret_ros.engine.localize import scaled, warp_mask
from pixret_ros.engine.person import INSTALL_HINT, PERSON_VIEW_IOU, load_person_segmenter
from pixret_ros.engine.propose import search
from pixret_ros.engine.resize import downscaled, upscaled, working
from pixret_ros.engine.segment import SegmentPrior, segment
from pixret_ros.engine.track import Fit, Sighting, Tracker
from pixret_ros.engine.types import Box, Detection
from pixret_ros.engine.verify import rectify, verify
from pixret_ros.errors import PixretError

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from pixret_ros.engine.appearance import AppearanceModel
    from pixret_ros.engine.auto_enroll import Enrollment
    from pixret_ros.engine.features import Features
    from pixret_ros.engine.localize import Localization
    from pixret_ros.engine.person import PersonSegmenter
    from pixret_ros.engine.register import InstanceEntry
    from pixret_ros.engine.types import (
        BoolMask,
        Float64,
        GalleryLike,
        Int64,
        RGBImage,
        ViewTemplate,
    )
    from pixret_ros.engine.verify import Verified

_LOG = logging.getLogger(__name__)


class PixelRetriever:
    """Finds registered instances in frames (see module docstring); one per camera stream."""

    def __init__(self, gallery: GalleryLike, config: EngineConfig | None = None) -> None:
        self.config = config if config is not None else EngineConfig()
        self.gallery = gallery
        self.extractor = FeatureExtractor(self.config)
        self.last_timings: dict[str, float] = {}
        self.loaded = LoadedGallery(gallery, self.extractor, self.config)
        self.person = _person_segmenter(self.config)
        self._is_person_by_name: dict[str, bool] = {}
        self._tracker = Tracker(self.config, self.person)
        self._enroller = Enroller(self.config)
        self.sync()

    # ---------------------------------------------------------------- gallery
    def sync(self) -> bool:
        """Reload the gallery if it changed on disk (cheap when not); True if it reloaded.

        The tracks are kept when every instance kept its number (views added, as by
        auto_enroll, or an instance added after the others): a registration mid-stream must
        not end them. When numbers moved (an instance removed, or one sorting before others
        added) the stream state is reset, since it is keyed by number. The sightings go
        either way: they name views by slot, and an added view moves the slots after it.
        """
        before = self.names
        if not self.loaded.sync():
            return False
        self._enroller.gallery_loaded()
        self._is_person_by_name = {}  # views may have changed
        if self.names[: len(before)] != before:
            self.reset_stream()
        else:
            self._tracker.forget_sightings()
        return True

    @property
    def names(self) -> list[str]:
        """Registered instance names, in gallery order."""
        return [entry.name for entry in self.loaded.instances]

    @property
    def last_registration_ms(self) -> dict[str, float]:
        """Milliseconds per view of each instance whose features were last computed (not cached)."""
        return self.loaded.registration_ms

    def reset_stream(self) -> None:
        """Forget the temporal state (the next frame is searched from scratch)."""
        self._tracker.reset()

    def tracker_evidence(self) -> dict[int, dict[str, float]]:
        """Stream mode: each track's evidence in the last frame, by instance (diagnosis only)."""
        return {i: dict(e) for i, e in self._tracker.last_evidence.items()}

    def take_enrollments(self) -> list[Enrollment]:
        """auto_enroll: views proposed since the last call, for the gallery's owner to add."""
        return self._enroller.take()

    def set_score_threshold(self, threshold: float) -> None:
        """Apply a live `score_threshold`: the one value `accepted` and the stream tracks read."""
        self.config = replace(self.config, score_threshold=threshold)
        self._tracker.config = self.config

    # ---------------------------------------------------------------- frames
    def process(self, frame: RGBImage) -> list[Detection]:
        """Every candidate detection in `frame` (RGB uint8), best score first.

        At most one detection per instance; masks, boxes and homographies are in `frame`'s
        pixels; `accepted` marks scores at or above `config.score_threshold`.
        """
        check_rgb(frame, "frame")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        work = working(frame, self._working_size())
        feats = self.extractor.extract(work)
        timings["features"] = _lap(start)

        t0 = time.perf_counter()
        ranked_instances, pairs, votes = self._pairs(feats)
        timings["retrieval"] = _lap(t0)

        t0 = time.perf_counter()
        found = verify(feats, pairs, self.config)
        replaced = self._second_pass(feats, found) if votes is not None else {}
        if self.config.rectify_candidates:
            plausible = self._plausible(found, votes)
            rectify(
                found, frame, work.shape[:2], self._views_of, self.extractor, self.config, plausible
            )
        for instance, before in replaced.items():  # unaccepted, a second-pass fit is noise
            if not self._accepts(instance, found[instance][0]):
                if before is None:
                    del found[instance]
                else:
                    found[instance] = before  # the primary fit stays
        timings["localize"] = _lap(t0)

        t0 = time.perf_counter()
        detections, fits, accepted = self._fitted(work, feats, frame, found)
        timings["segment"] = _lap(t0)
        if self.config.temporal:
            t0 = time.perf_counter()
            detections = self._follow(work, feats, frame, fits, detections)
            timings["track"] = _lap(t0)
        t0 = time.perf_counter()
        accepted_names = {d.name for d in detections if d.accepted}
        searched = self._search(
            work, feats, frame, ranked_instances, found=found, accepted_names=accepted_names
        )
        timings["search"] = _lap(t0)
        detections = best_per_instance([*detections, *searched])
        self._tracker.sighted(accepted)
        timings["total"] = _lap(start)
        self.last_timings = timings
        return detections

    def _working_size(self) -> int:
        """This frame's working size: `acquire_size` while a stream has nothing to follow.

        Nothing to follow: no live track and nothing accepted in the previous frame.
        """
        tracker = self._tracker
        idle = self.config.temporal and not tracker.tracks and not tracker.sightings
        return (
            self.config.acquire_size
            if idle and self.config.acquire_size
            else self.config.working_size
        )

    def _pairs(self, feats: Features) -> tuple[list[int], list[ViewTemplate], Int64 | None]:
        """Ranked candidates, views to verify (with the stream's finds'), votes per instance.

        The votes are None on a stream frame without a full search; such a frame verifies
        the sighted views and the followed instances' views at the track's size.
        """
        tracker = self._tracker
        if tracker.full_search_due():
            ranked_instances, pairs, votes = self.loaded.candidates(feats)
        else:
            ranked_instances, pairs, votes = [], [], None
        sightings = tracker.sightings  # a copy per access: read once
        found = [self.loaded.templates[s.view_slot] for s in sightings.values()]
        if votes is None:
            for instance, track in tracker.tracks.items():
                if instance not in sightings:
                    found.extend(self._views_at_size(instance, track.mask))
        for template in found:  # verify what was found before
            if all(p is not template for p in pairs):
                pairs.append(template)
        return ranked_instances, pairs, votes

    def _views_at_size(self, instance: int, mask: BoolMask) -> list[ViewTemplate]:
        """The `views_per_candidate` primary views of `instance` nearest the mask's size.

        A view's template at scale s shows the object s times its registered size; the one
        nearest (in log scale) to the followed mask's size is the one whose features match
        the frame's, as the best-voted one would in a full search.
        """
        box = Box.of_mask(mask)
        size = max(1, box.width, box.height)
        views = [t for t in self.loaded.instances[instance].views if t.primary]

        def distance(template: ViewTemplate) -> float:
            view = Box.of_mask(template.mask)
            registered = max(1, view.width, view.height) * template.scale
            return abs(math.log(size / registered))

        return sorted(views, key=distance)[: self.config.views_per_candidate]

    def _second_pass(
        self, feats: Features, found: Verified
    ) -> dict[int, tuple[Localization, ViewTemplate] | None]:
        """Verify second-pass views of the instances that no primary fit accepted (a few).

        Called only on frames whose primary templates searched the whole gallery: between
        a stream's full searches the followed instances are verified directly, and a
        second-pass index search there would spend what skipping the primary one saved.

        Second-pass views: turned copies, extra small scales. A second-pass fit replaces an
        instance's primary fit where it has more inliers; returns those instances, each with
        the primary fit it replaced (None where there was none). The caller keeps such a fit
        only if it is accepted (after the rectified look): on the dev set the realtime
        profile lost image_map 0.738 -> 0.710 where weak second-pass fits took the one
        segmentation slot from the true instance's primary fit.
        """
        if not self.config.second_candidates:
            return {}  # off (the default): no fit is scored or copied for it
        done = {i for i, (loc, _) in found.items() if self._accepts(i, loc)}
        views = self.loaded.second_pass(feats, done)
        replaced: dict[int, tuple[Localization, ViewTemplate] | None] = {}
        for instance, fit in verify(feats, views, self.config).items():
            if instance not in found or fit[0].inliers > found[instance][0].inliers:
                replaced[instance] = found.get(instance)
                found[instance] = fit
        return replaced

    def _plausible(self, found: Verified, votes: Int64 | None) -> set[int] | None:
        """Instances whose weak upright fits get a rectified look (None: all of them).

        Those with `rectify_min_votes` votes, and those whose fit is accepted already (the
        look then only sharpens a found object). Why: on the 50-instance dev frames (realtime
        profile) the looks at upright fits went to absent instances' random fits with at most
        32 votes but one (87), in bench_rotation the useful ones had 33 votes or more.
        On a stream frame without a full search (no votes) every instance is plausible.
        """
        least = self.config.rectify_min_votes
        if not least or votes is None:
            return None
        return {i for i, (loc, _) in found.items() if votes[i] >= least or self._accepts(i, loc)}

    def _accepts(self, instance: int, loc: Localization) -> bool:
        """The fit alone scores an acceptance."""
        return self.loaded.instances[instance].score.score(loc) >= self.config.score_threshold

    def _views_of(self, instance: int) -> list[ViewTemplate]:
        return self.loaded.instances[instance].views

    def _fitted(
        self, work: RGBImage, feats: Features, frame: RGBImage, found: Verified
    ) -> tuple[list[Detection], dict[int, Fit], list[Sighting]]:
        """Detections of the verified fits, the fits for the tracks, and the accepted ones.

        The fits are visited by inliers (most first); only the first `segment_candidates`
        may be segmented. In stream mode only a fit that can be accepted is: a weaker one
        neither starts nor anchors a track, and its detection is not published (the same
        rule as `_search`'s).
        """
        height, width = frame.shape[:2]
        sx, sy = width / work.shape[1], height / work.shape[0]
        detections = []
        accepted: list[Sighting] = []
        fits: dict[int, Fit] = {}
        ranked = sorted(found.items(), key=lambda item: -item[1][0].inliers)
        for rank, (instance, (loc, template)) in enumerate(ranked):
            entry = self.loaded.instances[instance]
            transform = scaled(loc.transform, sx, sy)
            geometric = entry.score.score(loc)
            allow = rank < self.config.segment_candidates and self._may_publish(geometric)
            mask, appearance, exact = self._mask(
                work=work,
                feats=feats,
                entry=entry,
                template=template,
                loc=loc,
                transform=transform,
                frame=frame,
                allow_segment=allow,
            )
            if not mask.any():
                continue
            box = Box.of_mask(mask)
            if appearance is not None:  # segmented: rank it at least as an appearance-only find
                geometric = max(geometric, self.config.search_score * appearance)
            fits[instance] = Fit(mask, geometric, exact)  # frame pixels; tracks downscale it
            score = self._tracker.carried_score(instance, geometric, box, loc.inliers)
            if score >= self.config.score_threshold:
                accepted.append(Sighting(instance, self.loaded.slot_of[id(template)], score, box))
            detections.append(
                Detection(
                    name=entry.name,
                    score=score,
                    box=box,
                    mask=mask,
                    inliers=loc.inliers,
                    homography=transform,
                    view_index=template.view_index,
                    accepted=score >= self.config.score_threshold,
                )
            )
        return detections, fits, accepted

    def _mask(
        self,
        *,
        work: RGBImage,
        feats: Features,
        entry: InstanceEntry,
        template: ViewTemplate,
        loc: Localization,
        transform: Float64,
        frame: RGBImage,
        allow_segment: bool = True,
    ) -> tuple[BoolMask, float | None, bool]:
        """Frame mask of a verified view, its appearance score (None without segmenter), exact.

        Planar fits and fits with at least `trust_warp_inliers` inliers keep the view mask
        warped at full resolution (exact for planar truths, and better than region
        segmentation where the geometry is that strong); the others are segmented on the
        working-resolution frame and scaled up. `exact` says the warped mask was kept because
        the fit is planar or strong (not merely because segmentation was not allowed).
        """
        height, width = frame.shape[:2]
        warped = warp_mask(template.mask, transform, (height, width))
        trusted = loc.planar or loc.inliers >= self.config.trust_warp_inliers
        if trusted or not allow_segment or not self.config.segment or not entry.appearance:
            return warped, None, trusted
        prior = SegmentPrior(
            mask=warp_mask(template.mask, loc.transform, work.shape[:2]),
            points=loc.frame_points,
            planar=loc.planar,
        )
        result = segment(work, feats, entry.appearance, prior, config=self.config.segmenter)
        if not result.mask.any():
            return warped, result.score, False
        return upscaled(result.mask, (height, width)), result.score, False

    def _follow(
        self,
        work: RGBImage,
        feats: Features,
        frame: RGBImage,
        fits: dict[int, Fit],
        detections: list[Detection],
    ) -> list[Detection]:
        """Stream mode: advance the tracks; a tracked instance's detection is its track's.

        `fits` hold this frame's geometric fits with masks in frame pixels.
        """
        small = {
            i: replace(fit, mask=downscaled(fit.mask, work.shape[:2])) for i, fit in fits.items()
        }
        tracks = self._tracker.step(work, feats, small, self._models_of, self._is_person)
        by_name = {d.name: d for d in detections}
        shape = frame.shape[:2]
        threshold = self.config.score_threshold
        for instance, track in tracks.items():
            entry = self.loaded.instances[instance]
            fitted = by_name.get(entry.name)
            if track.anchored and fitted is not None:
                mask = fitted.mask  # an exact fit's full-resolution mask
            else:
                mask = upscaled(track.mask, shape)
            by_name[entry.name] = Detection(
                name=entry.name,
                score=track.confidence,
                box=Box.of_mask(mask),
                mask=mask,
                inliers=fitted.inliers if fitted is not None else 0,
                homography=fitted.homography if fitted is not None else None,
                view_index=fitted.view_index if fitted is not None else entry.views[0].view_index,
                accepted=track.confidence >= threshold,
                tracked=True,
            )
            sample = self._tracker.learned.get(instance)
            if sample is not None:
                self._enroller.offer(
                    entry.name,
                    frame,
                    mask,
                    sample,
                    entry.appearance,
                    len({view.view_index for view in entry.views}),
                )
        return list(by_name.values())

    def _may_publish(self, geometric: float) -> bool:
        """Whether a fit of this geometric score (0: an appearance-only find) may be accepted.

        Appearance lifts a score to at most `search_score`. Outside stream mode everything is
        reported (unaccepted detections rank candidates for the evaluator); in stream mode
        only what can be published is worth the work.
        """
        config = self.config
        threshold = config.score_threshold
        return not config.temporal or max(geometric, config.search_score) >= threshold

    def _models_of(self, instance: int) -> list[AppearanceModel]:
        """Appearance models of an instance: its views' and this stream's memory samples."""
        return [
            *self.loaded.instances[instance].appearance,
            *self._tracker.memory.samples(instance),
        ]

    def _is_person(self, instance: int) -> bool:
        """Whether a registered view of `instance` is a person (person.PERSON_VIEW_IOU).

        Asked only for tracked instances, once per gallery load (a view added later asks
        again). An instance whose views cannot be read now (removed on disk since the last
        sync) is no person until the next sync drops it.
        """
        name = self.loaded.instances[instance].name
        known = self._is_person_by_name.get(name)
        person = self.person
        if known is not None or person is None:
            return bool(known)
        try:
            views = self.gallery.views(name)
        except PixretError:
            return False
        self._is_person_by_name[name] = any(
            person.person_share(view.image, view.mask) >= PERSON_VIEW_IOU for view in views
        )
        return self._is_person_by_name[name]

    def _search(
        self,
        work: RGBImage,
        feats: Features,
        frame: RGBImage,
        ranked_instances: Sequence[int],
        *,
        found: Collection[int],
        accepted_names: Collection[str],
    ) -> list[Detection]:
        """Appearance-only detections of the best-voted instances that geometry missed.

        Stream mode publishes accepted detections only, so there the search runs only where
        a find can count: instances this stream tracked and lost, with the poses the stream
        memory learned, where they may restart their track (`redetect_confirm`), and other
        missed instances only where `search_score` can reach the threshold. Otherwise it is
        skipped (realtime profile on the stream set: 3 ms of a 50 ms frame). A lost
        instance is searched even where geometry found it weakly (`found` but not in
        `accepted_names`): a turned or deformed object keeps a few random inliers in most
        frames, and skipping it there meant it was never re-found.
        """
        config = self.config
        if not config.segment:
            return []
        height, width = frame.shape[:2]
        skip = {*found, *self._tracker.tracks}
        restarts = config.temporal and config.redetect_confirm > 0
        lost = [  # lost() holds no tracked instance; a weak fit does not exclude one
            i
            for i in (self._tracker.lost() if restarts else [])
            if self.loaded.instances[i].name not in accepted_names
        ]
        if self._may_publish(0.0):
            missed = [i for i in ranked_instances if i not in skip and i not in lost]
        else:
            missed = []
        missed = [i for i in [*lost, *missed] if self.loaded.instances[i].appearance]
        detections = []
        for instance in missed[: self.config.search_candidates]:
            entry = self.loaded.instances[instance]
            result = search(work, feats, self._models_of(instance), config=self.config.segmenter)
            if not result.mask.any():
                continue
            mask = upscaled(result.mask, (height, width))
            score = self.config.search_score * result.score
            track = None
            if instance in lost:
                track = self._tracker.confirm(instance, result.mask, result.score)
            detections.append(
                Detection(
                    name=entry.name,
                    score=score if track is None else track.confidence,
                    box=Box.of_mask(mask),
                    mask=mask,
                    inliers=0,
                    homography=None,
                    view_index=entry.views[0].view_index,
                    accepted=(score if track is None else track.confidence)
                    >= self.config.score_threshold,
                    tracked=track is not None,
                )
            )
        return detections


def _person_segmenter(config: EngineConfig) -> PersonSegmenter | None:
    """The person segmenter where stream mode wants it; a warning where it is missing."""
    if not (config.temporal and config.person_prior):
        return None
    person = load_person_segmenter()
    if person is None:
        _LOG.warning(
            "person_prior: the person segmenter's model is not installed, so tracks of "
            "registered people are corrected without it (%s)",
            INSTALL_HINT,
        )
    return person


def best_per_instance(detections: Sequence[Detection]) -> list[Detection]:
    """One detection per instance (its best-scored one), best score first.

    A lost instance may have both a weak geometric fit and an appearance-only find.
    """
    best: dict[str, Detection] = {}
    for detection in detections:
        kept = best.get(detection.name)
        if kept is None or detection.score > kept.score:
            best[detection.name] = detection
    return sorted(best.values(), key=lambda d: -d.score)


def _lap(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
