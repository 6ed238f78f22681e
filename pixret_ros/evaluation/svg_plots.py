"""Small inline SVG charts for the HTML report: line charts and histograms.

Why not matplotlib: the report's two figures took 2-3 s of a 14 s evaluation of the dev set
(import, layout and PNG rendering), most of the evaluator's overhead once the engine got fast;
a few polylines written as text take milliseconds, stay sharp when zoomed and keep the report
one self-contained file.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
_MARGIN = (34, 8, 8, 26)  # left, right, top, bottom, in pixels


@dataclass(frozen=True)
class Series:
    """One line of a chart: a label and its (x, y) points."""

    label: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Axes:
    """Size (pixels) and data ranges of one chart, with its labels."""

    width: int
    height: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    title: str = ""
    x_label: str = ""
    y_label: str = ""


def _mapper(axes: Axes) -> tuple[float, float, float, float]:
    """(x scale, x offset, y scale, y offset) from data to pixel coordinates."""
    left, right, top, bottom = _MARGIN
    (x0, x1), (y0, y1) = axes.x_range, axes.y_range
    sx = (axes.width - left - right) / max(x1 - x0, 1e-12)
    sy = (axes.height - top - bottom) / max(y1 - y0, 1e-12)
    return sx, left - x0 * sx, -sy, axes.height - bottom + y0 * sy


def _frame(axes: Axes, body: str) -> str:
    """The chart's box, tick labels at the range ends, axis labels and title around `body`."""
    left, right, top, bottom = _MARGIN
    w, h = axes.width, axes.height
    (x0, x1), (y0, y1) = axes.x_range, axes.y_range
    text = "font-size='9' fill='#444'"
    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' "
            f"viewBox='0 0 {w} {h}' role='img'>"
        ),
        f"<title>{html.escape(axes.title or axes.y_label)}</title>",
        (
            f"<rect x='{left}' y='{top}' width='{w - left - right}' "
            f"height='{h - top - bottom}' fill='none' stroke='#999'/>"
        ),
        body,
        f"<text x='{left}' y='{h - bottom + 10}' {text}>{x0:g}</text>",
        f"<text x='{w - right}' y='{h - bottom + 10}' text-anchor='end' {text}>{x1:.4g}</text>",
        f"<text x='{left - 2}' y='{h - bottom}' text-anchor='end' {text}>{y0:g}</text>",
        f"<text x='{left - 2}' y='{top + 8}' text-anchor='end' {text}>{y1:.4g}</text>",
        (
            f"<text x='{(left + w - right) / 2}' y='{h - 3}' text-anchor='middle' {text}>"
            f"{html.escape(axes.x_label)}</text>"
        ),
        f"<text x='{left + 4}' y='{top + 10}' {text}>{html.escape(axes.title)}</text>",
    ]
    if axes.y_label:
        parts.append(
            f"<text x='9' y='{(top + h - bottom) / 2}' text-anchor='middle' {text} "
            f"transform='rotate(-90 9 {(top + h - bottom) / 2})'>{html.escape(axes.y_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: Sequence[Series], axes: Axes) -> str:
    """Polylines of `series` in one chart, with a legend when there are several."""
    sx, ox, sy, oy = _mapper(axes)
    body = []
    for i, line in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        if line.points:
            coords = " ".join(f"{x * sx + ox:.1f},{y * sy + oy:.1f}" for x, y in line.points)
            body.append(
                f"<polyline points='{coords}' fill='none' stroke='{colour}' stroke-width='1.5'/>"
            )
        if len(series) > 1:
            y = _MARGIN[2] + 22 + 11 * i
            body.append(
                f"<text x='{_MARGIN[0] + 4}' y='{y}' font-size='9' fill='{colour}'>"
                f"{html.escape(line.label)}</text>"
            )
    return _frame(axes, "".join(body))


def histogram(values: Sequence[float], bins: int, markers: Sequence[float], axes: Axes) -> str:
    """Bars of a histogram of `values` over `axes.x_range`, dashed lines at `markers`."""
    counts, edges = np.histogram(np.asarray(values, np.float64), bins=bins, range=axes.x_range)
    top = max(1, int(counts.max()))
    scaled = Axes(
        axes.width, axes.height, axes.x_range, (0.0, float(top)), axes.title, axes.x_label
    )
    sx, ox, sy, oy = _mapper(scaled)
    body = [
        f"<rect x='{a * sx + ox:.1f}' y='{c * sy + oy:.1f}' "
        f"width='{max(0.5, (b - a) * sx - 1):.1f}' height='{-c * sy:.1f}' fill='{COLOURS[0]}'/>"
        for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
        if c
    ]
    for marker in markers:
        x = marker * sx + ox
        body.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{_MARGIN[2]}' y2='{oy:.1f}' stroke='#000' "
            "stroke-dasharray='3,2'/>"
        )
    return _frame(scaled, "".join(body))
