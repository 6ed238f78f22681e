"""How a demo frame is composed: poses, object paths, interpolation, the composer.

Why: a pixel-retrieval demo needs exact ground truth under the conditions a robot meets
(perspective, scale, rotation, lighting, blur, occlusion, objects entering and leaving) and
smooth motion over frames, so that a stream (temporal) mode has something to gain. Every
object is a sprite (an image and its mask) placed by a homography; the ground truth is the
warped mask minus whatever is drawn in front of it. Motion is given by a few hand-placed
keyframes per object, interpolated smoothly (PCHIP); the seeded RNG only adds camera shake
and sensor noise. Coordinates are (x, y) pixels; a pose's anchor is a point of the sprite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator

from pixret_ros.engine.types import BoolMask, Float32, Float64, Homography, RGBImage

FRAME_WIDTH = 640
FRAME_HEIGHT = 480
FOCAL = 700.0  # pixels: perspective strength of the out-of-plane rotations (yaw, pitch)
NOISE_SIGMA = 2.0  # sensor noise, grey levels
SHAKE_PIXELS = 1.5  # hand-held camera shake, pixels (standard deviation)


@dataclass(frozen=True)
class Pose:
    """Where a sprite sits in its parent (the frame, or the background for objects on it).

    The sprite's point (u, v) (its centre where None) lands on (x, y); the sprite is scaled by
    `scale`, turned by `angle` degrees in its plane, then tilted by `yaw` (about the vertical
    axis) and `pitch` (about the horizontal axis), degrees, seen by a camera of focal `FOCAL`.
    """

    x: float
    y: float
    scale: float = 1.0
    angle: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    u: float | None = None
    v: float | None = None

    def homography(self, sprite_size: tuple[int, int]) -> Homography:
        """3x3 map from sprite pixels (x, y) to parent pixels; sprite_size = (width, height)."""
        u = (sprite_size[0] - 1) / 2 if self.u is None else self.u
        v = (sprite_size[1] - 1) / 2 if self.v is None else self.v
        a, yaw, pitch = np.deg2rad([self.angle, self.yaw, self.pitch])
        roll = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        tilt = np.array(
            [[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]]
        )
        rotation = tilt @ turn @ roll
        # Plane point (p, q) -> 3-D rotation of (scale*p, scale*q, 0) at depth FOCAL -> pixels.
        plane = np.column_stack([rotation[:, 0] * self.scale, rotation[:, 1] * self.scale])
        extrinsic = np.column_stack([plane, [0.0, 0.0, FOCAL]])
        camera = np.array([[FOCAL, 0, self.x], [0, FOCAL, self.y], [0, 0, 1]])
        centre = np.array([[1, 0, -u], [0, 1, -v], [0, 0, 1]])
        homography = camera @ extrinsic @ centre
        return np.asarray(homography / homography[2, 2], dtype=np.float64)


Keyframes = Sequence[tuple[int, Pose]]


@dataclass(frozen=True)
class ObjectPath:
    """One sprite moving through a sequence.

    Attributes:
        sprite: name of an instance or a distractor.
        keys: (frame index within the sequence, pose) pairs, sorted; poses between them are
            interpolated, and the sprite is drawn from the first key frame to the last.
        on_background: poses are in background pixels (the object hangs on the wall and
            moves with the camera) rather than in frame pixels.
        gain: brightness factor of the sprite (its own lighting) at each key frame.
    """

    sprite: str
    keys: Keyframes
    on_background: bool = False
    gain: Sequence[float] | None = None


@dataclass(frozen=True)
class Shot:
    """A continuous shot: a background seen by a moving camera, sprites drawn back to front.

    Attributes:
        name: short name (manifest, preview).
        length: number of frames.
        background: name of a background, or of an instance whose whole photo is the scene.
        camera: keyframed pose of the background in the frame (the camera's motion).
        paths: the sprites and their motion, back to front.
        lighting: (frame, gain) keys: global brightness (1 = as photographed).
        defocus: (frame, sigma in pixels) keys: Gaussian blur of the whole frame.
        motion_blur: (frame, length in pixels) keys: blur along the camera's motion.
    """

    name: str
    length: int
    background: str
    camera: Keyframes
    paths: Sequence[ObjectPath] = ()
    lighting: Sequence[tuple[int, float]] = ((0, 1.0),)
    defocus: Sequence[tuple[int, float]] = ((0, 0.0),)
    motion_blur: Sequence[tuple[int, float]] = ((0, 0.0),)


class Sprite(NamedTuple):
    """An image with its object mask; `instance` names the registered instance it shows."""

    image: RGBImage
    mask: BoolMask
    instance: str | None


class ComposedFrame(NamedTuple):
    """One rendered frame and the visible mask of every instance in it."""

    image: RGBImage
    visible: dict[str, BoolMask]
    unoccluded_area: dict[str, int]  # pixels each instance would cover with nothing in front


@lru_cache(maxsize=512)
def _curve(frames: tuple[int, ...], values: tuple[float, ...]) -> PchipInterpolator:
    """One interpolator per key list (built once: a shot asks for it every frame)."""
    return PchipInterpolator(frames, values)


def _interpolate(keys: Sequence[tuple[int, float]], t: int) -> float:
    """Smooth, overshoot-free interpolation of scalar keys; constant outside them."""
    frames = tuple(int(k) for k, _ in keys)
    values = tuple(float(v) for _, v in keys)
    if len(keys) == 1 or t <= frames[0]:
        return values[0]
    if t >= frames[-1]:
        return values[-1]
    return float(_curve(frames, values)(t))


def pose_at(keys: Keyframes, t: int) -> Pose:
    """The pose at frame `t`: every field interpolated over the key frames."""
    first = keys[0][1]
    values: dict[str, float | None] = {}
    for f in fields(Pose):
        if getattr(first, f.name) is None:
            values[f.name] = None
            continue
        values[f.name] = _interpolate([(k, float(getattr(p, f.name))) for k, p in keys], t)
    return Pose(**values)  # type: ignore[arg-type]


def _is_drawn(path: ObjectPath, t: int) -> bool:
    return path.keys[0][0] <= t <= path.keys[-1][0]


def _warp(
    image: Float32,
    homography: Homography,
    border: int = cv2.BORDER_CONSTANT,
    size: tuple[int, int] = (FRAME_WIDTH, FRAME_HEIGHT),
) -> Float32:
    """Warp into a frame (or a `size` part of it); outside the image is 0 unless `border`."""
    return np.asarray(
        cv2.warpPerspective(
            image, homography, size, flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0
        ),
        dtype=np.float32,
    )


def _footprint(homography: Homography, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The frame rectangle (x0, y0, x1, y1), end exclusive, that a warped sprite can touch.

    None where it lies outside the frame. Compositing only there keeps a frame fast.
    """
    height, width = shape[:2]
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float)
    mapped = corners @ homography.T
    if np.any(mapped[:, 2] <= 0):  # a corner behind the camera: no safe bound, use the frame
        return 0, 0, FRAME_WIDTH, FRAME_HEIGHT
    xs, ys = mapped[:, 0] / mapped[:, 2], mapped[:, 1] / mapped[:, 2]
    x0, y0 = max(int(np.floor(xs.min())) - 2, 0), max(int(np.floor(ys.min())) - 2, 0)
    x1 = min(int(np.ceil(xs.max())) + 3, FRAME_WIDTH)
    y1 = min(int(np.ceil(ys.max())) + 3, FRAME_HEIGHT)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


@dataclass
class Composer:
    """Renders the frames of one sequence (RGB uint8 640x480) with their ground truth."""

    sequence: Shot
    sprites: Mapping[str, Sprite]
    seed: Sequence[int]
    _shake: Float64 = field(init=False)
    _floats: dict[str, Float32] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Camera shake: a smoothed random walk, drawn once per shot from its own seeded RNG.
        rng = np.random.default_rng([*self.seed, 0])
        steps = rng.normal(0.0, 1.0, size=(self.sequence.length + 8, 2))
        kernel = np.ones(8) / np.sqrt(8)
        walk = np.column_stack([np.convolve(steps[:, i], kernel, "valid") for i in (0, 1)])
        self._shake = walk[: self.sequence.length] * SHAKE_PIXELS

    def _colour(self, name: str) -> Float32:
        if name not in self._floats:
            self._floats[name] = self.sprites[name].image.astype(np.float32)
        return self._floats[name]

    def _alpha(self, name: str) -> Float32:
        key = f"{name}/mask"
        if key not in self._floats:
            self._floats[key] = self.sprites[name].mask.astype(np.float32)
        return self._floats[key]

    def _camera(self, t: int) -> Homography:
        """Background pixels -> frame pixels at frame t (camera motion plus shake)."""
        background = self.sprites[self.sequence.background].image
        pose = pose_at(self.sequence.camera, t)
        shaken = Pose(
            **{**pose.__dict__, "x": pose.x + self._shake[t, 0], "y": pose.y + self._shake[t, 1]}
        )
        return shaken.homography((background.shape[1], background.shape[0]))

    def render(self, t: int) -> ComposedFrame:
        """Frame t of the sequence with every instance's visible mask (exact, from compositing)."""
        seq = self.sequence
        camera = self._camera(t)
        scene = self.sprites[seq.background]
        # The background fills the frame: mirror it at its edges rather than show black.
        canvas = _warp(self._colour(seq.background), camera, cv2.BORDER_REFLECT_101)
        visible: dict[str, BoolMask] = {}
        area: dict[str, int] = {}
        if scene.instance is not None:
            mask = _warp(self._alpha(seq.background), camera) >= 0.5
            visible[scene.instance] = mask
            area[scene.instance] = int(mask.sum())
        for path in seq.paths:
            if not _is_drawn(path, t):
                continue
            sprite = self.sprites[path.sprite]
            homography = pose_at(path.keys, t).homography(
                (sprite.image.shape[1], sprite.image.shape[0])
            )
            if path.on_background:
                homography = camera @ homography
            drawn = np.zeros((FRAME_HEIGHT, FRAME_WIDTH), bool)
            box = _footprint(homography, sprite.image.shape)
            if box is not None:
                x0, y0, x1, y1 = box
                shifted = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]]) @ homography
                alpha = _warp(self._alpha(path.sprite), shifted, size=(x1 - x0, y1 - y0))
                colour = _warp(self._colour(path.sprite), shifted, size=(x1 - x0, y1 - y0))
                if path.gain is not None:
                    gain_keys = list(zip((k for k, _ in path.keys), path.gain, strict=True))
                    colour *= np.float32(_interpolate(gain_keys, t))
                part = canvas[y0:y1, x0:x1]
                part += (colour - part) * alpha[:, :, None]
                drawn[y0:y1, x0:x1] = alpha >= 0.5
            for name in visible:  # whatever is drawn now hides what is behind it
                visible[name] &= ~drawn
            if sprite.instance is not None:
                visible[sprite.instance] = drawn
                area[sprite.instance] = int(drawn.sum())
        image = self._effects(canvas, t)
        return ComposedFrame(image, visible, area)

    def _effects(self, canvas: Float32, t: int) -> RGBImage:
        """Lighting, blur and sensor noise of the whole frame (ground truth is unaffected)."""
        seq = self.sequence
        out = canvas  # ours: changed in place
        out *= np.float32(_interpolate(seq.lighting, t))
        length = _interpolate(seq.motion_blur, t)
        if length >= 1.5:
            out = np.asarray(cv2.filter2D(out, -1, self._motion_kernel(t, length)), np.float32)
        sigma = _interpolate(seq.defocus, t)
        if sigma >= 0.3:
            out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigma), np.float32)
        # Noise from an RNG per frame: any frame renders the same alone or in the whole shot.
        rng = np.random.default_rng([*self.seed, 1, t])
        out += rng.standard_normal(size=out.shape, dtype=np.float32) * np.float32(NOISE_SIGMA)
        np.rint(out, out=out)
        np.clip(out, 0, 255, out=out)
        return out.astype(np.uint8)

    def _motion_kernel(self, t: int, length: float) -> Float32:
        """A line kernel along the direction the background moves in the frame at frame t."""
        centre_px = np.array([FRAME_WIDTH / 2, FRAME_HEIGHT / 2, 1.0])
        point = np.linalg.solve(self._camera(max(t - 1, 0)), centre_px)
        moved = self._camera(min(t + 1, self.sequence.length - 1)) @ point
        angle = np.arctan2(moved[1] / moved[2] - centre_px[1], moved[0] / moved[2] - centre_px[0])
        size = int(np.ceil(length)) | 1
        kernel = np.zeros((size, size), np.float32)
        centre = size // 2
        dx, dy = np.cos(angle) * (length - 1) / 2, np.sin(angle) * (length - 1) / 2
        cv2.line(
            kernel,
            (round(centre - dx), round(centre - dy)),
            (round(centre + dx), round(centre + dy)),
            1.0,
            1,
            cv2.LINE_AA,
        )
        return np.asarray(kernel / kernel.sum(), dtype=np.float32)
