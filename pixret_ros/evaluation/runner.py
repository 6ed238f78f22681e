"""Run the engine over a recording or a folder and write predictions, metrics and the report.

The evaluator runs the very same `PixelRetriever` the node runs, in-process (no DDS), so the
offline numbers are the node's numbers (DESIGN section 1). Only `process()` calls count as
engine time; everything else (reading and decoding frames, judging detections against the
truth, writing files, metrics, the report) is evaluator overhead and is reported as a ratio
of the engine time in `metrics.json` (`evaluator_overhead_ratio`; target <= 0.2).

`--recorded` evaluates what the node itself published instead (its `~/detections` and
`~/mask` recorded into a bag): frames the recording lacks count as dropped (missed).

Streams (DESIGN section 5.1, streams.py): sub-folders of a frames folder, each of several
bags or recordings, or the ground truth's `stream` fields make a stream run: the engine is
reset before each stream and sees its frames strictly in time order, and metrics.json gains
the stream keys of stream_metrics.py. Stream mode (`EngineConfig.temporal`) is then on
unless the run says otherwise (`streams.stream_mode`), as on the node, which runs one stream per
camera.

This module only strings the steps together; each has a module of its own: sources.py (where
frames come from), engines.py (the engine and its protocol), timing.py (engine vs. evaluator
time), judge.py (detections against the truth), coco_io.py (predictions.json), recorded.py
(the node's recorded outputs) and overlays.py (the report's pictures).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from pixret_ros.errors import InputError
from pixret_ros.evaluation import engines, report, stream_report, streams
from pixret_ros.evaluation.coco_io import PredictionWriter
from pixret_ros.evaluation.engines import Engine, Method, open_gallery
from pixret_ros.evaluation.ground_truth import GroundTruth, load_ground_truth
from pixret_ros.evaluation.judge import Judge
from pixret_ros.evaluation.metrics import METRIC_KEYS, compute_metrics
from pixret_ros.evaluation.overlays import render_overlays
from pixret_ros.evaluation.ranking import ranking
from pixret_ros.evaluation.recorded import judge_recording, resolve_recording_topics
from pixret_ros.evaluation.sources import Source, frame_images
from pixret_ros.evaluation.stream_metrics import StreamScorer, stream_metrics
from pixret_ros.evaluation.timing import Timer
from pixret_ros.io.frames import Frame

#: The three files `run` writes into OUT.
PREDICTIONS, METRICS, REPORT = "predictions.json", "metrics.json", "report.html"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """One evaluation run (the arguments of `pixret-eval run`).

    Attributes:
        gallery: gallery folder (DESIGN section 4); the engine may write caches into it.
        gt: COCO ground-truth json.
        source: frames or recorded outputs.
        out: folder for predictions.json, metrics.json and report.html (created if missing).
        method: `pixret` (PixelRetriever) or `baseline` (SIFT + homography).
        temporal: stream mode (`EngineConfig.temporal`) on or off; None = `config`'s
            `temporal` where it has one, else on for streams and off for single photos
            (`stream_mode`). Frames are always passed in time order.
        config: EngineConfig field overrides, e.g. {"score_threshold": 0.6}.
        progress: show a tqdm progress bar on stderr.
    """

    gallery: Path
    gt: Path
    source: Source
    out: Path
    method: Method = "pixret"
    temporal: bool | None = None
    config: Mapping[str, object] = dataclasses.field(default_factory=dict)
    progress: bool = True


class RunResult(NamedTuple):
    """What a run produced: the metrics dict (as written) and the paths of the three files."""

    metrics: dict[str, object]
    predictions: Path
    metrics_path: Path
    report: Path


def check_inputs(gt: GroundTruth, input_names: Sequence[str], gallery_names: Sequence[str]) -> None:
    """Refuse a run whose ground truth does not fit its input, before any frame is processed.

    Raises:
        InputError: duplicate input frame names; ground-truth frames the input lacks; ground-
            truth instances the gallery lacks. Each message names them (the first ten).
    """
    counts = Counter(input_names)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise InputError(
            f"{len(duplicates)} input frames share a name ({_some(duplicates)}); frames are "
            "named by header stamp, so every message needs its own stamp"
        )
    missing = [f for f in gt.frames if f not in counts]
    if missing:
        raise InputError(
            f"ground truth {gt.path} names {len(missing)} frames the input lacks: "
            f"{_some(missing)}; the input's frames are named like {_some(list(input_names), 3)} "
            "(bag frames are <header stamp ns>.png, as `pixret-eval export-frames` writes them)"
        )
    known = set(gallery_names)
    unknown = [name for name in gt.instances if name not in known]
    if unknown:
        raise InputError(
            f"ground truth {gt.path} names instances the gallery lacks: {_some(unknown)}; "
            f"the gallery has {_some(list(gallery_names)) or 'no instances'}"
        )


def _some(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _run_engine(
    engine: Engine, source: Source, names: Sequence[str], judge: Judge, timer: Timer, *, bar: bool
) -> None:
    """Pass every input frame through the engine in order, timing only `process()`."""
    frames = tqdm(source.frames(), total=len(names), unit="frame", disable=not bar, desc="frames")
    for frame in frames:
        _process(engine, frame, judge, timer)


def _run_streams(
    engine: Engine,
    plan: Sequence[streams.Stream],
    topic: str | None,
    judge: Judge,
    timer: Timer,
    *,
    bar: bool,
) -> None:
    """Each stream from a fresh engine state, its frames strictly in time order."""
    total = sum(len(s.frames) for s in plan)
    with tqdm(total=total, unit="frame", disable=not bar, desc="frames") as progress:
        for stream in plan:
            engine.reset_stream()
            for frame in streams.read_stream(stream, topic):
                _process(engine, frame, judge, timer)
                progress.update()


def _process(engine: Engine, frame: Frame, judge: Judge, timer: Timer) -> None:
    """One frame through the engine (only `process()` is timed) and judged."""
    judge.add(frame.name, frame.image.shape[:2], timer.process(engine, frame.image))


class _Prepared(NamedTuple):
    """A run's checked inputs: the truth, the frames, the streams and the engine (if any)."""

    source: Source
    gt: GroundTruth
    input_names: list[str]
    gallery_names: list[str]
    plan: list[streams.Stream] | None
    engine: Engine | None
    settings: dict[str, object]


def _prepare(options: RunOptions, timer: Timer) -> _Prepared:
    """Read the truth, list the input and plan its streams, then build the engine."""
    source = options.source
    if source.kind == "recorded":
        source = resolve_recording_topics(source)
        gt = load_ground_truth(options.gt, qualified=bool(source.more))
        plan = streams.plan_streams(streams.recorded_frames(source.paths, gt), gt)
        return _Prepared(source, gt, list(gt.frames), list(gt.instances), plan, None, {})
    listing = source.listing()
    gt = load_ground_truth(options.gt, qualified=streams.qualified_names(listing))
    listing = streams.name_by_stamp(listing, gt)
    input_names = [f.name for f in listing]
    gallery = open_gallery(options.gallery)
    check_inputs(gt, input_names, gallery.names())  # before the (slow) engine set-up
    plan = streams.plan_streams(listing, gt)
    temporal = streams.stream_mode(
        options.config, temporal=options.temporal, streams_run=plan is not None
    )
    setup = time.perf_counter()
    engine, settings = engines.build_engine(
        gallery, options.method, temporal=temporal, config=options.config
    )
    timer.setup_s = time.perf_counter() - setup
    return _Prepared(source, gt, input_names, gallery.names(), plan, engine, settings)


def run(options: RunOptions) -> RunResult:
    """Evaluate one method on one input against one ground truth; write the three files."""
    timer = Timer()
    source, gt, input_names, gallery_names, plan, engine, settings = _prepare(options, timer)
    options.out.mkdir(parents=True, exist_ok=True)
    writer = PredictionWriter(options.out / PREDICTIONS)
    judge = Judge(gt, writer, gallery_names)
    if plan is not None:
        judge.scorer = StreamScorer(gt)
    dropped = 0
    try:
        if engine is None:
            dropped = judge_recording(source, gt, judge, bar=options.progress)
        elif plan is None:
            _run_engine(engine, source, input_names, judge, timer, bar=options.progress)
        else:
            _run_streams(engine, plan, source.topic, judge, timer, bar=options.progress)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    frames = [name for name in input_names if name in judge.frames]
    truths = gt.truths()
    metrics: dict[str, object] = dict(compute_metrics(frames, truths, judge.records))
    judged = [(s.name, [f.name for f in s.frames if f.name in judge.frames]) for s in plan or []]
    if judge.scorer is not None:
        metrics.update(stream_metrics(judged, judge.scorer))
    if engine is None:
        metrics.update(fps=None, latency_ms_p50=None, latency_ms_p95=None)
    else:
        metrics.update(timer.figures(len(input_names)))
    metrics.update(
        method="recorded" if engine is None else options.method,
        temporal=None if engine is None else bool(settings.get("temporal", False)),
        source=source.describe(),
        gallery=str(options.gallery),
        ground_truth=str(options.gt),
        num_frames=len(frames),
        num_input_frames=len(input_names),
        frames_not_in_ground_truth=judge.outside,
        dropped_frames=dropped,
        num_predictions=writer.count,
        unjudged_detections=judge.unjudged,
        category_ids=judge.category_ids,
        config=settings,
    )
    rankings = {t.name: ranking(frames, judge.records, truth=t) for t in truths}

    def images(wanted: set[str]) -> Iterator[Frame]:
        return frame_images(source, gt, plan, wanted)

    overlays = render_overlays(images, gt, rankings, judge.kept)
    streams_html = ""
    if judge.scorer is not None:
        per_stream = metrics["per_stream"]
        assert isinstance(per_stream, dict)  # noqa: S101 - stream_metrics wrote it
        streams_html = stream_report.section(judged, judge.scorer, gt, images, per_stream)
    report_path = options.out / REPORT
    metrics["evaluator_overhead_ratio"] = timer.overhead_ratio()
    report.write_report(
        report_path,
        report.ReportData(
            metrics=metrics,
            rankings=rankings,
            latencies_ms=timer.latencies_ms,
            overlays=overlays,
            streams_html=streams_html,
        ),
    )
    metrics["evaluator_overhead_ratio"] = timer.overhead_ratio()  # now with the report
    metrics_path = options.out / METRICS
    _write_json(metrics_path, metrics)
    return RunResult(metrics, options.out / PREDICTIONS, metrics_path, report_path)


def _write_json(path: Path, data: Mapping[str, object]) -> None:
    """Write strict JSON atomically (no NaN: undefined figures are null)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    partial.replace(path)


#: Keys printed by `pixret-eval run` (the contract keys, per_instance aside).
SUMMARY_KEYS: tuple[str, ...] = (
    *[k for k in METRIC_KEYS if k != "per_instance"],
    "fps",
    "latency_ms_p50",
    "latency_ms_p95",
    "evaluator_overhead_ratio",
    "dropped_frames",
)
