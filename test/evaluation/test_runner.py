"""runner: the real engine over a real bag and folder, the node's recorded outputs, and refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from tiny_scene import ENGINE_CONFIG, NAMES, STAMPS, TOPIC, Scene, write_recording

from pixret_ros.evaluation import runner
from pixret_ros.evaluation.engines import Method
from pixret_ros.evaluation.errors import BagError, InputError
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.metrics import METRIC_KEYS, TIMING_KEYS
from pixret_ros.evaluation.sources import Source
from pixret_ros.io.bag_writer import BagWriter

CONTRACT_KEYS = {*METRIC_KEYS, *TIMING_KEYS}


def options(
    scene: Scene,
    out: Path,
    source: Source,
    *,
    method: Method = "pixret",
    temporal: bool = False,
) -> runner.RunOptions:
    return runner.RunOptions(
        gallery=scene.gallery,
        gt=scene.gt,
        source=source,
        out=out,
        method=method,
        temporal=temporal,
        config=ENGINE_CONFIG,
        progress=False,
    )


def test_engine_run_on_bag(tiny: Scene, tmp_path: Path) -> None:
    """PixelRetriever in stream mode over an mcap bag: files, keys, predictions, timings."""
    source = Source("bag", tiny.bag, TOPIC)
    result = runner.run(options(tiny, tmp_path / "out", source, temporal=True))
    metrics = json.loads(result.metrics_path.read_text())
    assert set(metrics) >= CONTRACT_KEYS
    assert metrics["method"] == "pixret"
    assert metrics["temporal"] is True
    assert metrics["config"]["temporal"] is True
    assert metrics["config"]["working_size"] == ENGINE_CONFIG["working_size"]
    assert metrics["num_frames"] == 4
    assert metrics["dropped_frames"] == 0
    assert set(metrics["per_instance"]) == {"astronaut", "coffee_cup"}
    assert metrics["fps"] > 0
    assert 0 < metrics["latency_ms_p50"] <= metrics["latency_ms_p95"]
    assert metrics["evaluator_overhead_ratio"] > 0
    assert "total" in metrics["stage_ms_median"]

    predictions = json.loads(result.predictions.read_text())
    assert len(predictions) == metrics["num_predictions"] > 0
    for entry in predictions:
        assert entry["image_id"] in {1, 2, 3, 4}
        assert entry["category_id"] in {1, 2}  # astronaut, coffee_cup (GT order)
        mask = coco_mask.decode(entry["segmentation"]).astype(bool)
        rows, cols = np.nonzero(mask)
        assert entry["bbox"] == [
            cols.min(),
            rows.min(),
            cols.max() - cols.min() + 1,
            rows.max() - rows.min() + 1,
        ]
        assert isinstance(entry["accepted"], bool)
    # A planar photo crop pasted into a frame: the engine must find it and segment it.
    cups = [p for p in predictions if p["image_id"] == 1 and p["category_id"] == 2]
    assert cups
    assert cups[0]["accepted"]
    truth = tiny.truths[0]["coffee_cup"]
    found = coco_mask.decode(cups[0]["segmentation"]).astype(bool)
    assert (found & truth).sum() / (found | truth).sum() > 0.8
    report = result.report.read_text()
    assert "coffee_cup" in report
    assert "data:image/jpeg;base64" in report


def test_baseline_on_folder(tiny: Scene, tmp_path: Path) -> None:
    source = Source("frames", tiny.frames_dir)
    result = runner.run(options(tiny, tmp_path / "out", source, method="baseline"))
    assert result.metrics["method"] == "baseline"
    assert set(result.metrics) >= CONTRACT_KEYS
    assert result.metrics["source"] == f"folder {tiny.frames_dir}"


def test_recorded_outputs_are_judged_exactly(tiny: Scene, tmp_path: Path) -> None:
    """Hand-computed figures of tiny_scene.recorded_detections (see its docstring).

    cup: positives f0 (IoU 1, score .9) and f2 (dropped); ranking f0, f3 (false, .7), f1, f2
    -> AP = (1 + 1) / 4 + (1/3 + 2/4) / 4 = 0.70833. astronaut: f1 (IoU .75, .8) and f2
    (dropped); ranking f1, f0, f2, f3 -> AP = 1/2 + (1/2 + 2/3) / 4 = 0.79167. image_map 0.75.
    Accepted pairs: f0 cup hit, f1 astronaut hit, f3 cup miss -> precision 2/3; 2 of 4
    annotated pairs found -> recall 1/2. miou_S = mean(mean(1, 0), mean(.75, 0)) = 0.4375.
    """
    bag = tmp_path / "rec"
    write_recording(bag, tiny)
    source = Source("recorded", bag)
    result = runner.run(options(tiny, tmp_path / "out", source))
    m = result.metrics
    assert m["method"] == "recorded"
    assert m["image_map"] == pytest.approx(0.75)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["miou_S"] == pytest.approx(0.4375)
    assert m["dropped_frames"] == 1
    assert m["frames_not_in_ground_truth"] == 1
    assert m["fps"] is None
    assert m["latency_ms_p50"] is None
    assert m["evaluator_overhead_ratio"] is None
    assert "(/pixret_node/detections, /pixret_node/mask)" in str(m["source"])
    predictions = json.loads(result.predictions.read_text())
    assert [(p["image_id"], p["category_id"], p["score"]) for p in predictions] == [
        (1, 2, pytest.approx(0.9)),
        (2, 1, pytest.approx(0.8)),
        (4, 2, pytest.approx(0.7)),
        (4, 3, pytest.approx(0.5)),  # teapot: after the ground truth's categories
    ]
    assert m["unjudged_detections"] == 1
    assert m["category_ids"] == {"astronaut": 1, "coffee_cup": 2, "teapot": 3}
    assert json.loads(result.metrics_path.read_text())["recall"] == pytest.approx(0.5)


def test_recorded_with_camera_topic_draws_real_frames(tiny: Scene, tmp_path: Path) -> None:
    bag = tmp_path / "rec"
    write_recording(bag, tiny, with_camera=True)
    result = runner.run(options(tiny, tmp_path / "out", Source("recorded", bag, TOPIC)))
    assert result.report.read_text().count("data:image/jpeg") >= 4


def test_recording_with_two_detection_topics_needs_a_choice(tiny: Scene, tmp_path: Path) -> None:
    two = tmp_path / "two"
    with BagWriter(two) as writer:
        writer.write_detections("/cam1/pixret_node/detections", STAMPS[0], [])
        writer.write_detections("/cam2/pixret_node/detections", STAMPS[0], [])
    with pytest.raises(InputError, match=r"has 2 InstanceDetectionArray topics .*--detections"):
        runner.run(options(tiny, tmp_path / "out", Source("recorded", two)))
    source = Source("recorded", two, detections_topic="/cam2/pixret_node/detections")
    with pytest.raises(BagError, match=r"has no topic '/cam2/pixret_node/mask'"):
        runner.run(options(tiny, tmp_path / "out", source))


def test_ground_truth_frames_missing_from_input(tiny: Scene, tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    shutil.copytree(tiny.frames_dir, frames)
    (frames / NAMES[2]).unlink()
    source = Source("frames", frames)
    with pytest.raises(InputError, match=rf"names 1 frames the input lacks: {NAMES[2]};"):
        runner.run(options(tiny, tmp_path / "out", source))
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_ground_truth_instances_missing_from_gallery(tiny: Scene, tmp_path: Path) -> None:
    data = json.loads(tiny.gt.read_text())
    data["categories"].append({"id": 3, "name": "teapot"})
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(data))
    run = runner.RunOptions(
        gallery=tiny.gallery,
        gt=gt,
        source=Source("frames", tiny.frames_dir),
        out=tmp_path / "out",
        progress=False,
    )
    with pytest.raises(InputError, match=r"instances the gallery lacks: teapot; the gallery has"):
        runner.run(run)


def test_check_inputs_refuses_duplicate_frame_names(tiny: Scene) -> None:
    gt = load_ground_truth(tiny.gt)
    with pytest.raises(InputError, match=rf"1 input frames share a name \({NAMES[0]}\)"):
        runner.check_inputs(gt, [*NAMES, NAMES[0]], ["astronaut", "coffee_cup"])


def test_frame_size_must_match_ground_truth(tiny: Scene, tmp_path: Path) -> None:
    data = json.loads(tiny.gt.read_text())
    data["images"][3].update(height=480, width=640)  # the negative frame: no RLE to disagree
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(data))
    bag = tmp_path / "rec"
    write_recording(bag, tiny)
    run = runner.RunOptions(
        gallery=tiny.gallery,
        gt=gt,
        source=Source("recorded", bag),
        out=tmp_path / "out",
        progress=False,
    )
    with pytest.raises(InputError, match=rf"frame {NAMES[3]} is 320x240 pixels, .* says 640x480"):
        runner.run(run)
    assert not (tmp_path / "out" / "predictions.json").exists()
    assert not (tmp_path / "out" / "predictions.json.partial").exists()


def test_missing_gallery(tiny: Scene, tmp_path: Path) -> None:
    run = runner.RunOptions(
        gallery=tmp_path / "nope",
        gt=tiny.gt,
        source=Source("frames", tiny.frames_dir),
        out=tmp_path / "out",
    )
    with pytest.raises(InputError, match=r"gallery folder .*nope does not exist"):
        runner.run(run)
