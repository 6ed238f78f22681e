"""bag_reader: real rosbag2 files (mcap and sqlite3) written with rosbags, read frame by frame."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from io_samples import STAMPS, photos
from rosbags.rosbag2 import StoragePlugin, Writer

from pixret_ros.evaluation.errors import BagError
from pixret_ros.io import bag_reader, bag_writer
from pixret_ros.io.typestore import IMAGE, typestore

#: Encodings a bag keeps exactly (grey ones: exactly the luminance).
EXACT_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16")


def expected(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """What survives writing `rgb` in `encoding`: grey encodings keep only the luminance."""
    if encoding.startswith("mono"):
        return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return rgb


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("encoding", EXACT_ENCODINGS)
def test_image_round_trip_every_encoding(tmp_path: Path, storage: str, encoding: str) -> None:
    bag = tmp_path / "bag"
    count = bag_writer.write_image_bag(
        bag,
        zip(STAMPS, photos(), strict=True),
        "/cam/image_raw",
        storage=storage,
        encoding=encoding,
    )
    assert count == 3
    frames = list(bag_reader.read_frames(bag, "/cam/image_raw"))
    assert [f.name for f in frames] == [f"{s}.png" for s in STAMPS]
    assert [f.stamp_ns for f in frames] == STAMPS
    for frame, rgb in zip(frames, photos(), strict=True):
        assert frame.image.dtype == np.uint8
        np.testing.assert_array_equal(frame.image, expected(rgb, encoding))
    assert bag_reader.count_messages(bag, "/cam/image_raw") == 3
    assert bag_reader.list_frame_names(bag, "/cam/image_raw") == [f.name for f in frames]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("image_format", ["jpeg", "png"])
def test_compressed_round_trip(tmp_path: Path, storage: str, image_format: str) -> None:
    bag = tmp_path / "bag"
    bag_writer.write_image_bag(
        bag,
        zip(STAMPS, photos(), strict=True),
        "/cam/image_raw/compressed",
        storage=storage,
        compressed=True,
        compressed_format=image_format,
    )
    frames = list(bag_reader.read_frames(bag, "/cam/image_raw/compressed"))
    assert [f.stamp_ns for f in frames] == STAMPS
    for frame, rgb in zip(frames, photos(), strict=True):
        assert frame.image.shape == rgb.shape
        error = np.abs(frame.image.astype(int) - rgb).mean()
        assert error == 0 if image_format == "png" else 0 < error < 4


def test_names_filter_decodes_only_requested_frames(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    bag_writer.write_image_bag(bag, zip(STAMPS, photos(), strict=True), "/cam")
    frames = list(bag_reader.read_frames(bag, "/cam", names={f"{STAMPS[1]}.png"}))
    assert [f.stamp_ns for f in frames] == [STAMPS[1]]
    np.testing.assert_array_equal(frames[0].image, skimage.data.coffee())


def test_padded_rows_are_cut(tmp_path: Path) -> None:
    """A camera driver may pad rows (step > width * 3); the padding must not shear the image."""
    rgb = skimage.data.coffee()
    height, width = rgb.shape[:2]
    padded = np.zeros((height, width * 3 + 13), np.uint8)
    padded[:, : width * 3] = rgb.reshape(height, -1)
    store = typestore()
    msg = store.types[IMAGE](
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
    np.testing.assert_array_equal(bag_reader.image_msg_to_rgb(msg, "test"), rgb)
    short = type(msg)(**{**msg.__dict__, "data": padded.reshape(-1)[:-100]})
    with pytest.raises(
        BagError, match=r"600x400 rgb8 needs 1800 bytes per row, has step 1813 .*broken"
    ):
        bag_reader.image_msg_to_rgb(short, "test")
    unknown = type(msg)(**{**msg.__dict__, "encoding": "weird42"})
    with pytest.raises(BagError, match=r"test: .*weird42.*use rgb8"):
        bag_reader.image_msg_to_rgb(unknown, "test")


@pytest.fixture
def image_bag(tmp_path: Path) -> Path:
    bag = tmp_path / "good"
    bag_writer.write_image_bag(bag, zip(STAMPS, photos(), strict=True), "/cam")
    return bag


def test_missing_topic_lists_the_topics(image_bag: Path) -> None:
    with pytest.raises(BagError, match=r"has no topic '/camera'; its topics: /cam \(sensor_msgs"):
        list(bag_reader.read_frames(image_bag, "/camera"))


def test_wrong_message_type(tmp_path: Path) -> None:
    bag = tmp_path / "dets"
    with bag_writer.BagWriter(bag) as writer:
        writer.write_detections("/pixret_node/detections", 5, [])
    with pytest.raises(BagError, match=r"carries pixret_ros/msg/InstanceDetectionArray, not "):
        list(bag_reader.read_frames(bag, "/pixret_node/detections"))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_truncated_bag(tmp_path: Path, storage: str) -> None:
    bag = tmp_path / "cut"
    bag_writer.write_image_bag(bag, zip(STAMPS, photos(), strict=True), "/cam", storage=storage)
    data_file = next(p for p in bag.iterdir() if p.suffix in {".mcap", ".db3"})
    with data_file.open("r+b") as handle:
        handle.truncate(data_file.stat().st_size // 2)
    with pytest.raises(BagError, match=rf"bag {bag} cannot be opened, it is truncated or corrupt"):
        list(bag_reader.read_frames(bag, "/cam"))


def test_not_a_bag_folder(tmp_path: Path, image_bag: Path) -> None:
    with pytest.raises(BagError, match=r"does not exist"):
        list(bag_reader.read_frames(tmp_path / "nothing", "/cam"))
    with pytest.raises(BagError, match=r"has no metadata.yaml"):
        list(bag_reader.read_frames(tmp_path, "/cam"))
    inner = next(image_bag.glob("*.mcap"))
    with pytest.raises(BagError, match=rf"is not a rosbag2 folder .*pass its folder {image_bag}"):
        list(bag_reader.read_frames(inner, "/cam"))


def test_unknown_storage(tmp_path: Path, image_bag: Path) -> None:
    bag = tmp_path / "odd"
    shutil.copytree(image_bag, bag)
    meta = bag / "metadata.yaml"
    meta.write_text(meta.read_text().replace("storage_identifier: mcap", "storage_identifier: zip"))
    with pytest.raises(BagError, match=r"uses storage 'zip'; pixret-eval reads mcap and sqlite3"):
        list(bag_reader.read_frames(bag, "/cam"))


def test_cut_messages_inside_an_intact_bag(tmp_path: Path) -> None:
    """The bag file is fine but a message is shorter than its type: a named BagError."""
    store = typestore()
    full = bytes(
        store.serialize_cdr(
            store.types[IMAGE](
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
            IMAGE,
        )
    )
    for name, data, message in [
        ("tiny", full[:3], r"a message on /cam is cut short \(3 bytes\)"),
        ("half", full[: len(full) // 2], r"a sensor_msgs/msg/Image message on /cam cannot be"),
    ]:
        bag = tmp_path / name
        with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            connection = writer.add_connection("/cam", IMAGE, typestore=store)
            writer.write(connection, 1, data)
        with pytest.raises(BagError, match=message):
            list(bag_reader.read_frames(bag, "/cam"))
    with pytest.raises(BagError, match=r"cut short"):
        bag_reader.list_frame_names(tmp_path / "tiny", "/cam")
