"""frames: a folder of real PNG/JPEG photos read in name order as RGB."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from pixret_ros.evaluation.errors import InputError
from pixret_ros.io.frames import list_frame_files, read_frame_folder


def write(path: Path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_reads_png_and_jpg_in_name_order(tmp_path: Path) -> None:
    write(tmp_path / "b.png", skimage.data.coffee())
    write(tmp_path / "a.jpg", skimage.data.astronaut())
    write(tmp_path / "c.PNG", skimage.data.chelsea())
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "0.png", skimage.data.rocket())
    frames = list(read_frame_folder(tmp_path))
    assert [f.name for f in frames] == ["a.jpg", "b.png", "c.PNG"]
    assert all(f.stamp_ns is None for f in frames)
    np.testing.assert_array_equal(frames[1].image, skimage.data.coffee())
    assert np.abs(frames[0].image.astype(int) - skimage.data.astronaut()).mean() < 4


def test_grey_png_becomes_rgb(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "g.png"), skimage.data.camera())
    (frame,) = read_frame_folder(tmp_path)
    assert frame.image.shape == (*skimage.data.camera().shape, 3)
    np.testing.assert_array_equal(frame.image[..., 1], skimage.data.camera())


def test_names_filter(tmp_path: Path) -> None:
    write(tmp_path / "a.png", skimage.data.coffee())
    write(tmp_path / "b.png", skimage.data.chelsea())
    assert [f.name for f in read_frame_folder(tmp_path, names={"b.png"})] == ["b.png"]


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    write(tmp_path / "a.png", skimage.data.coffee())
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    frames = read_frame_folder(tmp_path)
    assert next(frames).name == "a.png"
    with pytest.raises(InputError, match=rf"frame {broken} is not a readable PNG/JPEG image"):
        next(frames)


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not exist or is not a folder"):
        list_frame_files(tmp_path / "missing")
    with pytest.raises(InputError, match=r"holds no .png/.jpg/.jpeg files"):
        list_frame_files(tmp_path)
