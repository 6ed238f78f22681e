"""pixret-eval: the console script end to end once, the rest in-process through main()."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from tiny_scene import ENGINE_CONFIG, NAMES, TOPIC, Scene, write_recording

from pixret_ros.entry_points import installed_launcher
from pixret_ros.evaluation.cli import main


@pytest.mark.installed
def test_console_script_run_on_frames(tiny: Scene, tmp_path: Path) -> None:
    script = installed_launcher("pixret-eval")  # a colcon workspace's, or the venv's
    assert script is not None, "pixret-eval is not installed: run `make setup` or `colcon build`"
    out = tmp_path / "out"
    args = ["run", "--gallery", tiny.gallery, "--gt", tiny.gt, "--frames", tiny.frames_dir]
    args += [f"--config={key}={value}" for key, value in ENGINE_CONFIG.items()]
    done = subprocess.run(
        [script, *map(str, args), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    table = dict(line.split(None, 1) for line in lines[:-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert float(table["image_map"]) == pytest.approx(metrics["image_map"], abs=1e-4)
    assert float(table["fps"]) == pytest.approx(metrics["fps"], abs=1e-4)
    assert {"strict_pixel_map_S", "latency_ms_p95", "evaluator_overhead_ratio"} <= set(table)
    assert lines[-1] == f"report: {out / 'report.html'}"
    assert (out / "predictions.json").is_file()
    assert metrics["config"]["working_size"] == ENGINE_CONFIG["working_size"]


def test_run_recorded(tiny: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = tmp_path / "rec"
    write_recording(bag, tiny)
    out = tmp_path / "out"
    assert main(["run", "--gt", str(tiny.gt), "--recorded", str(bag), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "dropped_frames            1" in printed
    assert "fps                       -" in printed
    assert json.loads((out / "metrics.json").read_text())["dropped_frames"] == 1


def test_export_frames_names(tiny: Scene, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    assert main(["export-frames", "--bag", str(tiny.bag), "--topic", TOPIC, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
    for name, frame in zip(NAMES, tiny.frames, strict=True):
        written = cv2.imread(str(out / name))
        assert written is not None
        np.testing.assert_array_equal(cv2.cvtColor(written, cv2.COLOR_BGR2RGB), frame)


def run_args(tiny: Scene, out: Path, *extra: str) -> list[str]:
    return ["run", "--gallery", str(tiny.gallery), "--gt", str(tiny.gt), "--out", str(out), *extra]


def test_errors_are_one_line_and_exit_1(
    tiny: Scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (
            run_args(tiny, tmp_path / "a", "--bag", str(tiny.bag), "--topic", "/nope"),
            rf"bag {tiny.bag} has no topic '/nope'; its topics: {TOPIC} \(sensor_msgs/msg/Image\)",
        ),
        (run_args(tiny, tmp_path / "b", "--bag", str(tiny.bag)), r"--bag needs --topic"),
        (
            ["run", "--gt", str(tiny.gt), "--frames", str(tiny.frames_dir), "--out", "x"],
            r"--gallery is required with --bag and --frames",
        ),
        (
            run_args(tiny, tmp_path / "c", "--frames", str(tiny.frames_dir), "--config", "x=1"),
            r"--config 'x=1': expected KEY=VALUE",
        ),
        (
            ["export-frames", "--bag", str(tmp_path), "--topic", TOPIC, "--out", "x"],
            rf"bag {tmp_path} is not a rosbag2 folder: it has no metadata.yaml",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith("pixret-eval: error: ")
        assert re.search(message, err), (message, err)


def test_help_has_examples_and_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for command in ("run", "export-frames", "proxford", "make-demo"):
        assert command in text
    assert "examples:" in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--recorded node_outputs_bag" in capsys.readouterr().out
