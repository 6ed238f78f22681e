"""The files of one instance folder (DESIGN section 4): names, cheap checks, decoding.

Opening a gallery must stay fast with a thousand instances, so a folder is checked without
decoding: every view has a mask, numbering has no gaps, each PNG has its header and its end
chunk (which catches truncated files), and view and mask have the same size. Pixels are only
decoded when `Gallery.views` asks for them.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pixret_ros.errors import GalleryError

if TYPE_CHECKING:
    from pathlib import Path

    from pixret_ros.engine.types import BoolMask, RGBImage

MAX_VIEWS = 1000  # view_000 .. view_999
CACHE_DIR = "cache"  # feature caches live in <instance>/cache/<key>.npz

_VIEW_RE = re.compile(r"view_(\d{3})\.png")
_MASK_RE = re.compile(r"view_(\d{3})_mask\.png")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk every complete PNG ends with
_READ_FLAGS = cv2.IMREAD_IGNORE_ORIENTATION  # pixels exactly as stored


def view_file(index: int) -> str:
    """File name of view `index` inside its instance folder."""
    return f"view_{index:03d}.png"


def mask_file(index: int) -> str:
    """File name of the mask of view `index` inside its instance folder."""
    return f"view_{index:03d}_mask.png"


def broken(folder: Path, detail: str) -> GalleryError:
    """The error for a damaged instance folder, with the two ways to fix it."""
    return GalleryError(
        f"instance {folder.name!r}: {detail}; fix the file, re-register the instance with "
        f"add({folder.name!r}, ..., replace=True) or remove it with remove({folder.name!r})"
    )


def scan_instance(folder: Path) -> int:
    """Number of views in `folder`, after the cheap checks; GalleryError naming the bad file."""
    views: set[int] = set()
    masks: set[int] = set()
    try:
        entries = os.listdir(folder)  # noqa: PTH208 - no Path per entry: opening must be fast
    except OSError as error:
        raise broken(folder, f"cannot list folder {folder}: {error.strerror}") from None
    for entry in entries:
        if match := _VIEW_RE.fullmatch(entry):
            views.add(int(match[1]))
        elif match := _MASK_RE.fullmatch(entry):
            masks.add(int(match[1]))
    if not views:
        raise broken(folder, f"folder {folder} has no view_000.png")
    count = max(views) + 1
    for index in range(count):
        if index not in views:
            raise broken(
                folder, f"{folder / view_file(index)} is missing (views must be numbered 0..n-1)"
            )
        if index not in masks:
            raise broken(
                folder,
                f"view {folder / view_file(index)} has no mask {folder / mask_file(index)} "
                "(8-bit PNG, 255 = object)",
            )
        view_size = png_size(folder / view_file(index), folder)
        mask_size = png_size(folder / mask_file(index), folder)
        if view_size != mask_size:
            raise broken(
                folder,
                f"mask {folder / mask_file(index)} is {mask_size[0]}x{mask_size[1]} but its view "
                f"is {view_size[0]}x{view_size[1]}",
            )
    return count


def png_size(path: Path, folder: Path) -> tuple[int, int]:
    """(width, height) from the PNG header of `path`, which must be a complete PNG file."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:  # three small reads, no buffered file object: this runs for every view at opening
            head = os.pread(fd, 33, 0)
            size = os.fstat(fd).st_size
            tail = os.pread(fd, len(_PNG_END), size - len(_PNG_END)) if size > 33 else b""
        finally:
            os.close(fd)
    except OSError as error:
        raise broken(folder, f"cannot read {path}: {error.strerror}") from None
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise broken(folder, f"file {path} is not a PNG image")
    if tail != _PNG_END:
        raise broken(folder, f"file {path} is truncated or corrupt (no PNG end chunk)")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def fingerprint(folder: Path) -> str:
    """Identity of the view and mask files of `folder` (name, size, mtime, inode): stat only.

    It changes when the views change by any route (a registration creates new files; a hand
    edit changes size or mtime), so a feature cache stamped with it can tell it is stale.
    """
    digest = hashlib.blake2b(digest_size=16)
    for entry in sorted(path.name for path in folder.iterdir()):
        if _VIEW_RE.fullmatch(entry) or _MASK_RE.fullmatch(entry):
            stat = (folder / entry).stat()
            digest.update(f"{entry}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino};".encode())
    return digest.hexdigest()


def read_files(folder: Path) -> list[tuple[bytes, bytes]]:
    """PNG bytes of each (view, mask) of instance `folder`, after the cheap checks.

    Reading is quick and decoding slow, so callers read under the gallery lock and decode
    after releasing it.
    """
    count = scan_instance(folder)
    files = []
    for index in range(count):
        view_path, mask_path = folder / view_file(index), folder / mask_file(index)
        try:
            files.append((view_path.read_bytes(), mask_path.read_bytes()))
        except OSError as error:
            raise broken(folder, f"cannot read {error.filename}: {error.strerror}") from None
    return files


def decode_view(folder: Path, index: int, files: tuple[bytes, bytes]) -> tuple[RGBImage, BoolMask]:
    """Decode view `index` of `folder` from its PNG bytes: (RGB uint8 (H, W, 3), bool mask)."""
    bgr = _decode(folder / view_file(index), files[0], cv2.IMREAD_COLOR)
    gray = _decode(folder / mask_file(index), files[1], cv2.IMREAD_GRAYSCALE)
    if gray.shape != bgr.shape[:2]:
        raise broken(
            folder, f"mask {folder / mask_file(index)} has shape {gray.shape}, view {bgr.shape}"
        )
    mask: BoolMask = gray != 0
    if not mask.any():
        raise broken(folder, f"mask {folder / mask_file(index)} is empty (all zero)")
    rgb: RGBImage = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
    return rgb, mask


def _decode(path: Path, data: bytes, flags: int) -> np.ndarray:
    """Decode the PNG bytes of `path`; GalleryError naming the file if they cannot be decoded."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags | _READ_FLAGS)
    if image is None:
        raise broken(path.parent, f"file {path} cannot be decoded (corrupt PNG)")
    return image


def encode_view(image: RGBImage, mask: BoolMask) -> tuple[bytes, bytes]:
    """PNG bytes of a view (stored BGR, as cv2 writes it) and of its mask (0 / 255)."""
    ok_view, view_png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    ok_mask, mask_png = cv2.imencode(".png", mask.astype(np.uint8) * np.uint8(255))
    if not (ok_view and ok_mask):  # pragma: no cover - cv2 encodes any valid uint8 array
        raise GalleryError("cv2 could not encode a view as PNG")
    return view_png.tobytes(), mask_png.tobytes()
