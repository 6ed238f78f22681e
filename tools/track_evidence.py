"""Which of a track's per-frame evidence predicts that its published mask is right (IoU > 0.5)?

Why: on the stream set every false positive of stream mode is the right instance with a
drifted mask, so a track confidence is worth what it predicts about the mask's IoU. This runs
the engine in stream mode over a stream set (state reset between streams, as the evaluator),
and for every frame where a track was corrected (not re-anchored by an exact fit) it pairs
the tracker's evidence (`Tracker.last_evidence`) with the IoU of the published mask against
the truth (0 for an instance absent from the frame), then prints each evidence's ROC AUC for
IoU > 0.5 (0.5 = useless, below 0.5 = predicts the opposite) and how tracked masks miss
(area against the truth's, share of the mask on the truth). Example (tracks kept whole
streams, so late drifted frames are in the sample):

    PYTHONPATH=. .venv/bin/python tools/track_evidence.py --config track_decay=1.0
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import bench_node_streams as streams
import numpy as np

from pixret_ros.engine import EngineConfig, PixelRetriever
from pixret_ros.engine.gallery import Gallery
from pixret_ros.evaluation.iou import mask_iou
from pixret_ros.settings.params_file import parse_overrides

if TYPE_CHECKING:
    from collections.abc import Sequence


def roc_auc(values: Sequence[float], good: Sequence[bool]) -> float:
    """Probability that a good frame's value exceeds a bad frame's (ties count half)."""
    x, y = np.asarray(values, np.float64), np.asarray(good, bool)
    if y.all() or not y.any():
        return float("nan")
    greater = (x[y][:, None] > x[~y][None, :]).mean()
    ties = (x[y][:, None] == x[~y][None, :]).mean()
    return float(greater + 0.5 * ties)


def collect(
    folder: Path, gallery: Path, config: EngineConfig, limit: int | None = None
) -> list[dict[str, float]]:
    """Per corrected track frame: its evidence, `iou`, `area` (vs truth) and `on_truth`.

    `limit`: only the first this many frames of each stream (a quick check).
    """
    gt = streams.load(folder)
    retriever = PixelRetriever(Gallery(gallery), config)
    rows: list[dict[str, float]] = []
    for frames in streams.streams_of(gt, None).values():
        retriever.reset_stream()
        for frame in frames[:limit]:
            rgb = streams.stream_frame(folder, frame)
            truths = gt.masks(frame)
            detections = retriever.process(rgb)
            evidence = retriever.tracker_evidence()
            for detection in detections:
                instance = retriever.names.index(detection.name)
                if not detection.tracked or "consistency" not in evidence.get(instance, {}):
                    continue
                truth = truths.get(detection.name, np.zeros(rgb.shape[:2], bool))
                overlap = float(np.count_nonzero(detection.mask & truth))
                area = max(float(np.count_nonzero(detection.mask)), 1.0)
                rows.append(
                    {
                        **evidence[instance],
                        "score": detection.score,
                        "iou": mask_iou(detection.mask, truth),
                        "area": area / max(float(np.count_nonzero(truth)), 1.0),
                        "on_truth": overlap / area,
                    }
                )
    return rows


def report(rows: Sequence[dict[str, float]]) -> None:
    """Each evidence's AUC for IoU > 0.5, and the medians of how the masks miss."""
    good = [row["iou"] > 0.5 for row in rows]
    print(f"corrected track frames: {len(rows)}, share with IoU > 0.5: {np.mean(good):.3f}")
    keys = [k for k in rows[0] if k not in {"iou", "area", "on_truth"}] if rows else []
    for key in keys:
        print(f"  {key:<12} AUC {roc_auc([row[key] for row in rows], good):.3f}")
    for key in ("area", "on_truth"):
        print(f"  median {key}: {np.median([row[key] for row in rows]):.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    """Collect and report (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", default="../shared/data/streams", help="stream set folder")
    parser.add_argument("--config", nargs="*", default=[], help="EngineConfig KEY=VALUE")
    parser.add_argument("--frames", type=int, default=None, help="first N frames per stream")
    args = parser.parse_args(argv)
    folder = Path(args.streams)
    overrides = {**parse_overrides(args.config), "temporal": True}
    with tempfile.TemporaryDirectory(prefix="pixret_evidence_") as work:
        gallery = Path(work) / "gallery"
        shutil.copytree(folder / "gallery", gallery)  # the gallery writes its feature cache
        config = EngineConfig(**overrides)  # type: ignore[arg-type]
        report(collect(folder, gallery, config, args.frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
