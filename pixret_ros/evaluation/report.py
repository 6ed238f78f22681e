"""OUT/report.html: one self-contained page (images inline), readable offline.

It shows what metrics.json holds (the metric table, the per-instance table, speed) plus what
numbers cannot: precision/recall curves per instance and, per instance, overlays of its best
and worst annotated frame and of the frame it was most confidently wrong about. Overlays are
downscaled JPEGs (`THUMB_SIDE`, `JPEG_QUALITY`) so the page stays light (PNG photos
made a 12-instance page about 7 MB; JPEG about 1 MB); plots are inline SVG (svg_plots.py).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt

from pixret_ros.engine.render import overlay
from pixret_ros.engine.types import Box
from pixret_ros.evaluation.metrics import SCALAR_METRIC_KEYS, pr_curve
from pixret_ros.evaluation.svg_plots import Axes, Series, histogram, line_chart

if TYPE_CHECKING:
    from pathlib import Path

    from pixret_ros.engine.types import BoolMask, Detection, RGBImage
    from pixret_ros.evaluation.records import RankedFrame

#: Long side of an overlay thumbnail, pixels.
THUMB_SIDE = 360
#: JPEG quality of overlay thumbnails.
JPEG_QUALITY = 80
#: Instances shown with PR curves and overlays (the rest: tables only).
MAX_INSTANCES = 60
PickKind = Literal["best", "worst", "false positive", "first miss", "first false positive"]
_TRUTH_COLOUR = (255, 255, 255)
_SUMMARY = SCALAR_METRIC_KEYS
_SPEED = (
    "fps",
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_max",
    "engine_setup_s",
    "engine_time_s",
    "evaluator_overhead_ratio",
)
_RUN = (
    "method",
    "temporal",
    "source",
    "gallery",
    "ground_truth",
    "num_frames",
    "num_input_frames",
    "frames_not_in_ground_truth",
    "dropped_frames",
    "num_predictions",
    "unjudged_detections",
)


class Pick(NamedTuple):
    """A frame chosen to be shown for one instance, and why."""

    instance: str
    kind: PickKind
    frame: str
    score: float | None
    mask_iou: float


class Overlay(NamedTuple):
    """A rendered pick: JPEG bytes of the downscaled overlay."""

    pick: Pick
    jpeg: bytes


class ReportData(NamedTuple):
    """Everything the page shows.

    Attributes:
        metrics: the metrics.json dict (contract keys, timing keys, run description).
        rankings: per instance, its ranking of the frames (metrics.ranking).
        latencies_ms: engine time of every frame, input order (empty for recordings).
        overlays: rendered picks (render_pick), any order.
        streams_html: the streams section of a stream run (stream_report.section).
    """

    metrics: Mapping[str, object]
    rankings: Mapping[str, Sequence[RankedFrame]]
    latencies_ms: Sequence[float]
    overlays: Sequence[Overlay]
    streams_html: str = ""


def pick_frames(rankings: Mapping[str, Sequence[RankedFrame]]) -> list[Pick]:
    """Frames to show: per instance, its best and worst annotated frame and worst mistake.

    Best/worst by mask IoU (then score); the mistake is the highest-ranked frame that does not
    show the instance. Only the first MAX_INSTANCES instances by name are picked.
    """
    picks: list[Pick] = []
    for name in sorted(rankings)[:MAX_INSTANCES]:
        ranked = rankings[name]
        positives = [f for f in ranked if f.positive]
        if positives:
            # best: highest IoU, then highest score; worst: lowest IoU, then lowest score
            best = max(positives, key=lambda f: (f.mask_iou, _score(f)))
            worst = min(positives, key=lambda f: (f.mask_iou, _score(f)))
            picks.append(Pick(name, "best", best.frame, best.score, best.mask_iou))
            if worst.frame != best.frame:
                picks.append(Pick(name, "worst", worst.frame, worst.score, worst.mask_iou))
        wrong = next((f for f in ranked if not f.positive and f.score is not None), None)
        if wrong is not None:
            picks.append(Pick(name, "false positive", wrong.frame, wrong.score, 0.0))
    return picks


def _score(frame: RankedFrame) -> float:
    return -math.inf if frame.score is None else frame.score


def render_pick(
    image: RGBImage, pick: Pick, detection: Detection | None, truths: Mapping[str, BoolMask]
) -> Overlay:
    """Overlay the instance's detection (colour, box, score) and its true outline (white).

    Everything is scaled down to THUMB_SIDE first, so lines and labels stay legible.
    """
    factor = min(1.0, THUMB_SIDE / max(image.shape[:2]))
    size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
    canvas = _shrink(image, size, cv2.INTER_AREA)
    if detection is not None:
        mask = _shrink(detection.mask.astype(np.uint8), size, cv2.INTER_NEAREST) > 0
        small = dataclasses.replace(detection, mask=mask, box=Box.of_mask(mask))
        canvas = overlay(canvas, [small])
    truth = truths.get(pick.instance)
    if truth is not None:
        outline = _shrink(truth.astype(np.uint8), size, cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(outline, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(canvas, contours, -1, _TRUTH_COLOUR, 2)
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), params)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("OpenCV could not encode an overlay as JPEG")
    return Overlay(pick, jpeg.tobytes())


def _shrink(array: npt.NDArray[np.uint8], size: tuple[int, int], method: int) -> RGBImage:
    """`array` resized to (width, height) `size`; a copy even where the size is unchanged."""
    if size == (array.shape[1], array.shape[0]):
        return np.array(array, dtype=np.uint8)
    return np.asarray(cv2.resize(array, size, interpolation=method), dtype=np.uint8)


def _jpeg_img(data: bytes, alt: str) -> str:
    text = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/jpeg;base64,{text}">'


def _fmt(value: object) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1 else f"{value:.3f}"
    return html.escape(str(value))


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _pr_figure(rankings: Mapping[str, Sequence[RankedFrame]]) -> str | None:
    """Small multiples: per instance, image-level PR and pixel-level PR (mask IoU > 0.5)."""
    names = sorted(rankings)[:MAX_INSTANCES]
    if not names:
        return None
    charts = []
    for name in names:
        series = []
        for kind, label in ((None, "image"), ("S", "mask IoU>0.5")):
            curve = pr_curve(rankings[name], kind=kind, min_iou=0.5)  # type: ignore[arg-type]
            series.append(Series(label, [(p.recall, p.precision) for p in curve]))
        axes = Axes(230, 170, (0.0, 1.0), (0.0, 1.0), name, "recall", "precision")
        charts.append(line_chart(series, axes))
    return "<div class='row'>" + "".join(charts) + "</div>"


def _speed_figure(latencies_ms: Sequence[float]) -> str | None:
    """Engine ms per frame in input order, and their histogram with p50 and p95 marked."""
    if not latencies_ms:
        return None
    high = float(max(latencies_ms)) * 1.05
    per_frame = line_chart(
        [Series("engine ms", list(enumerate(latencies_ms)))],
        Axes(560, 190, (0.0, float(max(1, len(latencies_ms) - 1))), (0.0, high), "", "frame",
             "engine ms"),
    )  # fmt: skip
    markers = [float(np.percentile(latencies_ms, q)) for q in (50, 95)]
    spread = histogram(
        latencies_ms,
        min(50, max(5, len(latencies_ms) // 4)),
        markers,
        Axes(420, 190, (0.0, high), (0.0, 1.0), "", "engine ms per frame (dashed: p50, p95)"),
    )
    return f"<div class='row'>{per_frame}{spread}</div>"


_CSS = """
body{font-family:sans-serif;margin:1.5em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:right}
th{background:#eee} td:first-child{text-align:left}
.row{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:12px}
figure{margin:0} figcaption{font-size:12px}
"""


def render_html(data: ReportData) -> str:
    """The whole page as a string."""
    m = data.metrics
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pixret evaluation</title>",
        f"<style>{_CSS}</style></head><body><h1>pixret evaluation</h1>",
        _table([(k, m.get(k)) for k in _RUN if k in m], ["run", ""]),
        "<h2>Metrics</h2>",
        _table([(k, m.get(k)) for k in _SUMMARY], ["metric (DESIGN section 5)", "value"]),
        "<h2>Speed</h2>",
        (
            "<p>Engine time = the process() calls only; the overhead ratio is all other wall "
            "time of the run (reading, decoding, judging, writing) over the engine time.</p>"
        ),
        _table([(k, m.get(k)) for k in _SPEED], ["speed", "value"]),
    ]
    stages = m.get("stage_ms_median")
    if isinstance(stages, Mapping) and stages:
        parts.append(_table(sorted(stages.items()), ["engine stage", "median ms"]))
    speed = _speed_figure(data.latencies_ms)
    if speed is not None:
        parts.append(speed)
    config = m.get("config")
    if isinstance(config, Mapping) and config:
        parts.append("<details><summary>engine settings</summary>")
        parts.append(_table(sorted(config.items()), ["EngineConfig", "value"]) + "</details>")
    per_instance = m.get("per_instance")
    if isinstance(per_instance, Mapping) and per_instance:
        fields = list(next(iter(per_instance.values())))
        rows = [(name, *(per_instance[name].get(f) for f in fields)) for name in per_instance]
        parts += ["<h2>Per instance</h2>", _table(rows, ["instance", *fields])]
    parts.append(data.streams_html)
    pr = _pr_figure(data.rankings)
    if pr is not None:
        parts += ["<h2>Precision / recall</h2>", pr]
    parts.append(_overlay_section(data.overlays))
    parts.append("</body></html>")
    return "\n".join(parts)


def _overlay_section(overlays: Sequence[Overlay]) -> str:
    if not overlays:
        return ""
    order = {"best": 0, "worst": 1, "false positive": 2}
    by_instance: dict[str, list[Overlay]] = {}
    for item in sorted(overlays, key=lambda o: (o.pick.instance, order[o.pick.kind])):
        by_instance.setdefault(item.pick.instance, []).append(item)
    parts = [
        (
            "<h2>Frames</h2><p>Colour: the instance's best detection in the frame (box, "
            "score); white outline: the ground truth.</p>"
        )
    ]
    for name, items in by_instance.items():
        parts.append(f"<h3>{html.escape(name)}</h3><div class='row'>")
        for item in items:
            pick = item.pick
            score = "not detected" if pick.score is None else f"score {pick.score:.3f}"
            caption = f"{pick.kind}: {pick.frame}, {score}, mask IoU {pick.mask_iou:.2f}"
            parts.append(
                f"<figure>{_jpeg_img(item.jpeg, caption)}"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append("</div>")
    return "\n".join(parts)


def write_report(path: Path, data: ReportData) -> None:
    """Write the page to `path` (replaced atomically)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(render_html(data), encoding="utf-8")
    partial.replace(path)
