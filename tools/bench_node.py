"""Benchmark pixret_node end to end: frame stamp -> detections received, over DDS, two processes.

What it does: starts pixret_node (config/pixret.yaml, a fresh gallery in a work folder) as a
separate process, registers instances through its register_instance service (timed: ms per
view), then
  camera mode:  publishes 640x480 rgb8 frames at --rate Hz for --duration s, like a camera;
                latency = arrival of the detections - the frame's header stamp, for every
                frame the node answered (it drops the others: newest-frame policy);
  closed loop:  sends one frame, waits for its detections, sends the next (--closed-frames);
                latency without waiting for a busy node, rate = the node's top speed.
Node RSS at the end and the node's own /diagnostics (engine ms p50, drops) are reported too.
With --py-spy DIR, the node is sampled (py-spy, 100 Hz, non-blocking) while the camera and
the streams play, and each recording's per-thread CPU shares by cause are printed
(tools/profile_shares.py).
The default gallery: the dev set's 12 instances (1 view each) plus crops of real photos
(2 views each, tools/bench.py `extra_instances`) up to --instances; frames: the dev set's
frames resized to 640x480.

Examples:
    PYTHONPATH=. .venv/bin/python tools/bench_node.py
    PYTHONPATH=. .venv/bin/python tools/bench_node.py --instances 10 --duration 10 --json out.json
    PYTHONPATH=. .venv/bin/python tools/bench_node.py --rate 15 --closed-frames 0
    PYTHONPATH=. .venv/bin/python tools/bench_node.py --work /tmp/bn --reuse-gallery  # rerun
    PYTHONPATH=. .venv/bin/python tools/bench_node.py --profile realtime --py-spy /tmp/spy
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench_node_streams as streams
import cv2
import numpy as np
import numpy.typing as npt
import profile_shares
import psutil
import rclpy
from bench import extra_instances
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from tqdm import tqdm

from pixret_ros.io.frames import read_frame_folder
from pixret_ros.msg import InstanceDetectionArray
from pixret_ros.ros.convert import to_image_msg
from pixret_ros.srv import ListInstances, RegisterInstance

if TYPE_CHECKING:
    from collections.abc import Sequence

REPO = Path(__file__).resolve().parents[1]
SIZE = (640, 480)
Stamp = tuple[int, int]


def node_env() -> dict[str, str]:
    """Loopback DDS in this run's domain with the shared-memory profile (as `make unit`)."""
    env = os.environ.copy()
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
    env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_shm.xml")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


class Peer:
    """The camera and the consumer: publishes frames, times the detections that come back."""

    def __init__(self) -> None:
        rclpy.init()
        self.node = rclpy.create_node(f"pixret_bench_{os.getpid()}")
        self.images = self.node.create_publisher(Image, "/image", qos_profile_sensor_data)
        self.lock = threading.Lock()
        self.arrivals: dict[Stamp, float] = {}  # stamp -> latency s
        self.diagnostics: dict[str, str] = {}
        # The last few answers (detections, mask) by stamp, in arrival order (live J).
        self.results: OrderedDict[Stamp, list[Any]] = OrderedDict()
        self.node.create_subscription(
            InstanceDetectionArray, "/pixret_node/detections", self._on_detections, 100
        )
        self.node.create_subscription(Image, "/pixret_node/mask", self._on_mask, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        # One thread: rclpy's MultiThreadedExecutor delayed callbacks here by 0.2-3 s every
        # few dozen frames (the node's own log showed every frame processed and published on
        # time; the stalls were in this consumer), which made the node look stalled.
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_detections(self, msg: InstanceDetectionArray) -> None:
        now = self.node.get_clock().now().nanoseconds
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        with self.lock:
            self.arrivals[stamp] = (now - stamp[0] * 1_000_000_000 - stamp[1]) / 1e9
            self._keep(stamp, 0, msg)

    def _on_mask(self, msg: Image) -> None:
        with self.lock:
            self._keep((msg.header.stamp.sec, msg.header.stamp.nanosec), 1, msg)

    def _keep(self, stamp: Stamp, slot: int, msg: object) -> None:
        entry = self.results.setdefault(stamp, [None, None])
        entry[slot] = msg
        if all(part is not None for part in entry):
            self.results.move_to_end(stamp)  # complete now: the newest answer
        while len(self.results) > 30:
            self.results.popitem(last=False)

    def newest_result(self, stamps: set[Stamp]) -> tuple[Any, Any] | None:
        """The most recently completed (detections, mask) among `stamps`, or None."""
        with self.lock:
            for stamp in reversed(self.results):
                entry = self.results[stamp]
                if stamp in stamps and all(part is not None for part in entry):
                    return entry[0], entry[1]
        return None

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if status.hardware_id == "/pixret_node" and values.get("engine_ms_p50", "nan") != "nan":
                self.diagnostics = values  # the last report of a period with processed frames

    def publish(self, msg: Image) -> Stamp:
        """Stamp `msg` now and publish it on /image; returns the stamp."""
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.images.publish(msg)
        return (msg.header.stamp.sec, msg.header.stamp.nanosec)

    def call(self, srv_type: type, name: str, request: object, timeout: float = 120.0) -> Any:  # noqa: ANN401 - rosidl types are untyped
        """Call service `name` and wait for the answer (exit with a message if none)."""
        client = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise SystemExit(f"bench_node: {name} not available after {timeout:g} s")
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            raise SystemExit(f"bench_node: {name} did not answer within {timeout:g} s")
        self.node.destroy_client(client)
        return future.result()

    def close(self) -> None:
        """Stop spinning and shut rclpy down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


View = npt.NDArray[np.uint8]


def instances(data: Path, count: int) -> list[tuple[str, list[View], list[View]]]:
    """(name, views, masks): the dev set's instances first, then photo crops up to `count`."""
    out: list[tuple[str, list[View], list[View]]] = []
    for folder in sorted((data / "gallery").glob("*"))[:count]:
        view = cv2.imread(str(folder / "view_000.png"))
        mask = cv2.imread(str(folder / "view_000_mask.png"), cv2.IMREAD_GRAYSCALE)
        if view is not None and mask is not None:
            out.append((folder.name, [np.ascontiguousarray(view[:, :, ::-1])], [np.asarray(mask)]))
    for i, views in enumerate(extra_instances(data / "gallery", max(0, count - len(out)))):
        out.append((f"crop_{i:03d}", views, [np.full(v.shape[:2], 255, np.uint8) for v in views]))
    return out


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 in ms (nan when empty)."""
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 50) * 1e3), float(np.percentile(values, 95) * 1e3)


def camera_mode(peer: Peer, frames: list[Image], rate: float, duration: float) -> dict[str, float]:
    """Publish at `rate` Hz for `duration` s; latency of every answered frame."""
    sent: list[Stamp] = []
    start = next_at = time.monotonic()
    with tqdm(total=int(rate * duration), desc=f"camera {rate:g} Hz", leave=False) as bar:
        while next_at - start < duration:
            sent.append(peer.publish(frames[len(sent) % len(frames)]))
            bar.update()
            next_at += 1.0 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    time.sleep(2.0)  # the last frame's answer
    with peer.lock:
        latencies = [peer.arrivals[s] for s in sent if s in peer.arrivals]
    p50, p95 = percentiles(latencies)
    return {
        "sent": len(sent),
        "answered": len(latencies),
        "achieved_hz": len(latencies) / duration,
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
    }


def closed_loop(peer: Peer, frames: list[Image], count: int) -> dict[str, float]:
    """One frame at a time: send, wait for its detections (10 s at most), repeat."""
    latencies = []
    start = time.monotonic()
    for i in tqdm(range(count), desc="closed loop", leave=False):
        stamp = peer.publish(frames[i % len(frames)])
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            with peer.lock:
                latency = peer.arrivals.get(stamp)
            if latency is not None:
                latencies.append(latency)
                break
            time.sleep(0.001)
    elapsed = time.monotonic() - start
    p50, p95 = percentiles(latencies)
    return {
        "sent": count,
        "answered": len(latencies),
        "achieved_hz": len(latencies) / elapsed if elapsed else 0.0,
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
    }


def register_all(peer: Peer, data: Path, count: int, *, reuse: bool) -> list[float]:
    """Register the bench instances through the service; seconds per view of each call."""
    todo = instances(data, count)
    if reuse:
        have = peer.call(ListInstances, "/pixret_node/list_instances", ListInstances.Request())
        todo = [item for item in todo if item[0] not in set(have.names)]
    per_view = []
    for name, views, masks in tqdm(todo, desc="register"):
        request = RegisterInstance.Request(name=name, replace=True)
        request.images = [to_image_msg(v, "rgb8") for v in views]
        request.masks = [to_image_msg(m, "mono8") for m in masks]
        start = time.monotonic()
        answer = peer.call(RegisterInstance, "/pixret_node/register_instance", request)
        per_view.append((time.monotonic() - start) / len(views))
        if not answer.success:
            raise SystemExit(f"bench_node: {answer.message}")
    return per_view


PROFILES = {"defaults": (), "realtime": (REPO / "config" / "pixret_realtime.yaml",)}


def start_node(gallery: Path, extra: Sequence[Path], log: Path) -> subprocess.Popen[bytes]:
    """pixret_node with config/pixret.yaml plus `extra` params files, over `gallery`."""
    params = [REPO / "config" / "pixret.yaml", *extra]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pixret_ros.ros.node_process", "--ros-args",
             *(arg for path in params for arg in ("--params-file", str(path))),
             "-p", f"gallery_path:={gallery}"],
            env=node_env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def stop_node(node: subprocess.Popen[bytes]) -> int:
    """SIGINT, as Ctrl-C; the exit status (0 = clean)."""
    node.send_signal(signal.SIGINT)
    try:
        return node.wait(30)
    except subprocess.TimeoutExpired:
        node.kill()
        return -9


def engine_alone(mode: str, gallery: Path, extra: Sequence[Path], *options: str) -> dict[str, Any]:
    """tools/bench_engine_alone.py in a child process (no ROS in it): its JSON result."""
    params = [REPO / "config" / "pixret.yaml", *extra]
    command = [sys.executable, str(REPO / "tools" / "bench_engine_alone.py"), mode, str(gallery)]
    command += [arg for path in params for arg in ("--params-file", str(path))]
    command += options
    print(f"bench_node: engine alone ({mode}) in a child process", file=sys.stderr)
    done = subprocess.run(command, env=node_env(), capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"bench_node: engine alone failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ready(peer: Peer) -> None:
    """Wait until a freshly started node answers (it loads the gallery first)."""
    peer.call(ListInstances, "/pixret_node/list_instances", ListInstances.Request(), 900.0)


def spy_on(
    node: subprocess.Popen[bytes], args: argparse.Namespace, seconds: float, name: str
) -> tuple[subprocess.Popen[bytes], Path] | None:
    """With --py-spy: start sampling the node for `seconds` (the load that follows)."""
    if not args.py_spy:
        return None
    out = Path(args.py_spy) / f"{name}.txt"
    return profile_shares.record(node.pid, seconds, out), out


def spy_table(spy: tuple[subprocess.Popen[bytes], Path] | None, seconds: float) -> str | None:
    """The recording's per-thread shares by cause (None without --py-spy or if it failed)."""
    if spy is None:
        return None
    process, out = spy
    process.wait(seconds + 30)
    if process.returncode or not out.exists():
        print(f"bench_node: py-spy failed (status {process.returncode})", file=sys.stderr)
        return None
    text = profile_shares.table(profile_shares.shares(out), seconds, 100.0)
    print(f"== node profile {out.stem} (% of one core)\n{text}", file=sys.stderr)
    return text


def camera_part(
    peer: Peer, args: argparse.Namespace, extra: Sequence[Path], work: Path, tag: str
) -> dict[str, Any]:
    """640x480 frames: engine alone, then the node in closed loop and as a camera."""
    data = Path(args.data)
    frames = [
        to_image_msg(cv2.resize(f.image, SIZE, interpolation=cv2.INTER_AREA), "rgb8")
        for f in read_frame_folder(data / "frames")
    ][: args.frames]
    gallery = work / "gallery"
    node = start_node(gallery, extra, work / "node_camera.log")
    results: dict[str, Any] = {"instances": args.instances, "frame": f"{SIZE[0]}x{SIZE[1]}"}
    try:
        ready(peer)
        per_view = register_all(peer, data, args.instances, reuse=True)
        if per_view:
            results["registration_ms_per_view_p50"] = float(np.median(per_view) * 1e3)
        options = ["--data", str(data), *(["--frames", str(args.frames)] if args.frames else [])]
        results["engine_alone"] = engine_alone("camera", gallery, extra, *options)
        closed_loop(peer, frames, 5)  # warm up
        if args.closed_frames:
            results["closed_loop"] = closed_loop(peer, frames, args.closed_frames)
        peer.diagnostics = {}
        spy = spy_on(node, args, args.duration, f"{tag}_camera")
        results["camera"] = camera_mode(peer, frames, args.rate, args.duration)
        results["profile"] = spy_table(spy, args.duration)
        results["camera"]["rate_hz"] = args.rate
        results["node_rss_mb"] = psutil.Process(node.pid).memory_info().rss / 2**20
        results["node_diagnostics"] = dict(peer.diagnostics)
    finally:
        results["node_exit_status"] = stop_node(node)
    return results


def streams_part(
    peer: Peer, args: argparse.Namespace, extra: Sequence[Path], work: Path, tag: str
) -> dict[str, Any]:
    """The DAVIS streams at --stream-fps: engine alone (offline J) and the node (live J)."""
    folder = Path(args.streams)
    gallery = work / "streams_gallery"
    if not gallery.is_dir():
        shutil.copytree(folder / "gallery", gallery)  # the engine writes caches into it
    gt = streams.load(folder)
    chosen = streams.streams_of(gt, args.streams_limit)
    node = start_node(gallery, extra, work / "node_streams.log")
    results: dict[str, Any] = {"streams": list(chosen), "fps": args.stream_fps}
    try:
        ready(peer)
        limit = ["--streams-limit", str(args.streams_limit)] if args.streams_limit else []
        results["engine_alone"] = engine_alone(
            "streams", gallery, extra, "--streams", str(folder), *limit
        )
        seconds = sum(map(len, chosen.values())) / args.stream_fps + 1.0 * len(chosen)
        spy = spy_on(node, args, seconds, f"{tag}_streams")
        peer.diagnostics = {}
        results["node"] = streams.node_live(peer, folder, chosen, gt, args.stream_fps)
        results["node_diagnostics"] = dict(peer.diagnostics)
        results["profile"] = spy_table(spy, seconds)
        results["node_rss_mb"] = psutil.Process(node.pid).memory_info().rss / 2**20
    finally:
        results["node_exit_status"] = stop_node(node)
    return results


def summary(results: dict[str, Any]) -> str:
    """The issue-10 ratios of each profile, one block each."""
    lines = []
    for name, part in results["profiles"].items():
        lines.append(f"== {name}")
        cam = part.get("camera_mode")
        if cam:
            alone, live = cam["engine_alone"], cam["camera"]
            lines.append(
                f"camera {live['rate_hz']:g} Hz: engine alone {alone['rate_hz']:.1f} fps "
                f"p50/p95 {alone['latency_ms_p50']:.0f}/{alone['latency_ms_p95']:.0f} ms | node "
                f"{live['achieved_hz']:.1f} fps ({live['achieved_hz'] / alone['rate_hz']:.2f}x) "
                f"p50/p95 {live['latency_ms_p50']:.0f}/{live['latency_ms_p95']:.0f} ms "
                f"(p95 {live['latency_ms_p95'] / alone['latency_ms_p95']:.2f}x), engine_ms p50 "
                f"{cam['node_diagnostics'].get('engine_ms_p50', '?')}, "
                f"RSS {cam['node_rss_mb']:.0f} MB"
            )
            closed = cam.get("closed_loop")
            if closed:
                lines.append(
                    f"closed loop: {closed['achieved_hz']:.1f} fps p50/p95 "
                    f"{closed['latency_ms_p50']:.0f}/{closed['latency_ms_p95']:.0f} ms "
                    f"(p95/p50 {closed['latency_ms_p95'] / closed['latency_ms_p50']:.2f})"
                )
        st = part.get("streams")
        if st:
            alone, live = st["engine_alone"], st["node"]
            lines.append(
                f"streams {st['fps']:g} fps: engine alone {alone['rate_hz']:.1f} fps J "
                f"{alone['J']:.3f} | node answered {100 * live['answered_share']:.0f} % p50/p95 "
                f"{live['latency_ms_p50'] or float('nan'):.0f}/"
                f"{live['latency_ms_p95'] or float('nan'):.0f} ms, live J {live['live_J']:.3f} "
                f"(J gap {alone['J'] - live['live_J']:+.3f}), engine_ms p50 "
                f"{st.get('node_diagnostics', {}).get('engine_ms_p50', '?')}, "
                f"RSS {st['node_rss_mb']:.0f} MB"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one table (and --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--streams", default=str(REPO.parent / "shared" / "data" / "streams"))
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--frames", type=int, default=None, help="at most this many frames")
    parser.add_argument("--rate", type=float, default=30.0, help="camera mode frame rate, Hz")
    parser.add_argument("--duration", type=float, default=30.0, help="camera mode seconds")
    parser.add_argument("--closed-frames", type=int, default=50, help="0 skips closed loop")
    parser.add_argument("--stream-fps", type=float, default=24.0)
    parser.add_argument("--streams-limit", type=int, default=None, help="first N streams only")
    parser.add_argument(
        "--profile", choices=[*PROFILES, "both"], default="both", help="node params profile"
    )
    parser.add_argument("--only", choices=["camera", "streams", "both"], default="both")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run: 12 instances, 24 frames, 8 s camera, 15 closed-loop frames, 2 streams",
    )
    parser.add_argument(
        "--work", default=None, help="work folder (default: a temp folder); galleries and their "
        "feature caches are kept there, so a rerun with the same --work skips registration",
    )  # fmt: skip
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument(
        "--py-spy", default=None, metavar="DIR", help="sample the node with py-spy while the "
        "camera and the streams play; raw recordings go to DIR, shares per thread are printed",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.instances, args.frames, args.duration = 12, 24, 8.0
        args.closed_frames, args.streams_limit = 15, 2
    if not (Path(args.data) / "frames").is_dir():
        print(f"bench_node: {args.data}/frames not found; give --data (the dev set folder)")
        return 1
    work = Path(args.work or tempfile.mkdtemp(prefix="pixret_bench_node_"))
    work.mkdir(parents=True, exist_ok=True)
    profiles = list(PROFILES) if args.profile == "both" else [args.profile]
    results: dict[str, Any] = {"work": str(work), "profiles": {}}
    peer = Peer()
    try:
        for name in profiles:
            part: dict[str, Any] = {}
            results["profiles"][name] = part
            if args.only in ("camera", "both"):
                part["camera_mode"] = camera_part(peer, args, PROFILES[name], work, name)
            if args.only in ("streams", "both"):
                part["streams"] = streams_part(peer, args, PROFILES[name], work, name)
    finally:
        peer.close()
    print(json.dumps(results, indent=1))
    print(summary(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
