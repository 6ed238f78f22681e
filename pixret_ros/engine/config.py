"""Every engine setting in one frozen record, checked once at construction.

Defaults were chosen with `make bench` (tools/bench.py) on the development set; each field says
what it trades off so that a user can tune without reading the pipeline.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields

from pixret_ros.engine.orientation import check_rotations
from pixret_ros.errors import ConfigError


@dataclass(frozen=True)
class EngineConfig:
    """Settings of `PixelRetriever` (all sizes in pixels, all times in milliseconds).

    Attributes:
        working_size: long side (pixels) the frame is resized to before feature extraction.
            Larger finds smaller objects and is slower (XFeat cost grows with the area).
        frame_keypoints: keypoints kept per frame (best XFeat reliability first). Matching
            cost grows with it. 768 scored better on the dev bench (strict_S 0.365 vs
            0.344), whose objects fill much of the frame, but halved the inliers of a
            small object on a cluttered photo (tests): keep 1024 for small objects.
        view_keypoints: keypoints kept per registered view and scale (all are matched when
            the view is verified).
        index_keypoints: the strongest this many per view and scale go into the retrieval
            index (smaller index: faster search, less memory; votes only rank candidates).
        query_keypoints: the frame's strongest this many keypoints vote in the index.
        view_scales: scales at which every view is registered; frames that show the object
            larger or smaller than the view match the scaled copy. 2x was the largest gain.
        view_rotations: every view is also registered turned clockwise by these multiples of
            90 degrees (exact), so that an object lying at any angle is within 45 degrees of
            one of them and gets a coarse fit (XFeat itself tolerates about 30 degrees).
            Each turn adds templates (index size, registration time); (0,) (the default) turns
            it off: with (0, 90, 180, 270) and view_scales (0.25, 0.5, 1, 2) the dev set lost
            image_map 0.748 -> 0.731 and miou_S 0.555 -> 0.496 (config/pixret_rotation.yaml
            turns both on: tools/bench_rotation.py).
        rotated_scales: scales of the turned copies (the upright view has `view_scales`);
            the rectified second look (`rectify_candidates`) covers the others.
        rectify_candidates: fits with fewer than `rectify_below_inliers` inliers (most
            inliers first, at most this many per frame; 0 = off) get a second look: the
            object's region of the full-resolution frame is warped back to the view's pose
            and matched with the upright template again. It recovers objects turned by
            about 45 degrees, shrunk to a third or tilted by 50-60 degrees (bench_rotation),
            at one XFeat forward of the rectified region each (a few to 20 ms). Off by default:
            on the dev set it raised image_map 0.748 -> 0.755 and recall 0.25 -> 0.30 but
            lowered precision 0.955 -> 0.862 (config/pixret_rotation.yaml turns it on).
        rectify_below_inliers: only fits weaker than this get the second look.
        rectify_side: the rectified region's long side is at most about this (pixels): the
            largest upright template scale that fits is used. Larger is slower.
        view_max_side: a scaled view larger than this (long side) is shrunk to it; a scale that
            then duplicates another one is skipped. Bounds registration time and memory.
        detection_threshold: XFeat keypoint heatmap threshold (lower gives more, weaker points).
        candidates: instances verified geometrically per frame (highest vote counts first).
        views_per_candidate: view scales of one candidate instance verified (most votes first;
            each registered scale of each view is matched on its own).
        uniqueness_ratio: a frame descriptor votes for an instance only if its distance to the
            nearest descriptor of that instance is below this fraction of its distance to the
            nearest descriptor of any other instance (cross-instance uniqueness).
        min_votes: candidates need at least this many unique votes to be verified at all.
        min_similarity: mutual nearest-neighbour matches with a lower cosine similarity are dropped.
        reprojection_px: RANSAC inlier threshold in working-resolution pixels.
        ransac_iterations: iteration cap of every robust fit (keeps the worst case bounded).
        min_inliers: fewer verified correspondences than this never makes a detection.
        accept_inliers: a fit scores 0.5 (the default acceptance) at this many inliers, or
            at the instance's background null plus a margin if that is higher. Random
            consensus on people, foliage and crowds (scenes unlike the background photos)
            reaches about 20 inliers on mutual-NN matches, and true fits under about 26
            carry masks too rough to count as hits (bench: precision 0.83 at 22, 1.0 at 26
            on the dev set; 28 leaves a margin). Lower it for recall, raise it for precision.
        score_threshold: detections with a score at or above it are `accepted` (published).
        calibrate: calibrate each instance's score against background photos at registration.
        segment: refine masks of non-planar detections with the appearance segmenter.
        segment_candidates: segment at most this many detections per frame (most inliers
            first; about 7 ms CPU each); the others keep the warped view mask.
        trust_warp_inliers: a fit with at least this many inliers keeps the warped mask
            (measured: strong fits warp better than region segmentation does; dev bench:
            3 candidates and 30 inliers gave DAVIS miou_S 0.380 vs 0.355 for 1 and 25, with
            planar masks unchanged).
        search_candidates: vote candidates that geometry did not verify are searched by
            appearance alone (dense features and colour over the whole frame), at most this
            many per frame (0 = off; about 15 ms each). Objects that turn and deform rarely
            keep enough keypoint inliers; their masks still count for mIoU and pixel mAP.
        search_score: an appearance-only detection scores this times its calibrated
            appearance agreement: below the keypoint-verified ones, and below
            `score_threshold` by default, so it is reported but not published.
        temporal: stream mode: reuse the previous frame's detections between full searches.
        redetect_every: in stream mode, search the whole gallery every this many frames.
        flow_preset: stream mode: OpenCV DIS optical-flow preset that carries a track's mask
            to the next frame ("ultrafast", "fast", "medium"; about 3, 6 and 25 ms at 854x480
            on 2 cores). Slower presets follow fast motion better.
        track_mask_prior: log-prior the appearance segmenter adds inside a track's flow-warped
            mask (subtracted outside) when it corrects the mask on the frame. Higher trusts
            the flow more (smooth but drifts with it), lower trusts the frame's appearance
            more (snaps to the object, but bleeds into similar background).
        track_memory: share of a track's confidence kept from the previous frame; the rest
            comes from this frame's evidence (appearance agreement of the corrected mask,
            damped by area jumps and disagreement with the flow). Higher rides out blurred
            or occluded frames, lower ends tracks sooner after the object leaves.
        track_decay: per-frame factor of the cap on a track's confidence since a geometric fit
            last confirmed it (a fit scoring 0.95 stays published for ln(0.5/0.95)/ln(decay)
            frames: 64 at 0.99, 13 at 0.95). Propagated masks drift, so this trades J against
            precision (the older a propagated mask, the likelier IoU < 0.5). Stream set, 8
            positive streams (J / precision): 0.99 0.43 / 0.57, 0.97 0.27 / 0.84, 0.95
            0.20 / 0.90 (stream mode off: 0.07 / 0.89). 0.95 keeps precision at the 0.9 that
            DESIGN asks of what the node publishes: a robot acts on published masks.
        track_end: a track whose confidence falls below this ends (its mask is dropped). At
            or above `score_threshold` a track is published; between the two it is followed
            but not published.
        memory_size: appearance samples the stream memory keeps per instance (0 = no memory):
            more remembers more poses, costs more per segmentation (prototypes pooled).
        memory_every: a confident track offers a sample at most every this many frames.
        memory_confidence: track confidence needed to offer a sample (lower learns more poses
            but risks learning the background after a drift).
        redetect_confirm: stream mode: an instance the stream tracked and lost restarts its
            track from appearance-only finds (search with the stream memory) once this many
            consecutive frames agree (0 = never; only geometry starts tracks then). Fewer
            re-finds sooner, more guards against a look-alike taking the track over.
        index_exact_limit: up to this many gallery descriptors the index is exact (one matrix
            product); beyond it an inverted-file index keeps the search cost sub-linear. At
            4000 (the dev gallery then uses the inverted file) the dev bench was unchanged,
            while exact search over 10 instances (15k descriptors) cost 29-63 ms a frame.
        index_nprobe: inverted lists searched per query in the inverted-file index.
        num_threads: torch threads (faiss searches on one: see index.py).
    """

    working_size: int = 480
    frame_keypoints: int = 1024
    view_keypoints: int = 512
    index_keypoints: int = 256
    query_keypoints: int = 512
    view_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
    view_rotations: tuple[float, ...] = (0,)
    rotated_scales: tuple[float, ...] = (0.25, 0.5, 1.0)
    rectify_candidates: int = 0
    rectify_below_inliers: int = 60
    rectify_side: int = 400
    view_max_side: int = 720
    detection_threshold: float = 0.05
    candidates: int = 4
    views_per_candidate: int = 2
    uniqueness_ratio: float = 0.95
    min_votes: int = 3
    min_similarity: float = 0.75
    reprojection_px: float = 6.0
    ransac_iterations: int = 1000
    min_inliers: int = 8
    accept_inliers: int = 28
    score_threshold: float = 0.5
    calibrate: bool = True
    segment: bool = True
    segment_candidates: int = 3
    trust_warp_inliers: int = 30
    search_candidates: int = 2
    search_score: float = 0.3
    temporal: bool = False
    redetect_every: int = 10
    flow_preset: str = "fast"
    track_mask_prior: float = 2.0
    track_memory: float = 0.8
    track_decay: float = 0.95
    track_end: float = 0.3
    memory_size: int = 4
    memory_every: int = 5
    memory_confidence: float = 0.6
    redetect_confirm: int = 3
    index_exact_limit: int = 4000
    index_nprobe: int = 8
    num_threads: int = 2

    def __post_init__(self) -> None:
        """Reject out-of-range values with the field name, the value and the valid range."""
        self._check_counts()
        self._check_numbers()
        self._check_scales("view_scales", "(0.5, 1.0, 2.0)")
        if not check_rotations(self.view_rotations):
            raise ConfigError(
                f"EngineConfig.view_rotations={self.view_rotations!r}: must be a tuple of "
                "distinct values among 0, 90, 180, 270 that includes 0, e.g. (0, 90, 180, 270)"
            )
        self._check_scales("rotated_scales", "(0.5, 1.0)")
        if self.flow_preset not in ("ultrafast", "fast", "medium"):
            raise ConfigError(
                f"EngineConfig.flow_preset={self.flow_preset!r}: must be one of "
                "'ultrafast', 'fast', 'medium'"
            )
        for name in ("calibrate", "segment", "temporal"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"EngineConfig.{name}={getattr(self, name)!r}: must be a bool")

    def _check_scales(self, name: str, example: str) -> None:
        scales = getattr(self, name)
        if (
            not isinstance(scales, tuple)
            or not scales
            or not all(_is_real(s) and 0.05 <= s <= 8.0 for s in scales)
        ):
            raise ConfigError(
                f"EngineConfig.{name}={scales!r}: must be a non-empty tuple of numbers in "
                f"[0.05, 8], e.g. {example}"
            )

    def _check_counts(self) -> None:
        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"EngineConfig.{name}={value!r}: must be an integer >= 1")
        if self.working_size < 64:
            raise ConfigError(
                f"EngineConfig.working_size={self.working_size}: must be >= 64 pixels"
            )

    def _check_numbers(self) -> None:
        for name in ("search_candidates", "rectify_candidates", "memory_size", "redetect_confirm"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"EngineConfig.{name}={value!r}: must be an integer >= 0 (0 turns it off)"
                )
        if not _is_real(self.track_mask_prior) or not 0.0 <= self.track_mask_prior <= 10.0:
            raise ConfigError(
                f"EngineConfig.track_mask_prior={self.track_mask_prior!r}: must be in [0, 10]"
            )
        for name in (
            "detection_threshold",
            "uniqueness_ratio",
            "score_threshold",
            "search_score",
            "track_memory",
            "track_decay",
            "track_end",
            "memory_confidence",
        ):
            value = getattr(self, name)
            if not _is_real(value) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"EngineConfig.{name}={value!r}: must be a number in [0, 1]")
        if not _is_real(self.min_similarity) or not -1.0 <= self.min_similarity <= 1.0:
            raise ConfigError(
                f"EngineConfig.min_similarity={self.min_similarity!r}: must be in [-1, 1]"
            )
        if not _is_real(self.reprojection_px) or self.reprojection_px <= 0:
            raise ConfigError(
                f"EngineConfig.reprojection_px={self.reprojection_px!r}: must be > 0 pixels"
            )

    def feature_key(self) -> str:
        """Cache key of the per-view features: changes whenever a setting they depend on does."""
        scales = "_".join(f"{s:g}".replace(".", "p") for s in self.view_scales)
        if self.view_rotations != (0,):
            turns = "".join(str(round(r) // 90) for r in self.view_rotations)
            turned = "_".join(f"{s:g}".replace(".", "p") for s in self.rotated_scales)
            scales += f"_r{turns}_q{turned}"
        threshold = f"{self.detection_threshold:g}".replace(".", "p")
        key = (
            f"xfeat_v{FEATURE_VERSION}_k{self.view_keypoints}_m{self.view_max_side}"
            f"_t{threshold}_s{scales}_c{int(self.calibrate)}"
        )
        if len(key) <= _MAX_KEY:  # cache keys are at most 64 characters (gallery names.py)
            return key
        digest = hashlib.blake2s(key.encode(), digest_size=8).hexdigest()
        return f"{key[: _MAX_KEY - 17]}_{digest}"

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of all settings (for parameter files and CLIs)."""
        return [f.name for f in fields(cls)]


FEATURE_VERSION = 8
_MAX_KEY = 64

_POSITIVE_INTS = (
    "working_size",
    "frame_keypoints",
    "view_keypoints",
    "index_keypoints",
    "query_keypoints",
    "view_max_side",
    "candidates",
    "views_per_candidate",
    "min_votes",
    "ransac_iterations",
    "min_inliers",
    "rectify_below_inliers",
    "rectify_side",
    "accept_inliers",
    "segment_candidates",
    "trust_warp_inliers",
    "redetect_every",
    "memory_every",
    "index_exact_limit",
    "index_nprobe",
    "num_threads",
)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
