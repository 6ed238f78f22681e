"""Real-photo scenes for the engine tests: objects cut from scikit-image photos, placed into
another photo by a known homography, so every test knows the exact truth.

Objects are textured crops (a planar patch of a real photo); backgrounds are other photos.
Everything is built in memory, deterministically; nothing is read from the dev data.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
import skimage.data

from pixret_ros.engine import EngineConfig, Gallery, PixelRetriever

RGB = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
FRAME_SIZE = (640, 480)

# (photo, x, y, width, height) of each object: distinctive textured regions.
OBJECTS = {
    "coffee_cup": ("coffee", 180, 40, 260, 220),
    "cat_face": ("chelsea", 120, 40, 200, 200),
    "rocket_pad": ("rocket", 120, 250, 330, 177),
    "page_text": ("page", 40, 20, 240, 150),
    "ihc_tissue": ("immunohistochemistry", 100, 100, 220, 220),
}


def photo(name: str) -> RGB:
    """A scikit-image photo as RGB uint8."""
    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8)


def object_view(name: str) -> tuple[RGB, Mask]:
    """The registered view of an object: the crop, with an elliptic mask inside a margin."""
    source, x, y, w, h = OBJECTS[name]
    crop = np.ascontiguousarray(photo(source)[y : y + h, x : x + w])
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.42), int(h * 0.42)), 0, 0, 360, 1, -1)
    return crop, mask.astype(bool)


def background(name: str = "astronaut") -> RGB:
    """A frame-sized background photo."""
    return np.asarray(cv2.resize(photo(name), FRAME_SIZE, interpolation=cv2.INTER_AREA))


def similarity(scale: float, angle_deg: float, tx: float, ty: float) -> npt.NDArray[np.float64]:
    """3x3 rotation + scale + translation."""
    a = np.deg2rad(angle_deg)
    c, s = scale * np.cos(a), scale * np.sin(a)
    return np.array([[c, -s, tx], [s, c, ty], [0.0, 0.0, 1.0]])


def place(
    frame: RGB, view: RGB, mask: Mask, homography: npt.NDArray[np.float64]
) -> tuple[RGB, Mask]:
    """Paste the whole view (crop) into `frame` by `homography`; return frame and true mask."""
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpPerspective(view, homography, size, flags=cv2.INTER_LINEAR)
    full = np.ones(view.shape[:2], np.uint8) * 255
    cover = cv2.warpPerspective(full, homography, size, flags=cv2.INTER_NEAREST) > 0
    truth = cv2.warpPerspective(mask.astype(np.uint8) * 255, homography, size) >= 128
    out = frame.copy()
    out[cover] = warped[cover]
    return out, np.asarray(truth)


def iou(a: Mask, b: Mask) -> float:
    """Intersection over union of two masks."""
    return float((a & b).sum() / max(1, (a | b).sum()))


class Scene(NamedTuple):
    """A frame and the true mask of each object placed in it."""

    frame: RGB
    truths: dict[str, Mask]


def scene(placements: dict[str, npt.NDArray[np.float64]], bg: str = "astronaut") -> Scene:
    """Frame with each named object placed by its homography."""
    frame = background(bg)
    truths = {}
    for name, homography in placements.items():
        view, mask = object_view(name)
        frame, truths[name] = place(frame, view, mask, homography)
    return Scene(frame, truths)


def make_gallery(folder: Path, names: list[str]) -> Gallery:
    """A gallery folder with one view per named object."""
    gallery = Gallery(folder)
    for name in names:
        view, mask = object_view(name)
        gallery.add(name, [view], [mask])
    return gallery


@functools.cache
def shared_retriever() -> PixelRetriever:
    """One retriever over all OBJECTS for the whole session (registration costs seconds).

    Its gallery lives in a temporary folder removed when the test process exits.
    """
    folder = Path(tempfile.mkdtemp(prefix="pixret_engine_test_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    gallery = make_gallery(folder / "gallery", sorted(OBJECTS))
    return PixelRetriever(gallery, EngineConfig())
