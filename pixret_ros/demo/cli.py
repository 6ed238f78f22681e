"""`pixret-eval make-demo`: the command line of the demo data build (pixret_ros.demo.build).

Its parser lives here, beside what it runs; evaluation/cli.py adds it to `pixret-eval`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pixret_ros.demo.build import DEFAULT_OUT, RATE_HZ, TOPIC, build
from pixret_ros.demo.photos import INSTANCE_NAMES
from pixret_ros.evaluation.errors import EvaluationError


def add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `make-demo` to the pixret-eval command line (the CLI owner wires it)."""
    parser = subparsers.add_parser(
        "make-demo",
        help="build the demo data (bag, gallery, ground truth) from scikit-image's photos",
        description=(
            f"Build the demo: about 300 frames (640x480, {RATE_HZ} Hz) as a rosbag2 (mcap) on\n"
            f"{TOPIC}, a gallery of {len(INSTANCE_NAMES)} instances and COCO "
            "ground truth, all from the photos\nthat ship with scikit-image. Deterministic: "
            "the same seed gives the same bytes.\nA complete build in OUT is reused; "
            "preview.png shows frames with their ground truth."
        ),
        epilog=(
            "examples:\n"
            "  pixret-eval make-demo --out build/demo\n"
            "  cp -r build/demo/gallery /tmp/demo_gallery   # the engine may add caches\n"
            "  pixret-eval run --gallery /tmp/demo_gallery --gt build/demo/gt.json \\\n"
            f"      --bag build/demo/bag --topic {TOPIC} --out build/demo_eval"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="RNG seed for shake and noise (default 0)"
    )
    parser.add_argument("--step", type=int, default=1, help="keep every STEP-th frame (default 1)")
    parser.add_argument("--force", action="store_true", help="rebuild even if OUT is up to date")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_make_demo)


def run_make_demo(args: argparse.Namespace) -> int:
    """Run `make-demo`; print where everything is. Errors: one line on stderr, exit status 1."""
    try:
        summary = build(
            args.out, seed=args.seed, step=args.step, force=args.force, progress=not args.quiet
        )
    except (EvaluationError, OSError) as err:
        print(f"pixret-eval make-demo: {err}", file=sys.stderr)
        return 1
    state = "up to date" if summary.reused else f"built in {summary.seconds:.1f} s"
    print(
        f"demo data {state}: {summary.out}\n"
        f"  {summary.frames} frames on {TOPIC} ({summary.out / 'bag'}), "
        f"{summary.instances} instances ({summary.out / 'gallery'})\n"
        f"  ground truth {summary.out / 'gt.json'}: {summary.positives} positives, "
        f"{summary.junk} junk, {summary.empty_frames} frames without any instance\n"
        f"  preview {summary.out / 'preview.png'}"
    )
    return 0
