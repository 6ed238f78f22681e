"""The gallery as the retriever holds it: instances in memory and one index over them.

The instances are kept in sync with the disk (only changed ones are loaded again), and the
one descriptor index over all of them ranks a frame's candidate instances and views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pixret_ros.engine.index import DescriptorIndex
from pixret_ros.engine.register import load_instance, numbered

if TYPE_CHECKING:
    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.features import FeatureExtractor, Features
    from pixret_ros.engine.register import InstanceEntry
    from pixret_ros.engine.types import GalleryLike, ViewTemplate


@dataclass(frozen=True)
class _TemplatePart:
    """A template's strongest descriptors per scale, read by the index only when it needs them.

    Copying them all at every gallery change cost 150 MB and 76 ms per registration with
    1000 instances.
    """

    key: int
    template: ViewTemplate
    limit: int  # index_keypoints

    @property
    def count(self) -> int:
        """Number of descriptors that go into the index."""
        return int(np.count_nonzero(self.template.ranks < self.limit))

    def descriptors(self) -> npt.NDArray[np.float16]:
        """Those descriptors (a copy)."""
        return self.template.descriptors[self.template.ranks < self.limit]


class LoadedGallery:
    """Registered instances (numbered in gallery order), their templates and the index."""

    def __init__(
        self, gallery: GalleryLike, extractor: FeatureExtractor, config: EngineConfig
    ) -> None:
        self.gallery = gallery
        self.extractor = extractor
        self.config = config
        self.registration_ms: dict[str, float] = {}  # per view, of the latest computed ones
        self.instances: list[InstanceEntry] = []
        self.templates: list[ViewTemplate] = []
        self.slot_of: dict[int, int] = {}  # id(template) -> position in `templates`
        self._index = DescriptorIndex(config)
        self._instance_of_view = np.zeros(0, dtype=np.int64)
        self._signature: str | None = None
        self._tokens: dict[str, str] = {}  # views_token of each loaded instance
        self._keys: dict[str, list[int]] = {}  # index key of each of its templates
        self._next_key = 0

    def sync(self) -> bool:
        """Reload the gallery if it changed on disk (cheap when not); True if it reloaded."""
        signature = self.gallery.signature()
        if signature == self._signature:
            return False
        # Only instances whose views changed are loaded again: at 1000 instances, decoding
        # every view and reading every cache made each registration cost seconds.
        known = {entry.name: entry for entry in self.instances}
        entries: list[InstanceEntry] = []
        tokens: dict[str, str] = {}
        keys: dict[str, list[int]] = {}
        for name in self.gallery.names():
            tokens[name] = self.gallery.views_token(name)  # before the load: never too new
            old = known.get(name)
            if old is not None and self._tokens.get(name) == tokens[name]:
                entries.append(numbered(old, len(entries)))
                keys[name] = self._keys[name]
            else:
                entry, elapsed = load_instance(
                    self.gallery, name, len(entries), self.extractor, self.config
                )
                if elapsed is not None:
                    self.registration_ms[name] = elapsed
                entries.append(entry)
                count = len(entry.views)
                keys[name] = list(range(self._next_key, self._next_key + count))
                self._next_key += count
        self._tokens, self._keys = tokens, keys
        self.instances = entries
        self.templates = [view for entry in entries for view in entry.views]
        self._build_index()
        self._signature = signature
        return True

    def _build_index(self) -> None:
        self.slot_of = {id(t): i for i, t in enumerate(self.templates)}
        self._instance_of_view = np.array([t.instance for t in self.templates], dtype=np.int64)
        # Only each view's strongest keypoints per scale go into the index: they rank the
        # instances; localization then matches all of the candidate's keypoints.
        parts = [
            _TemplatePart(key, template, self.config.index_keypoints)
            for entry in self.instances
            for template, key in zip(entry.views, self._keys[entry.name], strict=True)
        ]
        self._index.update(parts, self._instance_of_view)

    def candidates(self, feats: Features) -> tuple[list[int], list[ViewTemplate]]:
        """Instances by votes (those with enough) and the views to verify: their best-voted."""
        if self._index.size == 0:
            return [], []
        view_votes = self._index.vote(feats.descriptors[: self.config.query_keypoints])
        instance_of_view = self._instance_of_view
        instance_votes = np.zeros(len(self.instances), dtype=np.int64)
        np.add.at(instance_votes, instance_of_view, view_votes)
        order = np.argsort(-instance_votes, kind="stable")[: self.config.candidates]
        ranked = [int(i) for i in order if instance_votes[i] >= self.config.min_votes]
        chosen: list[ViewTemplate] = []
        for instance in ranked:
            views = np.flatnonzero(instance_of_view == instance)
            best = views[np.argsort(-view_votes[views], kind="stable")]
            chosen.extend(self.templates[v] for v in best[: self.config.views_per_candidate])
        return ranked, chosen
