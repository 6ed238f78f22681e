"""The demo data: reproducible to the byte, exact ground truth, names that match the bag."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as coco_mask

from pixret_ros.demo import build, cli, photos
from pixret_ros.engine import Gallery
from pixret_ros.engine.types import Box
from pixret_ros.evaluation.errors import EvaluationError
from pixret_ros.io.bag_reader import count_messages, list_frame_names, read_frames

STEP = 10  # the quick variant: every 10th frame of the full demo (30 frames)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "quick"
    summary = build.build(out, step=STEP, progress=False)
    assert not summary.reused
    return out


def _manifest(folder: Path) -> dict[str, object]:
    loaded = json.loads((folder / "manifest.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_two_builds_are_identical_to_the_byte(quick: Path, tmp_path: Path) -> None:
    again = build.build(tmp_path / "again", step=STEP, progress=False)
    first, second = _manifest(quick), _manifest(again.out)
    assert first["files"] == second["files"]
    files = first["files"]
    assert isinstance(files, dict)
    assert {"gt.json", "preview.png", "bag/metadata.yaml"} <= set(files)
    assert any(name.endswith(".mcap") for name in files)


def test_another_seed_changes_the_frames(quick: Path, tmp_path: Path) -> None:
    other = build.build(tmp_path / "seed1", seed=1, step=STEP, progress=False)
    files_0, files_1 = _manifest(quick)["files"], _manifest(other.out)["files"]
    assert isinstance(files_0, dict)
    assert isinstance(files_1, dict)
    mcap = next(name for name in files_0 if name.endswith(".mcap"))
    assert files_0[mcap] != files_1[mcap]


def test_a_complete_build_is_reused_and_a_foreign_folder_refused(
    quick: Path, tmp_path: Path
) -> None:
    assert build.build(quick, step=STEP, progress=False).reused
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(EvaluationError, match="not a demo build"):
        build.build(foreign, step=STEP, progress=False)
    assert (foreign / "thesis.tex").read_text() == "keep me"


def test_quick_frames_equal_the_full_builds_frames() -> None:
    quick_frames = build.frames(step=STEP)
    full_frames = build.frames(step=1)
    quick_second = [next(quick_frames) for _ in range(2)][1]
    full_same = next(f for f in full_frames if f.index == quick_second.index)
    assert quick_second.stamp_ns == full_same.stamp_ns
    assert np.array_equal(quick_second.image, full_same.image)
    assert quick_second.visible.keys() == full_same.visible.keys()


def test_ground_truth_names_the_bags_frames_and_decodes_exactly(quick: Path) -> None:
    gt = json.loads((quick / "gt.json").read_text())
    names = list_frame_names(quick / "bag", build.TOPIC)
    expected = -(-build.total_frames() // STEP)
    assert len(names) == expected == count_messages(quick / "bag", build.TOPIC)
    assert [image["file_name"] for image in gt["images"]] == names
    assert [c["name"] for c in gt["categories"]] == list(photos.INSTANCE_NAMES)
    # Every annotation decodes to a mask whose box and area are what the file says.
    for ann in gt["annotations"]:
        mask = coco_mask.decode(ann["segmentation"]).astype(bool)
        assert mask.shape == (480, 640)
        assert int(mask.sum()) == ann["area"] > 0
        box = Box.of_mask(mask)
        assert ann["bbox"] == [box.x, box.y, box.width, box.height]
        small = ann["area"] < build.MIN_VISIBLE_PIXELS
        assert ann["iscrowd"] in (0, 1)
        assert not small or ann["iscrowd"] == 1
    positives = {(a["image_id"], a["category_id"]) for a in gt["annotations"] if not a["iscrowd"]}
    # Each instance is seen somewhere, and some frames show no instance at all (negatives).
    assert {cid for _, cid in positives} == set(range(1, 9))
    assert len({iid for iid, _ in positives}) < len(gt["images"])


def test_bag_frames_are_the_rendered_frames_and_the_truth_matches_them(quick: Path) -> None:
    gt = json.loads((quick / "gt.json").read_text())
    rendered = build.frames(step=STEP)
    for bag_frame, frame, image in zip(
        read_frames(quick / "bag", build.TOPIC), rendered, gt["images"], strict=False
    ):
        assert bag_frame.name == image["file_name"] == f"{frame.stamp_ns}.png"
        assert np.array_equal(bag_frame.image, frame.image)
        truth = {
            gt["categories"][a["category_id"] - 1]["name"]: coco_mask.decode(a["segmentation"])
            for a in gt["annotations"]
            if a["image_id"] == image["id"]
        }
        assert truth.keys() == {n for n, m in frame.visible.items() if m.any()}
        for name, mask in truth.items():
            assert np.array_equal(mask.astype(bool), frame.visible[name])
        if frame.index >= 3 * STEP:
            break


def test_motorcycle_is_seen_from_the_other_stereo_camera(quick: Path) -> None:
    gt = json.loads((quick / "gt.json").read_text())
    moto = gt["categories"].index(next(c for c in gt["categories"] if c["name"] == "motorcycle"))
    seen = [a for a in gt["annotations"] if a["category_id"] == moto + 1 and not a["iscrowd"]]
    assert len(seen) >= 5
    # The right view is a different photo: the left view's mask does not fit it unchanged.
    left = photos.instances()["motorcycle"].mask
    right = photos.motorcycle_right_view().mask
    assert right.shape != left.shape or not np.array_equal(left, right)
    assert 0.2 < right.mean() < 0.5


def test_gallery_holds_every_instance_in_the_contract_layout(quick: Path) -> None:
    gallery = quick / "gallery"
    assert Gallery(gallery).names() == list(photos.INSTANCE_NAMES)
    for name in photos.INSTANCE_NAMES:
        folder = gallery / name
        view = cv2.imread(str(folder / "view_000.png"), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(folder / "view_000_mask.png"), cv2.IMREAD_UNCHANGED)
        assert view is not None
        assert mask is not None
        assert view.ndim == 3
        assert mask.dtype == np.uint8
        assert mask.shape == view.shape[:2]
        assert set(np.unique(mask)) <= {0, 255}
        assert 0.15 < float(np.mean(mask > 0)) <= 1.0, folder.name


def test_make_demo_command(quick: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="pixret-eval")
    cli.add_demo_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["make-demo", "--out", str(quick), "--step", str(STEP), "--quiet"])
    assert args.handler(args) == 0
    assert "up to date" in capsys.readouterr().out
    bad = parser.parse_args(["make-demo", "--out", str(tmp_path), "--step", "0", "--quiet"])
    assert cli.run_make_demo(bad) == 1
    assert "step must be >= 1" in capsys.readouterr().err
