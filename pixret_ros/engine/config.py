"""Every engine setting in one frozen record, checked once at construction.

Defaults were chosen with `make bench` (tools/bench.py) on the development set; each field says
what it trades off so that a user can tune without reading the pipeline.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field, fields

from pixret_ros.engine.orientation import check_rotations
from pixret_ros.engine.segment import SegmentConfig
from pixret_ros.errors import ConfigError


@dataclass(frozen=True)
class EngineConfig:
    """Settings of `PixelRetriever` (all sizes in pixels, all times in milliseconds).

    What each field means, trades off and may range over is written once, as data, in
    pixret_ros/settings/engine_params.py (ENGINE_DOCS, ENGINE_RANGES): `ros2 param describe`,
    config/pixret.yaml and the evaluator's params-file check show that text. `segmenter`
    holds the appearance segmenter's knobs (`engine.segmenter.*` parameters).
    """

    working_size: int = 480
    acquire_size: int = 0
    frame_keypoints: int = 1024
    view_keypoints: int = 512
    index_keypoints: int = 256
    query_keypoints: int = 512
    view_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
    view_rotations: tuple[float, ...] = (0, 90, 180, 270)
    rotated_scales: tuple[float, ...] = (0.25, 0.5, 1.0)
    rectify_candidates: int = 0
    second_candidates: int = 2
    second_min_votes: int = 40
    rectify_below_inliers: int = 60
    rectify_min_votes: int = 0
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
    track_decay: float = 1.0
    track_end: float = 0.3
    track_growth_limit: float = 1.0
    track_shrink_limit: float = 2.0
    memory_size: int = 4
    memory_every: int = 5
    memory_confidence: float = 0.6
    redetect_confirm: int = 0
    person_prior: bool = True
    auto_enroll: bool = False
    auto_enroll_views: int = 4
    auto_enroll_novelty: float = 0.7
    index_exact_limit: int = 4000
    index_nprobe: int = 8
    num_threads: int = 0
    segmenter: SegmentConfig = field(default_factory=SegmentConfig)

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
        for name in ("calibrate", "segment", "temporal", "auto_enroll", "person_prior"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"EngineConfig.{name}={getattr(self, name)!r}: must be a bool")
        self._check_segmenter()

    def _check_segmenter(self) -> None:
        """Knobs are numbers >= 0 (work_side >= 16, context_cells >= 1, divisors > 0)."""
        if not isinstance(self.segmenter, SegmentConfig):
            raise ConfigError(f"EngineConfig.segmenter={self.segmenter!r}: must be a SegmentConfig")
        for knob in fields(self.segmenter):
            value = getattr(self.segmenter, knob.name)
            low = _SEGMENTER_LOW.get(knob.name, 0)
            integer = isinstance(knob.default, int)
            kind_ok = isinstance(value, int) if integer else _is_real(value)
            positive = knob.name in _SEGMENTER_POSITIVE
            if isinstance(value, bool) or not kind_ok or value < low or (positive and value <= 0):
                bound = "> 0" if positive else f">= {low}"
                kind = "an integer" if integer else "a number"
                raise ConfigError(
                    f"EngineConfig.segmenter.{knob.name}={value!r}: must be {kind} {bound}"
                )

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
        threads = self.num_threads
        if not isinstance(threads, int) or isinstance(threads, bool) or abs(threads) > 1024:
            raise ConfigError(
                f"EngineConfig.num_threads={threads!r}: must be an integer in [-1024, 1024] "
                "(0: every core of this process, -N: all but N)"
            )
        if self.working_size < 64:
            raise ConfigError(
                f"EngineConfig.working_size={self.working_size}: must be >= 64 pixels"
            )
        acquire = self.acquire_size
        if (
            not isinstance(acquire, int)
            or isinstance(acquire, bool)
            or not (acquire == 0 or acquire >= 64)
        ):
            raise ConfigError(
                f"EngineConfig.acquire_size={acquire!r}: must be 0 (off) or >= 64 pixels"
            )

    def _check_numbers(self) -> None:
        for name in (
            "search_candidates",
            "rectify_candidates",
            "rectify_min_votes",
            "second_candidates",
            "memory_size",
            "redetect_confirm",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"EngineConfig.{name}={value!r}: must be an integer >= 0 (0 turns it off)"
                )
        for name in ("track_mask_prior", "track_growth_limit", "track_shrink_limit"):
            value = getattr(self, name)
            if not _is_real(value) or not 0.0 <= value <= 10.0:
                raise ConfigError(f"EngineConfig.{name}={value!r}: must be in [0, 10]")
        for name in (
            "detection_threshold",
            "uniqueness_ratio",
            "score_threshold",
            "search_score",
            "track_memory",
            "track_decay",
            "track_end",
            "memory_confidence",
            "auto_enroll_novelty",
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


FEATURE_VERSION = 9
_SEGMENTER_LOW = {"work_side": 16, "context_cells": 1}
_SEGMENTER_POSITIVE = ("dense_temperature", "smooth_eps")
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
    "second_min_votes",
    "ransac_iterations",
    "min_inliers",
    "rectify_below_inliers",
    "rectify_side",
    "accept_inliers",
    "segment_candidates",
    "trust_warp_inliers",
    "redetect_every",
    "memory_every",
    "auto_enroll_views",
    "index_exact_limit",
    "index_nprobe",
)


def torch_threads(setting: int, cores: int | None = None) -> int:
    """Threads for torch's pool: `setting` > 0 as given, 0 every core, -N all but N (>= 1).

    Why relative settings: a robot's camera driver and DDS share the cores with the engine,
    and a pool sized for all of them makes torch wait for its slowest thread (issue 10:
    realtime profile on 2 cores, one torch thread answered 100 % of a 24 fps stream, two 89 %).
    `cores` is the number this process may run on (its CPU affinity) unless given.
    """
    if setting > 0:
        return setting
    available = cores if cores is not None else len(os.sched_getaffinity(0))
    return max(1, available + setting)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
