"""A tiny evaluation scene from scikit-image's photos: gallery, frames, bag and COCO truth.

Two planar instances (a crop of `coffee` and of `astronaut`) pasted at known places and
scales into 320x240 frames cut from real photos, so the true masks are exact. Four frames:
cup; astronaut; both; neither. Small enough that the real engine runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import skimage.data
from pycocotools import mask as coco_mask

from pixret_ros.engine.gallery import Gallery
from pixret_ros.engine.render import label_image
from pixret_ros.engine.types import Box, Detection
from pixret_ros.io import bag_writer

SIZE = (240, 320)  # frame (height, width)
TOPIC = "/camera/image_raw"
STAMPS = [1_700_000_000_000_000_000 + i * 66_666_667 for i in range(4)]
NAMES = [f"{s}.png" for s in STAMPS]
# The frames are 320 px wide, so the engine may work at that size: its registration then
# calibrates on background photos of that size too, about 2.5x cheaper than the default.
ENGINE_CONFIG = {"working_size": SIZE[1]}


class Scene(NamedTuple):
    gallery: Path
    gt: Path
    frames_dir: Path
    bag: Path
    frames: list[np.ndarray]
    truths: list[dict[str, np.ndarray]]  # per frame: instance -> bool mask


def views() -> dict[str, np.ndarray]:
    """The registered views: textured, planar crops of two photos."""
    return {
        "coffee_cup": skimage.data.coffee()[30:330, 150:450],
        "astronaut": skimage.data.astronaut()[0:300, 110:410],
    }


def backgrounds() -> list[np.ndarray]:
    """Two real backgrounds with no instance in them, frame-sized."""
    hubble = cv2.resize(skimage.data.hubble_deep_field()[:480, :640], SIZE[::-1])
    gravel = cv2.cvtColor(cv2.resize(skimage.data.gravel()[:480], SIZE[::-1]), cv2.COLOR_GRAY2RGB)
    return [hubble, gravel]


# frame -> [(instance, x, y, side)]: where each view is pasted, as a square of `side` pixels
PLACEMENTS: list[list[tuple[str, int, int, int]]] = [
    [("coffee_cup", 30, 40, 150)],
    [("astronaut", 150, 50, 160)],
    [("coffee_cup", 180, 70, 130), ("astronaut", 10, 20, 140)],
    [],
]


def compose() -> tuple[list[np.ndarray], list[dict[str, np.ndarray]]]:
    """The four frames and their true masks."""
    frames, truths = [], []
    for index, placements in enumerate(PLACEMENTS):
        frame = backgrounds()[index % 2].copy()
        masks: dict[str, np.ndarray] = {}
        for name, x, y, side in placements:
            frame[y : y + side, x : x + side] = cv2.resize(
                views()[name], (side, side), interpolation=cv2.INTER_AREA
            )
            mask = np.zeros(SIZE, bool)
            mask[y : y + side, x : x + side] = True
            # a later paste hides what it covers
            masks = {other: m & ~mask for other, m in masks.items()}
            masks[name] = mask
        frames.append(frame)
        truths.append(masks)
    return frames, truths


def coco(names: list[str], truths: list[dict[str, np.ndarray]]) -> dict[str, object]:
    """COCO ground truth of the frames (RLE segmentations)."""
    categories = sorted(views())
    annotations: list[dict[str, object]] = []
    for image_id, masks in enumerate(truths, start=1):
        for name, mask in masks.items():
            rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": categories.index(name) + 1,
                    "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                    "iscrowd": 0,
                }
            )
    return {
        "images": [
            {"id": i, "file_name": n, "height": SIZE[0], "width": SIZE[1]}
            for i, n in enumerate(names, start=1)
        ],
        "categories": [{"id": i, "name": n} for i, n in enumerate(categories, start=1)],
        "annotations": annotations,
    }


def make_scene(root: Path) -> Scene:
    """Write gallery/, frames/ (PNG named like bag frames), bag/ (mcap) and gt.json."""
    frames, truths = compose()
    gallery = Gallery(root / "gallery")
    for name, view in views().items():
        gallery.add(name, [view])
    frames_dir = root / "frames"
    frames_dir.mkdir()
    for name, frame in zip(NAMES, frames, strict=True):
        cv2.imwrite(str(frames_dir / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    bag_writer.write_image_bag(root / "bag", zip(STAMPS, frames, strict=True), TOPIC)
    gt = root / "gt.json"
    gt.write_text(json.dumps(coco(NAMES, truths)))
    return Scene(root / "gallery", gt, frames_dir, root / "bag", frames, truths)


def recorded_detections(truths: list[dict[str, np.ndarray]]) -> dict[int, list[Detection]]:
    """What a node could have published, with hand-computable metrics (see test_runner).

    Frame 0: the cup, exactly. Frame 1: the astronaut, top 3/4 of it (mask IoU 0.75).
    Frame 2: lost (not recorded). Frame 3: a false cup, and an instance the ground truth
    does not know. Plus an output for a frame the ground truth does not list.
    """
    cup = truths[0]["coffee_cup"]
    astronaut = truths[1]["astronaut"].copy()
    rows = np.flatnonzero(astronaut.any(axis=1))
    astronaut[rows[len(rows) * 3 // 4] :] = False
    false_cup = np.zeros(SIZE, bool)
    false_cup[10:60, 200:300] = True

    def det(name: str, score: float, mask: np.ndarray) -> Detection:
        return Detection(name, score, Box.of_mask(mask), mask, 30, None, 0, accepted=True)

    return {
        STAMPS[0]: [det("coffee_cup", 0.9, cup)],
        STAMPS[1]: [det("astronaut", 0.8, astronaut)],
        STAMPS[3]: [det("coffee_cup", 0.7, false_cup), det("teapot", 0.5, false_cup)],
        STAMPS[3] + 1: [det("astronaut", 0.6, cup)],
    }


def write_recording(bag: Path, scene: Scene, *, with_camera: bool = False) -> None:
    """A bag as `ros2 bag record` of the node's outputs (and the camera) would hold it."""
    with bag_writer.BagWriter(bag) as writer:
        if with_camera:
            for stamp, frame in zip(STAMPS, scene.frames, strict=True):
                writer.write_image(TOPIC, stamp, frame)
        for stamp, dets in recorded_detections(scene.truths).items():
            writer.write_detections("/pixret_node/detections", stamp, dets)
            writer.write_mask("/pixret_node/mask", stamp, label_image(dets, SIZE))
