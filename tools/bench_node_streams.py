"""Streams part of tools/bench_node.py: the engine alone vs pixret_node as a 24 fps camera.

Both run on the same DAVIS stream frames (../shared/data/streams, 854x480) with the same
gallery copy and profile. J is the DAVIS region similarity of the streams README: per
positive (frame, instance) the IoU of the instance's accepted mask with the truth (0 when
none), mean per stream, then over streams.
- offline J (engine alone): each frame's own accepted masks, stream state reset per stream.
- live J (node): for each frame, the newest mask the node had published when the next frame
  was sent (0 when none yet in this stream), as a robot acting on the node would see it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm import tqdm

from pixret_ros.evaluation.ground_truth import GroundTruth, load_ground_truth
from pixret_ros.evaluation.iou import mask_iou
from pixret_ros.io.image_codec import image_to_array
from pixret_ros.ros.convert import to_image_msg

if TYPE_CHECKING:
    from sensor_msgs.msg import Image

    from pixret_ros.engine import PixelRetriever


def streams_of(gt: GroundTruth, limit: int | None) -> dict[str, list[str]]:
    """{stream: frame names in time order} (the first `limit` streams, in name order)."""
    out: dict[str, list[str]] = defaultdict(list)
    for frame in sorted(gt.frames):
        out[frame.split("/", 1)[0]].append(frame)
    names = sorted(out)[:limit]
    return {name: out[name] for name in names}


def stream_frame(folder: Path, frame: str) -> np.ndarray:
    """A stream frame (`<stream>/<name>` under `folder`/frames) as RGB uint8."""
    bgr = cv2.imread(str(folder / "frames" / frame), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {folder / 'frames' / frame}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def j_of(per_stream: dict[str, list[float]]) -> float:
    """Mean over streams (with positives) of the mean IoU over their positive frames."""
    means = [float(np.mean(v)) for v in per_stream.values() if v]
    return float(np.mean(means)) if means else float("nan")


def engine_alone(
    engine: PixelRetriever, folder: Path, streams: dict[str, list[str]], gt: GroundTruth
) -> dict[str, Any]:
    """Offline pass: rate, latency and J of the engine on every frame in order."""
    times: list[float] = []
    ious: dict[str, list[float]] = defaultdict(list)
    for stream, frames in streams.items():
        engine.reset_stream()
        for frame in tqdm(frames, desc=f"engine {stream}", leave=False):
            rgb = stream_frame(folder, frame)
            start = time.perf_counter()
            detections = engine.process(rgb)
            times.append(time.perf_counter() - start)
            for name, truth in gt.masks(frame).items():
                masks = [d.mask for d in detections if d.accepted and d.name == name]
                union = np.logical_or.reduce(masks) if masks else np.zeros_like(truth)
                ious[stream].append(mask_iou(union, truth))
    return {
        "frames": len(times),
        "rate_hz": len(times) / sum(times),
        "latency_ms_p50": float(np.percentile(times, 50) * 1e3),
        "latency_ms_p95": float(np.percentile(times, 95) * 1e3),
        "J": j_of(ious),
    }


def node_live(
    peer: Any,  # noqa: ANN401
    folder: Path,
    streams: dict[str, list[str]],
    gt: GroundTruth,
    fps: float,
) -> dict[str, Any]:
    """Play each stream to the node as a camera at `fps`; answered share, latency, live J."""
    ious: dict[str, list[float]] = defaultdict(list)
    sent: list[tuple[int, int]] = []
    for stream, frames in streams.items():
        messages: list[Image] = [to_image_msg(stream_frame(folder, f), "rgb8") for f in frames]
        ours: set[tuple[int, int]] = set()
        start = next_at = time.monotonic()
        for i, msg in enumerate(tqdm(messages, desc=f"node {stream}", leave=False)):
            stamp = peer.publish(msg)
            sent.append(stamp)
            ours.add(stamp)
            if i:
                _score(peer, ours - {stamp}, gt.masks(frames[i - 1]), ious[stream])
            next_at += 1.0 / fps
            time.sleep(max(0.0, next_at - time.monotonic()))
        time.sleep(1.0 / fps)
        _score(peer, ours, gt.masks(frames[-1]), ious[stream])
        del start
        time.sleep(1.0)  # a gap between recordings
    time.sleep(1.0)
    with peer.lock:
        latencies = [peer.arrivals[s] for s in sent if s in peer.arrivals]
    return {
        "frames": len(sent),
        "answered": len(latencies),
        "answered_share": len(latencies) / max(1, len(sent)),
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1e3) if latencies else None,
        "latency_ms_p95": float(np.percentile(latencies, 95) * 1e3) if latencies else None,
        "live_J": j_of(ious),
    }


def _score(
    peer: Any,  # noqa: ANN401
    stamps: set[tuple[int, int]],
    truths: dict[str, np.ndarray],
    out: list[float],
) -> None:
    """IoU of the newest published mask (of one of `stamps`) with each true instance."""
    if not truths:
        return
    newest = peer.newest_result(stamps)
    for name, truth in truths.items():
        if newest is None:
            out.append(0.0)
            continue
        detections, mask_msg = newest
        labels = image_to_array(mask_msg)[:, :, 0]
        wanted = [d.label for d in detections.detections if d.name == name]
        pred = np.isin(labels, wanted) if wanted else np.zeros_like(truth)
        out.append(mask_iou(pred, truth) if pred.shape == truth.shape else 0.0)


def load(folder: Path) -> GroundTruth:
    """The streams' ground truth; frames are named `<stream>/<name>` (basenames repeat)."""
    return load_ground_truth(folder / "gt.json", qualified=True)
