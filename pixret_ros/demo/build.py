"""Build the demo data set: a rosbag2 (mcap) of 640x480 frames, a gallery and COCO ground truth.

Why: `make demo` and the tests need data that installs with the project. Everything is made
from scikit-image's photos (demo/photos.py) composed into moving shots (demo/scenes.py), with a
seeded RNG, so a build is byte-for-byte reproducible and the ground truth is exact. Frames
are named `<header stamp in ns>.png` (DESIGN section 5), the names the evaluator gives the
bag's frames. The folder is written next to its final place and renamed when complete.

Layout of the output folder:
    bag/              rosbag2, mcap, sensor_msgs/Image rgb8 on /camera/image_raw at 15 Hz
    gallery/<name>/   view_000.png + view_000_mask.png per instance (DESIGN section 4)
    gt.json           COCO: every frame in images[], RLE masks, iscrowd 1 = barely visible
    preview.png       a contact sheet of frames with their ground truth drawn in
    manifest.json     what was built, from what, with the sha256 of every file
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from pycocotools import mask as coco_mask
from tqdm import tqdm

from pixret_ros.demo import photos, scenes, shots
from pixret_ros.engine import Gallery
from pixret_ros.engine.render import overlay
from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation.errors import EvaluationError
from pixret_ros.io.bag_reader import stamp_frame_name
from pixret_ros.io.bag_writer import write_image_bag

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, RGBImage

#: Bump when the generated data changes on purpose: it is part of the build fingerprint.
GENERATOR_VERSION = 1
TOPIC = "/camera/image_raw"
FRAME_ID = "camera"
RATE_HZ = 15
PERIOD_NS = 1_000_000_000 // RATE_HZ
START_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z: a fixed, realistic epoch stamp
#: An instance showing fewer pixels than this, or less than MIN_VISIBLE_FRACTION of itself,
#: is annotated as junk (iscrowd 1): that frame is left out of its ranking, neither hit nor miss.
MIN_VISIBLE_PIXELS = 400
MIN_VISIBLE_FRACTION = 0.2
DEFAULT_OUT = Path("build/demo")


@dataclass(frozen=True)
class DemoSummary:
    """What a build produced (also in manifest.json)."""

    out: Path
    frames: int
    instances: int
    positives: int
    junk: int
    empty_frames: int
    seconds: float
    reused: bool


def sprites() -> dict[str, scenes.Sprite]:
    """Every sprite the shots use: instances, distractors, backgrounds, the motorcycle scene."""
    out = {
        name: scenes.Sprite(inst.image, inst.mask, name)
        for name, inst in photos.instances().items()
    }
    for name, (image, mask) in photos.distractors().items():
        out[name] = scenes.Sprite(image, mask, None)
    for name, image in photos.backgrounds().items():
        out[name] = scenes.Sprite(image, np.ones(image.shape[:2], bool), None)
    right = photos.motorcycle_right_view()
    out["motorcycle_right"] = scenes.Sprite(right.image, right.mask, "motorcycle")
    return out


@dataclass(frozen=True)
class DemoFrame:
    """One frame of the demo: where it sits in the recording and its exact ground truth."""

    index: int
    stamp_ns: int
    shot: str
    image: RGBImage
    visible: dict[str, BoolMask]
    unoccluded_area: dict[str, int]


def frames(*, seed: int = 0, step: int = 1) -> Iterator[DemoFrame]:
    """Render the demo frames in recording order.

    Args:
        seed: seeds camera shake and sensor noise (the motion itself is hand-placed).
        step: keep every step-th frame (a quick variant for tests); a kept frame is identical
            to the same frame of the full build, stamp included.
    """
    made = sprites()
    index = 0
    for number, shot in enumerate(shots.sequences()):
        # RNGs seeded from (seed, shot number[, frame]): a frame never depends on which others
        # were rendered, so the quick variant's frames equal the full build's.
        composer = scenes.Composer(shot, made, (seed, number))
        for t in range(shot.length):
            if index % step == 0:
                composed = composer.render(t)
                yield DemoFrame(
                    index,
                    START_NS + index * PERIOD_NS,
                    shot.name,
                    composed.image,
                    composed.visible,
                    composed.unoccluded_area,
                )
            index += 1


def total_frames() -> int:
    """Number of frames of the full demo."""
    return sum(shot.length for shot in shots.sequences())


def _rle(mask: BoolMask) -> dict[str, object]:
    """COCO RLE of a bool mask, `counts` as a string (JSON-ready)."""
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": encoded["counts"].decode()}


class _CocoBuilder:
    """Collects COCO images and annotations as frames stream past (masks are not kept)."""

    def __init__(self, names: list[str]) -> None:
        self.category = {name: i + 1 for i, name in enumerate(names)}
        self.images: list[dict[str, object]] = []
        self.annotations: list[dict[str, object]] = []
        self.positives = 0
        self.junk = 0
        self.empty = 0

    def add(self, frame: DemoFrame) -> None:
        image_id = len(self.images) + 1
        self.images.append(
            {
                "id": image_id,
                "file_name": stamp_frame_name(frame.stamp_ns),
                "width": scenes.FRAME_WIDTH,
                "height": scenes.FRAME_HEIGHT,
            }
        )
        annotated = 0
        for name in sorted(frame.visible):
            mask = frame.visible[name]
            area = int(mask.sum())
            if area == 0:
                continue
            small = area < MIN_VISIBLE_PIXELS
            hidden = area < MIN_VISIBLE_FRACTION * frame.unoccluded_area[name]
            crowd = int(small or hidden)
            box = Box.of_mask(mask)
            self.annotations.append(
                {
                    "id": len(self.annotations) + 1,
                    "image_id": image_id,
                    "category_id": self.category[name],
                    "segmentation": _rle(mask),
                    "area": area,
                    "bbox": [box.x, box.y, box.width, box.height],
                    "iscrowd": crowd,
                }
            )
            self.junk += crowd
            self.positives += 1 - crowd
            annotated += 1 - crowd
        self.empty += annotated == 0

    def json(self, descriptions: dict[str, str]) -> dict[str, object]:
        return {
            "info": {
                "description": "pixret_ros demo: scikit-image photos composed into 5 shots",
                "version": str(GENERATOR_VERSION),
            },
            "images": self.images,
            "categories": [
                {"id": cid, "name": name, "supercategory": descriptions[name]}
                for name, cid in self.category.items()
            ],
            "annotations": self.annotations,
        }


def _write_gallery(folder: Path, instances: dict[str, photos.Instance]) -> None:
    """One view per instance (the clean source crop and its mask), through the engine's Gallery.

    So the demo gallery is exactly what a registration writes (DESIGN section 4).
    """
    gallery = Gallery(folder)
    for name, inst in instances.items():
        gallery.add(name, [inst.image], [inst.mask])


def _write_png(path: Path, image: np.ndarray) -> None:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if not cv2.imwrite(str(path), bgr):
        raise EvaluationError(f"cannot write {path}: check that the folder is writable")


def _preview(shown: list[DemoFrame], columns: int = 4) -> RGBImage:
    """Contact sheet: each frame with its ground truth drawn as the node's overlay would."""
    tiles = []
    for frame in shown:
        truths = [
            Detection(name, 1.0, Box.of_mask(mask), mask, 0, None, 0, accepted=True)
            for name, mask in sorted(frame.visible.items())
            if mask.sum() >= MIN_VISIBLE_PIXELS
        ]
        tile = overlay(frame.image, truths)
        cv2.putText(
            tile,
            f"{frame.shot} #{frame.index}",
            (8, 470),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (255, 255, 255),
            2,
        )
        tiles.append(cv2.resize(tile, (320, 240), interpolation=cv2.INTER_AREA))
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(seed: int, step: int) -> dict[str, object]:
    """What determines the bytes of a build: reused only when all of it matches."""
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "step": step,
        "scikit_image": version("scikit-image"),
        "opencv": cv2.__version__,
    }


def _up_to_date(out: Path, fingerprint: dict[str, object]) -> dict[str, object] | None:
    """The manifest of an existing complete build with this fingerprint, else None."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != fingerprint:
        return None
    files = manifest.get("files", {})
    if not isinstance(files, dict) or not all((out / rel).is_file() for rel in files):
        return None
    return manifest


def build(
    out: Path | str = DEFAULT_OUT,
    *,
    seed: int = 0,
    step: int = 1,
    force: bool = False,
    progress: bool = True,
) -> DemoSummary:
    """Build the demo folder `out` (reusing a complete build with the same fingerprint).

    Args:
        out: folder to create; an existing demo build there is replaced (when stale or forced),
            anything else there is an error (nothing is deleted that this tool did not make).
        seed: RNG seed (camera shake, sensor noise).
        step: keep every step-th frame (tests use a quick variant).
        force: rebuild even when an up-to-date build exists.
        progress: show a progress bar.
    """
    started = time.monotonic()
    out = Path(out)
    if step < 1:
        raise EvaluationError(f"step must be >= 1, got {step}")
    fingerprint = _fingerprint(seed, step)
    manifest = None if force else _up_to_date(out, fingerprint)
    if manifest is not None:
        counts = manifest["counts"]
        assert isinstance(counts, dict)  # noqa: S101 - written by us just below
        return DemoSummary(out, seconds=time.monotonic() - started, reused=True, **counts)
    if out.exists() and not (out / "manifest.json").is_file() and any(out.iterdir()):
        raise EvaluationError(
            f"{out} exists and is not a demo build (no manifest.json); choose another --out "
            "or remove it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        counts = _build_into(work, seed=seed, step=step, progress=progress)
        files = {  # the data; hidden files (the gallery's lock and counter) are bookkeeping
            str(rel): _sha256(work / rel)
            for rel in sorted(p.relative_to(work) for p in work.rglob("*") if p.is_file())
            if not any(part.startswith(".") for part in rel.parts)
        }
        manifest = {
            "fingerprint": fingerprint,
            "counts": counts,
            "topic": TOPIC,
            "frame_id": FRAME_ID,
            "rate_hz": RATE_HZ,
            "start_ns": START_NS,
            "shots": [
                {"name": s.name, "frames": s.length, "background": s.background}
                for s in shots.sequences()
            ],
            "instances": {n: i.description for n, i in photos.instances().items()},
            "files": files,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return DemoSummary(out, seconds=time.monotonic() - started, reused=False, **counts)


def _build_into(work: Path, *, seed: int, step: int, progress: bool) -> dict[str, int]:
    """Write bag, gallery, gt.json and preview.png into `work`; return the counts."""
    instances = photos.instances()
    _write_gallery(work / "gallery", instances)
    coco = _CocoBuilder(list(instances))
    total = -(-total_frames() // step)
    shown: list[DemoFrame] = []
    preview_every = max(total // 12, 1)

    def stream() -> Iterator[tuple[int, RGBImage]]:
        rendered = frames(seed=seed, step=step)
        bar = tqdm(rendered, total=total, desc="demo frames", unit="frame", disable=not progress)
        for number, frame in enumerate(bar):
            coco.add(frame)
            if number % preview_every == preview_every // 2 and len(shown) < 12:
                shown.append(frame)
            yield frame.stamp_ns, frame.image

    written = write_image_bag(work / "bag", stream(), TOPIC, storage="mcap", frame_id=FRAME_ID)
    descriptions = {name: inst.description for name, inst in instances.items()}
    (work / "gt.json").write_text(json.dumps(coco.json(descriptions)) + "\n")
    _write_png(work / "preview.png", _preview(shown))
    return {
        "frames": written,
        "instances": len(instances),
        "positives": coco.positives,
        "junk": coco.junk,
        "empty_frames": coco.empty,
    }
