"""Benchmark the engine against the plain SIFT baseline, in one run, on real photos.

Accuracy: every frame of the development set (../shared/data: frames, gallery, gt.json) and,
when given and present, the bundled demo data; metrics from pixret_ros.evaluation.metrics
(DESIGN section 5) for all instances, the planar (Oxford) ones and the DAVIS ones.
Methods: pixret (the engine's defaults, or --config), pixret-realtime (the profile of
config/pixret_realtime.yaml, fast enough for 20 frames/s on 2 cores) and the baseline.
Speed: ms per 640x480 frame with 10, 50 and 1000 registered instances of 2 views each (the
extra instances are crops of scikit-image photos and of the gallery views), registration ms
per view, peak RSS. The gallery is copied to a work folder (never written in place); its
feature caches make a rerun skip registration.

Streams: the same run adds the stream rows of tools/bench_streams.py (J, F, recall50, ...
on DATA/streams, DESIGN section 5.1); `--only streams` runs those rows alone. Then the
rotation x scale x tilt sweep of tools/bench_rotation.py.

Each method's photo rows, each method's stream rows and the sweep run in a process of their
own, so that no section's speed depends on what ran before it in the same process.

Examples:
    make bench      # = tools/bench.py --data ../shared/data --demo build/demo
    make bench BENCH_ARGS="--only streams --skip-baseline"     # quick stream rows
    PYTHONPATH=. .venv/bin/python tools/bench.py --data ../shared/data --skip-scaling
    PYTHONPATH=. .venv/bin/python tools/bench.py --config working_size=512 --skip-baseline
    PYTHONPATH=. .venv/bin/python tools/bench.py --demo build/demo --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import bench_streams
import cv2
import numpy as np
from tqdm import tqdm

from pixret_ros.engine import EngineConfig, Gallery
from pixret_ros.evaluation.engines import build_engine
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.judge import Judge
from pixret_ros.evaluation.metrics import compute_metrics
from pixret_ros.evaluation.records import DetectionRecord, InstanceTruth
from pixret_ros.evaluation.timing import Timer
from pixret_ros.io.bag_reader import read_frames
from pixret_ros.io.frames import read_frame_folder
from pixret_ros.settings.params_file import parse_overrides

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pixret_ros.engine.types import RGBImage
    from pixret_ros.evaluation.engines import Engine
    from pixret_ros.evaluation.ground_truth import GroundTruth
    from pixret_ros.io.frames import Frame

SCALING_SIZES = (10, 50, 1000)
BASELINE_MAX_SIZE = 50
SPEED_SIZE = (640, 480)
REALTIME_PARAMS = Path(__file__).resolve().parents[1] / "config" / "pixret_realtime.yaml"
METHODS = ("pixret", "pixret-realtime", "baseline")
METRIC_COLUMNS = ("image_map", "strict_pixel_map_S", "miou_S", "precision", "recall")


class Run(NamedTuple):
    """Result of one method on one data set."""

    records: list[DetectionRecord]
    latencies_ms: list[float]
    frames: list[str]  # names of the frames run, in order


def run_frames(engine: Engine, frames: Sequence[Frame], gt: GroundTruth, label: str) -> Run:
    """Process every frame and judge every detection against the truth (the runner's judge)."""
    judge, timer = Judge(gt), Timer()
    for frame in tqdm(frames, desc=label, leave=False):
        judge.add(frame.name, frame.image.shape[:2], timer.process(engine, frame.image))
    return Run(judge.records, timer.latencies_ms, [f.name for f in frames])


def grouped_metrics(gt: GroundTruth, run: Run) -> dict[str, dict[str, float | None]]:
    """Metrics over all instances and over the planar (non-DAVIS) and DAVIS groups.

    Only the frames that were run count (the demo is subsampled): the truth is cut to them,
    so that a skipped frame is neither a miss nor a negative.
    """
    seen = frozenset(run.frames)
    truths = [InstanceTruth(t.name, t.positives & seen, t.junk & seen) for t in gt.truths()]
    groups = {"all": [t.name for t in truths]}
    davis = [t.name for t in truths if t.name.startswith("davis_")]
    if davis:  # the dev set: its Oxford scenes are planar (or nearly), DAVIS objects are not
        groups["planar"] = [t.name for t in truths if t.name not in davis]
        groups["DAVIS"] = davis
    out: dict[str, dict[str, float | None]] = {}
    for group, names in groups.items():
        if not names:
            continue
        chosen = set(names)
        metrics = compute_metrics(
            [f for f in gt.frames if f in seen],
            [t for t in truths if t.name in chosen],
            [r for r in run.records if r.instance in chosen],
        )
        out[group] = {k: _num(metrics[k]) for k in METRIC_COLUMNS}
    return out


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


# ------------------------------------------------------------------ synthetic gallery sizes
def extra_instances(gallery_dir: Path, count: int, seed: int = 0) -> list[list[RGBImage]]:
    """`count` extra instances of 2 views each: crops of real photos and of gallery views.

    View 2 is the same crop at another scale and a small rotation, as a user would register
    a second photo of one object.
    """
    import skimage.data  # noqa: PLC0415

    colour = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "cat")
    sources: list[RGBImage] = [
        np.ascontiguousarray(getattr(skimage.data, name)()[:, :, :3]) for name in colour
    ]
    for name in ("camera", "brick", "grass", "gravel", "page", "moon", "text", "coins"):
        grey = getattr(skimage.data, name)()
        sources.append(np.repeat(grey[:, :, None], 3, axis=2))
    for view in sorted(gallery_dir.glob("*/view_*[0-9].png")):
        bgr = np.asarray(cv2.imread(str(view)), dtype=np.uint8)
        sources.append(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8))
    rng = np.random.default_rng(seed)
    out: list[list[RGBImage]] = []
    while len(out) < count:
        src = sources[int(rng.integers(len(sources)))]
        height, width = src.shape[:2]
        side = int(rng.integers(96, max(97, min(height, width, 320))))
        if side > min(height, width):
            continue
        y = int(rng.integers(0, height - side + 1))
        x = int(rng.integers(0, width - side + 1))
        crop = np.ascontiguousarray(src[y : y + side, x : x + side])
        angle = float(rng.uniform(-15, 15))
        scale = float(rng.uniform(0.7, 1.4))
        size = round(side * scale)
        rot = np.asarray(cv2.getRotationMatrix2D((side / 2, side / 2), angle, scale), np.float64)
        rot[:, 2] += (size - side) / 2
        second = cv2.warpAffine(crop, rot, (size, size), borderMode=cv2.BORDER_REFLECT)
        out.append([crop, np.asarray(second, dtype=np.uint8)])
    return out


def speed_rows(
    make_engine: Callable[[Path], Engine],
    work: Path,
    frames: Sequence[Frame],
    sizes: Sequence[int],
) -> list[dict[str, float]]:
    """Latency per 640x480 frame and registration ms/view for each gallery size."""
    base = work / "gallery"
    rows: list[dict[str, float]] = []
    pool = extra_instances(base, max(sizes))
    images = [
        np.asarray(cv2.resize(f.image, SPEED_SIZE, interpolation=cv2.INTER_AREA), np.uint8)
        for f in frames
    ]
    for size in sizes:
        folder = work / f"scale_{size}"
        gallery = Gallery(folder)
        for i, views in enumerate(tqdm(pool[:size], desc=f"add {size}", leave=False)):
            name = f"extra_{i:04d}"
            if name not in gallery.names():
                gallery.add(name, views)
        start = time.perf_counter()
        engine = make_engine(folder)
        load_s = time.perf_counter() - start
        reg = getattr(engine, "last_registration_ms", {})
        for image in images[:2]:
            engine.process(image)  # warm up
        latencies = []
        for image in tqdm(images, desc=f"frames {size}", leave=False):
            t0 = time.perf_counter()
            engine.process(image)
            latencies.append((time.perf_counter() - t0) * 1000.0)
        rows.append(
            {
                "instances": size,
                "p50_ms": float(np.percentile(latencies, 50)),
                "p95_ms": float(np.percentile(latencies, 95)),
                "load_s": load_s,
                # median: the process's first view also pays one-time costs (bench_rotation)
                "registration_ms_per_view": float(np.median(list(reg.values()))) if reg else -1.0,
            }
        )
    return rows


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def print_table(results: dict[str, dict[str, object]]) -> None:
    """One table: accuracy per data set and group, then speed, for every method."""
    print()
    print("| method | data | group | " + " | ".join(METRIC_COLUMNS) + " | p50 ms | p95 ms |")
    print("|---" * (len(METRIC_COLUMNS) + 5) + "|")
    for method, res in results.items():
        for data, groups in res.get("accuracy", {}).items():  # type: ignore[attr-defined]
            lat = res["latency"][data]  # type: ignore[index]
            for group, vals in groups.items():
                cells = [_fmt(vals.get(k)) for k in METRIC_COLUMNS]
                print(
                    f"| {method} | {data} | {group} | "
                    + " | ".join(cells)
                    + f" | {lat[0]:.0f} | {lat[1]:.0f} |"
                )
    speed = [(method, row) for method, res in results.items() for row in res.get("speed", [])]  # type: ignore[attr-defined]
    if speed:  # none with --skip-scaling
        print()
        print("| method | instances | p50 ms/640x480 | p95 ms | load s | registration ms/view |")
        print("|---|---|---|---|---|---|")
    for method, row in speed:
        print(
            f"| {method} | {row['instances']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f}"
            f" | {row['load_s']:.1f} | {row['registration_ms_per_view']:.0f} |"
        )
    print()
    for method, res in results.items():
        print(f"peak RSS of {method}'s process: {res.get('peak_rss_mb', 0.0):.0f} MB")


def _fmt(value: object) -> str:
    return "-" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


def load_frames(folder: Path, topic: str, step: int) -> list[Frame]:
    """Every `step`-th frame of `folder`/frames (image files) or of `folder`/bag (rosbag2)."""
    if (folder / "frames").is_dir():
        frames = list(read_frame_folder(folder / "frames"))
    else:
        frames = list(read_frames(folder / "bag", topic))
    return frames[::step]


def data_sets(args: argparse.Namespace) -> dict[str, Path]:
    """The data folders to evaluate (demo only when given and present)."""
    sets = {"dev": Path(args.data)}
    if args.demo:
        demo = Path(args.demo)
        has_frames = (demo / "frames").is_dir() or (demo / "bag").is_dir()
        if (demo / "gt.json").is_file() and (demo / "gallery").is_dir() and has_frames:
            sets["demo"] = demo
        else:
            print(
                f"bench: demo data skipped: {demo} lacks gt.json, gallery/ or frames/|bag/ "
                "(build it with: pixret-eval make-demo --out build/demo)"
            )
    else:
        print("bench: demo data skipped: no --demo folder given")
    return sets


def build_parser() -> argparse.ArgumentParser:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data", help="dev set folder (read only)")
    parser.add_argument(
        "--demo", default=None, help="demo data folder (gt.json, gallery/, frames/)"
    )
    parser.add_argument("--topic", default="/camera/image_raw", help="image topic of a bag")
    parser.add_argument("--demo-step", type=int, default=3, help="keep every STEP-th demo frame")
    parser.add_argument("--work", default=None, help="work folder (default: a temp folder)")
    parser.add_argument("--config", nargs="*", default=[], help="EngineConfig KEY=VALUE")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-engine", action="store_true", help="run the baseline only")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--scaling-frames", type=int, default=20, help="frames per speed row")
    parser.add_argument(
        "--sizes", default=",".join(map(str, SCALING_SIZES)), help="gallery sizes of speed rows"
    )
    parser.add_argument(
        "--realtime-params",
        default=str(REALTIME_PARAMS),
        help="node params file of the realtime profile, benchmarked as pixret-realtime "
        "(its engine.* settings; --config does not apply to it)",
    )
    parser.add_argument("--skip-realtime", action="store_true", help="no pixret-realtime rows")
    parser.add_argument("--json", default=None, help="also write the results here")
    bench_streams.add_arguments(parser)
    # A child process's part of the run (main): one section of one method.
    parser.add_argument("--section", choices=("photos", "streams"), help=argparse.SUPPRESS)
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--section-json", help=argparse.SUPPRESS)
    parser.add_argument(
        "--rotation", choices=("full", "quick", "off"), default="full",
        help="the rotation x scale x tilt sweep of tools/bench_rotation.py",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run every section in its own process, print the tables.

    `--only streams`: the stream rows alone. A child (`--section`) runs one method's
    section and writes its results to `--section-json` instead of printing tables.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="pixret_bench_"))
    if args.section:
        results = photo_rows(args, work) if args.section == "photos" else stream_rows(args, work)
        Path(args.section_json).write_text(json.dumps(results, default=float))
        return 0
    child_argv = [*argv, "--work", str(work)]
    streams: dict[str, dict[str, object]] = {}
    if args.only != "streams":
        results = in_own_processes("photos", child_argv, args, work)
        print_table(results)
    if bench_streams.stream_folder(args) is not None:
        streams = in_own_processes("streams", child_argv, args, work)
        bench_streams.print_stream_table(streams)
    if args.only == "streams":
        return 0
    results["streams"] = streams  # type: ignore[assignment]
    config = EngineConfig(**parse_overrides(args.config))  # type: ignore[arg-type]
    print(f"config: {dataclasses.asdict(config)}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    rotation_sweep(args)
    return 0


def in_own_processes(
    section: str, argv: Sequence[str], args: argparse.Namespace, work: Path
) -> dict[str, dict[str, object]]:
    """`section`'s results of every chosen method, each method run in a fresh process.

    Why: run one after another in one process, later sections ran slower (the stream rows
    18 / 20 frames/s after the photo and 1000-instance rows, 25 / 23 alone), and moving
    them first only slowed the rows after them instead.
    """
    results: dict[str, dict[str, object]] = {}
    for method in bench_streams.methods(args):
        out = work / f"{section}_{method}.json"
        command = [sys.executable, __file__, *argv, "--section", section, "--method", method]
        run_child([*command, "--section-json", str(out)], f"the {section} rows of {method}")
        results.update(json.loads(out.read_text()))
    return results


def stream_rows(args: argparse.Namespace, work: Path) -> dict[str, dict[str, object]]:
    """The stream rows (tools/bench_streams.py) of `args.method`."""
    folder = bench_streams.stream_folder(args)
    return {} if folder is None else bench_streams.stream_rows(folder, work, args)


def photo_rows(args: argparse.Namespace, work: Path) -> dict[str, dict[str, object]]:
    """Accuracy on the photo sets and the scaling rows of `args.method`."""
    method = args.method
    runner, overrides = bench_streams.methods(args)[method]  # the stream rows' choice, too

    def make(gallery: Path) -> Engine:
        return build_engine(Gallery(gallery), runner, temporal=False, config=overrides)[0]

    res: dict[str, object] = {"accuracy": {}, "latency": {}}
    for data, folder in data_sets(args).items():
        gallery = work / method / data / "gallery"
        if not gallery.exists():
            shutil.copytree(folder / "gallery", gallery)
        gt = load_ground_truth(folder / "gt.json")
        frames = load_frames(folder, args.topic, args.demo_step if data == "demo" else 1)
        run = run_frames(make(gallery), frames, gt, f"{method} {data}")
        res["accuracy"][data] = grouped_metrics(gt, run)  # type: ignore[index]
        lat = run.latencies_ms
        res["latency"][data] = (np.percentile(lat, 50), np.percentile(lat, 95))  # type: ignore[index]
    if not args.skip_scaling:
        frames = list(read_frame_folder(Path(args.data) / "frames"))
        step = max(1, len(frames) // args.scaling_frames)
        sizes = [int(s) for s in args.sizes.split(",") if s]
        if method == "baseline":  # it matches every view of every instance: 1000 is hours
            sizes = [s for s in sizes if s <= BASELINE_MAX_SIZE]
        # One scaling gallery folder serves both pixret profiles (each caches its own view
        # features: the realtime profile registers no turned copies).
        family = method.split("-")[0]
        res["speed"] = speed_rows(make, work / family / "dev", frames[::step], sizes)
    res["peak_rss_mb"] = peak_rss_mb()
    return {method: res}


def rotation_sweep(args: argparse.Namespace) -> None:
    """The rotation x scale x tilt sweep (tools/bench_rotation.py), in its own process."""
    if args.rotation == "off":
        return
    quick = ["--quick"] if args.rotation == "quick" else []
    skip = ["--skip-baseline"] if args.skip_baseline else []
    sweep = Path(__file__).with_name("bench_rotation.py")
    command = [sys.executable, str(sweep), "--data", args.data, *quick, *skip]
    run_child(command, "the rotation sweep")


def run_child(command: Sequence[str], what: str) -> None:
    """Run one part of the bench as a child process; stop the bench, naming it, if it fails."""
    code = subprocess.run(command, check=False).returncode
    if code != 0:
        raise SystemExit(f"bench: {what} failed (exit {code})")


if __name__ == "__main__":
    sys.exit(main())
