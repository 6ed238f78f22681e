"""Stream runs (DESIGN section 5.1): grouping, time order, reset between streams, bags, recordings.

The streams are the tiny scene's real frames, put in two sub-folders (or two bags): stream
`a` shows the cup twice, stream `b` the astronaut then nothing. The real engine runs over
them; only its `reset_stream` and `process` calls are logged on the way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest
from tiny_scene import ENGINE_CONFIG, SIZE, TOPIC, Scene, coco

from pixret_ros.engine.pipeline import PixelRetriever
from pixret_ros.engine.render import label_image
from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation import cli, engines, runner
from pixret_ros.evaluation.engines import Engine
from pixret_ros.evaluation.errors import InputError
from pixret_ros.evaluation.ground_truth import load_ground_truth
from pixret_ros.evaluation.sources import Source
from pixret_ros.evaluation.streams import bag_frames, folder_frames, plan_streams, stream_mode
from pixret_ros.io import bag_writer

#: stream -> the tiny scene's frame numbers it shows, in time order.
STREAMS = {"a": [0, 0], "b": [1, 3]}
START = 1_700_000_000_000_000_000
PERIOD = 50_000_000


class StreamSet(NamedTuple):
    frames: Path  # frames/<stream>/<k>.png
    gt: Path  # names <stream>/<k>.png
    bags: list[Path]  # bags/<stream>, frames stamped START + k * PERIOD
    bag_gt: Path  # names <stream>/<stamp>.png
    stamped_gt: Path  # names <stream>/<k>.png, each with its stream and stamp_ns


def write_gt(path: Path, scene: Scene, names: list[str], extra: list[dict[str, object]]) -> Path:
    """COCO truth of the stream frames (names in STREAMS order), `extra` fields per image."""
    truths = [scene.truths[i] for frames in STREAMS.values() for i in frames]
    data = coco(names, truths)
    for image, fields in zip(data["images"], extra, strict=True):  # type: ignore[call-overload]
        image.update(fields)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def streams(tiny: Scene, tmp_path_factory: pytest.TempPathFactory) -> StreamSet:
    root = tmp_path_factory.mktemp("streams")
    names, bag_names = [], []
    for stream, shown in STREAMS.items():
        folder = root / "frames" / stream
        folder.mkdir(parents=True)
        stamped = []
        for k, index in enumerate(shown):
            image = tiny.frames[index]
            cv2.imwrite(str(folder / f"{k}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            names.append(f"{stream}/{k}.png")
            stamped.append((START + k * PERIOD, image))
            bag_names.append(f"{stream}/{START + k * PERIOD}.png")
        bag_writer.write_image_bag(root / "bags" / stream, stamped, TOPIC)
    plain: list[dict[str, object]] = [{} for _ in names]
    stamps: list[dict[str, object]] = [
        {"stream": s, "stamp_ns": START + k * PERIOD}
        for s, shown in STREAMS.items()
        for k in range(len(shown))
    ]
    return StreamSet(
        root / "frames",
        write_gt(root / "gt.json", tiny, names, plain),
        [root / "bags" / s for s in STREAMS],
        write_gt(root / "bag_gt.json", tiny, bag_names, plain),
        write_gt(root / "stamped_gt.json", tiny, names, stamps),
    )


class LoggedRetriever(PixelRetriever):
    """The real engine; `log` records each reset and the frame number of each processed frame."""

    log: list[str]

    def reset_stream(self) -> None:
        self.log.append("reset")
        super().reset_stream()

    def process(self, frame: np.ndarray) -> list[Detection]:
        self.log.append(str(int(frame.mean() * 1000)))  # identifies which frame it is
        return super().process(frame)


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    log: list[str] = []
    build = engines.build_engine

    def build_logged(*args: object, **kwargs: object) -> tuple[Engine, dict[str, object]]:
        engine, settings = build(*args, **kwargs)  # type: ignore[arg-type]
        assert isinstance(engine, PixelRetriever)
        engine.__class__ = LoggedRetriever
        engine.log = log  # type: ignore[attr-defined]
        return engine, settings

    monkeypatch.setattr(engines, "build_engine", build_logged)
    return log


def frame_id(tiny: Scene, index: int) -> str:
    return str(int(tiny.frames[index].mean() * 1000))


def run(
    tiny: Scene, gt: Path, source: Source, out: Path, *, temporal: bool | None = None
) -> dict[str, object]:
    options = runner.RunOptions(
        tiny.gallery, gt, source, out, temporal=temporal, config=ENGINE_CONFIG, progress=False
    )
    return runner.run(options).metrics


def predictions(out: Path, frames: set[int]) -> list[dict[str, object]]:
    return [
        p for p in json.loads((out / "predictions.json").read_text()) if p["image_id"] in frames
    ]


def test_sub_folders_are_streams_reset_between_them_and_in_order(
    tiny: Scene, streams: StreamSet, tmp_path: Path, logged: list[str]
) -> None:
    metrics = run(tiny, streams.gt, Source("frames", streams.frames), tmp_path / "out")
    ids = {i: frame_id(tiny, i) for i in range(4)}
    assert logged == ["reset", ids[0], ids[0], "reset", ids[1], ids[3]]
    assert metrics["temporal"] is True  # streams run in stream mode by default
    assert metrics["num_streams"] == 2
    per_stream = metrics["per_stream"]
    assert isinstance(per_stream, dict)
    assert set(per_stream) == {"a", "b"}
    assert per_stream["a"]["frames"] == 2
    assert per_stream["a"]["positives"] == 2
    assert per_stream["b"]["positives"] == 1
    # A planar photo crop, found and segmented exactly enough: J and F are high.
    assert per_stream["a"]["J"] > 0.8
    assert per_stream["a"]["F"] > 0.8
    assert 0 <= metrics["fp_per_frame"] <= 1  # type: ignore[operator]
    report = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Streams</h2>" in report
    assert report.count("<polyline") >= 2  # a J-over-time plot per stream


def test_no_state_crosses_streams(tiny: Scene, streams: StreamSet, tmp_path: Path) -> None:
    """Stream b's outputs are those of a run on b alone, although a's last frame had a track.

    In stream mode an engine that kept a's track (the cup) would search only the cup in b's
    first frame, between full searches, and miss the astronaut there.
    """
    both = tmp_path / "both"
    run(tiny, streams.gt, Source("frames", streams.frames), both, temporal=True)
    alone = tmp_path / "alone"
    (alone / "frames").mkdir(parents=True)
    (alone / "frames" / "b").symlink_to(streams.frames / "b", target_is_directory=True)
    data = json.loads(streams.gt.read_text())
    kept = {i["id"] for i in data["images"] if i["file_name"].startswith("b/")}
    data["images"] = [i for i in data["images"] if i["id"] in kept]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    (alone / "gt.json").write_text(json.dumps(data))
    source = Source("frames", alone / "frames")
    run(tiny, alone / "gt.json", source, alone / "out", temporal=True)
    in_both, on_its_own = predictions(both, kept), predictions(alone / "out", kept)
    assert in_both == on_its_own
    assert any(p["category_name"] == "astronaut" and p["accepted"] for p in in_both)


def test_ground_truth_fields_decide_grouping_and_order(
    tiny: Scene, streams: StreamSet, tmp_path: Path, logged: list[str]
) -> None:
    # frame_index reverses stream b; a `stream` field moves a's second frame into stream c.
    fields: list[dict[str, object]] = [{}, {"stream": "c"}, {"frame_index": 7}, {"frame_index": 3}]
    names = [f"{s}/{k}.png" for s, shown in STREAMS.items() for k in range(len(shown))]
    gt = write_gt(tmp_path / "gt.json", tiny, names, fields)
    metrics = run(tiny, gt, Source("frames", streams.frames), tmp_path / "out")
    ids = {i: frame_id(tiny, i) for i in range(4)}
    assert logged == ["reset", ids[0], "reset", ids[0], "reset", ids[3], ids[1]]
    per_stream = metrics["per_stream"]
    assert isinstance(per_stream, dict)
    assert list(per_stream) == ["a", "c", "b"]


def test_plan_refuses_a_partial_order(tiny: Scene, streams: StreamSet, tmp_path: Path) -> None:
    names = [f"{s}/{k}.png" for s, shown in STREAMS.items() for k in range(len(shown))]
    gt = write_gt(tmp_path / "gt.json", tiny, names, [{"frame_index": 1}, {}, {}, {}])
    with pytest.raises(InputError, match=r"stream a: 1 of its 2 frames have a frame_index"):
        plan_streams(folder_frames(streams.frames), load_ground_truth(gt, qualified=True))


def test_bag_streams_keep_stamp_order_where_the_truth_orders_some_frames(
    tiny: Scene, streams: StreamSet, tmp_path: Path
) -> None:
    names = [f"{s}/{START + k * PERIOD}.png" for s, shown in STREAMS.items() for k in range(2)]
    gt = write_gt(tmp_path / "gt.json", tiny, names, [{"frame_index": 9}, {}, {}, {}])
    plan = plan_streams(bag_frames(streams.bags, TOPIC), load_ground_truth(gt, qualified=True))
    assert plan is not None
    assert [[f.name for f in s.frames] for s in plan] == [names[:2], names[2:]]


def test_single_photo_folder_is_no_stream_run(tiny: Scene, streams: StreamSet) -> None:
    gt = load_ground_truth(tiny.gt)
    assert plan_streams(folder_frames(tiny.frames_dir), gt) is None
    # a folder with frames at its top reads them only, as before, whatever sub-folders hold
    assert [f.group for f in folder_frames(tiny.frames_dir)] == [None] * 4


def test_several_bags_are_several_streams(
    tiny: Scene, streams: StreamSet, tmp_path: Path, logged: list[str]
) -> None:
    first, *more = streams.bags
    source = Source("bag", first, TOPIC, more=tuple(more))
    metrics = run(tiny, streams.bag_gt, source, tmp_path / "bags")
    ids = {i: frame_id(tiny, i) for i in range(4)}
    assert logged == ["reset", ids[0], ids[0], "reset", ids[1], ids[3]]
    folder = run(tiny, streams.gt, Source("frames", streams.frames), tmp_path / "folder")
    for key in ("J", "J_frames", "F", "recall50", "fp_per_frame", "per_stream"):
        assert metrics[key] == folder[key], key
    # A truth made on the image files fits the bags where it states each frame's stamp.
    by_stamp = run(tiny, streams.stamped_gt, source, tmp_path / "by_stamp")
    assert by_stamp["num_frames"] == 4
    for key in ("J", "J_frames", "F", "recall50", "fp_per_frame", "per_stream"):
        assert by_stamp[key] == folder[key], key


def recorded_outputs(tiny: Scene) -> dict[str, list[list[Detection]]]:
    """What the node could have published per stream and frame (J by hand, see below)."""
    cup = tiny.truths[0]["coffee_cup"]
    astronaut = tiny.truths[1]["astronaut"].copy()
    rows = np.flatnonzero(astronaut.any(axis=1))
    astronaut[rows[len(rows) * 3 // 4] :] = False  # the top 3/4: J 0.75

    def det(name: str, mask: np.ndarray) -> Detection:
        return Detection(name, 0.9, Box.of_mask(mask), mask, 30, None, 0, accepted=True)

    # a: the cup exactly, then nothing; b: 3/4 of the astronaut, then a cup that is not there
    return {
        "a": [[det("coffee_cup", cup)], []],
        "b": [[det("astronaut", astronaut)], [det("coffee_cup", cup)]],
    }


def test_recorded_streams_one_recording_each(
    tiny: Scene, streams: StreamSet, tmp_path: Path
) -> None:
    recordings = []
    for stream, outputs in recorded_outputs(tiny).items():
        path = tmp_path / "rec" / stream
        recordings.append(path)
        with bag_writer.BagWriter(path) as writer:
            for k, dets in enumerate(outputs):
                stamp = START + k * PERIOD
                writer.write_image(TOPIC, stamp, tiny.frames[STREAMS[stream][k]])
                writer.write_detections("/pixret_node/detections", stamp, dets)
                writer.write_mask("/pixret_node/mask", stamp, label_image(dets, SIZE))
    out = tmp_path / "out"
    argv = ["run", "--gt", str(streams.bag_gt), "--out", str(out), "--no-progress"]
    argv += ["--recorded", str(recordings[0]), "--recorded", str(recordings[1])]
    assert cli.main([*argv, "--topic", TOPIC]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    per_stream = metrics["per_stream"]
    assert per_stream["a"]["J"] == pytest.approx(1 / 2)  # J 1, then 0 (not published)
    assert per_stream["b"]["J"] == pytest.approx(0.75)
    assert metrics["J"] == pytest.approx((0.5 + 0.75) / 2)
    assert metrics["J_frames"] == pytest.approx((1 + 0 + 0.75) / 3)
    assert metrics["recall50"] == pytest.approx(2 / 3)
    assert metrics["fp_per_frame"] == pytest.approx(1 / 4)
    assert per_stream["b"]["false_positives"] == 1
    assert per_stream["a"]["F"] == pytest.approx(1 / 2)
    assert metrics["dropped_frames"] == 0
    assert "first false positive" in (out / "report.html").read_text()
    # The same recordings against the truth made on the image files, matched by stamp.
    argv = ["run", "--gt", str(streams.stamped_gt), "--out", str(tmp_path / "by_stamp")]
    argv += ["--no-progress", "--recorded", str(recordings[0]), "--recorded", str(recordings[1])]
    assert cli.main(argv) == 0
    again = json.loads((tmp_path / "by_stamp" / "metrics.json").read_text())
    for key in ("J", "J_frames", "F", "recall50", "fp_per_frame", "per_stream", "dropped_frames"):
        assert again[key] == metrics[key], key


def test_stream_mode_defaults_on_for_streams_and_obeys_the_run() -> None:
    assert stream_mode({}, temporal=None, streams_run=True) is True
    assert stream_mode({}, temporal=None, streams_run=False) is False
    assert stream_mode({"temporal": False}, temporal=None, streams_run=True) is False  # params file
    assert (
        stream_mode({"temporal": True}, temporal=False, streams_run=True) is False
    )  # --no-temporal
    assert stream_mode({}, temporal=True, streams_run=False) is True  # --temporal
    # The node's params file turns it on for its camera stream, never for single photos.
    assert stream_mode({"temporal": True}, temporal=None, streams_run=True) is True
    assert stream_mode({"temporal": True}, temporal=None, streams_run=False) is False
