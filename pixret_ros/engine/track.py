"""Tracks of one stream: an instance's mask followed frame to frame, and its own confidence.

Why: geometric fits start a track (the first frames of a stream are close to the registered
view), but objects that turn and deform soon keep too few keypoint inliers to be verified in
every frame. A track carries the mask by optical flow (engine/propagate.py), corrects it on
the frame's own content with the appearance segmenter (the gallery's models and the stream
memory's), and keeps a confidence of its own, so presence is decided from temporal evidence:

- a verified fit of the instance near the track re-anchors it (a planar or strong fit's
  mask wins: it is exact where a homography holds) and lifts the confidence to its score;
- otherwise the confidence relaxes towards this frame's evidence: the appearance agreement
  of the corrected mask or its agreement with the flow (whichever is higher), damped when
  the mask's area jumps; and it is capped by the mask's growth since the last verification
  that the flow does not explain (`track_growth_limit`; optionally also by a per-frame
  `track_decay`), because drift, not boundary accuracy, is what defeats propagation, and a
  drifting mask grows onto the background (or loses the object) while the flow says the
  object kept its size: that predicts IoU <= 0.5 better than the mask's age does
  (tools/track_evidence.py on the stream set: AUC 0.84 against 0.77);
- a track of a registered person is also corrected by the person segmenter
  (engine/person.py) where the person it sees agrees with the flow-warped mask: the mask
  gains that person, its agreement counts as evidence, and the area change is not counted
  as drift (a person's own segmentation does not grow onto the background); where people
  touch (spectators around a rider), the person is the part of their region near the mask;
- the stream memory learns only from verified frames (a fit or a confirmed re-detection set
  the mask), never from merely propagated ones, so a drift cannot teach it the background;
- a scene cut (the flow explains nothing of the frame) ends every track;
- the track is published while its confidence is at least `score_threshold` and ends (no
  ghost mask is kept) when the confidence falls below `track_end`, when the flow carries
  the mask out of the frame, or when it shrinks to nothing.

Appearance-only finds of an instance this stream already tracked may restart its track once
they agree over `redetect_confirm` consecutive frames (off by default); an instance never
verified in the stream never starts a track by appearance (that keeps the negative streams
clean).

The tracker also remembers the previous frame's accepted detections (`Sighting`s), because
an object found in one frame is almost surely near there in the next: (a) between full
searches only the sighted instances are verified (no index search, fewer candidates), and
(b) a sighted instance keeps a decayed share of its previous score, so a frame with motion
blur or a turned object does not drop a detection that still verifies geometrically. A live
track counts as found too: between full searches a followed instance's own views are verified
(its anchors) instead of the whole gallery's candidates. Every `redetect_every` frames the
whole gallery is searched again, so new objects are found and lost ones are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from pixret_ros.engine.person import dilated
from pixret_ros.engine.propagate import FlowPropagator
from pixret_ros.engine.resize import downscaled
from pixret_ros.engine.segment import SegmentPrior, segment
from pixret_ros.engine.stream_memory import StreamMemory, frame_model
from pixret_ros.engine.types import mask_iou

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pixret_ros.engine.appearance import AppearanceModel, DenseFeatures
    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.person import PersonSegmenter
    from pixret_ros.engine.types import BoolMask, Box, RGBImage

# Share of the previous score a sighted instance keeps when it still verifies (per frame).
SCORE_DECAY = 0.9
# A fit only continues a sighting where it is about where the sighting was (box IoU) and has
# at least this many inliers: random consensus elsewhere in the frame must not inherit a score.
SIGHTING_MIN_BOX_IOU = 0.3
SIGHTING_MIN_INLIERS = 12

# Evidence of a frame is halved when the mask's area changes by more than this factor.
AREA_JUMP = 2.0
# A warped mask keeping less than this share of the previous area left the frame (or vanished).
LEAVING_SHARE = 0.25
# A fit continues a track only where its mask overlaps the track's (IoU of the masks).
ANCHOR_MIN_IOU = 0.2
# Mean grey-level error of the flow under the mask beyond which the flow lost the object
# (a scene cut, a camera jump, an occluder): the track ends.
FLOW_LOST = 40.0
# Share of its previous confidence an exactly re-anchored track keeps at least.
ANCHOR_DECAY = SCORE_DECAY
# Fewer pixels than this (working resolution) is no object.
MIN_AREA = 16
# While correcting a track the segmenter adds no box prior: the flow-warped mask is the
# prior, and a box bonus fills the box of a non-convex object (horse and rider) with
# background (measured: J 0.56 -> 0.61 on horsejump-high + scooter-black).
TRACK_BOX_BONUS = 0.0
# The flow-warped prior's edge is softened (Gaussian sigma, segmenter working pixels), so the
# frame's own edges place the boundary near it instead of the flow's step (stream set, 8
# positive streams, track_decay 1.0: J 0.499 -> 0.511, precision 0.69 -> 0.72).
TRACK_PRIOR_SOFTNESS = 4.0
# The cap's base is the verifying score, but at least this: a fit just above the threshold
# left no room for any unexplained growth, so tracks of weakly verified objects ended while
# their masks were still right (stream set, 8 positive streams: defaults J 0.351 -> 0.365,
# precision 0.910 -> 0.914; realtime profile J 0.205 -> 0.280, precision 0.820 -> 0.865;
# 0.6 / 0.8 gave realtime J 0.251 / 0.293 at precision 0.845 / 0.846).
CAP_BASE_FLOOR = 0.7
# The person segmenter corrects a person's track only where the person it sees has at least
# this IoU with the flow-warped mask (half overlap, the usual match criterion); less, it sees
# someone else or a part (a rider without the bike). Stream set, 8 positive streams, J /
# precision: 0.3 0.503 / 0.905, 0.4 0.497 / 0.923, 0.45 0.490 / 0.962, 0.5 0.491 / 0.952,
# 0.55 0.489 / 0.952: below 0.45 the motocross bike's drifted tail stays published.
PERSON_MIN_AGREEMENT = 0.5
# The appearance segmenter's mask is kept where it lies within this many working pixels of
# the person (what the person model leaves out: held objects, loose clothes).
PERSON_REACH = 4


@dataclass(frozen=True)
class Fit:
    """A geometric fit of an instance in this frame, as the pipeline verified it.

    Attributes:
        mask: the fit's mask at the working resolution.
        score: its calibrated geometric score.
        exact: planar or strong fit: its warped mask is kept as is.
    """

    mask: BoolMask
    score: float
    exact: bool


@dataclass(frozen=True)
class Sighting:
    """An accepted detection of the previous frame.

    Attributes:
        instance: instance number (position in the retriever's instance list).
        view_slot: which registered view verified (position in the retriever's view list).
        score: its score in that frame.
        box: its box in that frame (input pixels).
    """

    instance: int
    view_slot: int
    score: float
    box: Box


@dataclass(frozen=True)
class Track:
    """One instance followed in the stream.

    Attributes:
        mask: its mask in the latest frame (working resolution).
        confidence: the track's own confidence in [0, 1] (published while >= score_threshold).
        anchored: the latest mask is an exact fit's (the pipeline keeps its full-resolution mask).
        verified: the confidence when a geometric fit (or a confirmed re-detection) last
            confirmed the track.
        unverified: frames since then; the confidence is capped at
            `max(verified, CAP_BASE_FLOOR) * track_decay ** unverified` times the share
            that `growth` leaves, because a propagated mask drifts.
        growth: the area change since then that the flow does not explain (product over the
            frames of corrected area / flow-warped area): a mask that drifts onto the
            background grows while the flow says the object did not.
    """

    mask: BoolMask
    confidence: float
    anchored: bool
    verified: float
    unverified: int
    growth: float = 1.0


@dataclass(frozen=True)
class _Candidate:
    """An appearance-only find of a lost instance: its mask and in how many frames in a row."""

    mask: BoolMask
    count: int
    frame: int


class Tracker:
    """Follows instances through one stream (one per `PixelRetriever`; reset between streams)."""

    def __init__(self, config: EngineConfig, person: PersonSegmenter | None = None) -> None:
        self.config = config
        self.person = person
        self.flow = FlowPropagator(config.flow_preset)
        self.memory = StreamMemory(config.memory_size, config.memory_every)
        self._segment_config = replace(
            config.segmenter,
            mask_bonus=config.track_mask_prior,
            box_bonus=TRACK_BOX_BONUS,
            mask_softness=TRACK_PRIOR_SOFTNESS,
        )
        self._tracks: dict[int, Track] = {}
        self._candidates: dict[int, _Candidate] = {}
        self._sightings: dict[int, Sighting] = {}
        self._frame = 0  # frames stepped since the reset
        self.last_evidence: dict[int, dict[str, float]] = {}  # for diagnosis
        self.learned: dict[int, AppearanceModel] = {}  # samples the memory kept this frame

    def reset(self) -> None:
        """Forget the stream: tracks, sightings, candidates, memory and the previous frame."""
        self.flow.reset()
        self.memory.reset()
        self._tracks = {}
        self._sightings = {}
        self._candidates = {}
        self.learned = {}
        self._frame = 0

    @property
    def sightings(self) -> dict[int, Sighting]:
        """The previous frame's accepted detections by instance (empty outside stream mode)."""
        return dict(self._sightings) if self.config.temporal else {}

    def full_search_due(self) -> bool:
        """Search the whole gallery this frame (always outside stream mode).

        Between full searches only what the stream has found is verified: the sighted
        instances and the followed ones. Why the followed ones too: an object that turns or
        deforms is mostly followed without an accepted fit, and searching the whole gallery
        on each such frame cost 10-14 ms (stream set, 2 cores) for the same detections.
        Asked before this frame's `step`: the frame count is then the frames seen before.
        """
        if not self.config.temporal or not (self._sightings or self._tracks):
            return True
        return self._frame % self.config.redetect_every == 0

    def carried_score(self, instance: int, score: float, box: Box, inliers: int) -> float:
        """A verified instance's score, lifted to the decayed score of its sighting if higher.

        Only a fit near the sighting (box IoU >= SIGHTING_MIN_BOX_IOU) with at least
        SIGHTING_MIN_INLIERS inliers continues it.
        """
        sighting = self._sightings.get(instance) if self.config.temporal else None
        if (
            sighting is None
            or inliers < SIGHTING_MIN_INLIERS
            or box.iou(sighting.box) < SIGHTING_MIN_BOX_IOU
        ):
            return score
        return max(score, SCORE_DECAY * sighting.score)

    def sighted(self, accepted: list[Sighting]) -> None:
        """Record this frame's accepted detections (read by the next frame)."""
        self._sightings = {s.instance: s for s in accepted} if self.config.temporal else {}

    def forget_sightings(self) -> None:
        """Drop the previous frame's sightings (tracks and memory stay).

        A gallery reload may move view slots (a view added to one instance shifts the slots
        of the instances after it), and a sighting names its view by slot: the next frame
        then searches the whole gallery instead of verifying a stale slot.
        """
        self._sightings = {}

    @property
    def tracks(self) -> dict[int, Track]:
        """Live tracks by instance number."""
        return dict(self._tracks)

    def step(
        self,
        work: RGBImage,
        feats: DenseFeatures,
        fits: dict[int, Fit],
        models_of: Callable[[int], Sequence[AppearanceModel]],
        is_person: Callable[[int], bool] = lambda _: False,
    ) -> dict[int, Track]:
        """Advance every track to this frame and start tracks from accepted fits.

        `work` is the frame at the working resolution, `feats` its features, `fits` this
        frame's geometric fits by instance (accepted or not), `models_of` the appearance
        models of an instance (gallery and stream memory), `is_person` whether an instance is
        a registered person (its tracks use the person segmenter). Returns the live tracks.
        """
        self.flow.advance(work)
        self._frame += 1
        shape = work.shape[:2]  # a new working size (acquire_size): the masks follow it
        self._tracks = {
            i: t if t.mask.shape == shape else replace(t, mask=downscaled(t.mask, shape))
            for i, t in self._tracks.items()
        }
        self.last_evidence, self.learned = {}, {}
        threshold = self.config.score_threshold
        alive: dict[int, Track] = {}
        if (self._tracks or self._candidates) and self.flow.cut:  # a new shot (memory stays)
            self._tracks, self._candidates = {}, {}
        for instance, track in self._tracks.items():
            person = self.person is not None and is_person(instance)
            state = self._follow(
                instance, work, feats, track, fits.get(instance), models_of, person=person
            )
            if state is not None:
                alive[instance] = state
        for instance, fit in fits.items():
            if instance not in alive and fit.score >= threshold and fit.mask.sum() >= MIN_AREA:
                alive[instance] = Track(fit.mask, fit.score, fit.exact, fit.score, 0)
        for instance, state in alive.items():
            if state.confidence >= self.config.memory_confidence and state.unverified == 0:
                sample = frame_model(work, np.asarray(feats.dense), state.mask)
                if sample is not None and self.memory.offer(instance, sample):
                    self.learned[instance] = sample
        self._tracks = alive
        self._candidates = {i: c for i, c in self._candidates.items() if i not in alive}
        return dict(alive)

    def confirm(self, instance: int, mask: BoolMask, score: float) -> Track | None:
        """An appearance-only find of `instance` in this frame; a new track once confirmed.

        Only an instance this stream tracked before (in the memory) may restart by
        appearance: `redetect_confirm` consecutive finds whose masks overlap, each with an
        appearance score of at least `memory_confidence`. The restarted track starts at that
        score and then decays like any track that geometry does not confirm.
        """
        need = self.config.redetect_confirm
        if need == 0 or instance in self._tracks or not self.memory.seen(instance):
            return None
        if score < self.config.memory_confidence or mask.sum() < MIN_AREA:
            self._candidates.pop(instance, None)
            return None
        last = self._candidates.get(instance)
        follows = (
            last is not None
            and last.frame == self._frame - 1
            and last.mask.shape == mask.shape
            and mask_iou(last.mask, mask) >= ANCHOR_MIN_IOU
        )
        count = last.count + 1 if follows and last is not None else 1
        if count < need:
            self._candidates[instance] = _Candidate(mask, count, self._frame)
            return None
        self._candidates.pop(instance, None)
        state = Track(mask, score, False, score, 0)  # noqa: FBT003
        self._tracks[instance] = state
        return state

    def lost(self) -> list[int]:
        """Instances this stream tracked before that have no track now (re-detection)."""
        return [i for i in self.memory.instances() if i not in self._tracks]

    def _follow(  # noqa: PLR0917 (one call site; the names say what each is)
        self,
        instance: int,
        work: RGBImage,
        feats: DenseFeatures,
        track: Track,
        fit: Fit | None,
        models_of: Callable[[int], Sequence[AppearanceModel]],
        *,
        person: bool,
    ) -> Track | None:
        """The track in this frame, or None when it ends (`person`: use the person segmenter)."""
        previous = int(track.mask.sum())
        warped = self.flow.warp(track.mask)
        moved = int(warped.sum())
        # Only an accepted fit near the track verifies it: a weak fit would pull the
        # confidence of a good track under the threshold (its score is below it).
        anchor = (
            fit is not None
            and fit.score >= self.config.score_threshold
            and mask_iou(fit.mask, warped) >= ANCHOR_MIN_IOU
        )
        if fit is not None and anchor and fit.exact:
            confidence = max(fit.score, ANCHOR_DECAY * track.confidence)
            return Track(fit.mask, confidence, True, confidence, 0)  # noqa: FBT003
        residual = self.flow.residual(warped)
        self.last_evidence[instance] = {"ratio": moved / max(previous, 1), "residual": residual}
        if moved < max(MIN_AREA, LEAVING_SHARE * previous) or residual > FLOW_LOST:
            return None
        result = segment(
            work,
            feats,
            list(models_of(instance)),
            SegmentPrior(mask=warped),
            config=self._segment_config,
        )
        mask = result.mask if result.mask.sum() >= MIN_AREA else warped
        seen = self._person_agreement(work, warped) if person else None
        if seen is not None:
            mask = seen[0] | (mask & dilated(seen[0], PERSON_REACH))
        ratio = max(mask.sum(), 1) / max(previous, 1)
        growth = track.growth * max(mask.sum(), 1) / max(moved, 1)
        if seen is not None:  # the person model's area change is the person's, not drift
            growth = track.growth
        agreement = mask_iou(mask, warped)
        consistency = agreement * max(0.0, 1.0 - residual / FLOW_LOST)
        evidence = max(result.score, consistency, seen[1] if seen is not None else 0.0)
        if ratio > AREA_JUMP or ratio < 1.0 / AREA_JUMP:
            evidence *= 0.5
        confidence = self._relax(track.confidence, evidence)
        verified, unverified = track.verified, track.unverified + 1
        if fit is not None and anchor:
            confidence = max(confidence, fit.score)
            verified, unverified, growth = confidence, 0, 1.0
        base = max(verified, CAP_BASE_FLOOR)
        cap = base * self.config.track_decay**unverified * self._growth_factor(growth)
        confidence = min(confidence, cap)
        self.last_evidence[instance] = {
            "appearance": result.score,
            "person": seen[1] if seen is not None else 0.0,
            "ratio": ratio,
            "residual": residual,
            "consistency": consistency,
            "unverified": unverified,
            "growth": growth,
        }
        if confidence < self.config.track_end:
            return None
        return Track(mask, confidence, False, verified, unverified, growth)  # noqa: FBT003

    def _person_agreement(self, work: RGBImage, warped: BoolMask) -> tuple[BoolMask, float] | None:
        """The person around `warped` and its IoU with it, if at least PERSON_MIN_AGREEMENT."""
        if self.person is None:
            return None
        seen, agreement = self.person.person_at(work, warped, PERSON_MIN_AGREEMENT)
        if seen.sum() < MIN_AREA or agreement < PERSON_MIN_AGREEMENT:
            return None
        return seen, agreement

    def _growth_factor(self, growth: float) -> float:
        """Share of the cap left after `growth` (1 when off or unchanged, 0 at the limit).

        Growth and shrinking have limits of their own: a mask that grows unexplained has
        drifted onto the background, one that shrinks mostly lost a part of the object and
        still lies on it.
        """
        limit = self.config.track_growth_limit if growth >= 1.0 else self.config.track_shrink_limit
        if limit <= 0:
            return 1.0
        return max(0.0, 1.0 - abs(math.log(growth)) / limit)

    def _relax(self, confidence: float, evidence: float) -> float:
        keep = self.config.track_memory
        return keep * confidence + (1.0 - keep) * evidence
