"""The report's streams section: per stream its figures, J over time and a filmstrip.

Why: a stream's mean J hides when things went wrong. The plot shows where a track was lost
or never started; the filmstrip shows what the node published at the moments that matter:
the worst frames, the first frame it missed the object (J < 0.5) and the first frame it
published an instance that was not there.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from pixret_ros.engine.types import Detection
from pixret_ros.evaluation.report import Overlay, Pick, _jpeg_img, _table, render_pick
from pixret_ros.evaluation.stream_metrics import RECALL_J, PairScore, StreamScorer
from pixret_ros.evaluation.svg_plots import Axes, Series, line_chart

if TYPE_CHECKING:
    from pixret_ros.evaluation.ground_truth import GroundTruth
    from pixret_ros.io.frames import Frame

#: Frames of lowest J shown per stream.
WORST_FRAMES = 3
#: Columns of the per-stream table (keys of metrics.json's per_stream entries).
COLUMNS = ("J", "F", "recall50", "frames", "positives", "false_positives", "fp_per_frame")

Images = Callable[[set[str]], Iterator["Frame"]]


def pick_stream_frames(frames: Sequence[str], scorer: StreamScorer) -> list[Pick]:
    """The filmstrip of one stream: first miss, worst published frames, first false positive.

    "Worst" is among the frames where the instance was published (a wrong mask); frames where
    it was not are all J 0 alike, and the first of them is the first miss.
    """
    order = {f: i for i, f in enumerate(frames)}
    mine = sorted((s for s in scorer.scores if s.frame in order), key=lambda s: order[s.frame])
    picks = []
    miss = next((s for s in mine if s.j < RECALL_J), None)
    if miss is not None:
        picks.append(Pick(miss.instance, "first miss", miss.frame, None, miss.j))
    shown = [s for s in mine if (s.frame, s.instance) in scorer.published and s != miss]
    picks += [
        Pick(s.instance, "worst", s.frame, None, s.j)
        for s in sorted(shown, key=lambda s: (s.j, order[s.frame]))[:WORST_FRAMES]
    ]
    false_positives = scorer.false_positives
    wrong = next((f for f in frames if false_positives.get(f)), None)
    if wrong is not None:
        picks.append(Pick(false_positives[wrong][0], "first false positive", wrong, None, 0.0))
    return picks


def _j_figure(name: str, frames: Sequence[str], scores: Sequence[PairScore]) -> str:
    """J of each positive instance over the stream's frames (x = position in the stream)."""
    order = {f: i for i, f in enumerate(frames)}
    lines: dict[str, list[tuple[float, float]]] = {}
    for score in scores:
        if score.frame in order:
            lines.setdefault(score.instance, []).append((float(order[score.frame]), score.j))
    series = [Series(f"J {inst}", sorted(points)) for inst, points in sorted(lines.items())]
    axes = Axes(560, 170, (0.0, float(max(1, len(frames) - 1))), (0.0, 1.0), name, "frame", "J")
    return line_chart(series, axes)


def _render(
    picks: Sequence[Pick], scorer: StreamScorer, gt: GroundTruth, images: Images
) -> list[Overlay]:
    """Overlays of the picks: what was published (colour) and the truth (white outline)."""
    by_frame: dict[str, list[Pick]] = {}
    for pick in picks:
        by_frame.setdefault(pick.frame, []).append(pick)
    out = []
    for frame in images(set(by_frame)):
        truths = gt.masks(frame.name)
        shape = frame.image.shape[:2]
        for pick in by_frame.get(frame.name, []):
            published = scorer.published.get((frame.name, pick.instance))
            det = None
            if published is not None:
                det = Detection(
                    pick.instance,
                    published.score,
                    published.box,
                    published.mask(shape),
                    0,
                    None,
                    -1,
                    accepted=True,
                )
                pick = pick._replace(score=published.score)  # noqa: PLW2901 - shown score
            out.append(render_pick(frame.image, pick, det, truths))
    return out


def section(
    streams: Sequence[tuple[str, Sequence[str]]],
    scorer: StreamScorer,
    gt: GroundTruth,
    images: Images,
    per_stream: Mapping[str, Mapping[str, object]],
) -> str:
    """The streams section of report.html (empty for a run without streams)."""
    if not streams:
        return ""
    rows = [(name, *(per_stream.get(name, {}).get(c) for c in COLUMNS)) for name, _ in streams]
    parts = [
        "<h2>Streams</h2>",
        (
            "<p>What the node publishes: per positive frame the union of the accepted masks "
            "of the true instance (J 0 when none). J over time per stream; filmstrip: the "
            f"worst frames, the first miss (J &lt; {RECALL_J}) and the first false positive. "
            "Colour: published; white outline: truth.</p>"
        ),
        _table(rows, ["stream", *COLUMNS]),
    ]
    picks = {name: pick_stream_frames(frames, scorer) for name, frames in streams}
    rendered = _render([p for ps in picks.values() for p in ps], scorer, gt, images)
    by_key = {(o.pick.frame, o.pick.instance, o.pick.kind): o for o in rendered}
    for name, frames in streams:
        parts.append(f"<h3>{html.escape(name)}</h3><div class='row'>")
        parts.append(_j_figure(name, frames, scorer.scores) + "</div><div class='row'>")
        for pick in picks[name]:
            item = by_key.get((pick.frame, pick.instance, pick.kind))
            if item is None:
                continue
            shown = item.pick
            score = "not published" if shown.score is None else f"score {shown.score:.3f}"
            caption = f"{shown.kind}: {shown.frame} {shown.instance}, {score}"
            if shown.kind != "first false positive":
                caption += f", J {shown.mask_iou:.2f}"
            parts.append(
                f"<figure>{_jpeg_img(item.jpeg, caption)}"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append("</div>")
    return "\n".join(parts)
