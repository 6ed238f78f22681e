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

DDS stays on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) in a domain of its own,
with the shared-memory profile of config/, unless the environment already sets them.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from pycocotools import mask as coco_mask

from pixret_ros.engine.render import label_image
from pixret_ros.engine.types import Box, Detection
from pixret_ros.entry_points import installed_launcher
from pixret_ros.evaluation import demo_data
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.metrics import (
    SCALAR_METRIC_KEYS,
    box_iou_of_masks,
    compute_metrics,
    mask_iou,
)
from pixret_ros.evaluation.records import DetectionRecord

if TYPE_CHECKING:
    from collections.abc import Sequence

REPO = Path(__file__).resolve().parents[1]
NODE = "/pixret_node"
CAMERA_TOPIC = "/image"  # what pixret_node subscribes (`image` in the root namespace)
#: Accuracy figures must agree this closely between the offline run and the lockstep replay
#: through the node (same engine, same frames; only floating-point threading may differ).
TOLERANCE = 0.02
ACCURACY_KEYS = SCALAR_METRIC_KEYS
SPEED_KEYS = ("fps", "latency_ms_p50", "latency_ms_p95", "dropped_frames")


class DemoError(Exception):
    """A step of the demo failed; the message says which and where its log is."""


def dds_env() -> dict[str, str]:
    """The environment for every process of the demo: loopback DDS, own domain, SHM profile."""
    env = os.environ.copy()
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
    env.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_shm.xml"))
    path = env.get("PYTHONPATH", "")
    if str(REPO) not in path.split(os.pathsep):  # the checkout's sources win, as in `make test`
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), path]))
    return env


def console(name: str) -> list[str]:
    """Command of a console script of the package: the installed launcher, else via the table."""
    launcher = installed_launcher(name)
    if launcher is not None:
        return [str(launcher)]
    code = f"import sys; from pixret_ros.entry_points import run; sys.exit(run({name!r}))"
    return [sys.executable, "-c", code]


def module(name: str) -> list[str]:
    """Command running a module of the package with this Python."""
    return [sys.executable, "-m", name]


class Child:
    """A background process whose output goes to a log file and, line by line, to a queue."""

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.name = Path(args[0]).name
        log.parent.mkdir(parents=True, exist_ok=True)
        self._file = log.open("w", encoding="utf-8")
        self.popen = subprocess.Popen(
            list(args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.popen.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            self._file.write(line)
            self._file.flush()
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, prefix: str, timeout: float) -> str:
        """The first output line starting with `prefix`; DemoError on exit or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
                continue
            if line.startswith(prefix):
                return line
        raise DemoError(f"{self.name} did not print {prefix!r}; see {self.log}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT (a clean shutdown), then kill if it does not end within `timeout`."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        time.sleep(0.2)  # let the pump write the last lines
        self._file.close()
        return int(self.popen.returncode)


def _run(args: Sequence[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    """Run a step to completion, its output shown; DemoError naming the step if it fails."""
    done = subprocess.run(list(args), env=env, check=False, text=True, stdout=subprocess.PIPE)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise DemoError(f"{what} failed (exit status {done.returncode}): {' '.join(args)}")
    return done


def _metrics(folder: Path) -> dict[str, object]:
    loaded = json.loads((folder / "metrics.json").read_text())
    if not isinstance(loaded, dict):
        raise DemoError(f"{folder / 'metrics.json'} is not a JSON object")
    return loaded


def run_offline(data: Path, out: Path, env: dict[str, str]) -> dict[str, object]:
    """`pixret-eval run` over the demo bag with a copy of the demo gallery (kept pristine).

    With the node's own params file, so that both run the same settings (stream mode
    included: a bag is a stream, which the evaluator runs as the params file says).
    """
    gallery = out / "offline_gallery"
    if gallery.exists():
        shutil.rmtree(gallery)
    shutil.copytree(data / "gallery", gallery)
    result = out / "offline"
    _run(
        [
            *console("pixret-eval"),
            "run",
            "--gallery", str(gallery),
            "--gt", str(data / "gt.json"),
            "--bag", str(data / "bag"),
            "--topic", demo_data.TOPIC,
            "--params-file", str(REPO / "config" / "pixret.yaml"),
            "--out", str(result),
        ],
        env,
        "offline evaluation",
    )  # fmt: skip
    return _metrics(result)


def record_live(data: Path, out: Path, env: dict[str, str], *, rate: float | None) -> Path:
    """Run the node, register the demo, play the bag to it and record its answers."""
    gallery = out / "live_gallery"
    recording = out / "live_recording"
    for stale in (gallery, recording):
        if stale.exists():
            shutil.rmtree(stale)
    logs = out / "logs"
    params = REPO / "config" / "pixret.yaml"
    node = Child(
        [
            *console("pixret_node"),
            "--ros-args", "--params-file", str(params), "-p", f"gallery_path:={gallery}",
        ],
        logs / "node.log",
        env,
    )  # fmt: skip
    recorder: Child | None = None
    try:
        names = sorted(p.name for p in (data / "gallery").iterdir() if p.is_dir())
        for name in names:
            view = data / "gallery" / name / "view_000.png"
            mask = data / "gallery" / name / "view_000_mask.png"
            _run(
                [*console("pixret"), "--timeout", "120", "register", name, f"{view}:{mask}"],
                env,
                f"registering {name} (node log: {node.log})",
            )
        recorder = Child(
            [
                *module("pixret_ros.ros.recorder"), str(recording),
                "--topics", f"{NODE}/detections", f"{NODE}/mask",
            ],
            logs / "recorder.log",
            env,
        )  # fmt: skip
        print(recorder.wait_line("pixret-record: ready", timeout=60), flush=True)
        pacing = ["--rate", str(rate)] if rate else ["--lockstep", f"{NODE}/detections"]
        _run(
            [
                *module("pixret_ros.ros.player"), str(data / "bag"),
                "--remap", f"{demo_data.TOPIC}:={CAMERA_TOPIC}", *pacing, "--answer-timeout", "30",
            ],
            env,
            "playing the bag",
        )  # fmt: skip
        time.sleep(1.0)  # the node's last answers are on their way to the recorder
    finally:
        if recorder is not None:
            status = recorder.stop()
            print(f"recorder stopped (exit status {status}); log {recorder.log}", flush=True)
        status = node.stop()
        print(f"pixret_node stopped (exit status {status}); log {node.log}", flush=True)
    return recording


def run_recorded(data: Path, recording: Path, out: Path, env: dict[str, str]) -> dict[str, object]:
    """`pixret-eval run --recorded` on what the node published."""
    result = out / "live"
    _run(
        [
            *console("pixret-eval"),
            "run",
            "--recorded", str(recording),
            "--gt", str(data / "gt.json"),
            "--out", str(result),
        ],
        env,
        "evaluating the recording",
    )  # fmt: skip
    return _metrics(result)


def published_metrics(predictions: Path, gt_path: Path) -> dict[str, object]:
    """The offline predictions scored as the node publishes them.

    The node publishes only accepted detections, and their masks in one label image per frame
    (render.label_image: where masks overlap, the higher score keeps the pixels). A recording
    is scored from exactly that, while the offline run ranks every candidate with its full
    mask; so this, not the plain offline table, is what the recording must match.
    """
    gt = load_ground_truth(gt_path)
    frame_of = {image_id: name for name, image_id in gt.image_ids.items()}
    instance_of = {category_id: name for name, category_id in gt.category_ids.items()}
    per_frame: dict[str, list[Detection]] = defaultdict(list)
    for entry in json.loads(predictions.read_text()):
        if not entry.get("accepted"):
            continue
        mask = np.asarray(coco_mask.decode(entry["segmentation"]), dtype=bool)
        name, score = instance_of[entry["category_id"]], float(entry["score"])
        per_frame[frame_of[entry["image_id"]]].append(
            Detection(name, score, Box.of_mask(mask), mask, 0, None, 0, accepted=True)
        )
    records = []
    for frame, detections in per_frame.items():
        labels = label_image(detections, detections[0].mask.shape)
        truths = gt.masks(frame)
        for i, det in enumerate(detections):
            published = labels == i + 1
            truth = truths.get(det.name, np.zeros_like(published))
            ious = mask_iou(published, truth), box_iou_of_masks(published, truth)
            records.append(DetectionRecord(frame, det.name, det.score, *ious, accepted=True))
    return dict(compute_metrics(gt.frames, gt.truths(), records))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def compare(
    offline: dict[str, object], published: dict[str, object], live: dict[str, object] | None
) -> tuple[str, list[str]]:
    """The side-by-side table; the accuracy keys where live and published differ > TOLERANCE."""
    rows = [f"{'metric':<20} {'offline':>10} {'published':>10} {'live':>10} {'|diff|':>8}"]
    off_tolerance = []
    for key in (*ACCURACY_KEYS, *SPEED_KEYS):
        a, b = published.get(key), None if live is None else live.get(key)
        diff = ""
        if key in ACCURACY_KEYS and isinstance(a, int | float) and isinstance(b, int | float):
            delta = abs(float(a) - float(b))
            diff = f"{delta:.4f}"
            if delta > TOLERANCE:
                off_tolerance.append(key)
        row = [_cell(offline.get(key)), _cell(a), _cell(b)]
        rows.append(f"{key:<20} {row[0]:>10} {row[1]:>10} {row[2]:>10} {diff:>8}")
    return "\n".join(rows), off_tolerance


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
        _run([*console("pixret-eval"), *make], env, "make-demo")
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
