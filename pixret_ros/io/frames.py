"""Frames from a folder of image files: every .png/.jpg in name order (DESIGN section 5).

The file name is the frame's name, so COCO ground truth made with any annotation tool on the
same files matches without renaming. Images are decoded to RGB uint8, as the engine expects,
by the one image codec (`image_codec.decode_image`, as compressed bag frames are).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pixret_ros.evaluation.errors import InputError
from pixret_ros.io.image_codec import decode_image

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

    from pixret_ros.engine.types import RGBImage


class Frame(NamedTuple):
    """One input frame: `name` is what ground truth calls it, `image` RGB uint8 (H, W, 3).

    `stamp_ns` is the header stamp for frames from a bag, None for files.
    """

    name: str
    stamp_ns: int | None
    image: RGBImage


#: File suffixes read as frames (lower case; `.JPG` counts too).
SUFFIXES = (".png", ".jpg", ".jpeg")


def list_frame_files(folder: Path | str) -> list[Path]:
    """The frame files of `folder` (not its subfolders), sorted by name; InputError if none."""
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"frames folder {path} does not exist or is not a folder")
    files = sorted(
        (p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )
    if not files:
        raise InputError(f"frames folder {path} holds no {'/'.join(SUFFIXES)} files")
    return files


def read_frame_folder(
    folder: Path | str, *, names: Collection[str] | None = None
) -> Iterator[Frame]:
    """Yield the frames of `folder` in name order as RGB uint8 (only `names`, if given)."""
    for file in list_frame_files(folder):
        if names is not None and file.name not in names:
            continue
        yield Frame(file.name, None, read_image_file(file))


def read_image_file(file: Path) -> RGBImage:
    """Read one PNG/JPEG file as RGB uint8; InputError naming the file if it cannot be."""
    try:
        data = file.read_bytes()
    except OSError as err:
        raise InputError(f"frame {file} cannot be read: {err.strerror}") from None
    image = decode_image(data)
    if image is None:
        raise InputError(f"frame {file} is not a readable PNG/JPEG image (empty or corrupt)")
    return image
