"""Registration: the features of an instance's views, computed once and cached in the gallery.

Everything the frame-side pipeline needs from a view (keypoints at several scales and turns,
their ranks, the appearance models and the calibrated score null) is computed here when an
instance is registered and stored in its gallery folder, so that a restart or a second
retriever loads it instead of running XFeat again (the cache codec is at the end).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.appearance import AppearanceModel, build_appearance
from pixret_ros.engine.background import background_features
from pixret_ros.engine.calibration import ScoreModel
from pixret_ros.engine.features import dense_map
from pixret_ros.engine.orientation import rotated, to_view
from pixret_ros.engine.resize import resized
from pixret_ros.engine.types import ViewTemplate

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.features import FeatureExtractor, Features
    from pixret_ros.engine.types import BoolMask, Float32, GalleryLike, RGBImage, ViewLike

_MIN_VIEW_SIDE = 40
_SCALE_DUPLICATE = 0.15
_MASK_MARGIN = 0.04


@dataclass(frozen=True)
class ViewFeatures:
    """What `view_features` computes for one view."""

    keypoints: Float32  # (N, 2) view pixels, all scales
    descriptors: Float32  # (N, 64)
    ranks: npt.NDArray[np.int32]  # (N,) rank by strength within its scale (0 = strongest)
    native: Features | None  # the view's own features at scale 1, if computed
    parts: Float32  # (P, 3) rotation, scale, primary (1/0) of each part (a run of ranks from 0)


@dataclass
class InstanceEntry:
    """One registered instance as the engine holds it in memory."""

    name: str
    views: list[ViewTemplate]
    score: ScoreModel
    appearance: list[AppearanceModel]


def numbered(entry: InstanceEntry, number: int) -> InstanceEntry:
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

    Keypoints and descriptors come from every configured scale, upright (the primary parts),
    and from the copies of `config.view_rotations` (upright included) at
    `config.rotated_scales` not already registered (the second pass; all in the view's own
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
    parts: list[tuple[float, float, float]] = []
    native: Features | None = None
    for rotation in config.view_rotations:
        turned = rotated(image, rotation)
        used: list[float] = []
        primary = config.view_scales if rotation == 0 else ()
        for k, scale in enumerate((*primary, *config.rotated_scales)):
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
                turned if same else resized(turned, size), config.view_keypoints
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
            parts.append((float(rotation), factor, float(k < len(primary))))
    if not points:
        empty = np.zeros((0, 2), np.float32)
        none = np.zeros((0, 3), np.float32)
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


def split_scales(
    template: ViewTemplate, parts: npt.NDArray[np.generic] | None = None
) -> list[ViewTemplate]:
    """One template per registered scale of a view (the ranks restart at 0 for each scale).

    `parts` (P, 3) gives the rotation, scale and primary flag of each (`ViewFeatures.parts`);
    without it (or when it does not match) the parts are upright primary ones at an unknown
    scale (1).

    Why: the index votes for the scale that looks like the frame, and verification then
    matches only that scale's keypoints, a third of the view's, where matching all scales
    at once cost most of the frame time (profile at 50 instances).
    """
    starts = np.flatnonzero(template.ranks == 0)
    if len(starts) <= 1:
        return [template]
    bounds = [*starts.tolist(), len(template.ranks)]
    known = parts is not None and len(parts) == len(starts)
    tags = np.asarray(parts, np.float64) if known else np.tile([0.0, 1.0, 1.0], (len(starts), 1))
    if tags.shape[1] < 3:  # a cache without the primary flag: the upright parts are
        tags = np.c_[tags, tags[:, 0] == 0]
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
            bool(tags[k, 2]),
        )
        for k, (a, b) in enumerate(itertools.pairwise(bounds))
        if b > a
    ]


def load_instance(
    gallery: GalleryLike,
    name: str,
    number: int,
    extractor: FeatureExtractor,
    config: EngineConfig,
) -> tuple[InstanceEntry, float | None]:
    """Instance `name` as the gallery's instance `number`, and the ms per view it took.

    From the gallery cache when it is current (the time is then None); otherwise its
    features are computed and the cache written.
    """
    key = config.feature_key()
    views = list(gallery.views(name))
    cached = gallery.read_cache(name, key)
    if cached is not None and _cache_matches(cached, views):
        entry = _entry_from_cache(cached, name, number, views, config)
        if entry is not None:
            return entry, None
    start = time.perf_counter()
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "shapes": np.array([v.image.shape[:2] for v in views], dtype=np.int64).reshape(-1, 2)
    }
    templates = []
    models = []
    view_parts: list[Float32] = []
    for i, view in enumerate(views):
        scaled_maps: dict[tuple[int, int], Float32] = {}
        vf = view_features(extractor, view.image, view.mask, config, scaled_maps)
        native = vf.native
        half = vf.descriptors.astype(np.float16)
        templates.append(ViewTemplate(number, view.index, vf.keypoints, half, view.mask, vf.ranks))
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
    # The null is fitted on the primary parts: a frame verifies as many parts per
    # candidate whatever the second pass, and calibrating those too cost 4x the time.
    primary = [t for t in templates if t.primary]
    score = ScoreModel.fit(primary, background_features(extractor), config)
    arrays.update(score.to_arrays())
    gallery.write_cache(name, key, arrays)
    elapsed = (time.perf_counter() - start) * 1000.0
    return InstanceEntry(name, templates, score, models), elapsed / max(1, len(views))


# ---------------------------------------------------------------- cache codec
def _entry_from_cache(
    cached: dict[str, npt.NDArray[np.generic]],
    name: str,
    number: int,
    views: Sequence[ViewLike],
    config: EngineConfig,
) -> InstanceEntry | None:
    """The instance as cached, or None where an appearance model does not decode."""
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
        part for i, t in enumerate(templates) for part in split_scales(t, cached.get(f"parts_{i}"))
    ]
    score = ScoreModel.from_arrays(cached, config)
    loaded = [_appearance_from(cached, i) for i in range(len(views))]
    models = [m for m in loaded if m is not None]
    if len(models) != len(loaded):
        return None
    return InstanceEntry(name, templates, score, models)


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
