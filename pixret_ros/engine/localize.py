"""Geometric verification of one registered view in a frame: matches, robust fit, warp.

Why affine first: on mutual-NN matches a RANSAC homography runs to its iteration cap while
an affine fit takes a few ms (MODELS.md); the homography is then fitted only when the affine
found the object, and kept where it explains the matches at least as well (planar parts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.types import BoolMask, Float32, Float64, Int64

_PLANAR_INLIER_FRACTION = 0.25
_PLANAR_MIN_INLIERS = 20
_MAX_ANISOTROPY = 4.0
_MIN_SCALE = 0.05
_MAX_SCALE = 20.0


@dataclass(frozen=True)
class Localization:
    """A verified placement of a view in a frame (frame = the image the features came from).

    Attributes:
        transform: 3x3 float64 view pixels -> frame pixels (an affine has last row 0 0 1).
        inliers: verified correspondences.
        matches: mutual nearest-neighbour matches tried.
        planar: a homography explains the matches (keep the warped mask as is).
        view_points: float32 (K, 2) inlier positions in the view.
        frame_points: float32 (K, 2) inlier positions in the frame.
        similarity: mean cosine similarity of the inlier descriptors.
    """

    transform: Float64
    inliers: int
    matches: int
    planar: bool
    view_points: Float32
    frame_points: Float32
    similarity: float


def mutual_matches(
    query: Float32, reference: Float32, min_similarity: float
) -> tuple[Int64, Int64, Float32]:
    """Mutual nearest neighbours by cosine similarity: (query rows, reference rows, sims)."""
    if query.shape[0] == 0 or reference.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    sims = query @ reference.T
    best_ref = np.argmax(sims, axis=1)
    best_query = np.argmax(sims, axis=0)
    rows = np.arange(query.shape[0])
    sim = sims[rows, best_ref]
    keep = (best_query[best_ref] == rows) & (sim >= min_similarity)
    return rows[keep], best_ref[keep], sim[keep].astype(np.float32)


def plausible(transform: Float64) -> bool:
    """Reject degenerate fits: mirrored, collapsed, exploded or strongly sheared warps."""
    linear = transform[:2, :2] / transform[2, 2]
    det = float(np.linalg.det(linear))
    if not np.isfinite(det) or det <= 0:
        return False
    singular = np.linalg.svd(linear, compute_uv=False)
    if singular[1] <= 0 or singular[0] / singular[1] > _MAX_ANISOTROPY:
        return False
    scale = float(np.sqrt(det))
    return _MIN_SCALE <= scale <= _MAX_SCALE and bool(np.all(np.abs(transform[2, :2]) < 0.01))


def localize(
    frame_points: Float32,
    frame_descriptors: Float32,
    view_points: Float32,
    view_descriptors: Float32,
    config: EngineConfig,
) -> Localization | None:
    """Match a view's features to a frame's and fit view -> frame; None if it does not verify."""
    qi, ri, sims = mutual_matches(frame_descriptors, view_descriptors, config.min_similarity)
    if qi.size < config.min_inliers:
        return None
    src = view_points[ri].astype(np.float32)
    dst = frame_points[qi].astype(np.float32)
    cv2.setRNGSeed(0)  # same frame, same result (RANSAC samples from OpenCV's global RNG)
    affine, mask_a = cv2.estimateAffine2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=config.reprojection_px,
        maxIters=config.ransac_iterations,
        confidence=0.995,
        refineIters=10,
    )
    if np.asarray(affine).shape != (2, 3):  # OpenCV returns None when the fit fails
        return None
    inl_a = np.asarray(mask_a).ravel().astype(bool)
    transform: Float64 = np.vstack([affine, [0.0, 0.0, 1.0]]).astype(np.float64)
    inliers = inl_a
    planar = False
    if int(inl_a.sum()) >= config.min_inliers:
        homography, mask_h = cv2.findHomography(
            src,
            dst,
            method=cv2.USAC_MAGSAC,
            ransacReprojThreshold=config.reprojection_px,
            maxIters=config.ransac_iterations,
            confidence=0.995,
        )
        if homography is not None and plausible(np.asarray(homography, dtype=np.float64)):
            inl_h = np.asarray(mask_h).ravel().astype(bool)
            fitted = np.asarray(homography, dtype=np.float64)
            fitted, inl_h = _refine_homography(src, dst, fitted, inl_h, config)
            if inl_h.sum() >= inl_a.sum():
                transform = fitted / fitted[2, 2]
                inliers = inl_h
                planar = bool(
                    inl_h.sum() >= _PLANAR_MIN_INLIERS
                    and inl_h.sum() >= _PLANAR_INLIER_FRACTION * qi.size
                )
    count = int(inliers.sum())
    if count < config.min_inliers or not plausible(transform):
        return None
    return Localization(
        transform=transform,
        inliers=count,
        matches=int(qi.size),
        planar=planar,
        view_points=src[inliers],
        frame_points=dst[inliers],
        similarity=float(sims[inliers].mean()),
    )


def _refine_homography(
    src: Float32,
    dst: Float32,
    homography: Float64,
    inliers: BoolMask,
    config: EngineConfig,
) -> tuple[Float64, BoolMask]:
    """Least-squares refits on the inliers, the last one on those within half the threshold.

    The robust fit's model comes from minimal samples; least squares over the inliers, then
    over the tighter ones only (keypoints move by 1-2 px under scale change), is markedly
    more precise far from the keypoints (the mask's edge), which is what a transferred mask
    needs (tests: mean error under 1-2 px). A refit is kept only if it still explains at
    least 90 % of the matches the robust fit did at the full threshold.
    """
    best, best_inliers = homography, inliers
    for threshold in (config.reprojection_px, 0.5 * config.reprojection_px):
        residual = _residuals(src, dst, best)
        chosen = best_inliers & (residual <= threshold)
        if chosen.sum() < 8:
            break
        refit, _ = cv2.findHomography(src[chosen], dst[chosen], 0)
        if np.asarray(refit).shape != (3, 3) or not plausible(np.asarray(refit, np.float64)):
            break
        candidate = np.asarray(refit, np.float64)
        fits = _residuals(src, dst, candidate) <= config.reprojection_px
        if fits.sum() < 0.9 * inliers.sum():
            break
        best, best_inliers = candidate, fits
    return best, best_inliers


def _residuals(src: Float32, dst: Float32, homography: Float64) -> Float32:
    projected = cv2.perspectiveTransform(src.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return np.asarray(np.linalg.norm(projected - dst, axis=1), dtype=np.float32)


def warp_mask(mask: BoolMask, transform: Float64, shape: tuple[int, int]) -> BoolMask:
    """Warp a view mask into a frame of `shape` (H, W) by `transform` (view -> frame)."""
    out = cv2.warpPerspective(
        mask.astype(np.uint8) * 255,
        transform,
        (shape[1], shape[0]),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.asarray(out >= 128)


def scaled(transform: Float64, sx: float, sy: float) -> Float64:
    """The same warp with its output (frame) coordinates scaled by (sx, sy)."""
    return np.diag([sx, sy, 1.0]) @ transform
