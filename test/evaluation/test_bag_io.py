"""bag_io: real rosbag2 files (mcap and sqlite3) written with rosbags, read back frame by frame."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from rosbags.rosbag2 import StoragePlugin, Writer

from pixret_ros.engine.render import label_image
from pixret_ros.engine.types import Box, Detection
from pixret_ros.errors import BagError
from pixret_ros.evaluation import bag_io

STAMPS = [1_700_000_000_000_000_123, 1_700_000_000_033_000_000, 1_700_000_001_000_000_000]


def photos() -> list[np.ndarray]:
    """Three real photos of different sizes (RGB uint8)."""
    return [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]


def expected(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """What survives writing `rgb` in `encoding`: grey encodings keep only the luminance."""
    if encoding.startswith("mono"):
        return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return rgb


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("encoding", bag_io.WRITE_ENCODINGS)
def test_image_round_trip_every_encoding(tmp_path: Path, storage: str, encoding: str) -> None:
    bag = tmp_path / "bag"
    count = bag_io.write_image_bag(
        bag,
        zip(STAMPS, photos(), strict=True),
        "/cam/image_raw",
        storage=storage,
        encoding=encoding,
    )
    assert count == 3
    frames = list(bag_io.read_frames(bag, "/cam/image_raw"))
    assert [f.name for f in frames] == [f"{s}.png" for s in STAMPS]
    assert [f.stamp_ns for f in frames] == STAMPS
    for frame, rgb in zip(frames, photos(), strict=True):
        assert frame.image.dtype == np.uint8
        np.testing.assert_array_equal(frame.image, expected(rgb, encoding))
    assert bag_io.count_messages(bag, "/cam/image_raw") == 3
    assert bag_io.list_frame_names(bag, "/cam/image_raw") == [f.name for f in frames]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("image_format", ["jpeg", "png"])
def test_compressed_round_trip(tmp_path: Path, storage: str, image_format: str) -> None:
    bag = tmp_path / "bag"
    bag_io.write_image_bag(
        bag,
        zip(STAMPS, photos(), strict=True),
        "/cam/image_raw/compressed",
        storage=storage,
        compressed=True,
        compressed_format=image_format,
    )
    frames = list(bag_io.read_frames(bag, "/cam/image_raw/compressed"))
    assert [f.stamp_ns for f in frames] == STAMPS
    for frame, rgb in zip(frames, photos(), strict=True):
        assert frame.image.shape == rgb.shape
        error = np.abs(frame.image.astype(int) - rgb).mean()
        assert error == 0 if image_format == "png" else 0 < error < 4


def test_names_filter_decodes_only_requested_frames(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    bag_io.write_image_bag(bag, zip(STAMPS, photos(), strict=True), "/cam")
    frames = list(bag_io.read_frames(bag, "/cam", names={f"{STAMPS[1]}.png"}))
    assert [f.stamp_ns for f in frames] == [STAMPS[1]]
    np.testing.assert_array_equal(frames[0].image, skimage.data.coffee())


def test_padded_rows_are_cut(tmp_path: Path) -> None:
    """A camera driver may pad rows (step > width * 3); the padding must not shear the image."""
    rgb = skimage.data.coffee()
    height, width = rgb.shape[:2]
    padded = np.zeros((height, width * 3 + 13), np.uint8)
    padded[:, : width * 3] = rgb.reshape(height, -1)
    store = bag_io.typestore()
    msg = store.types[bag_io.IMAGE](
        header=store.types["std_msgs/msg/Header"](
            stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="c"
        ),
        height=height,
        width=width,
        encoding="rgb8",
        is_bigendian=0,
        step=width * 3 + 13,
        data=padded.reshape(-1),
    )
    np.testing.assert_array_equal(bag_io.image_msg_to_rgb(msg, "test"), rgb)
    short = type(msg)(**{**msg.__dict__, "data": padded.reshape(-1)[:-100]})
    with pytest.raises(
        BagError, match=r"600x400 rgb8 needs 1800 bytes per row, has step 1813 .*broken"
    ):
        bag_io.image_msg_to_rgb(short, "test")
    unknown = type(msg)(**{**msg.__dict__, "encoding": "weird42"})
    with pytest.raises(BagError, match=r"test: .*weird42.*use rgb8"):
        bag_io.image_msg_to_rgb(unknown, "test")


@pytest.fixture
def image_bag(tmp_path: Path) -> Path:
    bag = tmp_path / "good"
    bag_io.write_image_bag(bag, zip(STAMPS, photos(), strict=True), "/cam")
    return bag


def test_missing_topic_lists_the_topics(image_bag: Path) -> None:
    with pytest.raises(BagError, match=r"has no topic '/camera'; its topics: /cam \(sensor_msgs"):
        list(bag_io.read_frames(image_bag, "/camera"))


def test_wrong_message_type(tmp_path: Path) -> None:
    bag = tmp_path / "dets"
    with bag_io.BagWriter(bag) as writer:
        writer.write_detections("/pixret_node/detections", 5, [])
    with pytest.raises(BagError, match=r"carries pixret_ros/msg/InstanceDetectionArray, not "):
        list(bag_io.read_frames(bag, "/pixret_node/detections"))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_truncated_bag(tmp_path: Path, storage: str) -> None:
    bag = tmp_path / "cut"
    bag_io.write_image_bag(bag, zip(STAMPS, photos(), strict=True), "/cam", storage=storage)
    data_file = next(p for p in bag.iterdir() if p.suffix in {".mcap", ".db3"})
    with data_file.open("r+b") as handle:
        handle.truncate(data_file.stat().st_size // 2)
    with pytest.raises(BagError, match=rf"bag {bag} cannot be opened, it is truncated or corrupt"):
        list(bag_io.read_frames(bag, "/cam"))


def test_not_a_bag_folder(tmp_path: Path, image_bag: Path) -> None:
    with pytest.raises(BagError, match=r"does not exist"):
        list(bag_io.read_frames(tmp_path / "nothing", "/cam"))
    with pytest.raises(BagError, match=r"has no metadata.yaml"):
        list(bag_io.read_frames(tmp_path, "/cam"))
    inner = next(image_bag.glob("*.mcap"))
    with pytest.raises(BagError, match=rf"is not a rosbag2 folder .*pass its folder {image_bag}"):
        list(bag_io.read_frames(inner, "/cam"))


def test_unknown_storage(tmp_path: Path, image_bag: Path) -> None:
    bag = tmp_path / "odd"
    shutil.copytree(image_bag, bag)
    meta = bag / "metadata.yaml"
    meta.write_text(meta.read_text().replace("storage_identifier: mcap", "storage_identifier: zip"))
    with pytest.raises(BagError, match=r"uses storage 'zip'; pixret-eval reads mcap and sqlite3"):
        list(bag_io.read_frames(bag, "/cam"))
    with pytest.raises(BagError, match=r"unknown bag storage 'zip'"):
        bag_io.BagWriter(tmp_path / "new", storage="zip")


def _detections(shape: tuple[int, int]) -> list[Detection]:
    cup = np.zeros(shape, bool)
    cup[50:120, 30:90] = True
    cat = np.zeros(shape, bool)
    cat[100:200, 150:260] = True
    warp = np.array([[1.0, 0.1, 5.0], [0.0, 0.9, -3.0], [0.0, 0.0, 1.0]])
    return [
        Detection("cup", 0.875, Box.of_mask(cup), cup, 40, warp, 1, accepted=True),
        Detection("cat", 0.5, Box.of_mask(cat), cat, 0, None, 0, accepted=True),
    ]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_recording_round_trip(tmp_path: Path, storage: str) -> None:
    """The node's ~/detections + ~/mask, serialized as real CDR, matched back by stamp."""
    shape = (240, 320)
    dets = _detections(shape)
    labels = label_image(dets, shape)
    bag = tmp_path / "rec"
    with bag_io.BagWriter(bag, storage=storage) as writer:
        writer.write_detections("/pixret_node/detections", 10, dets)
        writer.write_mask("/pixret_node/mask", 10, labels)
        writer.write_mask("/pixret_node/mask", 20, labels)  # mask recorded before detections
        writer.write_detections("/pixret_node/detections", 20, dets[:1])
        writer.write_detections("/pixret_node/detections", 30, [])  # nothing found
        writer.write_detections("/pixret_node/detections", 40, dets)  # its mask was lost
    assert bag_io.find_detection_topics(bag) == ["/pixret_node/detections"]
    frames = list(bag_io.read_recording(bag, "/pixret_node/detections", "/pixret_node/mask"))
    assert [f.name for f in frames] == ["10.png", "20.png", "30.png"]
    first = frames[0]
    assert [d.name for d in first.detections] == ["cup", "cat"]
    cup = first.detections[0]
    assert (cup.score, cup.label, cup.inliers) == (0.875, 1, 40)
    assert (cup.x, cup.y, cup.width, cup.height) == (30, 50, 60, 70)
    assert cup.homography is not None
    assert dets[0].homography is not None
    assert np.array_equal(cup.homography, dets[0].homography)
    assert first.detections[1].homography is None
    assert first.labels is not None
    assert first.labels.dtype == np.uint16
    np.testing.assert_array_equal(first.labels == 2, dets[1].mask)
    assert frames[2].detections == []
    assert frames[2].labels is None


def test_recording_mask_must_be_mono16(tmp_path: Path) -> None:
    bag = tmp_path / "rec"
    dets = _detections((240, 320))
    with bag_io.BagWriter(bag) as writer:
        writer.write_detections("/d", 10, dets)
        writer.write_image("/m", 10, skimage.data.astronaut()[:240, :320])
    with pytest.raises(BagError, match=r"/m at stamp 10: the label mask must be mono16, is 'rgb8'"):
        list(bag_io.read_recording(bag, "/d", "/m"))


def test_recording_as_the_node_publishes_it(tmp_path: Path) -> None:
    """The node publishes a mask after every array, empty ones too; stamps may repeat; masks
    may be lost. Each stamp comes out once, and lost partners are forgotten, not hoarded."""
    shape = (240, 320)
    dets = _detections(shape)
    labels = label_image(dets, shape)
    empty = np.zeros(shape, np.uint16)
    bag = tmp_path / "rec"
    lost = bag_io.MAX_PENDING + 5
    with bag_io.BagWriter(bag) as writer:
        for stamp in range(1, lost + 1):  # detections whose masks were all lost
            writer.write_detections("/d", stamp, dets)
        writer.write_detections("/d", 1000, [])
        writer.write_mask("/m", 1000, empty)  # the mask of an empty frame, after it
        writer.write_detections("/d", 2000, dets)
        writer.write_mask("/m", 2000, labels)
        writer.write_detections("/d", 2000, dets, log_ns=2001)  # a repeated stamp
        writer.write_mask("/m", 2000, labels, log_ns=2002)
        writer.write_mask("/m", 1, labels, log_ns=3000)  # too late: stamp 1 was forgotten
        writer.write_mask("/m", lost, labels, log_ns=3001)  # still held: completes
    frames = list(bag_io.read_recording(bag, "/d", "/m"))
    assert [f.stamp_ns for f in frames] == [1000, 2000, lost]
    assert frames[0].labels is None
    assert frames[1].labels is not None
    np.testing.assert_array_equal(frames[1].labels, labels)


def test_cut_messages_inside_an_intact_bag(tmp_path: Path) -> None:
    """The bag file is fine but a message is shorter than its type: a named BagError."""
    store = bag_io.typestore()
    full = bytes(
        store.serialize_cdr(
            store.types[bag_io.IMAGE](
                header=store.types["std_msgs/msg/Header"](
                    stamp=store.types["builtin_interfaces/msg/Time"](sec=3, nanosec=0),
                    frame_id="c",
                ),
                height=2,
                width=2,
                encoding="rgb8",
                is_bigendian=0,
                step=6,
                data=np.zeros(12, np.uint8),
            ),
            bag_io.IMAGE,
        )
    )
    for name, data, message in [
        ("tiny", full[:3], r"a message on /cam is cut short \(3 bytes\)"),
        ("half", full[: len(full) // 2], r"a sensor_msgs/msg/Image message on /cam cannot be"),
    ]:
        bag = tmp_path / name
        with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            connection = writer.add_connection("/cam", bag_io.IMAGE, typestore=store)
            writer.write(connection, 1, data)
        with pytest.raises(BagError, match=message):
            list(bag_io.read_frames(bag, "/cam"))
    with pytest.raises(BagError, match=r"cut short"):
        bag_io.list_frame_names(tmp_path / "tiny", "/cam")
