"""Turn detections into pictures: the mono16 label image the node publishes, and an overlay."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.types import Detection, RGBImage

# A fixed palette so that an instance keeps its colour from frame to frame (by label).
_PALETTE = np.array(
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
        (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    ],
    dtype=np.uint8,
)  # fmt: skip


def label_colour(label: int) -> tuple[int, int, int]:
    """RGB colour of the detection with this label (1-based): the overlay's and the markers'."""
    r, g, b = (int(c) for c in _PALETTE[(label - 1) % len(_PALETTE)])
    return r, g, b


def detection_label(index: int) -> int:
    """The label of the detection at `index` of a frame's list: index + 1 (0 is background).

    The one home of the rule: the mask pixels, the detection messages and the markers of one
    detection all carry this value.
    """
    return index + 1


def label_image(detections: Sequence[Detection], shape: tuple[int, int]) -> npt.NDArray[np.uint16]:
    """Paint detection i with detection_label(i) into a (H, W) uint16 image; 0 is background.

    Where masks overlap, the detection with the higher score wins, so the label image never
    depends on list order for overlapping pixels.
    """
    labels = np.zeros(shape, dtype=np.uint16)
    order = sorted(range(len(detections)), key=lambda i: detections[i].score)
    for i in order:  # lowest score first: higher scores overwrite
        labels[detections[i].mask] = detection_label(i)
    return labels


def overlay(frame: RGBImage, detections: Sequence[Detection], alpha: float = 0.45) -> RGBImage:
    """Blend each detection's mask in its colour over the frame and draw its box and name."""
    out = frame.copy()
    labels = label_image(detections, frame.shape[:2])
    for i, det in enumerate(detections):
        label = detection_label(i)
        colour = np.array(label_colour(label), np.uint8)
        region = labels == label
        out[region] = (out[region] * (1 - alpha) + colour * alpha).astype(np.uint8)
        bgr = label_colour(label)
        b = det.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.width - 1, b.y + b.height - 1), bgr, 2)
        text = f"{det.name} {det.score:.2f}"
        cv2.putText(out, text, (b.x, max(b.y - 5, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, bgr, 2)
    return out
