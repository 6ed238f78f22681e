"""`PixelRetriever`: find, localize and segment registered instances in one frame.

Stages (DESIGN.md section 2): XFeat features of the frame at a working resolution, unique
votes from one index over the whole gallery, geometric verification of the best few
candidates against their views (registered at several scales), mask transfer by the fitted
warp, refinement by the appearance segmenter where the warp is not planar, and a score
calibrated per instance against background photos. Everything the frame-side pipeline needs
from a view is computed at registration and cached in the gallery.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.appearance import AppearanceModel, build_appearance
from pixret_ros.engine.background import background_features
from pixret_ros.engine.calibration import ScoreModel
from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.features import FeatureExtractor, Features, check_rgb, dense_map
from pixret_ros.engine.index import DescriptorIndex
from pixret_ros.engine.localize import Localization, localize, scaled, warp_mask
from pixret_ros.engine.orientation import Rectifier, off_template, rotated, to_view
from pixret_ros.engine.propose import search
from pixret_ros.engine.segment import SegmentPrior, segment
from pixret_ros.engine.temporal import StreamState, Track
from pixret_ros.engine.track import Fit, Tracker
from pixret_ros.engine.types import Box, Detection

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from pixret_ros.engine.types import BoolMask, RGBImage

Float32 = npt.NDArray[np.float32]

_MIN_VIEW_SIDE = 40
_SCALE_DUPLICATE = 0.15
_MASK_MARGIN = 0.04


class ViewLike(Protocol):
    """What the engine reads from a registered view (gallery.View)."""

    @property
    def index(self) -> int:
        """Position of the view within its instance."""

    @property
    def image(self) -> RGBImage:
        """The view, RGB uint8 (H, W, 3)."""

    @property
    def mask(self) -> BoolMask:
        """The object's pixels, bool (H, W)."""


class GalleryLike(Protocol):
    """The part of `Gallery` the engine uses (DESIGN section 4; engine/gallery.py)."""

    def names(self) -> list[str]:
        """Registered instance names, sorted."""

    def views(self, name: str) -> Sequence[ViewLike]:
        """Every view of `name`."""

    def signature(self) -> str:
        """Changes whenever the gallery on disk changes."""

    def views_token(self, name: str) -> str:
        """Changes whenever the views of `name` change."""

    def read_cache(self, name: str, key: str) -> dict[str, npt.NDArray[np.generic]] | None:
        """Arrays stored with `write_cache`, or None."""

    def write_cache(self, name: str, key: str, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        """Store engine arrays inside the instance folder."""


@dataclass(frozen=True)
class ViewTemplate:
    """Registered features of one view: keypoints in view pixels (all scales merged).

    Descriptors are held as float16 (as cached): half the memory with 1000 instances, and a
    fresh registration behaves exactly like one loaded from the cache.
    """

    instance: int
    view_index: int
    keypoints: Float32
    descriptors: npt.NDArray[np.float16]
    mask: BoolMask
    ranks: npt.NDArray[np.int32]  # rank of each keypoint by strength within its scale
    rotation: float = 0.0  # the view was turned clockwise by this (orientation.rotated)
    scale: float = 1.0  # and resized by this before feature extraction


@dataclass(frozen=True)
class ViewFeatures:
    """What `view_features` computes for one view."""

    keypoints: Float32  # (N, 2) view pixels, all scales
    descriptors: Float32  # (N, 64)
    ranks: npt.NDArray[np.int32]  # (N,) rank by strength within its scale (0 = strongest)
    native: Features | None  # the view's own features at scale 1, if computed
    parts: Float32  # (P, 2) rotation and scale of each part (a run of ranks from 0)


@dataclass
class InstanceEntry:
    """One registered instance as the engine holds it in memory."""

    name: str
    views: list[ViewTemplate]
    score: ScoreModel
    appearance: list[AppearanceModel]


@dataclass(frozen=True)
class _TemplatePart:
    """A template's strongest descriptors per scale, read by the index only when it needs them.

    Copying them all at every gallery change cost 150 MB and 76 ms per registration with
    1000 instances.
    """

    key: int
    template: ViewTemplate
    limit: int  # index_keypoints

    @property
    def count(self) -> int:
        """Number of descriptors that go into the index."""
        return int(np.count_nonzero(self.template.ranks < self.limit))

    def descriptors(self) -> npt.NDArray[np.float16]:
        """Those descriptors (a copy)."""
        return self.template.descriptors[self.template.ranks < self.limit]


def _numbered(entry: InstanceEntry, number: int) -> InstanceEntry:
    """`entry` as the gallery's instance `number` (its position changes when others come or go)."""
    if all(view.instance == number for view in entry.views):
        return entry
    return replace(entry, views=[replace(view, instance=number) for view in entry.views])


def view_features(
    extractor: FeatureExtractor,
    image: RGBImage,
    mask: BoolMask,
    config: EngineConfig,
    dense_maps: dict[tuple[int, int], Float32] | None = None,
) -> ViewFeatures:
    """Keypoints (view pixels), descriptors, their ranks and the scale-1 features of a view.

    Keypoints and descriptors come from every configured scale, upright, and from the turned
    copies of `config.view_rotations` at `config.rotated_scales` (all in the view's own
    pixels); `native` is the view's own `Features` where scale 1 was computed (None
    otherwise), for the appearance model.
    `dense_maps`, when given, receives the dense map of every scaled copy by (height, width),
    so that the appearance model reuses them instead of running XFeat again.

    Only keypoints on the object (its mask dilated by a few percent) are kept: the context
    around the object changes from frame to frame and would vote for the scene.
    """
    height, width = image.shape[:2]
    long_side = max(height, width)
    margin = max(3, round(_MASK_MARGIN * long_side))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    support = cv2.dilate(mask.astype(np.uint8), kernel) > 0
    points: list[Float32] = []
    descriptors: list[Float32] = []
    ranks: list[npt.NDArray[np.int32]] = []
    parts: list[tuple[float, float]] = []
    native: Features | None = None
    for rotation in config.view_rotations:
        turned = rotated(image, rotation)
        used: list[float] = []
        for scale in config.view_scales if rotation == 0 else config.rotated_scales:
            factor = min(scale, config.view_max_side / long_side)
            if min(height, width) * factor < _MIN_VIEW_SIDE:
                continue
            if any(abs(factor - f) <= _SCALE_DUPLICATE * f for f in used):
                continue
            used.append(factor)
            size = (
                max(1, round(turned.shape[1] * factor)),
                max(1, round(turned.shape[0] * factor)),
            )
            same = size == (turned.shape[1], turned.shape[0])
            feats = extractor.extract(
                turned if same else _resize(turned, size), config.view_keypoints
            )
            if rotation == 0 and same:
                native = feats
            if rotation == 0 and dense_maps is not None:
                dense_maps[(size[1], size[0])] = feats.dense
            grow = np.array([size[0] / turned.shape[1], size[1] / turned.shape[0]], np.float32)
            pts = to_view(feats.keypoints / grow, rotation, (height, width))
            cols = np.clip(np.round(pts[:, 0]).astype(int), 0, width - 1)
            rows = np.clip(np.round(pts[:, 1]).astype(int), 0, height - 1)
            keep = support[rows, cols]
            if not keep.any():
                continue
            points.append(pts[keep])
            descriptors.append(feats.descriptors[keep])
            ranks.append(np.arange(int(keep.sum()), dtype=np.int32))  # extract() sorts them
            parts.append((float(rotation), factor))
    if not points:
        empty = np.zeros((0, 2), np.float32)
        none = np.zeros((0, 2), np.float32)
        return ViewFeatures(
            empty, np.zeros((0, 64), np.float32), np.zeros(0, np.int32), native, none
        )
    return ViewFeatures(
        np.concatenate(points),
        np.concatenate(descriptors),
        np.concatenate(ranks),
        native,
        np.array(parts, dtype=np.float32),
    )


class PixelRetriever:
    """Finds registered instances in frames (see module docstring); one per camera stream."""

    def __init__(self, gallery: GalleryLike, config: EngineConfig | None = None) -> None:
        self.config = config if config is not None else EngineConfig()
        self.gallery = gallery
        self.extractor = FeatureExtractor(self.config)
        self.last_timings: dict[str, float] = {}
        self.last_registration_ms: dict[str, float] = {}
        self._instances: list[InstanceEntry] = []
        self._templates: list[ViewTemplate] = []
        self._index = DescriptorIndex(self.config)
        self._slot_of: dict[int, int] = {}
        self._instance_of_view = np.zeros(0, dtype=np.int64)
        self._signature: str | None = None
        self._tokens: dict[str, str] = {}  # views_token of each loaded instance
        self._keys: dict[str, list[int]] = {}  # index key of each of its templates
        self._next_key = 0
        self._stream = StreamState(self.config)
        self._tracker = Tracker(self.config)
        self.sync()

    # ---------------------------------------------------------------- gallery
    def sync(self) -> bool:
        """Reload the gallery if it changed on disk (cheap when not); True if it reloaded."""
        signature = self.gallery.signature()
        if signature == self._signature:
            return False
        # Only instances whose views changed are loaded again: at 1000 instances, decoding
        # every view and reading every cache made each registration cost seconds.
        known = {entry.name: entry for entry in self._instances}
        entries: list[InstanceEntry] = []
        tokens: dict[str, str] = {}
        keys: dict[str, list[int]] = {}
        for name in self.gallery.names():
            tokens[name] = self.gallery.views_token(name)  # before the load: never too new
            old = known.get(name)
            if old is not None and self._tokens.get(name) == tokens[name]:
                entries.append(_numbered(old, len(entries)))
                keys[name] = self._keys[name]
            else:
                entries.append(self._load_instance(name, len(entries)))
                count = len(entries[-1].views)
                keys[name] = list(range(self._next_key, self._next_key + count))
                self._next_key += count
        self._tokens, self._keys = tokens, keys
        self._instances = entries
        self._templates = [view for entry in entries for view in entry.views]
        self._build_index()
        self._signature = signature
        self.reset_stream()  # instance numbers may have changed
        return True

    def _load_instance(self, name: str, number: int) -> InstanceEntry:
        """Features of every view of `name`, from the gallery cache when it is current."""
        key = self.config.feature_key()
        views = list(self.gallery.views(name))
        cached = self.gallery.read_cache(name, key)
        if cached is not None and _cache_matches(cached, views):
            templates = [
                ViewTemplate(
                    number,
                    view.index,
                    cached[f"kp_{i}"].astype(np.float32),
                    cached[f"desc_{i}"].astype(np.float16),
                    view.mask,
                    cached[f"rank_{i}"].astype(np.int32),
                )
                for i, view in enumerate(views)
            ]
            templates = [
                part
                for i, t in enumerate(templates)
                for part in split_scales(t, cached.get(f"parts_{i}"))
            ]
            score = ScoreModel.from_arrays(cached, self.config)
            loaded = [_appearance_from(cached, i) for i in range(len(views))]
            models = [m for m in loaded if m is not None]
            if len(models) == len(loaded):
                return InstanceEntry(name, templates, score, models)
        start = time.perf_counter()
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "shapes": np.array([v.image.shape[:2] for v in views], dtype=np.int64).reshape(-1, 2)
        }
        templates = []
        models = []
        view_parts: list[Float32] = []
        for i, view in enumerate(views):
            scaled_maps: dict[tuple[int, int], Float32] = {}
            vf = view_features(self.extractor, view.image, view.mask, self.config, scaled_maps)
            native = vf.native
            half = vf.descriptors.astype(np.float16)
            templates.append(
                ViewTemplate(number, view.index, vf.keypoints, half, view.mask, vf.ranks)
            )
            arrays[f"kp_{i}"] = vf.keypoints
            arrays[f"desc_{i}"] = half
            arrays[f"rank_{i}"] = vf.ranks.astype(np.int16)
            arrays[f"parts_{i}"] = vf.parts
            view_parts.append(vf.parts)
            if view.mask.any():
                model = build_appearance(
                    view.image,
                    view.mask,
                    native,
                    dense_fn=_reuse(scaled_maps, dense_map),
                )
                models.append(model)
                arrays.update({f"app{i}_{k}": v for k, v in model.to_arrays().items()})
        templates = [
            part for t, p in zip(templates, view_parts, strict=True) for part in split_scales(t, p)
        ]
        # The null is fitted on the upright parts: a frame verifies as many parts per
        # candidate whatever the turned copies, and calibrating those too cost 4x the time.
        upright = [t for t in templates if t.rotation == 0]
        score = ScoreModel.fit(upright, background_features(self.extractor), self.config)
        arrays.update(score.to_arrays())
        self.gallery.write_cache(name, key, arrays)
        elapsed = (time.perf_counter() - start) * 1000.0
        self.last_registration_ms[name] = elapsed / max(1, len(views))
        return InstanceEntry(name, templates, score, models)

    def _build_index(self) -> None:
        self._slot_of = {id(t): i for i, t in enumerate(self._templates)}
        self._instance_of_view = np.array([t.instance for t in self._templates], dtype=np.int64)
        # Only each view's strongest keypoints per scale go into the index: they rank the
        # instances; localization then matches all of the candidate's keypoints.
        parts = [
            _TemplatePart(key, template, self.config.index_keypoints)
            for entry in self._instances
            for template, key in zip(entry.views, self._keys[entry.name], strict=True)
        ]
        self._index.update(parts, self._instance_of_view)

    @property
    def names(self) -> list[str]:
        """Registered instance names, in gallery order."""
        return [entry.name for entry in self._instances]

    def reset_stream(self) -> None:
        """Forget the temporal state (the next frame is searched from scratch)."""
        self._stream.reset()
        self._tracker.reset()

    def set_score_threshold(self, threshold: float) -> None:
        """Apply a live `score_threshold`: the one value `accepted` and the stream tracks read."""
        self.config = replace(self.config, score_threshold=threshold)
        self._stream.config = self.config
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
        height, width = frame.shape[:2]
        work = _working(frame, self.config.working_size)
        feats = self.extractor.extract(work)
        sx, sy = width / work.shape[1], height / work.shape[0]
        timings["features"] = _lap(start)

        t0 = time.perf_counter()
        ranked_instances, pairs = self._pairs(feats)
        timings["retrieval"] = _lap(t0)

        t0 = time.perf_counter()
        found = self._verify(feats, pairs, frame, work.shape[:2])
        timings["localize"] = _lap(t0)

        t0 = time.perf_counter()
        detections = []
        accepted: list[Track] = []
        fits: dict[int, Fit] = {}
        ranked = sorted(found.items(), key=lambda item: -item[1][0].inliers)
        for rank, (instance, (loc, template)) in enumerate(ranked):
            entry = self._instances[instance]
            transform = scaled(loc.transform, sx, sy)
            allow = rank < self.config.segment_candidates
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
            geometric = entry.score.score(loc)
            if appearance is not None:  # segmented: rank it at least as an appearance-only find
                geometric = max(geometric, self.config.search_score * appearance)
            fits[instance] = Fit(mask, geometric, exact)  # frame pixels; tracks downscale it
            score = self._stream.carried_score(instance, geometric, box, loc.inliers)
            if score >= self.config.score_threshold:
                accepted.append(Track(instance, self._slot_of[id(template)], score, box))
            detections.append(
                Detection(
                    name=self._instances[instance].name,
                    score=score,
                    box=box,
                    mask=mask,
                    inliers=loc.inliers,
                    homography=transform,
                    view_index=template.view_index,
                    accepted=score >= self.config.score_threshold,
                )
            )
        timings["segment"] = _lap(t0)
        if self.config.temporal:
            t0 = time.perf_counter()
            detections = self._follow(work, feats, frame, fits, detections)
            timings["track"] = _lap(t0)
        t0 = time.perf_counter()
        skip = {*found, *self._tracker.tracks}
        detections.extend(self._search(work, feats, frame, ranked_instances, skip))
        timings["search"] = _lap(t0)
        detections.sort(key=lambda d: -d.score)
        self._stream.update(accepted)
        timings["total"] = _lap(start)
        self.last_timings = timings
        return detections

    def _pairs(self, feats: Features) -> tuple[list[int], list[ViewTemplate]]:
        """Ranked candidate instances and the views to verify (stream mode adds its tracks')."""
        ranked_instances, pairs = (
            self._candidates(feats) if self._stream.full_search_due() else ([], [])
        )
        for track in self._stream.tracks.values():  # stream mode: verify what was found before
            template = self._templates[track.view_slot]
            if all(p is not template for p in pairs):
                pairs.append(template)
        return ranked_instances, pairs

    def _verify(
        self,
        feats: Features,
        pairs: Sequence[ViewTemplate],
        frame: RGBImage | None = None,
        work_shape: tuple[int, int] | None = None,
    ) -> dict[int, tuple[Localization, ViewTemplate]]:
        """The best verified fit of each candidate instance (most inliers over its views).

        Given the full-resolution `frame` (and the working frame's (height, width)), the
        weaker fits get a rectified second look (`_rectify`).
        """
        found: dict[int, tuple[Localization, ViewTemplate]] = {}
        for template in pairs:
            loc = localize(
                feats.keypoints, feats.descriptors, template.keypoints,
                template.descriptors.astype(np.float32), self.config,
            )  # fmt: skip
            if loc is None or (template.rotation and turned_away(loc.transform, template)):
                continue
            best = found.get(template.instance)
            if best is None or loc.inliers > best[0].inliers:
                found[template.instance] = (loc, template)
        if frame is not None and work_shape is not None and self.config.rectify_candidates:
            self._rectify(found, frame, work_shape)
        return found

    def _rectify(
        self,
        found: dict[int, tuple[Localization, ViewTemplate]],
        frame: RGBImage,
        work_shape: tuple[int, int],
    ) -> None:
        """Replace weak fits by their rectified refit where it has more inliers (orientation.py).

        Weak: fewer than `rectify_below_inliers` inliers, or an object turned well away from
        the template that matched (between two turned copies, where the fit is rough).

        The refit is in working-frame pixels like every other fit, and names the upright
        template it matched (its view's mask is the same).
        """
        sx, sy = frame.shape[1] / work_shape[1], frame.shape[0] / work_shape[0]
        weak = [
            i
            for i, (loc, template) in found.items()
            if loc.inliers < self.config.rectify_below_inliers
            or off_template(loc.transform, template.rotation)
        ]
        weak.sort(key=lambda i: -found[i][0].inliers)
        for instance in weak[: self.config.rectify_candidates]:
            loc, template = found[instance]
            uprights = [
                t
                for t in self._instances[instance].views
                if t.view_index == template.view_index and t.rotation == 0 and len(t.ranks)
            ]
            result = Rectifier(
                self.extractor,
                frame,
                uprights=[(t.keypoints, t.descriptors, t.scale) for t in uprights],
                view_shape=template.mask.shape,
                config=self.config,
            ).refit(scaled(loc.transform, sx, sy))
            if result is None or not self._improves(loc, result[0]):
                continue
            refit, chosen = result
            better = replace(
                refit,
                transform=scaled(refit.transform, 1.0 / sx, 1.0 / sy),
                frame_points=(refit.frame_points / np.array([sx, sy], np.float32)).astype(
                    np.float32
                ),
            )
            found[instance] = (better, uprights[chosen])

    def _improves(self, coarse: Localization, refit: Localization) -> bool:
        """True where a rectified refit should replace the coarse fit.

        Only a planar refit strong enough to keep its warped mask (`trust_warp_inliers`) and
        clearly better: twice the inliers, or more inliers where the coarse fit is accepted.

        On the dev set's DAVIS objects (not planar) a refit gaining only a few inliers
        lifted wrong fits over the acceptance (precision 0.81 instead of 0.95).
        """
        if not refit.planar or refit.inliers < self.config.trust_warp_inliers:
            return False  # a weaker refit would swap a segmented mask for a rough warp
        if refit.inliers >= 2 * coarse.inliers:
            return True
        return coarse.inliers >= self.config.accept_inliers and refit.inliers > coarse.inliers

    def _mask(
        self,
        *,
        work: RGBImage,
        feats: Features,
        entry: InstanceEntry,
        template: ViewTemplate,
        loc: Localization,
        transform: npt.NDArray[np.float64],
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
        return _upscaled(result.mask, (height, width)), result.score, False

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
            i: replace(fit, mask=_downscaled(fit.mask, work.shape[:2])) for i, fit in fits.items()
        }
        states = self._tracker.step(work, feats, small, self._models_of)
        by_name = {d.name: d for d in detections}
        shape = frame.shape[:2]
        threshold = self.config.score_threshold
        for instance, state in states.items():
            entry = self._instances[instance]
            fitted = by_name.get(entry.name)
            if state.anchored and fitted is not None:
                mask = fitted.mask  # an exact fit's full-resolution mask
            else:
                mask = _upscaled(state.mask, shape)
            by_name[entry.name] = Detection(
                name=entry.name,
                score=state.confidence,
                box=Box.of_mask(mask),
                mask=mask,
                inliers=fitted.inliers if fitted is not None else 0,
                homography=fitted.homography if fitted is not None else None,
                view_index=fitted.view_index if fitted is not None else entry.views[0].view_index,
                accepted=state.confidence >= threshold,
                tracked=True,
            )
        return list(by_name.values())

    def _models_of(self, instance: int) -> list[AppearanceModel]:
        """Appearance models of an instance: its views' and this stream's memory samples."""
        return [*self._instances[instance].appearance, *self._tracker.memory.samples(instance)]

    def _search(
        self,
        work: RGBImage,
        feats: Features,
        frame: RGBImage,
        ranked_instances: Sequence[int],
        skip: Collection[int],
    ) -> list[Detection]:
        """Appearance-only detections of the best-voted instances not in `skip` (found ones)."""
        if not self.config.segment:
            return []
        height, width = frame.shape[:2]
        # Stream mode: instances this stream tracked and lost are searched first, with the
        # poses the stream memory learned (re-detection).
        lost = [i for i in self._tracker.lost() if i not in skip] if self.config.temporal else []
        missed = [i for i in ranked_instances if i not in skip and i not in lost]
        missed = [i for i in [*lost, *missed] if self._instances[i].appearance]
        detections = []
        for instance in missed[: self.config.search_candidates]:
            entry = self._instances[instance]
            result = search(work, feats, self._models_of(instance), config=self.config.segmenter)
            if not result.mask.any():
                continue
            mask = _upscaled(result.mask, (height, width))
            score = self.config.search_score * result.score
            state = None
            if instance in lost:
                state = self._tracker.confirm(instance, result.mask, result.score)
            detections.append(
                Detection(
                    name=entry.name,
                    score=score if state is None else state.confidence,
                    box=Box.of_mask(mask),
                    mask=mask,
                    inliers=0,
                    homography=None,
                    view_index=entry.views[0].view_index,
                    accepted=(score if state is None else state.confidence)
                    >= self.config.score_threshold,
                    tracked=state is not None,
                )
            )
        return detections

    def _candidates(self, feats: Features) -> tuple[list[int], list[ViewTemplate]]:
        """Instances by votes (those with enough) and the views to verify: their best-voted."""
        if self._index.size == 0:
            return [], []
        view_votes = self._index.vote(feats.descriptors[: self.config.query_keypoints])
        instance_of_view = self._instance_of_view
        instance_votes = np.zeros(len(self._instances), dtype=np.int64)
        np.add.at(instance_votes, instance_of_view, view_votes)
        order = np.argsort(-instance_votes, kind="stable")[: self.config.candidates]
        ranked = [int(i) for i in order if instance_votes[i] >= self.config.min_votes]
        chosen: list[ViewTemplate] = []
        for instance in ranked:
            views = np.flatnonzero(instance_of_view == instance)
            best = views[np.argsort(-view_votes[views], kind="stable")]
            chosen.extend(self._templates[v] for v in best[: self.config.views_per_candidate])
        return ranked, chosen


def turned_away(transform: npt.NDArray[np.float64], template: ViewTemplate) -> bool:
    """A fit through a turned copy that does not turn the view near that copy's angle.

    A true fit lies within 45 degrees of the copy that matched it (else another copy would
    match better); one outside is random consensus, which the turned copies would otherwise
    add to every frame (the background null is calibrated on the upright templates).
    """
    return off_template(transform, template.rotation, limit=50.0)


def split_scales(
    template: ViewTemplate, parts: npt.NDArray[np.generic] | None = None
) -> list[ViewTemplate]:
    """One template per registered scale of a view (the ranks restart at 0 for each scale).

    `parts` (P, 2) gives the rotation and scale of each (`ViewFeatures.parts`); without it
    (or when it does not match) the parts are upright at an unknown scale (1).

    Why: the index votes for the scale that looks like the frame, and verification then
    matches only that scale's keypoints, a third of the view's, where matching all scales
    at once cost most of the frame time (profile at 50 instances).
    """
    starts = np.flatnonzero(template.ranks == 0)
    if len(starts) <= 1:
        return [template]
    bounds = [*starts.tolist(), len(template.ranks)]
    known = parts is not None and len(parts) == len(starts)
    tags = np.asarray(parts, np.float64) if known else np.tile([0.0, 1.0], (len(starts), 1))
    return [
        ViewTemplate(
            template.instance,
            template.view_index,
            template.keypoints[a:b],
            template.descriptors[a:b],
            template.mask,
            template.ranks[a:b],
            float(tags[k, 0]),
            float(tags[k, 1]),
        )
        for k, (a, b) in enumerate(itertools.pairwise(bounds))
        if b > a
    ]


def _resize(image: RGBImage, size: tuple[int, int]) -> RGBImage:
    """Resize to (width, height): area averaging when shrinking (no aliasing), else linear."""
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, size, interpolation=method), dtype=np.uint8)


def _working(frame: RGBImage, working_size: int) -> RGBImage:
    """`frame` shrunk so that its long side is at most `working_size` (as is if smaller)."""
    height, width = frame.shape[:2]
    factor = min(1.0, working_size / max(height, width))
    if factor >= 1.0:
        return frame
    return _resize(frame, (round(width * factor), round(height * factor)))


def _upscaled(mask: BoolMask, shape: tuple[int, int]) -> BoolMask:
    """A working-resolution mask at the input frame's (height, width), nearest neighbour."""
    up = cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.asarray(up, dtype=bool)


def _downscaled(mask: BoolMask, shape: tuple[int, int]) -> BoolMask:
    """A frame mask at the working resolution (h, w): area average, half covered is in."""
    if mask.shape == shape:
        return mask
    small = cv2.resize(mask.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return np.asarray(small >= 0.5, bool)


def _lap(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _reuse(
    maps: dict[tuple[int, int], Float32], fallback: Callable[[RGBImage], Float32]
) -> Callable[[RGBImage], Float32]:
    """A dense-map function that answers from `maps` (by image size) before computing."""

    def dense(rgb: RGBImage) -> Float32:
        found = maps.get((rgb.shape[0], rgb.shape[1]))
        return found if found is not None else fallback(rgb)

    return dense


def _appearance_from(
    cached: dict[str, npt.NDArray[np.generic]], index: int
) -> AppearanceModel | None:
    prefix = f"app{index}_"
    arrays = {k[len(prefix) :]: v for k, v in cached.items() if k.startswith(prefix)}
    try:
        return AppearanceModel.from_arrays(arrays)
    except ValueError:
        return None


def _cache_matches(cached: dict[str, npt.NDArray[np.generic]], views: Sequence[ViewLike]) -> bool:
    """The cache was written for these views (same count and image sizes)."""
    shapes = cached.get("shapes")
    if shapes is None or shapes.shape[0] != len(views):
        return False
    current = np.array([v.image.shape[:2] for v in views]).reshape(-1, 2)
    return bool(np.array_equal(shapes, current)) and all(
        f"{kind}_{i}" in cached for i in range(len(views)) for kind in ("kp", "desc", "rank")
    )
