"""Stream rows of `make bench`: the node's job on camera streams (DESIGN section 5.1).

Runs `pixret-eval run`'s own runner (so the figures are exactly the evaluator's) over the
stream set (../shared/data/streams: one sub-folder per stream, 854x480), state reset between
streams, stream mode on as on the node, for the defaults (`pixret`, or --config), the
realtime profile (`pixret-realtime`) and the SIFT baseline. Each method works on its own
copy of the gallery, kept in the work folder, so a rerun skips computing view features.

Called from tools/bench.py (`--only streams` runs these rows alone); standalone:
    PYTHONPATH=. .venv/bin/python tools/bench_streams.py --streams ../shared/data/streams \
        --skip-baseline --config working_size=512
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pixret_ros.evaluation.runner import RunOptions, run
from pixret_ros.evaluation.sources import Source
from pixret_ros.settings.params_file import params_file_overrides, parse_overrides

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pixret_ros.evaluation.engines import Method

REALTIME_PARAMS = Path(__file__).resolve().parents[1] / "config" / "pixret_realtime.yaml"
#: Columns of the stream table: (metrics.json key, header).
COLUMNS = (
    ("J", "J"),
    ("J_frames", "J frames"),
    ("F", "F"),
    ("recall50", "recall50"),
    ("precision", "precision"),
    ("fp_per_frame", "FP/frame"),
    ("fps", "frames/s"),
    ("latency_ms_p50", "p50 ms"),
    ("latency_ms_p95", "p95 ms"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The stream rows' options of the bench command line."""
    parser.add_argument(
        "--streams",
        default=None,
        help="stream set folder (gallery/, frames/<stream>/, gt.json); default DATA/streams",
    )
    parser.add_argument(
        "--only",
        choices=("streams",),
        default=None,
        help="run only these rows (streams: the stream rows, quick to iterate on)",
    )


def stream_folder(args: argparse.Namespace) -> Path | None:
    """The stream set to bench, or None (with a line saying why) when it is not there."""
    folder = Path(args.streams) if args.streams else Path(args.data) / "streams"
    if all((folder / p).exists() for p in ("gt.json", "gallery", "frames")):
        return folder
    print(f"bench: stream rows skipped: {folder} lacks gt.json, gallery/ or frames/")
    return None


def methods(args: argparse.Namespace) -> dict[str, tuple[Method, dict[str, object]]]:
    """Row label -> (runner method, EngineConfig overrides), as tools/bench.py chooses them."""
    chosen: dict[str, tuple[Method, dict[str, object]]] = {}
    defaults = parse_overrides(args.config)
    if not args.skip_engine:
        chosen["pixret"] = ("pixret", defaults)
        if not args.skip_realtime:
            chosen["pixret-realtime"] = ("pixret", params_file_overrides(args.realtime_params))
    if not args.skip_baseline:
        chosen["baseline"] = ("baseline", defaults)
    only = getattr(args, "method", None)  # tools/bench.py runs each method in its own process
    return {label: chosen[label] for label in chosen if only in (None, label)}


def stream_rows(folder: Path, work: Path, args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Evaluate every method on the stream set; label -> its metrics.json."""
    rows = {}
    for label, (method, config) in methods(args).items():
        gallery = work / label / "streams" / "gallery"
        if not gallery.exists():
            shutil.copytree(folder / "gallery", gallery)
        options = RunOptions(
            gallery=gallery,
            gt=folder / "gt.json",
            source=Source("frames", folder / "frames"),
            out=work / label / "streams" / "out",
            method=method,
            config=config,
            progress=sys.stderr.isatty(),
        )
        rows[label] = run(options).metrics
    return rows


def _cell(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.3f}" if value < 1 else f"{value:.2f}"


def print_stream_table(rows: Mapping[str, Mapping[str, object]]) -> None:
    """The stream rows, then J per stream for each method."""
    print()
    print("| method | data | " + " | ".join(h for _, h in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for label, metrics in rows.items():
        cells = " | ".join(_cell(metrics.get(k)) for k, _ in COLUMNS)
        print(f"| {label} | streams | {cells} |")
    names: list[str] = []
    for metrics in rows.values():
        listed = metrics.get("per_stream")
        if isinstance(listed, dict):
            names += [str(n) for n in listed if n not in names]
    if not names:
        return
    print()
    print("| stream | " + " | ".join(f"{label} J / F / FP" for label in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    for name in names:
        row: list[str] = []
        for metrics in rows.values():
            per_stream = metrics.get("per_stream")
            figures = per_stream.get(name, {}) if isinstance(per_stream, dict) else {}
            row.append(" / ".join(_cell(figures.get(k)) for k in ("J", "F", "false_positives")))
        print(f"| {name} | " + " | ".join(row) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    """Stream rows alone (tools/bench.py --only streams does the same within the bench)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data", help="dev set folder (read only)")
    parser.add_argument("--work", default=None, help="work folder (default: a temp folder)")
    parser.add_argument("--config", nargs="*", default=[], help="EngineConfig KEY=VALUE")
    parser.add_argument("--realtime-params", default=str(REALTIME_PARAMS))
    for flag in ("--skip-baseline", "--skip-engine", "--skip-realtime"):
        parser.add_argument(flag, action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    folder = stream_folder(args)
    if folder is None:
        return 1
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="pixret_bench_"))
    print_stream_table(stream_rows(folder, work, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
