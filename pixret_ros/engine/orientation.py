"""Objects at any rotation and scale: right-angle view copies, then a rectified second look.

Why two steps (measured with tools/bench_rotation.py): XFeat descriptors are not rotation
invariant (a view's inliers halve by 30 degrees and vanish by 45), and a frame keeps too few
keypoints on an object shrunk to a third or tilted by 60 degrees. Registering every view at
eight rotations and four scales would cost seconds per view and gigabytes at 1000 instances.
Instead each view is also registered turned by 90, 180 and 270 degrees (`cv2.rotate` is
exact and cheap), which gives a coarse fit wherever the object lies within 45 degrees of one
of them; the coarse fit then rectifies the object's region of the full-resolution frame back
to the view's own pose and size, and the upright template is matched there again. That
second look sees the object as registered (upright, at the template's scale, tilt undone),
so it recovers the inliers that rotation, distance and viewpoint took away.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.localize import Localization, localize, plausible

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.features import FeatureExtractor
    from pixret_ros.engine.types import Float32, Float64, RGBImage

    Upright = tuple[Float32, npt.NDArray[np.float16], float]  # keypoints, descriptors, scale

_ROTATE_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}
_MIN_RECTIFIED_SIDE = 48
_MAX_REFINE_SHIFT = 0.5  # of the view's long side: a refit moves its corners less than this
_SETTLED = 0.05  # a refit that moves them less needs no further look
_OFF_TEMPLATE_DEG = 20.0  # a fit turned further from its copy's angle gets a second look
_OFF_TEMPLATE_SIZE = 0.6  # and one this much smaller (or 1 / this larger) than its template


def rotated(image: RGBImage, degrees: float) -> RGBImage:
    """`image` turned clockwise by a multiple of 90 degrees (exact: pixels are permuted)."""
    turn = round(degrees) % 360
    if turn == 0:
        return image
    return np.asarray(cv2.rotate(image, _ROTATE_CODES[turn]), dtype=np.uint8)


def to_view(points: Float32, degrees: float, shape: tuple[int, int]) -> Float32:
    """Points of the view turned by `degrees` (see `rotated`) in the view's own pixels.

    `shape` is the unturned view's (height, width); pixel centres are integers.
    """
    height, width = shape
    x, y = points[:, 0], points[:, 1]
    turn = round(degrees) % 360
    if turn == 0:
        return points
    if turn == 90:
        out = np.stack([y, (height - 1) - x], axis=1)
    elif turn == 180:
        out = np.stack([(width - 1) - x, (height - 1) - y], axis=1)
    else:
        out = np.stack([(width - 1) - y, x], axis=1)
    return np.asarray(out, dtype=np.float32)


def check_rotations(rotations: object) -> bool:
    """A tuple of distinct values among 0, 90, 180, 270 (ints or whole floats) with 0.

    Floats are accepted because ROS parameters carry number lists as double arrays.
    """
    return (
        isinstance(rotations, tuple)
        and 0 in rotations
        and len(set(rotations)) == len(rotations)
        and not any(isinstance(r, bool) for r in rotations)
        and all(r in (0, 90, 180, 270) for r in rotations)
    )


def off_template(transform: Float64, rotation: float, limit: float = _OFF_TEMPLATE_DEG) -> bool:
    """True where the fit turns the view far from the turned copy that matched it.

    Far: more than `limit` degrees from `rotation` (clockwise); by default the object then
    lies between two copies and the fit from the few matches there is rough.
    """
    linear = transform[:2, :2] / transform[2, 2]
    angle = float(np.degrees(np.arctan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1])))
    return abs((angle - rotation + 180.0) % 360.0 - 180.0) > limit


def off_scale(transform: Float64, scale: float, limit: float = _OFF_TEMPLATE_SIZE) -> bool:
    """True where the fit shows the view at a size far from its template's (`scale`).

    Far: smaller than `limit` times the template, or larger than 1 / `limit` times; the
    registered scales are 2x apart, so a fit beyond that came from few matches across a
    scale gap (an object shrunk below the smallest template, say).
    """
    linear = transform[:2, :2] / transform[2, 2]
    size = float(np.sqrt(abs(np.linalg.det(linear)))) / scale
    return not limit <= size <= 1.0 / limit


@dataclass(frozen=True)
class Rectifier:
    """A second look at one registered view in one frame.

    `uprights` are the view's upright templates (keypoints in view pixels, descriptors,
    scale); `view_shape` its (height, width).
    """

    extractor: FeatureExtractor
    frame: RGBImage
    uprights: Sequence[Upright]
    view_shape: tuple[int, int]
    config: EngineConfig

    def refit(self, to_frame: Float64) -> tuple[Localization, int] | None:
        """Refit a coarse view -> frame warp on the region rectified to the pose of the view.

        The region of the frame is warped back to the view's pose and matched with an
        upright template; None where that does not verify. Returns the refit in the
        frame's pixels (its transform view -> frame, its inliers in both) and the index of
        the upright template used. A coarse fit from a few inliers can be far off
        (sheared), so a refit that still moves the view's corners by more than `_SETTLED`
        of its size is rectified once more. The refit must move them by less than
        `_MAX_REFINE_SHIFT`: the coarse fit found the object, the second look makes it
        exact (a coarse fit on clutter does not turn into a large new one).
        """
        result: tuple[Localization, int] | None = None
        current = to_frame
        for _ in range(2):
            step = self._look(current)
            if step is None:
                break
            loc, choice = step
            shift = _corner_shift(loc.transform, self.view_shape)
            if shift > _MAX_REFINE_SHIFT:
                break
            points = cv2.perspectiveTransform(
                loc.frame_points.reshape(-1, 1, 2).astype(np.float64), current
            ).reshape(-1, 2)
            current = current @ loc.transform
            current = current / current[2, 2]
            refit = replace(loc, transform=current, frame_points=points.astype(np.float32))
            result = (refit, choice)
            if shift <= _SETTLED:
                break
        if result is None or not plausible(result[0].transform):
            return None
        return result

    def _look(self, to_frame: Float64) -> tuple[Localization, int] | None:
        """One look: the visible part of the view rectified and matched; view -> rectified.

        The part is resampled at the largest upright template scale that keeps it within
        `config.rectify_side` pixels (the smallest if none does), matched with that template.
        """
        box = _visible_box(to_frame, self.view_shape, self.frame.shape[:2])
        if box is None or not self.uprights:
            return None
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0)
        scales = [u[2] for u in self.uprights]
        fitting = [k for k, s in enumerate(scales) if side * s <= self.config.rectify_side]
        choice = max(fitting, key=lambda k: scales[k]) if fitting else int(np.argmin(scales))
        keypoints, descriptors, factor = self.uprights[choice]
        size = (round((x1 - x0) * factor), round((y1 - y0) * factor))
        if min(size) < _MIN_RECTIFIED_SIDE:
            return None
        to_box = np.array(
            [[factor, 0.0, -x0 * factor], [0.0, factor, -y0 * factor], [0.0, 0.0, 1.0]]
        )
        source, to_rectified = _prefiltered(self.frame, to_box @ np.linalg.inv(to_frame))
        patch = cv2.warpPerspective(source, to_rectified, size, flags=cv2.INTER_LINEAR)
        feats = self.extractor.extract(
            np.asarray(patch, dtype=np.uint8), self.config.view_keypoints
        )
        points = (feats.keypoints / factor + np.array([x0, y0], np.float32)).astype(np.float32)
        reference = descriptors.astype(np.float32)
        loc = localize(points, feats.descriptors, keypoints, reference, self.config)
        return None if loc is None else (loc, choice)


def _visible_box(
    to_frame: Float64, view_shape: tuple[int, int], frame_shape: tuple[int, int]
) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of the view that `to_frame` puts inside the frame, or None."""
    height, width = view_shape
    corners = np.array(
        [[0, 0], [frame_shape[1], 0], [frame_shape[1], frame_shape[0]], [0, frame_shape[0]]],
        np.float64,
    )
    back = np.linalg.inv(to_frame)
    homogeneous = np.c_[corners, np.ones(4)] @ back.T
    if np.any(homogeneous[:, 2] <= 1e-9):  # the frame reaches the view's horizon
        x0, y0, x1, y1 = 0.0, 0.0, float(width), float(height)
    else:
        inside = homogeneous[:, :2] / homogeneous[:, 2:]
        x0, y0 = (max(0.0, float(v)) for v in inside.min(axis=0))
        x1 = min(float(width), float(inside[:, 0].max()))
        y1 = min(float(height), float(inside[:, 1].max()))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return x0, y0, x1, y1


def _prefiltered(frame: RGBImage, to_rectified: Float64) -> tuple[RGBImage, Float64]:
    """The frame shrunk (area averaging) where the rectification shrinks it, and its warp.

    A warp alone samples a large object without low-pass filtering, and XFeat found nothing
    in the aliased patch of an object three times the view's size.
    """
    linear = to_rectified[:2, :2] / to_rectified[2, 2]
    shrink = float(np.sqrt(abs(np.linalg.det(linear))))
    if shrink >= 0.75:
        return frame, to_rectified
    size = (max(1, round(frame.shape[1] * shrink)), max(1, round(frame.shape[0] * shrink)))
    small = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.uint8)
    grow = np.diag([frame.shape[1] / size[0], frame.shape[0] / size[1], 1.0])
    return small, to_rectified @ grow


def _corner_shift(transform: Float64, shape: tuple[int, int]) -> float:
    """How far `transform` moves the view's corners, as a fraction of its long side."""
    height, width = shape
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    moved = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), transform).reshape(-1, 2)
    return float(np.abs(moved - corners).max()) / max(height, width)
