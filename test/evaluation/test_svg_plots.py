"""Inline SVG charts: valid XML, data mapped inside the plot box, legends and markers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # parses our own output only

from pixret_ros.evaluation.svg_plots import Axes, Series, histogram, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_line_chart_maps_the_range_onto_the_box() -> None:
    axes = Axes(200, 100, (0.0, 1.0), (0.0, 1.0), "cup & saucer", "recall", "precision")
    text = line_chart([Series("image", [(0.0, 0.0), (1.0, 1.0)]), Series("mask", [])], axes)
    root = ET.fromstring(text)  # noqa: S314 (our own output: well-formed, names escaped)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 1  # an empty series draws nothing
    (x0, y0), (x1, y1) = (
        tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()
    )
    assert (x0, y1) == (34.0, 8.0)  # left edge of the box; top of the box
    assert (x1, y0) == (192.0, 74.0)  # right edge; bottom (y grows downwards)
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert {"image", "mask", "cup & saucer", "recall", "precision"} <= set(labels)


def test_histogram_counts_and_marks() -> None:
    axes = Axes(200, 100, (0.0, 10.0), (0.0, 1.0), "", "ms")
    text = histogram([1.0, 1.5, 9.0], 5, [5.0], axes)
    root = ET.fromstring(text)  # noqa: S314 (our own output)
    bars = [r for r in root.findall(f"{SVG}rect") if r.get("fill") != "none"]
    heights = sorted(float(r.get("height", "0")) for r in bars)
    assert len(bars) == 2  # two non-empty bins
    assert heights[1] == 2 * heights[0]  # 2 values vs 1
    assert len(root.findall(f"{SVG}line")) == 1
    assert re.search(r">2</text>", text)  # y range ends at the highest count
