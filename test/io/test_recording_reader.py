"""recording_reader: the node's ~/detections + ~/mask as real CDR in real bags, matched by stamp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from io_samples import detections

from pixret_ros.engine.render import label_image
from pixret_ros.evaluation.errors import BagError
from pixret_ros.io import bag_writer, recording_reader


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_recording_round_trip(tmp_path: Path, storage: str) -> None:
    """The node's ~/detections + ~/mask, serialized as real CDR, matched back by stamp."""
    shape = (240, 320)
    dets = detections(shape)
    labels = label_image(dets, shape)
    bag = tmp_path / "rec"
    with bag_writer.BagWriter(bag, storage=storage) as writer:
        writer.write_detections("/pixret_node/detections", 10, dets)
        writer.write_mask("/pixret_node/mask", 10, labels)
        writer.write_mask("/pixret_node/mask", 20, labels)  # mask recorded before detections
        writer.write_detections("/pixret_node/detections", 20, dets[:1])
        writer.write_detections("/pixret_node/detections", 30, [])  # nothing found
        writer.write_detections("/pixret_node/detections", 40, dets)  # its mask was lost
    assert recording_reader.find_detection_topics(bag) == ["/pixret_node/detections"]
    frames = list(
        recording_reader.read_recording(bag, "/pixret_node/detections", "/pixret_node/mask")
    )
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
    dets = detections((240, 320))
    with bag_writer.BagWriter(bag) as writer:
        writer.write_detections("/d", 10, dets)
        writer.write_image("/m", 10, skimage.data.astronaut()[:240, :320])
    with pytest.raises(BagError, match=r"/m at stamp 10: the label mask must be mono16, is 'rgb8'"):
        list(recording_reader.read_recording(bag, "/d", "/m"))


def test_recording_as_the_node_publishes_it(tmp_path: Path) -> None:
    """The node publishes a mask after every array, empty ones too; stamps may repeat; masks
    may be lost. Each stamp comes out once, and lost partners are forgotten, not hoarded."""
    shape = (240, 320)
    dets = detections(shape)
    labels = label_image(dets, shape)
    empty = np.zeros(shape, np.uint16)
    bag = tmp_path / "rec"
    lost = recording_reader.MAX_PENDING + 5
    with bag_writer.BagWriter(bag) as writer:
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
    frames = list(recording_reader.read_recording(bag, "/d", "/m"))
    assert [f.stamp_ns for f in frames] == [1000, 2000, lost]
    assert frames[0].labels is None
    assert frames[1].labels is not None
    np.testing.assert_array_equal(frames[1].labels, labels)
