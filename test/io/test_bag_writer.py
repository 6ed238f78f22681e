"""bag_writer: every encoding the codec reads can be written and reads back as the node decodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from io_samples import STAMPS, photos

from pixret_ros.evaluation.errors import BagError
from pixret_ros.io import bag_reader, bag_writer
from pixret_ros.io.image_codec import image_to_rgb, pack_pixels, rgb_to_pixels


@pytest.mark.parametrize("encoding", bag_writer.WRITE_ENCODINGS)
def test_bag_frames_are_the_codec_frames(tmp_path: Path, encoding: str) -> None:
    """Through CDR and mcap and back, a frame is what the node decodes from the same pixels."""
    rgb = photos()[1][:64, :96]
    bag = tmp_path / "bag"
    bag_writer.write_image_bag(bag, [(STAMPS[0], rgb)], "/cam", encoding=encoding)
    (frame,) = bag_reader.read_frames(bag, "/cam")
    direct = image_to_rgb(pack_pixels(rgb_to_pixels(rgb, encoding), encoding))
    np.testing.assert_array_equal(frame.image, direct)


def test_writer_refusals_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(BagError, match=r"unknown bag storage 'zip'"):
        bag_writer.BagWriter(tmp_path / "new", storage="zip")
    with bag_writer.BagWriter(tmp_path / "bag") as writer:
        with pytest.raises(BagError, match=r"cannot write encoding 'nv21'.*use rgb8"):
            writer.write_image("/cam", 1, photos()[0], encoding="nv21")
        with pytest.raises(BagError, match=r"compressed format 'gif'; use jpeg or png"):
            writer.write_compressed("/cam/c", 1, photos()[0], image_format="gif")
        writer.write_detections("/d", 1, [])
        with pytest.raises(BagError, match=r"topic /d already carries another type"):
            writer.write_image("/d", 2, photos()[0])
