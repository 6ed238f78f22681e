"""auto_enroll: views of a tracked object's other sides, proposed for the gallery (off by default).

Why: a robot is shown an object once, from one side; a stream then shows it turning. The
stream memory (stream_memory.py) already keeps appearance samples of the object in its new
poses, but only for the stream. With `EngineConfig.auto_enroll` the engine also proposes a
sample as a new gallery view when (a) the frame was verified (a geometric fit or a confirmed
re-detection set the mask, never a merely propagated one: the memory's own rule), (b) it is
well separated from every view the instance has (`auto_enroll_novelty`: the share of the
sample's object cells that no known view resembles), and (c) the instance has fewer than
`auto_enroll_views` views. Whoever owns the gallery writes the proposals (the node does; the
engine never writes), and the next sync loads them, so the object is found from that side
also in later streams and after a restart.

What it risks (README): a verified frame can still be a wrong one (a similar object accepted
by mistake, a mask that took in some background); enrolled, that error persists and makes
false detections more likely in every later stream. The bounds keep it small: only verified
frames, at most `auto_enroll_views` views an instance, each new one far from the others. The
views it added are ordinary gallery views: list and remove them with the gallery tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pixret_ros.engine.types import Box

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pixret_ros.engine.appearance import AppearanceModel
    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.types import BoolMask, RGBImage

# A sample's object cell is "known" when a known view has a cell at least this similar
# (cosine of unit XFeat dense descriptors).
KNOWN_SIMILARITY = 0.8
# Crop margin around the object, as a share of its box (views are registered with context).
MARGIN = 0.15


@dataclass(frozen=True)
class Enrollment:
    """A view proposed for the gallery: an instance's name, an RGB crop and its object mask."""

    name: str
    image: RGBImage
    mask: BoolMask


def novelty(sample: AppearanceModel, known: Sequence[AppearanceModel]) -> float:
    """Share of `sample`'s object cells that no model in `known` resembles (0 to 1)."""
    cells = sample.fg_prototypes
    if not len(cells):
        return 0.0
    best = np.full(len(cells), -1.0, np.float32)
    for model in known:
        if len(model.fg_prototypes):
            best = np.maximum(best, (cells @ model.fg_prototypes.T).max(axis=1))
    return float(np.mean(best < KNOWN_SIMILARITY))


def crop_view(frame: RGBImage, mask: BoolMask) -> tuple[RGBImage, BoolMask]:
    """The object's box grown by MARGIN per side, cut from the full-resolution frame."""
    box = Box.of_mask(mask)
    dx, dy = round(MARGIN * box.width), round(MARGIN * box.height)
    height, width = mask.shape
    x0, y0 = max(0, box.x - dx), max(0, box.y - dy)
    x1, y1 = min(width, box.x + box.width + dx), min(height, box.y + box.height + dy)
    return np.ascontiguousarray(frame[y0:y1, x0:x1]), np.ascontiguousarray(mask[y0:y1, x0:x1])


class Enroller:
    """Decides which verified samples of a stream become gallery views; hands them out once."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._pending: list[Enrollment] = []
        self._proposed: dict[str, list[AppearanceModel]] = {}  # since the last gallery load

    def gallery_loaded(self) -> None:
        """The gallery was (re)loaded: what was proposed is now among the instances' views."""
        self._proposed = {}

    def offer(  # noqa: PLR0917 (one call site; the names say what each is)
        self,
        name: str,
        frame: RGBImage,
        mask: BoolMask,
        sample: AppearanceModel,
        known: Sequence[AppearanceModel],
        views: int,
    ) -> bool:
        """A verified sample of `name` (mask in `frame`'s pixels); True if it is proposed.

        `known` are the appearance models of the instance's gallery views, `views` how many
        views it has in the gallery now.
        """
        if not self.config.auto_enroll or not mask.any():
            return False
        earlier = self._proposed.setdefault(name, [])
        if views + len(earlier) >= self.config.auto_enroll_views:
            return False
        if novelty(sample, [*known, *earlier]) < self.config.auto_enroll_novelty:
            return False
        image, cropped = crop_view(frame, mask)
        earlier.append(sample)
        self._pending.append(Enrollment(name, image, cropped))
        return True

    def take(self) -> list[Enrollment]:
        """The proposals not yet handed out (each is handed out once)."""
        pending, self._pending = self._pending, []
        return pending
