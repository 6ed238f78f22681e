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
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

import numpy as np
from pycocotools import mask as coco_mask
from tqdm import tqdm

from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation import bag_io, report, stream_report, streams
from pixret_ros.evaluation.errors import InputError
from pixret_ros.evaluation.frames import Frame, read_frame_folder
from pixret_ros.evaluation.ground_truth import GroundTruth, load_ground_truth
from pixret_ros.evaluation.metrics import (
    METRIC_KEYS,
    box_iou,
    compute_metrics,
    mask_iou,
    ranking,
)
from pixret_ros.evaluation.records import DetectionRecord
from pixret_ros.evaluation.stream_metrics import StreamScorer, stream_metrics

if TYPE_CHECKING:
    from pixret_ros.engine.types import BoolMask, GalleryLike, RGBImage
    from pixret_ros.evaluation.records import RankedFrame

Method = Literal["pixret", "baseline"]
METHODS: tuple[Method, ...] = ("pixret", "baseline")
SourceKind = Literal["bag", "frames", "recorded"]
#: The three files `run` writes into OUT.
PREDICTIONS, METRICS, REPORT = "predictions.json", "metrics.json", "report.html"


class Engine(Protocol):
    """What the runner needs of PixelRetriever (and of the SIFT baseline, same API)."""

    last_timings: dict[str, float]

    def process(self, frame: RGBImage) -> list[Detection]:
        """Every detection in `frame`, best score first."""
        ...

    def reset_stream(self) -> None:
        """Forget the stream state: the next frame starts a new stream."""
        ...


class Source(NamedTuple):
    """Where frames (or recorded outputs) come from.

    Attributes:
        kind: `bag` (camera topic of a rosbag2), `frames` (image folder) or `recorded` (the
            node's recorded `~/detections` and `~/mask`).
        path: bag folder or image folder (the first bag or recording where there are more).
        topic: camera topic (`bag`); with `recorded`, an optional camera topic in the same bag
            whose frames are used for the report's overlays.
        detections_topic: `recorded` only; None = the bag's one InstanceDetectionArray topic.
        mask_topic: `recorded` only; None = the sibling `mask` topic of `detections_topic`.
        more: further bags or recordings, each one more stream (DESIGN section 5.1).
    """

    kind: SourceKind
    path: Path
    topic: str | None = None
    detections_topic: str | None = None
    mask_topic: str | None = None
    more: tuple[Path, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every bag, recording or the folder."""
        return (self.path, *self.more)

    def describe(self) -> str:
        """One line for the report and metrics.json."""
        where = ", ".join(str(p) for p in self.paths)
        if self.kind == "bag":
            return f"bag{'s' if self.more else ''} {where} topic {self.topic}"
        if self.kind == "frames":
            return f"folder {self.path}"
        topics = f"{self.detections_topic}, {self.mask_topic}"
        return f"recording{'s' if self.more else ''} {where} ({topics})"

    def listing(self) -> list[streams.InputFrame]:
        """Every input frame, named as the ground truth must name it, in input order."""
        if self.kind == "frames":
            return streams.folder_frames(self.path)
        return streams.bag_frames(self.paths, self._topic())

    def frames(self, names: Iterable[str] | None = None) -> Iterator[Frame]:
        """The frames, decoded to RGB; only `names` if given."""
        wanted = None if names is None else set(names)
        if self.kind == "frames":
            return read_frame_folder(self.path, names=wanted)
        return bag_io.read_frames(self.path, self._topic(), names=wanted)

    def _topic(self) -> str:
        if self.topic is None:
            raise InputError(f"{self.describe()}: a camera topic is needed (--topic)")
        return self.topic


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


class KeptDetection(NamedTuple):
    """The best detection of one instance in one frame, kept compactly for the report."""

    score: float
    accepted: bool
    rle: dict[str, object]
    box: Box


def open_gallery(path: Path) -> GalleryLike:
    """The gallery folder as the engine reads it; InputError if there is none."""
    if not path.is_dir():
        raise InputError(f"gallery folder {path} does not exist (DESIGN section 4 layout)")
    from pixret_ros.engine.gallery import Gallery  # noqa: PLC0415 - keeps --help fast

    return Gallery(path)


def build_engine(
    gallery: GalleryLike, method: Method, *, temporal: bool, config: Mapping[str, object]
) -> tuple[Engine, dict[str, object]]:
    """The engine of `method` over `gallery`, and its settings as a dict (for metrics.json)."""
    from pixret_ros.engine.config import EngineConfig  # noqa: PLC0415 - loads torch

    settings = EngineConfig(**{**config, "temporal": temporal})  # type: ignore[arg-type]
    engine: Engine
    if method == "baseline":
        from pixret_ros.engine.baseline import SiftBaseline  # noqa: PLC0415

        engine = SiftBaseline(gallery, settings)
    else:
        from pixret_ros.engine.pipeline import PixelRetriever  # noqa: PLC0415

        engine = PixelRetriever(gallery, settings)
    return engine, dataclasses.asdict(settings)


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


def encode_mask(mask: BoolMask, box: Box | None = None) -> dict[str, object]:
    """COCO RLE of a bool mask, `counts` as a string (JSON-ready).

    With `box` (which must hold every True pixel, as `Detection.box` does) only the box's
    columns are scanned: outside them the image is background, one run on each side. Four
    times faster on a detection's mask, and evaluator overhead is counted against the engine.
    """
    height, width = mask.shape
    if box is None or not _holds(mask, box):
        rle = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
        return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    strip = mask[:, box.x : box.x + box.width]
    flat = np.ascontiguousarray(strip.T).ravel()  # the strip in column-major (COCO) order
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs: list[int] = []
    if flat.size:
        runs = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    if not runs or flat[0]:
        runs.insert(0, 0)  # COCO runs start with background
    runs[0] += box.x * height
    trailing = (width - box.x - box.width) * height
    if len(runs) % 2:  # the last run is background
        runs[-1] += trailing
    elif trailing:
        runs.append(trailing)
    rle = coco_mask.frPyObjects({"size": [height, width], "counts": runs}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def _holds(mask: BoolMask, box: Box) -> bool:
    """Whether `box` lies in the frame and holds every True pixel of `mask`.

    A detection's box does by definition; a recorded one comes from a message and may not.
    """
    height, width = mask.shape
    if min(box.x, box.y) < 0 or box.x + box.width > width or box.y + box.height > height:
        return False
    inside = mask[box.y : box.y + box.height, box.x : box.x + box.width]
    return int(np.count_nonzero(inside)) == int(np.count_nonzero(mask))


def _window(a: Box, b: Box) -> tuple[slice, slice]:
    """Rows and columns of the smallest window holding both boxes (empty ones ignored).

    A recorded box may reach past the frame: the start is clamped at 0 (a negative one would
    count from the end), and the caller checks that the window holds the whole mask.
    """
    boxes = [box for box in (a, b) if box.width and box.height]
    if not boxes:
        return slice(0, 0), slice(0, 0)
    x0, y0 = max(0, min(box.x for box in boxes)), max(0, min(box.y for box in boxes))
    x1 = max(box.x + box.width for box in boxes)
    y1 = max(box.y + box.height for box in boxes)
    return slice(y0, y1), slice(x0, x1)


class _PredictionWriter:
    """Streams COCO result entries to OUT/predictions.json (written beside, renamed at close)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        self._file = self._partial.open("w", encoding="utf-8")
        self._file.write("[")
        self.count = 0

    def add(self, entry: Mapping[str, object]) -> None:
        self._file.write(("\n" if not self.count else ",\n") + json.dumps(entry))
        self.count += 1

    def close(self) -> None:
        self._file.write("\n]\n")
        self._file.close()
        self._partial.replace(self.path)

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


class _Judge:
    """Turns each frame's detections into DetectionRecords and predictions.json entries.

    Frames the ground truth does not list are only counted (no image_id to report them
    under); instances it does not list get category ids after its own (`category_ids`) and
    are written to predictions.json but not judged.
    """

    def __init__(self, gt: GroundTruth, writer: _PredictionWriter, extra: Sequence[str]) -> None:
        self.gt = gt
        self.frames = set(gt.frames)
        self.instances = set(gt.instances)
        self.image_ids = gt.image_ids
        self.category_ids = dict(gt.category_ids)  # own copy: grows by `extra` below
        for name in extra:
            self._category(name)
        self.writer = writer
        self.records: list[DetectionRecord] = []
        self.kept: dict[tuple[str, str], KeptDetection] = {}
        self.unjudged = 0  # detections of instances the ground truth does not have
        self.outside = 0  # input frames the ground truth does not list
        self.scorer: StreamScorer | None = None  # a stream run's J and F (stream_metrics)

    def _category(self, name: str) -> int:
        """The category id of an instance; one after the largest so far if the GT lacks it."""
        if name not in self.category_ids:
            self.category_ids[name] = max(self.category_ids.values(), default=0) + 1
        return self.category_ids[name]

    def add(self, frame: str, shape: tuple[int, int], detections: Sequence[Detection]) -> None:
        if frame not in self.frames:
            self.outside += 1
            return
        size = self.gt.image_size(frame)
        if size is not None and size != shape:
            raise InputError(
                f"frame {frame} is {shape[1]}x{shape[0]} pixels, ground truth {self.gt.path} "
                f"says {size[1]}x{size[0]}; was the truth made on other (resized) frames?"
            )
        truths = self.gt.masks(frame)
        boxes = {name: Box.of_mask(mask) for name, mask in truths.items()}
        empty = np.zeros(shape, dtype=bool)
        for det in detections:
            truth = truths.get(det.name, empty)
            self._add(frame, det, truth, boxes.get(det.name, Box(0, 0, 0, 0)))
        if self.scorer is not None:
            self.scorer.add(frame, truths, detections)

    def add_nothing_published(self, frame: str) -> None:
        """A frame the node published nothing for (or lost): it still counts for J and F."""
        if self.scorer is not None and frame in self.frames:
            self.scorer.add(frame, self.gt.masks(frame), [])

    def _add(self, frame: str, det: Detection, truth: BoolMask, truth_box: Box) -> None:
        rle = encode_mask(det.mask, det.box)
        self.writer.add(
            {
                "image_id": self.image_ids[frame],
                "category_id": self._category(det.name),
                "category_name": det.name,
                "score": float(det.score),
                "bbox": [det.box.x, det.box.y, det.box.width, det.box.height],
                "segmentation": rle,
                "accepted": bool(det.accepted),
                "inliers": int(det.inliers),
            }
        )
        if det.name not in self.instances:
            self.unjudged += 1
            return
        # Both IoUs within the window of both boxes: the same value, a fraction of the pixels.
        pred, true = det.mask, truth
        if _holds(det.mask, det.box):
            window = _window(det.box, truth_box)
            pred, true = det.mask[window], truth[window]
        self.records.append(
            DetectionRecord(
                frame,
                det.name,
                float(det.score),
                mask_iou(pred, true),
                box_iou(pred, true),
                bool(det.accepted),
            )
        )
        kept = self.kept.get((frame, det.name))
        if kept is None or det.score > kept.score:
            self.kept[(frame, det.name)] = KeptDetection(det.score, det.accepted, rle, det.box)


class _Timer:
    """Wall time of the whole run and the part spent inside the engine."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.setup_s = 0.0
        self.latencies_ms: list[float] = []
        self.stages: dict[str, list[float]] = {}

    def engine_s(self) -> float:
        return sum(self.latencies_ms) / 1000

    def overhead_s(self) -> float:
        return time.perf_counter() - self.start - self.setup_s - self.engine_s()


def _run_engine(
    engine: Engine, source: Source, names: Sequence[str], judge: _Judge, timer: _Timer, *, bar: bool
) -> None:
    """Pass every input frame through the engine in order, timing only `process()`."""
    frames = tqdm(source.frames(), total=len(names), unit="frame", disable=not bar, desc="frames")
    for frame in frames:
        _process(engine, frame, judge, timer)


def _run_streams(
    engine: Engine,
    plan: Sequence[streams.Stream],
    topic: str | None,
    judge: _Judge,
    timer: _Timer,
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


def _process(engine: Engine, frame: Frame, judge: _Judge, timer: _Timer) -> None:
    """One frame through the engine (only `process()` is timed) and judged."""
    start = time.perf_counter()
    detections = engine.process(frame.image)
    timer.latencies_ms.append((time.perf_counter() - start) * 1000)
    for stage, ms in engine.last_timings.items():
        timer.stages.setdefault(stage, []).append(ms)
    judge.add(frame.name, frame.image.shape[:2], detections)


def resolve_recording_topics(source: Source) -> Source:
    """Fill in the recording's detection and mask topics where the user gave none."""
    detections_topic = source.detections_topic
    if detections_topic is None:
        topics = bag_io.find_detection_topics(source.path)
        if len(topics) != 1:
            raise InputError(
                f"bag {source.path} has {len(topics)} InstanceDetectionArray topics "
                f"({', '.join(topics) or 'none'}); choose one with --detections-topic"
            )
        detections_topic = topics[0]
    mask_topic = source.mask_topic or detections_topic.rsplit("/", 1)[0] + "/mask"
    return source._replace(detections_topic=detections_topic, mask_topic=mask_topic)


def _read_recording(source: Source, gt: GroundTruth, judge: _Judge, *, bar: bool) -> int:
    """Judge the node's recorded outputs; return the number of ground-truth frames it lacks.

    Several recordings are several streams: a frame is then `<recording folder>/<stamp>.png`.
    """
    assert source.detections_topic is not None  # noqa: S101 - resolve_recording_topics ran
    assert source.mask_topic is not None  # noqa: S101
    seen: set[str] = set()
    known, stamped = set(gt.frames), streams.stamped_names(gt)
    for path in source.paths:
        prefix = f"{path.name}/" if source.more else ""
        recorded = bag_io.read_recording(path, source.detections_topic, source.mask_topic)
        for frame in tqdm(recorded, unit="frame", disable=not bar, desc="recorded frames"):
            name = prefix + frame.name
            if name not in known:  # a truth on image files that states the stamps
                name = stamped.get((path.name, frame.stamp_ns), name)
            seen.add(name)  # read_recording yields each stamp once
            if frame.labels is not None:
                height, width = frame.labels.shape
                judge.add(name, (height, width), _detections_of(frame))
            else:  # no detections in this frame, which is what no record means
                judge.add_nothing_published(name)
    missing = [f for f in gt.frames if f not in seen]
    for name in missing:
        judge.add_nothing_published(name)
    return len(missing)


def _detections_of(frame: bag_io.RecordedFrame) -> list[Detection]:
    """Recorded detections as engine Detections: mask = label image == label; all published."""
    out = []
    for d in frame.detections:
        assert frame.labels is not None  # noqa: S101 - frames with detections carry a mask
        mask = frame.labels == d.label
        out.append(
            Detection(
                name=d.name,
                score=d.score,
                box=Box(d.x, d.y, d.width, d.height),
                mask=mask,
                inliers=d.inliers,
                homography=d.homography,
                view_index=-1,  # not published by the node
                accepted=True,  # the node publishes accepted detections only
            )
        )
    return out


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _timing_figures(timer: _Timer, num_frames: int) -> dict[str, object]:
    engine_s = timer.engine_s()
    return {
        "fps": num_frames / engine_s if engine_s > 0 else None,
        "latency_ms_p50": _percentile(timer.latencies_ms, 50),
        "latency_ms_p95": _percentile(timer.latencies_ms, 95),
        "latency_ms_max": max(timer.latencies_ms, default=None),
        "stage_ms_median": {s: float(np.median(v)) for s, v in timer.stages.items()},
        "engine_setup_s": timer.setup_s,
        "engine_time_s": engine_s,
    }


class _Prepared(NamedTuple):
    """A run's checked inputs: the truth, the frames, the streams and the engine (if any)."""

    source: Source
    gt: GroundTruth
    input_names: list[str]
    gallery_names: list[str]
    plan: list[streams.Stream] | None
    engine: Engine | None
    settings: dict[str, object]


def _prepare(options: RunOptions, timer: _Timer) -> _Prepared:
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
    engine, settings = build_engine(
        gallery, options.method, temporal=temporal, config=options.config
    )
    timer.setup_s = time.perf_counter() - setup
    return _Prepared(source, gt, input_names, gallery.names(), plan, engine, settings)


def run(options: RunOptions) -> RunResult:
    """Evaluate one method on one input against one ground truth; write the three files."""
    timer = _Timer()
    source, gt, input_names, gallery_names, plan, engine, settings = _prepare(options, timer)
    options.out.mkdir(parents=True, exist_ok=True)
    writer = _PredictionWriter(options.out / PREDICTIONS)
    judge = _Judge(gt, writer, gallery_names)
    if plan is not None:
        judge.scorer = StreamScorer(gt)
    dropped = 0
    try:
        if engine is None:
            dropped = _read_recording(source, gt, judge, bar=options.progress)
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
        metrics.update(_timing_figures(timer, len(input_names)))
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
        return _frame_images(source, gt, plan, wanted)

    overlays = _overlays(images, gt, rankings, judge.kept)
    streams_html = ""
    if judge.scorer is not None:
        per_stream = metrics["per_stream"]
        assert isinstance(per_stream, dict)  # noqa: S101 - stream_metrics wrote it
        streams_html = stream_report.section(judged, judge.scorer, gt, images, per_stream)
    report_path = options.out / REPORT
    metrics["evaluator_overhead_ratio"] = _overhead(timer, engine)
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
    metrics["evaluator_overhead_ratio"] = _overhead(timer, engine)  # now with the report
    metrics_path = options.out / METRICS
    _write_json(metrics_path, metrics)
    return RunResult(metrics, options.out / PREDICTIONS, metrics_path, report_path)


def _overhead(timer: _Timer, engine: Engine | None) -> float | None:
    engine_s = timer.engine_s()
    return timer.overhead_s() / engine_s if engine is not None and engine_s > 0 else None


def _frame_images(
    source: Source, gt: GroundTruth, plan: Sequence[streams.Stream] | None, wanted: set[str]
) -> Iterator[Frame]:
    """The `wanted` frames, decoded a second time for the report (any order)."""
    if source.kind == "recorded":
        if source.topic is None:
            yield from _blank_frames(gt, wanted)  # nothing recorded to show
            return
        for path in source.paths:
            prefix = f"{path.name}/" if source.more else ""
            local = {n.removeprefix(prefix) for n in wanted if n.startswith(prefix)}
            for frame in bag_io.read_frames(path, source.topic, names=local):
                yield frame._replace(name=prefix + frame.name)
    elif plan is None:
        yield from source.frames(wanted)
    else:
        for stream in plan:
            chosen = tuple(f for f in stream.frames if f.name in wanted)
            yield from streams.read_stream(stream._replace(frames=chosen), source.topic)


def _overlays(
    images: Callable[[set[str]], Iterator[Frame]],
    gt: GroundTruth,
    rankings: Mapping[str, Sequence[RankedFrame]],
    kept: Mapping[tuple[str, str], KeptDetection],
) -> list[report.Overlay]:
    """Render the report's best/worst/false-positive frames; frames are read a second time."""
    picks = report.pick_frames(rankings)
    wanted = {p.frame for p in picks}
    by_frame: dict[str, list[report.Pick]] = {}
    for pick in picks:
        by_frame.setdefault(pick.frame, []).append(pick)
    overlays = []
    for frame in images(wanted):
        truths = gt.masks(frame.name)
        for pick in by_frame.get(frame.name, []):
            det = kept.get((frame.name, pick.instance))
            overlays.append(
                report.render_pick(frame.image, pick, _kept_detection(pick.instance, det), truths)
            )
    return overlays


def _blank_frames(gt: GroundTruth, names: set[str]) -> Iterator[Frame]:
    """Grey canvases of the ground truth's frame sizes (a recording holds no camera frames)."""
    for name in gt.frames:
        size = gt.image_size(name)
        if name in names and size is not None:
            yield Frame(name, None, np.full((*size, 3), 64, dtype=np.uint8))


def _kept_detection(name: str, kept: KeptDetection | None) -> Detection | None:
    if kept is None:
        return None
    mask = np.asarray(coco_mask.decode(kept.rle)).astype(bool)
    return Detection(name, kept.score, kept.box, mask, 0, None, -1, accepted=kept.accepted)


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
