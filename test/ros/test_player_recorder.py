"""Bag player and recorder over real Fast DDS between real processes, with real rosbag2 files.

A bag of photos is played to a peer process that answers each frame like pixret_node; the
recorder stores the answers; the recording must hold every frame's answer, byte-exact.
"""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from skimage import data

from pixret_ros.io.bag_reader import read_frames, stamp_frame_name
from pixret_ros.io.bag_writer import write_image_bag
from pixret_ros.io.recording_reader import read_recording
from pixret_ros.ros import player, recorder
from pixret_ros.ros.bag_common import split_ros_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
from echo_node import bright_labels

pytestmark = pytest.mark.dds

PEERS = Path(__file__).resolve().parents[1] / "peers"
BAG_TOPIC = "/camera/image_raw"
# The peer's own namespace: in the root it would share /image with the session's pixret_node,
# and the player could start on that node's subscription before the peer's had matched.
NAMESPACE = "/player_test"
IMAGE = f"{NAMESPACE}/image"
DETECTIONS = f"{NAMESPACE}/echo_node/detections"
MASK = f"{NAMESPACE}/echo_node/mask"
START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 66_666_667  # 15 Hz


class Process:
    """A child process whose output lines are collected by a thread (never blocks the test)."""

    def __init__(self, args: list[str]) -> None:
        self.popen = subprocess.Popen(
            args,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        pytest.fail(f"no line {prefix!r} within {timeout} s; output so far: {self.seen}")

    def stop(self, timeout: float = 20.0) -> tuple[int, list[str]]:
        """SIGINT, wait, and return the exit status and every line printed."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        status = self.popen.wait(timeout=timeout)
        time.sleep(0.1)  # let the pump thread drain the pipe
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return status, self.seen

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def _module(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", name, *args]


def _photos() -> list[np.ndarray]:
    photos = [
        data.coffee(),
        data.chelsea(),
        data.astronaut(),
        data.rocket(),
        data.immunohistochemistry(),
    ]
    frames = [cv2.resize(p, (640, 480), interpolation=cv2.INTER_AREA) for p in photos]
    return frames + [np.ascontiguousarray(f[:, ::-1]) for f in frames[:3]]  # 8 frames


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("play") / "photos"
    frames = ((START_NS + i * PERIOD_NS, rgb) for i, rgb in enumerate(_photos()))
    assert write_image_bag(path, frames, BAG_TOPIC) == 8
    return path


@pytest.fixture
def echo() -> Iterator[Process]:
    process = Process(
        [sys.executable, str(PEERS / "echo_node.py"), "--ros-args", "-r", f"__ns:={NAMESPACE}"]
    )
    process.wait_line("echo ready", timeout=30)
    yield process
    process.kill()


def test_lockstep_play_and_record_every_answer_byte_exact(
    bag: Path, echo: Process, tmp_path: Path
) -> None:
    out = tmp_path / "recording"
    recording = Process(_module("pixret_ros.ros.recorder", str(out), "--topics", DETECTIONS, MASK))
    try:
        recording.wait_line("pixret-record: ready", timeout=30)
        played = subprocess.run(
            _module(
                "pixret_ros.ros.player", str(bag), "--remap", f"{BAG_TOPIC}:={IMAGE}",
                "--lockstep", DETECTIONS, "--answer-timeout", "10",
            ),
            env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert played.returncode == 0, played.stderr
        assert "deprecated" not in played.stderr  # --remap is the player's, not rcl's
        assert f"published 8 messages on {IMAGE}" in played.stdout
        assert f"8 answered on {DETECTIONS}, 0 not in time" in played.stdout
        time.sleep(0.5)  # the last answer is on its way to the recorder too
        status, lines = recording.stop()
    finally:
        recording.kill()
    assert status == 0, lines
    # The summary line, not the last line: stderr shares the pipe, and once a warning printed
    # at interpreter shutdown came after it (seen once in many runs).
    summary = [line for line in lines if line.startswith("pixret-record: wrote")]
    assert len(summary) == 1, lines
    assert f"{DETECTIONS}: 8" in summary[0]
    assert f"{MASK}: 8" in summary[0]

    # Every frame's answer, matched by header stamp, with the label image the peer computed.
    inputs = {f.name: f.image for f in read_frames(bag, BAG_TOPIC)}
    recorded = list(read_recording(out, DETECTIONS, MASK))
    expected_names = [stamp_frame_name(START_NS + i * PERIOD_NS) for i in range(8)]
    assert [r.name for r in recorded] == expected_names
    for frame in recorded:
        assert frame.detections[0].name == "bright"
        assert frame.labels is not None
        assert np.array_equal(frame.labels, bright_labels(inputs[frame.name]))

    # The bag holds exactly the bytes the peer serialized.
    _, echo_lines = echo.stop()
    sent = {}
    for line in echo_lines:
        if line.startswith("answered "):
            _, stamp, det_sha, mask_sha = line.split()
            sent[int(stamp)] = (det_sha, mask_sha)
    assert len(sent) == 8
    stored: dict[str, set[str]] = {DETECTIONS: set(), MASK: set()}
    assert len(list(out.glob("*.mcap"))) == 1
    with Reader(out) as reader:
        for connection, _, raw in reader.messages():
            stored[connection.topic].add(hashlib.sha256(bytes(raw)).hexdigest())
    assert stored[DETECTIONS] == {d for d, _ in sent.values()}
    assert stored[MASK] == {m for _, m in sent.values()}


def test_real_time_play_keeps_the_bag_timing_and_stamps(bag: Path, echo: Process) -> None:
    started = time.monotonic()
    played = subprocess.run(
        _module(
            "pixret_ros.ros.player", str(bag), "--remap", f"{BAG_TOPIC}:={IMAGE}", "--rate", "0.5"
        ),
        env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert played.returncode == 0, played.stderr
    assert "published 8 messages" in played.stdout
    # 7 gaps of 1/15 s at half speed: the player may be late, never early.
    assert elapsed >= 7 * PERIOD_NS / 1e9 / 0.5
    _, lines = echo.stop()
    stamps = [int(line.split()[1]) for line in lines if line.startswith("answered ")]
    assert stamps == sorted(stamps)
    assert set(stamps) <= {START_NS + i * PERIOD_NS for i in range(8)}
    # Both sides reliable, and play began --delay (default 1 s) after the match: every frame.
    assert len(stamps) == 8, lines


def test_player_errors_name_the_bag_topic_and_fix(
    bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def play(*args: str) -> tuple[int, str]:
        status = player.main(list(args))
        return status, capsys.readouterr().err

    status, err = play(str(tmp_path / "nope"))
    assert status == 1
    assert f"bag {tmp_path / 'nope'} does not exist" in err
    status, err = play(str(bag), "--topics", "/lidar")
    assert status == 1
    assert "has no topic /lidar; its topics: /camera/image_raw" in err
    status, err = play(str(bag), "--remap", f"{BAG_TOPIC}:=/nobody_listens", "--wait-timeout", "1")
    assert status == 1
    assert "no subscriber on /nobody_listens after 1 s" in err
    status, err = play(str(bag), "--remap", "/camera/image_raw=/image")
    assert status == 1
    assert "write it as FROM:=TO" in err
    status, err = play(str(bag), "--delay", "-1")
    assert status == 1
    assert "--delay must be >= 0, got -1.0" in err


def test_lockstep_waits_for_the_answer_topic_and_names_it_when_nobody_publishes(
    bag: Path, echo: Process, capsys: pytest.CaptureFixture[str]
) -> None:
    """The frames have a subscriber (the echo peer), the answer topic has no publisher: the
    player must not play frames whose answers could only be lost."""
    status = player.main(
        [
            str(bag), "--remap", f"{BAG_TOPIC}:={IMAGE}", "--lockstep", "/nobody/detections",
            "--wait-timeout", "2",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert status == 1
    assert "nobody publishes /nobody/detections after 2 s" in captured.err
    assert "published" not in captured.out
    _, lines = echo.stop()
    assert not [line for line in lines if line.startswith("answered ")]


def test_recorder_refuses_an_existing_folder_and_stops_after_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").mkdir()
    assert recorder.main([str(tmp_path / "taken"), "--topics", "/x"]) == 1
    assert "exists; the recorder writes a new bag folder" in capsys.readouterr().err
    quiet = [str(tmp_path / "quiet"), "--topics", "/nobody_talks", "--duration", "1"]
    assert recorder.main(quiet) == 0
    assert "/nobody_talks: 0" in capsys.readouterr().out
    with Reader(tmp_path / "quiet") as reader:
        assert reader.message_count == 0


def test_only_the_ros_args_part_goes_to_rclpy() -> None:
    own, ros = split_ros_args(
        ["bag", "--remap", "/a:=/b", "--ros-args", "-r", "__ns:=/cam", "--", "--rate", "2"]
    )
    assert own == ["bag", "--remap", "/a:=/b", "--rate", "2"]
    assert ros == ["--ros-args", "-r", "__ns:=/cam"]
