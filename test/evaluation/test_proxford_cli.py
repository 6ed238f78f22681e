"""`pixret-eval proxford`: the printed table, the JSON, the examples, one-line errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from proxford_layout import RANKS

from pixret_ros.evaluation.proxford_cli import add_proxford_parser, main


def test_cli_prints_the_table_and_writes_json(
    layout: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "proxford.json"
    args = ["proxford", "--gnd", str(layout["gnd"]), "--pair-labels", str(layout["labels"])]
    args += ["--ranks", str(layout["ranks"]), "--masks", str(layout["npz"]), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "PROxford" in printed
    assert "medium" in printed
    assert "41.67" in printed  # S mAP medium = 5/12
    assert "skips queries [56, 63]" in printed
    saved = json.loads(out.read_text())
    assert saved["dataset"] == "oxford"
    assert saved["medium"]["pixel_map_D"] == pytest.approx(41 / 48)
    assert saved["hard"]["miou_D"] is None


def test_parser_has_examples() -> None:
    parser = argparse.ArgumentParser(prog="pixret-eval")
    sub = add_proxford_parser(parser.add_subparsers(dest="command"))
    assert "examples:" in sub.format_help()
    assert "gnd_roxford5k.pkl" in sub.format_help()


def run_cli(layout: dict[str, Path], capsys: pytest.CaptureFixture[str], **change: str) -> str:
    opts = {
        "--gnd": str(layout["gnd"]),
        "--pair-labels": str(layout["labels"]),
        "--ranks": str(layout["ranks"]),
        "--masks": str(layout["masks"]),
    }
    opts.update(change)
    argv = ["proxford"] + [x for kv in opts.items() for x in kv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err


def test_cli_errors_are_one_line(
    layout: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "t.npy", RANKS.T.copy())
    assert "transposed?" in run_cli(layout, capsys, **{"--ranks": str(tmp_path / "t.npy")})
    dup = RANKS.copy()
    dup[1, 0] = dup[0, 0]
    np.save(tmp_path / "d.npy", dup)
    assert "column 0 ranks a database image twice" in run_cli(
        layout, capsys, **{"--ranks": str(tmp_path / "d.npy")}
    )
    other = tmp_path / "gnd_other.pkl"
    other.write_bytes(layout["gnd"].read_bytes())
    assert "pass --dataset" in run_cli(layout, capsys, **{"--gnd": str(other)})
    assert "folder of PNGs or an .npz" in run_cli(layout, capsys, **{"--masks": str(other)})
