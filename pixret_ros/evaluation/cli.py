"""`pixret-eval`: evaluate pixel retrieval offline (DESIGN section 5), export bag frames.

Thin on purpose: it checks the arguments, calls the library and prints the library's error
on one line (exit status 1). The `proxford` and `make-demo` subcommands keep their parsers
beside what they run (evaluation/proxford_cli.py, demo/cli.py); this module adds them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from pixret_ros.demo.cli import add_demo_parser
from pixret_ros.errors import PixretError
from pixret_ros.evaluation.proxford_cli import add_proxford_parser, run_proxford

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pixret_ros.evaluation.runner import RunResult

RUN_EXAMPLES = """examples:
  pixret-eval run --gallery gallery --gt gt.json --frames frames --out out
  pixret-eval run --gallery gallery --gt gt.json --frames streams/frames --out out
      (one sub-folder per stream: stream mode, state reset between streams, J and F)
  pixret-eval run --gallery gallery --gt gt.json --bag demo_bag --topic /camera/image_raw \\
      --out out --no-temporal
  pixret-eval run --gallery gallery --gt gt.json --bag cam_a --bag cam_b \\
      --topic /camera/image_raw --out out     (each bag one stream)
  pixret-eval run --gallery gallery --gt gt.json --bag demo_bag --topic /camera/image_raw \\
      --out out_sift --method baseline
  pixret-eval run --gallery gallery --gt gt.json --recorded node_outputs_bag --out out_node
  pixret-eval run --gt gt.json --recorded rec/cam_a --recorded rec/cam_b --out out_node
      (one recording per stream, named like the bag it recorded)
  pixret-eval run ... --params-file config/pixret.yaml   (the node's own settings)
  pixret-eval run ... --config score_threshold=0.6 --config view_scales=[1.0,2.0]

The engine may write feature caches into the gallery folder: give it a copy of a gallery
you must not change. Ground-truth frames of a bag are named <header stamp ns>.png (see
export-frames); with several bags or recordings <folder name>/<header stamp ns>.png.
Streams (sub-folders, bags, recordings) run in stream mode unless --no-temporal or the
params file says otherwise, as the node does on its camera; single photos run without it."""

EXPORT_EXAMPLES = """examples:
  pixret-eval export-frames --bag demo_bag --topic /camera/image_raw --out frames
  (writes frames/<header stamp ns>.png, the names ground truth must use)"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `pixret-eval` with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="pixret-eval",
        description="Offline evaluation of pixel retrieval: metrics, speed and a report.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(subparsers)
    _add_export(subparsers)
    add_proxford_parser(subparsers)
    subparsers.choices["proxford"].set_defaults(handler=run_proxford)
    add_demo_parser(subparsers)
    return parser


def _add_run(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pixret_ros.evaluation.engines import METHODS  # noqa: PLC0415

    run = subparsers.add_parser(
        "run",
        help="run the engine over a bag or folder and compute the metrics",
        description="Run pixret (or the SIFT baseline) over frames, or read a recording of "
        "the node's outputs, and write OUT/predictions.json, OUT/metrics.json and "
        "OUT/report.html.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--gallery", type=Path, help="gallery folder (not with --recorded)")
    run.add_argument("--gt", type=Path, required=True, help="COCO ground-truth json")
    inputs = run.add_mutually_exclusive_group(required=True)
    inputs.add_argument(
        "--bag",
        type=Path,
        action="append",
        help="rosbag2 folder (mcap or sqlite3); repeat for several streams, one per bag",
    )
    inputs.add_argument(
        "--frames",
        type=Path,
        help="folder of .png/.jpg frames, or of sub-folders of them, one per stream",
    )
    inputs.add_argument(
        "--recorded",
        type=Path,
        action="append",
        help="rosbag2 folder recorded from the node's outputs; repeat: one per stream",
    )
    run.add_argument(
        "--topic",
        help="camera topic (Image or CompressedImage) of --bag; with --recorded, an optional "
        "camera topic in the same bag for the report's overlays",
    )
    run.add_argument("--detections-topic", help="--recorded: default its one detections topic")
    run.add_argument("--mask-topic", help="--recorded: default the sibling .../mask topic")
    run.add_argument("--out", type=Path, required=True, help="output folder (created)")
    run.add_argument("--method", choices=METHODS, default="pixret", help="default: pixret")
    run.add_argument(
        "--temporal",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="stream mode (carry state between frames of a stream); default: on for streams "
        "(sub-folders, bags, recordings), off for single photos, unless the params file or "
        "--config sets temporal",
    )
    run.add_argument(
        "--params-file",
        type=Path,
        help="the node's parameter YAML (e.g. config/pixret.yaml): run the engine with the "
        "node's settings (engine.*, score_threshold, temporal)",
    )
    run.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an EngineConfig field (repeatable; after --params-file)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)


def _add_export(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser(
        "export-frames",
        help="write a bag's camera frames as <stamp ns>.png files",
        description="Write every frame of an Image/CompressedImage topic as a PNG named "
        "<header stamp ns>.png, the frame names ground truth uses.",
        epilog=EXPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("--bag", type=Path, required=True, help="rosbag2 folder")
    export.add_argument("--topic", required=True, help="camera topic")
    export.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    export.set_defaults(handler=_export)


def _run(args: argparse.Namespace) -> int:
    from pixret_ros.evaluation import runner  # noqa: PLC0415 - fast --help
    from pixret_ros.evaluation.sources import Source  # noqa: PLC0415
    from pixret_ros.settings.params_file import engine_settings  # noqa: PLC0415

    if args.recorded is not None:
        first, *more = args.recorded
        source = Source(
            "recorded",
            first,
            args.topic,
            args.detections_topic,
            args.mask_topic,
            more=tuple(more),
        )
    elif args.bag is not None:
        if not args.topic:
            return _fail("--bag needs --topic (the camera topic)")
        first, *more = args.bag
        source = Source("bag", first, args.topic, more=tuple(more))
    else:
        source = Source("frames", args.frames)
    if args.recorded is None and args.gallery is None:
        return _fail("--gallery is required with --bag and --frames")
    config = engine_settings(args.params_file, args.config)
    options = runner.RunOptions(
        gallery=args.gallery if args.gallery is not None else Path(),
        gt=args.gt,
        source=source,
        out=args.out,
        method=args.method,
        temporal=args.temporal,
        config=config,
        progress=not args.no_progress,
    )
    result = runner.run(options)
    _print_summary(result)
    return 0


def _print_summary(result: RunResult) -> None:
    from pixret_ros.evaluation.runner import SUMMARY_KEYS  # noqa: PLC0415
    from pixret_ros.evaluation.stream_metrics import STREAM_KEYS  # noqa: PLC0415

    keys = [*SUMMARY_KEYS, *(STREAM_KEYS if "per_stream" in result.metrics else ())]
    width = max(len(k) for k in keys)
    for key in keys:
        value = result.metrics.get(key)
        text = "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
    print(f"report: {result.report}")


def _export(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    from pixret_ros.io.bag_reader import count_messages, read_frames  # noqa: PLC0415

    total = count_messages(args.bag, args.topic)
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for frame in tqdm(read_frames(args.bag, args.topic), total=total, unit="frame"):
        path = args.out / frame.name
        if not cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)):
            return _fail(f"cannot write {path}")
        written += 1
    print(f"wrote {written} frames to {args.out}")
    return 0


def _fail(message: str) -> int:
    print(f"pixret-eval: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pixret-eval` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int | None] = args.handler
    try:
        return int(handler(args) or 0)
    except PixretError as err:
        return _fail(" ".join(str(err).split()))
    except KeyboardInterrupt:
        return _fail("interrupted")
