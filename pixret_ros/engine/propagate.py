"""Carry a mask from the previous frame of a stream to the current one by dense optical flow.

Why: an object published a moment ago is almost surely where the motion of its pixels took
it. Flow is computed backward (current -> previous), so every current pixel looks up where
it came from and the warped mask has no holes. OpenCV's DIS flow at the working resolution
costs a few milliseconds (issue 11: ULTRAFAST 3.5 ms, FAST 6-7 ms at 854x480 on 2 cores).
Warping alone drifts onto the background over tens of frames; the tracker corrects each
warped mask on the frame's own content (engine/track.py).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.types import BoolMask, Float32, RGBImage

# Median grey-level error of the flow over the whole frame beyond which the frames are not
# one continuous shot (a cut, a jump of the camera): measured 0-3 between consecutive
# frames of a shot, 40 from a test scene to an unrelated photo.
SCENE_CUT = 25.0

FLOW_PRESETS = {
    "ultrafast": cv2.DISOpticalFlow_PRESET_ULTRAFAST,
    "fast": cv2.DISOpticalFlow_PRESET_FAST,
    "medium": cv2.DISOpticalFlow_PRESET_MEDIUM,
}


class FlowPropagator:
    """Backward DIS flow between consecutive frames of one stream.

    The flow is computed when first asked for (`cut`, `residual`, `warp`), so a frame with
    nothing to follow costs only a grey conversion (stream set: about a quarter of the
    frames, 2-4 ms each).
    """

    def __init__(self, preset: str = "fast") -> None:
        if preset not in FLOW_PRESETS:
            raise ValueError(f"flow preset {preset!r}: expected one of {sorted(FLOW_PRESETS)}")
        self._dis = cv2.DISOpticalFlow.create(FLOW_PRESETS[preset])
        self._previous: npt.NDArray[np.uint8] | None = None
        self._current: npt.NDArray[np.uint8] | None = None
        self._computed: tuple[Float32, Float32] | None = None  # (flow, residual) of this frame

    def reset(self) -> None:
        """Forget the previous frame (a new stream starts)."""
        self._previous = None
        self._current = None
        self._computed = None

    def advance(self, rgb: RGBImage) -> None:
        """Take the next frame; the flow to the previous one is computed when needed.

        A previous frame of another working size (the pipeline's `acquire_size`) is resized
        to this one's first: the same view of the same scene, only sampled differently.
        """
        grey = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), np.uint8)
        previous = self._current
        if previous is not None and previous.shape != grey.shape:
            size = (grey.shape[1], grey.shape[0])
            previous = np.asarray(
                cv2.resize(previous, size, interpolation=cv2.INTER_AREA), np.uint8
            )
        self._previous, self._current = previous, grey
        self._computed = None

    def _flow_and_residual(self) -> tuple[Float32, Float32] | None:
        """This frame's backward flow and its grey-level residual (None on a first frame).

        Computed on the first call of a frame, kept for the others.
        """
        if self._computed is None and self._previous is not None and self._current is not None:
            grey, previous = self._current, self._previous
            out = np.zeros((*grey.shape, 2), np.float32)  # not an initial guess: DIS ignores it
            flow = np.asarray(self._dis.calc(grey, previous, out), np.float32)
            back = _remap(previous.astype(np.float32), flow, cv2.BORDER_REPLICATE)
            self._computed = flow, np.abs(back - grey.astype(np.float32))
        return self._computed

    @property
    def ready(self) -> bool:
        """A flow to the previous frame exists (not on a stream's first frame)."""
        return self._flow_and_residual() is not None

    @property
    def cut(self) -> bool:
        """This frame does not continue the previous one (no flow can carry a mask)."""
        computed = self._flow_and_residual()
        return computed is not None and float(np.median(computed[1])) > SCENE_CUT

    def residual(self, mask: BoolMask) -> float:
        """Mean grey-level error of the flow under `mask` (0 without flow or mask).

        The previous frame pulled along the flow should look like this one where the flow
        holds; a scene cut, a camera jump or an occluder entering the mask makes it large.
        """
        computed = self._flow_and_residual()
        if computed is None or mask.shape != computed[1].shape or not mask.any():
            return 0.0
        return float(computed[1][mask].mean())

    def warp(self, mask: BoolMask) -> BoolMask:
        """The previous frame's `mask` moved to the current frame (unchanged without flow)."""
        computed = self._flow_and_residual()
        if computed is None or mask.shape != computed[0].shape[:2]:
            return mask
        return warp_by_flow(mask, computed[0])


def warp_by_flow(mask: BoolMask, backward: Float32) -> BoolMask:
    """`mask` pulled along a backward flow (H, W, 2): out[y, x] = mask[(x, y) + flow]."""
    return np.asarray(_remap(mask.astype(np.float32), backward, cv2.BORDER_CONSTANT) >= 0.5)


def _remap(image: Float32, backward: Float32, border: int) -> Float32:
    """`image` (H, W) float pulled along a backward flow; outside pixels by `border`."""
    h, w = image.shape
    xs, ys = _grid(h, w)
    moved = cv2.remap(
        image, xs + backward[..., 0], ys + backward[..., 1], cv2.INTER_LINEAR, borderMode=border
    )
    return np.asarray(moved, np.float32)


@functools.lru_cache(maxsize=4)
def _grid(height: int, width: int) -> tuple[Float32, Float32]:
    """Pixel coordinates (x, y) of an image of this size (a stream keeps one size)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys
