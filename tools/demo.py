"""`make demo`: build the demo data, evaluate it offline, then live through pixret_node over DDS.

Steps (each prints what it did and where its files are):
1. demo data (build/demo, reused when up to date): bag, gallery, ground truth, preview.png;
2. offline: `pixret-eval run` over the bag with a copy of the gallery (in-process engine);
3. live: start `pixret_node` on a fresh gallery, register the demo instances with
   `pixret register` (service calls), record its `~/detections` and `~/mask` with
   pixret_ros.ros.recorder, play the bag to it with pixret_ros.ros.player (lockstep by
   default: every frame is processed; `--rate R` plays in real time instead and the node
   drops what it cannot keep up with), then `pixret-eval run --recorded` on the recording;
4. both metric tables side by side, with the frames the node dropped.

The steps live in the package (pixret_ros.demo.live, pixret_ros.evaluation.published), so
that the demo's test runs exactly them; this script only strings them together.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pixret_ros.demo.live import (
    REPO,
    DemoError,
    console,
    dds_env,
    record_live,
    run_offline,
    run_recorded,
    run_step,
)
from pixret_ros.evaluation.published import TOLERANCE, compare, published_metrics

if TYPE_CHECKING:
    from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Command line of the demo."""
    parser = argparse.ArgumentParser(
        prog="tools/demo.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=(
            "examples:\n"
            "  make demo\n"
            "  .venv/bin/python tools/demo.py --offline-only\n"
            "  .venv/bin/python tools/demo.py --rate 1.0   # real time: the node may drop frames"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data", type=Path, default=REPO / "build" / "demo", help="demo data folder"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "build" / "demo_run", help="results folder"
    )
    parser.add_argument("--offline-only", action="store_true", help="skip the live part")
    parser.add_argument(
        "--step", type=int, default=1, help="quick variant: every STEP-th frame (default 1)"
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="live: real-time replay at this speed factor "
        "(default: lockstep, every frame processed)"
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the whole demo; 0 when every step ran (the table says how well it did)."""
    args = build_parser().parse_args(argv)
    env = dds_env()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        print(f"== 1/4 demo data: {args.data}", flush=True)
        make = ["make-demo", "--out", str(args.data), "--step", str(args.step)]
        run_step([*console("pixret-eval"), *make], env, "make-demo")
        print("== 2/4 offline evaluation (engine in-process)", flush=True)
        offline = run_offline(args.data, args.out, env)
        live = None
        if not args.offline_only:
            pacing = f"real time x{args.rate:g}" if args.rate else "lockstep"
            print(f"== 3/4 live: pixret_node over DDS, bag played {pacing}", flush=True)
            recording = record_live(args.data, args.out, env, rate=args.rate)
            live = run_recorded(args.data, recording, args.out, env)
    except DemoError as err:
        print(f"make demo: {err}", file=sys.stderr)
        return 1
    published = published_metrics(args.out / "offline" / "predictions.json", args.data / "gt.json")
    table, off = compare(offline, published, live)
    print(f"== 4/4 results ({time.monotonic() - started:.0f} s)\n{table}")
    print(
        "offline: every candidate ranked, full masks; published: the offline run's accepted\n"
        "detections in one label image per frame, what the node publishes; live: the node's\n"
        f"recorded outputs (must match published within {TOLERANCE} in lockstep)."
    )
    print(f"offline report: {args.out / 'offline' / 'report.html'}")
    if live is not None:
        print(f"live report:    {args.out / 'live' / 'report.html'}")
        if args.rate is None and off:
            print(f"note: {', '.join(off)} differ by more than {TOLERANCE} (published vs live)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
