"""`--recorded`: judge what the node itself published (its `~/detections` and `~/mask`).

The recording is read back into engine `Detection`s (mask = label image == label) and passed
to the same `Judge` as an engine run's; frames the recording lacks count as dropped (missed).
"""

from __future__ import annotations

from tqdm import tqdm

from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation import streams
from pixret_ros.evaluation.errors import InputError
from pixret_ros.evaluation.ground_truth import GroundTruth
from pixret_ros.evaluation.judge import Judge
from pixret_ros.evaluation.sources import Source
from pixret_ros.io import recording_reader


def resolve_recording_topics(source: Source) -> Source:
    """Fill in the recording's detection and mask topics where the user gave none."""
    detections_topic = source.detections_topic
    if detections_topic is None:
        topics = recording_reader.find_detection_topics(source.path)
        if len(topics) != 1:
            raise InputError(
                f"bag {source.path} has {len(topics)} InstanceDetectionArray topics "
                f"({', '.join(topics) or 'none'}); choose one with --detections-topic"
            )
        detections_topic = topics[0]
    mask_topic = source.mask_topic or detections_topic.rsplit("/", 1)[0] + "/mask"
    return source._replace(detections_topic=detections_topic, mask_topic=mask_topic)


def judge_recording(source: Source, gt: GroundTruth, judge: Judge, *, bar: bool) -> int:
    """Judge the node's recorded outputs; return the number of ground-truth frames it lacks.

    Several recordings are several streams: a frame is then `<recording folder>/<stamp>.png`.
    """
    assert source.detections_topic is not None  # noqa: S101 - resolve_recording_topics ran
    assert source.mask_topic is not None  # noqa: S101
    seen: set[str] = set()
    known, stamped = set(gt.frames), streams.stamped_names(gt)
    for path in source.paths:
        prefix = f"{path.name}/" if source.more else ""
        recorded = recording_reader.read_recording(path, source.detections_topic, source.mask_topic)
        for frame in tqdm(recorded, unit="frame", disable=not bar, desc="recorded frames"):
            name = prefix + frame.name
            if name not in known:  # a truth on image files that states the stamps
                name = stamped.get((path.name, frame.stamp_ns), name)
            seen.add(name)  # read_recording yields each stamp once
            if frame.labels is not None:
                height, width = frame.labels.shape
                judge.add(name, (height, width), detections_of(frame))
            else:  # no detections in this frame, which is what no record means
                judge.add_nothing_published(name)
    missing = [f for f in gt.frames if f not in seen]
    for name in missing:
        judge.add_nothing_published(name)
    return len(missing)


def detections_of(frame: recording_reader.RecordedFrame) -> list[Detection]:
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
