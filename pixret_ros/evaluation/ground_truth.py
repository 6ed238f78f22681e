"""COCO ground truth of DESIGN section 5: which frames show which instance, and its true mask.

`load_ground_truth(path)` checks the whole file up front (keys, ids, names, RLE and
polygon structure, sizes) so that a bad file fails before a long run, naming the file and
the entry. Masks are decoded lazily, one frame at a time (`GroundTruth.masks`), so memory
does not grow with the number of frames.

Rules (DESIGN section 5):
- `images[].file_name`, reduced to its basename, names a frame; names must be unique.
  In a stream run (`qualified=True`, DESIGN section 5.1) the name keeps the stream:
  `<stream>/<basename>`, the stream being file_name's folder or else the image's `stream`.
- `images[]` may carry `stream` (a name), `frame_index` and `stamp_ns` (integers >= 0);
  where present they decide the streams' grouping and order (`GroundTruth.stream_fields`).
- `categories[].name` is the instance name (`[A-Za-z0-9_.-]{1,64}`, as in the gallery).
- Several `iscrowd: 0` annotations of one instance in one frame form one true mask (union).
- `iscrowd: 1` makes the frame junk for that instance: left out of its ranking and of its
  precision/recall. Junk wins over a positive annotation of the same instance and frame.
- A frame listed in `images` without an annotation of an instance is a negative for it.

Its own module for the checked record and its loader; the entry-by-entry checks and the
frame-naming rules are in `ground_truth_checks.py`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
from pycocotools import mask as coco_mask

from pixret_ros.engine.types import BoolMask
from pixret_ros.errors import GroundTruthError
from pixret_ros.evaluation.ground_truth_checks import EntryChecker, StreamFields, read_json
from pixret_ros.evaluation.records import InstanceTruth

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class _Annotation:
    """One checked annotation, kept undecoded until its frame is asked for."""

    instance: str
    segmentation: dict[str, object] | list[list[float]]
    height: int
    width: int


class GroundTruth:
    """A checked COCO ground-truth file; see the module docstring for the rules.

    Attributes:
        path: the json file.
        frames: frame names in `images[]` order.
        instances: instance names, sorted.
        image_ids: frame name -> COCO image id (for writing COCO results).
        category_ids: instance name -> COCO category id.
        stream_fields: frame name -> its `stream`, `frame_index`, `stamp_ns` (frames that
            carry at least one of them).
    """

    def __init__(
        self,
        path: Path,
        *,
        frames: tuple[str, ...],
        instances: tuple[str, ...],
        sizes: dict[str, tuple[int, int] | None],
        annotations: dict[str, list[_Annotation]],
        junk: dict[str, set[str]],
        image_ids: dict[str, int],
        category_ids: dict[str, int],
        stream_fields: dict[str, StreamFields] | None = None,
    ) -> None:
        self.path = path
        self.frames = frames
        self.instances = instances
        self._sizes = sizes
        self._annotations = annotations
        self._junk = junk
        self.image_ids: Mapping[str, int] = MappingProxyType(image_ids)
        self.category_ids: Mapping[str, int] = MappingProxyType(category_ids)
        self.stream_fields: Mapping[str, StreamFields] = MappingProxyType(stream_fields or {})

    def truths(self) -> list[InstanceTruth]:
        """One record per instance (sorted by name): its positive and junk frames."""
        positives: dict[str, set[str]] = defaultdict(set)
        for frame, anns in self._annotations.items():
            for ann in anns:
                positives[ann.instance].add(frame)
        junk: dict[str, set[str]] = defaultdict(set)
        for frame, names in self._junk.items():
            for name in names:
                junk[name].add(frame)
        return [
            InstanceTruth(name, frozenset(positives[name] - junk[name]), frozenset(junk[name]))
            for name in self.instances
        ]

    def image_size(self, frame: str) -> tuple[int, int] | None:
        """(height, width) of a frame as the file states it (images[] or RLE), None if unstated."""
        self._check_frame(frame)
        return self._sizes[frame]

    def masks(self, frame: str) -> dict[str, BoolMask]:
        """Decode the true masks of one frame: instance -> union of its `iscrowd: 0` masks.

        Only instances that are positive in the frame appear (junk ones do not). Each mask is
        bool (H, W), H and W as stated in the file.
        """
        self._check_frame(frame)
        junk = self._junk.get(frame, set())
        out: dict[str, BoolMask] = {}
        for index, ann in enumerate(self._annotations.get(frame, [])):
            if ann.instance in junk:
                continue
            try:
                decoded = self._decode(ann)
            except (ValueError, TypeError) as exc:  # pycocotools' own complaint
                raise GroundTruthError(
                    f"{self.path}: annotation {index} of frame {frame!r} ({ann.instance!r}) "
                    f"cannot be decoded: {exc}"
                ) from None
            previous = out.get(ann.instance)
            out[ann.instance] = decoded if previous is None else previous | decoded
        return out

    @staticmethod
    def _decode(ann: _Annotation) -> BoolMask:
        seg = ann.segmentation
        if isinstance(seg, list):
            rle = coco_mask.merge(coco_mask.frPyObjects(seg, ann.height, ann.width))
        elif isinstance(seg["counts"], list):
            rle = coco_mask.frPyObjects(seg, ann.height, ann.width)
        else:
            rle = seg
        decoded = np.asarray(coco_mask.decode(rle))
        return decoded.astype(bool)

    def _check_frame(self, frame: str) -> None:
        if frame not in self._sizes:
            raise GroundTruthError(f"{self.path}: no image named {frame!r} in images[]")


def load_ground_truth(path: str | Path, *, qualified: bool = False) -> GroundTruth:
    """Read and check a COCO ground-truth json (DESIGN section 5); masks stay undecoded.

    `qualified`: name frames `<stream>/<basename>` (a stream run whose input names its
    frames so: sub-folders of a frames folder, several bags; DESIGN section 5.1).

    Raises:
        GroundTruthError: naming the file and entry: unreadable file, invalid json, missing
            keys, duplicate ids or file names, invalid instance names, annotations of unknown
            images or categories, malformed RLE or polygons, inconsistent sizes.
    """
    path = Path(path)
    data = read_json(path, "ground truth")
    if not isinstance(data, dict):
        raise GroundTruthError(f"{path}: top level must be a COCO object with 'images' etc.")
    parser = EntryChecker(path, qualified=qualified)
    images, sizes, streams = parser.images(data)
    categories = parser.categories(data)
    by_frame: dict[str, list[_Annotation]] = defaultdict(list)
    junk: dict[str, set[str]] = defaultdict(set)
    for index, ann in enumerate(parser.entries(data, "annotations")):
        where = f"annotations[{index}]" + (f" (id {ann['id']})" if "id" in ann else "")
        image_id = parser.integer(ann, "image_id", where)
        category_id = parser.integer(ann, "category_id", where)
        if image_id not in images:
            raise parser.fail(f"{where}: image_id {image_id} is not in images[]")
        if category_id not in categories:
            raise parser.fail(f"{where}: category_id {category_id} is not in categories[]")
        iscrowd = ann.get("iscrowd", 0)
        if iscrowd not in (0, 1) or isinstance(iscrowd, bool):
            raise parser.fail(f"{where}: 'iscrowd' must be 0 or 1, got {iscrowd!r}")
        frame = images[image_id]
        seg, size = parser.segmentation(
            parser.field(ann, "segmentation", where), sizes[frame], where
        )
        sizes[frame] = size  # an RLE states the size where images[] does not
        instance = categories[category_id]
        if iscrowd:
            junk[frame].add(instance)
        else:
            by_frame[frame].append(_Annotation(instance, seg, size[0], size[1]))
    return GroundTruth(
        path,
        frames=tuple(sizes),
        instances=tuple(sorted(categories.values())),
        sizes=sizes,
        annotations=dict(by_frame),
        junk=dict(junk),
        image_ids={name: image_id for image_id, name in images.items()},
        category_ids={name: category_id for category_id, name in categories.items()},
        stream_fields=streams,
    )
