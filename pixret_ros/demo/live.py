"""`make demo`'s live part: pixret_node on the demo data over DDS, its outputs recorded.

Each step is a real process: the node (`pixret_node`), `pixret register` for every demo
instance, the recorder (pixret_ros.ros.recorder) and the player (pixret_ros.ros.player, in
lockstep by default: every frame is processed), and `pixret-eval run` offline and on the
recording. Here rather than in tools/demo.py so that the demo's live test runs the very steps
`make demo` runs. The paths below are the source checkout's (`make demo` runs from one).

DDS stays on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) in a domain of its own,
with the shared-memory profile of config/, unless the environment already sets them.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pixret_ros.demo.build import TOPIC
from pixret_ros.entry_points import installed_launcher

if TYPE_CHECKING:
    from collections.abc import Sequence

REPO = Path(__file__).resolve().parents[2]
NODE = "/pixret_node"
CAMERA_TOPIC = "/image"  # what pixret_node subscribes (`image` in the root namespace)


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


def run_step(
    args: Sequence[str], env: dict[str, str], what: str
) -> subprocess.CompletedProcess[str]:
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
    run_step(
        [
            *console("pixret-eval"),
            "run",
            "--gallery", str(gallery),
            "--gt", str(data / "gt.json"),
            "--bag", str(data / "bag"),
            "--topic", TOPIC,
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
            run_step(
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
        run_step(
            [
                *module("pixret_ros.ros.player"), str(data / "bag"),
                "--remap", f"{TOPIC}:={CAMERA_TOPIC}", *pacing, "--answer-timeout", "30",
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
    run_step(
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
