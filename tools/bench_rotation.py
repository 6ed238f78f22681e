"""Rotation x scale (x tilt) sweep: is a registered region found however it lies and how far?

Real photos, exact truth: each registered view (Oxford regions of the dev set's gallery and
crops of scikit-image photos, every view resized to a long side of `VIEW_SIDE` pixels) is
warped by a known homography (rotation about its centre, scale relative to the registered
view, and a perspective tilt of the plane) onto a real background photo in a 640x480 frame;
the view's mask warped by the same homography is the truth. One frame per (cell, instance),
all instances registered in one gallery. Per cell: recall at mask IoU 0.5 (an accepted
detection of the right instance) and mean IoU (0 where none was accepted), for the engine's
defaults, the realtime profile, both with the rotation profile
(config/pixret_rotation.yaml) on top, and the SIFT baseline in one run; plus the index size and
registration ms per view. Writes a Markdown table and an SVG heat map.

Examples:
    PYTHONPATH=. .venv/bin/python tools/bench_rotation.py --data ../shared/data
    PYTHONPATH=. .venv/bin/python tools/bench_rotation.py --quick --skip-baseline
"""

from __future__ import annotations

import argparse
import html
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt
import skimage.data

from pixret_ros.engine import EngineConfig, Gallery, PixelRetriever
from pixret_ros.engine.baseline import SiftBaseline
from pixret_ros.evaluation.iou import mask_iou
from pixret_ros.settings.params_file import params_file_overrides, parse_overrides

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pixret_ros.engine.types import Detection, RGBImage

    Engine = PixelRetriever | SiftBaseline

Float64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

FRAME_SIZE = (640, 480)
VIEW_SIDE = 400
REALTIME_PARAMS = Path(__file__).resolve().parents[1] / "config" / "pixret_realtime.yaml"
ROTATION_PARAMS = REALTIME_PARAMS.with_name("pixret_rotation.yaml")
ROTATIONS = (0, 45, 90, 135, 180, 225, 270, 315)
SCALES = (0.25, 0.33, 0.5, 1.0, 2.0, 3.0, 4.0)
TILTS = ((50.0, 1.0), (60.0, 1.0), (60.0, 0.5))  # (degrees, scale)
QUICK_ROTATIONS = (0, 45, 90, 180)
QUICK_SCALES = (0.25, 0.33, 1.0, 3.0)
QUICK_TILTS = ((60.0, 1.0),)
OXFORD = ("wall_upper_left", "wall_lower_mid", "trees_avenue")
# (photo, x, y, width, height): textured regions of scikit-image photos.
PHOTO_REGIONS = {
    "photo_coffee": ("coffee", 150, 20, 300, 250),
    "photo_chelsea": ("chelsea", 100, 30, 240, 220),
    "photo_rocket": ("rocket", 100, 230, 360, 197),
}
BACKGROUNDS = ("astronaut", "camera", "hubble_deep_field")
IOU_HIT = 0.5


@dataclass(frozen=True)
class Cell:
    """One pose of the grid: rotation (degrees), scale vs. the registered view, tilt (degrees)."""

    rotation: float
    scale: float
    tilt: float = 0.0

    @property
    def row(self) -> str:
        """Its row label in the table (scale, and tilt where there is one)."""
        return f"x{self.scale:g}" + (f" tilt {self.tilt:g}" if self.tilt else "")


def photo(name: str) -> RGBImage:
    """A scikit-image photo as RGB uint8."""
    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8)


def pose_homography(
    cell: Cell, view_shape: tuple[int, int], frame_size: tuple[int, int]
) -> Float64:
    """View pixels -> frame pixels: the view's centre on the frame's, tilted, scaled, rotated.

    The tilt turns the view's plane by `cell.tilt` degrees about its vertical axis, seen by a
    pinhole camera at twice the view's diagonal (a true perspective, not only a squeeze);
    the scale is the view's size in the frame at its centre.
    """
    height, width = view_shape
    centre = np.array([[1.0, 0.0, -width / 2], [0.0, 1.0, -height / 2], [0.0, 0.0, 1.0]])
    distance = 2.0 * float(np.hypot(width, height))
    t = np.deg2rad(cell.tilt)
    tilt = np.array([[np.cos(t), 0.0, 0.0], [0.0, 1.0, 0.0], [np.sin(t) / distance, 0.0, 1.0]])
    a = np.deg2rad(cell.rotation)
    c, s = cell.scale * np.cos(a), cell.scale * np.sin(a)
    turn = np.array([[c, -s, frame_size[0] / 2], [s, c, frame_size[1] / 2], [0.0, 0.0, 1.0]])
    return np.asarray(turn @ tilt @ centre, dtype=np.float64)


def warped_frame(
    view: RGBImage, mask: Mask, homography: Float64, background: RGBImage
) -> tuple[RGBImage, Mask]:
    """`view` pasted onto `background` by `homography`, and the mask warped the same way."""
    size = (background.shape[1], background.shape[0])
    warped = cv2.warpPerspective(view, homography, size, flags=cv2.INTER_AREA)
    cover = cv2.warpPerspective(np.full(view.shape[:2], 255, np.uint8), homography, size) >= 128
    truth = cv2.warpPerspective(mask.astype(np.uint8) * 255, homography, size) >= 128
    out = background.copy()
    out[cover] = warped[cover]
    return out, np.asarray(truth)


def _at_side(image: RGBImage, mask: Mask, side: int) -> tuple[RGBImage, Mask]:
    factor = side / max(image.shape[:2])
    size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    small = np.asarray(cv2.resize(image, size, interpolation=method), np.uint8)
    m = cv2.resize(mask.astype(np.uint8) * 255, size, interpolation=cv2.INTER_LINEAR) >= 128
    return small, np.asarray(m)


def instances(data: Path | None, quick: bool) -> dict[str, tuple[RGBImage, Mask]]:
    """Registered views and masks: Oxford regions (if `data` is there) and photo regions."""
    out: dict[str, tuple[RGBImage, Mask]] = {}
    if data is not None and (data / "gallery").is_dir():
        for name in OXFORD[:1] if quick else OXFORD:
            folder = data / "gallery" / name
            bgr = np.asarray(cv2.imread(str(folder / "view_000.png")), np.uint8)
            grey = cv2.imread(str(folder / "view_000_mask.png"), cv2.IMREAD_GRAYSCALE)
            rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
            out[name] = _at_side(rgb, np.asarray(grey) > 0, VIEW_SIDE)
    for name, (source, x, y, w, h) in list(PHOTO_REGIONS.items())[: 2 if quick else None]:
        crop = np.ascontiguousarray(photo(source)[y : y + h, x : x + w])
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.42), int(h * 0.42)), 0, 0, 360, 1, -1)
        out[name] = _at_side(crop, mask.astype(bool), VIEW_SIDE)
    return out


def grid(quick: bool) -> list[Cell]:
    """The cells of the sweep."""
    rotations = QUICK_ROTATIONS if quick else ROTATIONS
    cells = [Cell(r, s) for s in (QUICK_SCALES if quick else SCALES) for r in rotations]
    cells += [Cell(r, s, t) for t, s in (QUICK_TILTS if quick else TILTS) for r in rotations]
    return cells


@dataclass
class CellResult:
    """Hits and IoUs of one method in one cell, over the instances."""

    hits: int = 0
    ious: float = 0.0
    count: int = 0
    false_accepts: int = 0

    @property
    def recall(self) -> float:
        """Fraction found with mask IoU >= 0.5."""
        return self.hits / max(1, self.count)

    @property
    def miou(self) -> float:
        """Mean IoU of the accepted detection (0 where none)."""
        return self.ious / max(1, self.count)


def judge(detections: Sequence[Detection], name: str, truth: Mask, result: CellResult) -> None:
    """Count the accepted detection of `name` (if any) and wrong accepted ones."""
    mine = [d for d in detections if d.accepted and d.name == name]
    result.false_accepts += sum(1 for d in detections if d.accepted and d.name != name)
    result.count += 1
    if mine:
        value = mask_iou(mine[0].mask, truth)
        result.ious += value
        result.hits += int(value >= IOU_HIT)


def sweep(
    engine: Engine, views: dict[str, tuple[RGBImage, Mask]], cells: Sequence[Cell]
) -> tuple[dict[Cell, CellResult], list[float]]:
    """Every cell for every instance; per-cell results and the ms of each frame."""
    backgrounds = [
        np.asarray(cv2.resize(photo(b), FRAME_SIZE, interpolation=cv2.INTER_AREA), np.uint8)
        for b in BACKGROUNDS
    ]
    results: dict[Cell, CellResult] = {}
    latencies: list[float] = []
    for c, cell in enumerate(cells):
        result = results.setdefault(cell, CellResult())
        for i, (name, (view, mask)) in enumerate(sorted(views.items())):
            homography = pose_homography(cell, view.shape[:2], FRAME_SIZE)
            frame, truth = warped_frame(view, mask, homography, backgrounds[(c + i) % 3])
            start = time.perf_counter()
            detections = engine.process(frame)
            latencies.append((time.perf_counter() - start) * 1000.0)
            judge(detections, name, truth, result)
    return results, latencies


def index_size(engine: Engine) -> tuple[int, float]:
    """(descriptors, MB) held for retrieval and verification (0 for the baseline's BF lists)."""
    if isinstance(engine, PixelRetriever):
        templates = engine.loaded.templates
        count = sum(len(t.descriptors) for t in templates)
        nbytes = sum(t.descriptors.nbytes + t.keypoints.nbytes for t in templates)
        return count, nbytes / 1e6
    held = [v.descriptors for v in engine._views]  # noqa: SLF001
    return sum(len(d) for d in held), sum(d.nbytes for d in held) / 1e6


def register(
    folder: Path, views: dict[str, tuple[RGBImage, Mask]], make: Callable[[Path], Engine]
) -> tuple[Engine, float]:
    """A fresh gallery of `views` and an engine over it; registration ms per view (median).

    The median, because the first view registered in a process also pays one-time costs
    (the models' first calls, the background photos' features): about 600 ms more than the
    next ones (defaults, 4 views: 865 / 284 / 280 / 256 ms), which the mean of a 3-6 view
    sweep spread over every view.
    """
    if folder.exists():
        shutil.rmtree(folder)
    gallery = Gallery(folder)
    for name, (view, mask) in views.items():
        gallery.add(name, [view], [mask])
    engine = make(folder)
    per_view = list(engine.last_registration_ms.values())
    return engine, float(np.median(per_view)) if per_view else -1.0


def table(name: str, results: dict[Cell, CellResult]) -> list[str]:
    """Markdown rows: one per scale (and tilt), one column per rotation: recall / mIoU."""
    rotations = sorted({c.rotation for c in results})
    rows = list(dict.fromkeys(c.row for c in results))
    lines = [
        f"| {name} | " + " | ".join(f"{r:g} deg" for r in rotations) + " |",
        "|---" * (len(rotations) + 1) + "|",
    ]
    for row in rows:
        cells = {c.rotation: r for c, r in results.items() if c.row == row}
        lines.append(
            f"| {row} | "
            + " | ".join(f"{cells[r].recall:.2f} / {cells[r].miou:.2f}" for r in rotations)
            + " |"
        )
    return lines


def heat_map(all_results: dict[str, dict[Cell, CellResult]]) -> str:
    """An SVG heat map of recall per cell, one panel per method (text: recall and mIoU)."""
    cell_w, cell_h, left, top, gap = 64, 26, 96, 40, 30
    parts: list[str] = []
    y = 10
    width = 0
    for method, results in all_results.items():
        rotations = sorted({c.rotation for c in results})
        rows = list(dict.fromkeys(c.row for c in results))
        width = max(width, left + cell_w * len(rotations) + 10)
        parts.append(f"<text x='4' y='{y + 14}' font-size='13'>{html.escape(method)}</text>")
        for j, rotation in enumerate(rotations):
            x = left + j * cell_w + cell_w / 2
            label = f"{rotation:g} deg"
            parts.append(
                f"<text x='{x}' y='{y + 32}' font-size='10' text-anchor='middle'>{label}</text>"
            )
        for i, row in enumerate(rows):
            ry = y + top + i * cell_h
            parts.append(f"<text x='4' y='{ry + 17}' font-size='10'>{html.escape(row)}</text>")
            for j, rotation in enumerate(rotations):
                res = next(r for c, r in results.items() if c.row == row and c.rotation == rotation)
                red, green = round(255 * (1 - res.recall)), round(200 * res.recall)
                rx = left + j * cell_w
                parts.append(
                    f"<rect x='{rx}' y='{ry}' width='{cell_w - 2}' height='{cell_h - 2}' "
                    f"fill='rgb({red},{green},60)'/>"
                    f"<text x='{rx + cell_w / 2 - 1}' y='{ry + 16}' font-size='10' "
                    f"text-anchor='middle' fill='white'>{res.recall:.2f}/{res.miou:.2f}</text>"
                )
        y += top + len(rows) * cell_h + gap
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{y}' "
        f"viewBox='0 0 {width} {y}' role='img'><title>rotation x scale sweep: "
        "recall at IoU 0.5 / mean IoU</title>"
    )
    return head + "".join(parts) + "</svg>"


def methods(args: argparse.Namespace) -> dict[str, Callable[[Path], Engine]]:
    """The engines to sweep, by label."""
    config = EngineConfig(**parse_overrides(args.config))  # type: ignore[arg-type]
    realtime = EngineConfig(**params_file_overrides(args.realtime_params))  # type: ignore[arg-type]
    turned = params_file_overrides(args.rotation_params)
    rotation = EngineConfig(**{**parse_overrides(args.config), **turned})  # type: ignore[arg-type]
    fast = EngineConfig(**{**params_file_overrides(args.realtime_params), **turned})  # type: ignore[arg-type]
    out: dict[str, Callable[[Path], Engine]] = {
        "pixret": lambda g: PixelRetriever(Gallery(g), config),
        "pixret-realtime": lambda g: PixelRetriever(Gallery(g), realtime),
        "pixret-rotation": lambda g: PixelRetriever(Gallery(g), rotation),
        "pixret-realtime-rotation": lambda g: PixelRetriever(Gallery(g), fast),
    }
    if not args.skip_baseline:
        out["baseline"] = lambda g: SiftBaseline(Gallery(g), config)
    return out


def build_parser() -> argparse.ArgumentParser:
    """Command line of the sweep."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data", help="dev set (Oxford views)")
    parser.add_argument("--out", default="build/bench_rotation", help="table and heat map here")
    parser.add_argument("--quick", action="store_true", help="a small grid (about a minute)")
    parser.add_argument("--config", nargs="*", default=[], help="EngineConfig KEY=VALUE")
    parser.add_argument("--realtime-params", default=str(REALTIME_PARAMS))
    parser.add_argument("--rotation-params", default=str(ROTATION_PARAMS))
    parser.add_argument("--skip-baseline", action="store_true")
    return parser


def run(args: argparse.Namespace) -> list[str]:
    """The sweep of every method; returns the report's lines (also written to --out)."""
    data = Path(args.data) if args.data else None
    views = instances(data, args.quick)
    cells = grid(args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pixret_rotation_"))
    names = ", ".join(sorted(views))
    title = f"rotation x scale sweep: {len(views)} instances ({names}), {len(cells)} cells"
    lines = [f"{title}; cell = recall at IoU 0.5 / mean IoU", ""]
    costs = ["| method | index descriptors | index MB | registration ms/view | ms/frame p50 |"]
    costs.append("|---|---|---|---|---|")
    all_results: dict[str, dict[Cell, CellResult]] = {}
    try:
        for label, make in methods(args).items():
            engine, reg_ms = register(work / label, views, make)
            results, latencies = sweep(engine, views, cells)
            all_results[label] = results
            count, mb = index_size(engine)
            costs.append(
                f"| {label} | {count} | {mb:.1f} | {reg_ms:.0f} | {np.median(latencies):.0f} |"
            )
            wrong = sum(r.false_accepts for r in results.values())
            lines += [*table(label, results), "", f"{label}: {wrong} wrong accepted detections", ""]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines += costs
    (out / "heatmap.svg").write_text(heat_map(all_results))
    (out / "table.md").write_text("\n".join(lines) + "\n")
    lines.append(f"\nwritten: {out / 'table.md'}, {out / 'heatmap.svg'}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep and print its table."""
    print("\n".join(run(build_parser().parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
