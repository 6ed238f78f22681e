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
    from collections.abc import Collection

    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.features import FeatureExtractor, Features
    from pixret_ros.engine.register import InstanceEntry
    from pixret_ros.engine.types import GalleryLike, Int64, ViewTemplate


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
        self._index = DescriptorIndex(config)  # primary templates: every frame's candidates
        self._second = DescriptorIndex(config)  # the others: the second pass (`_second_pass`)
        self._first_slots = np.zeros(0, dtype=np.int64)  # positions in `templates` of each
        self._second_slots = np.zeros(0, dtype=np.int64)
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
        primary = np.array([t.primary for t in self.templates], dtype=bool)
        self._first_slots = np.flatnonzero(primary)
        self._second_slots = np.flatnonzero(~primary)
        for index, slots in ((self._index, self._first_slots), (self._second, self._second_slots)):
            index.update([parts[s] for s in slots], self._instance_of_view[slots])

    def candidates(self, feats: Features) -> tuple[list[int], list[ViewTemplate], Int64]:
        """Instances by votes (those with enough), their best-voted views, every one's votes.

        Only the primary templates (upright, at `view_scales`) vote here; `second_pass`
        gives the others' views once these are verified.
        """
        if not self._index.size:
            return [], [], np.zeros(len(self.instances), dtype=np.int64)
        view_votes, instance_of_view, instance_votes = self._votes(
            self._index, self._first_slots, feats
        )
        order = np.argsort(-instance_votes, kind="stable")[: self.config.candidates]
        ranked = [int(i) for i in order if instance_votes[i] >= self.config.min_votes]
        views = self._best_views(ranked, view_votes, instance_of_view, self._first_slots)
        return ranked, views, instance_votes

    def second_pass(self, feats: Features, found: Collection[int]) -> list[ViewTemplate]:
        """Best-voted second-pass views (turned copies, extra small scales) of a few instances.

        The `second_candidates` instances with most votes in the second-pass index, among
        those not in `found` (instances the primary templates already found) and with at
        least `second_min_votes` votes (fewer: an absent instance's random votes). Why a pass
        of its own (dev set, tools/bench.py): in one index with the primary templates, the
        turned copies' random votes pushed true upright instances out of the `candidates`
        budget (image_map 0.748 -> 0.731, miou_S 0.555 -> 0.494).
        """
        if not self.config.second_candidates or not self._second.size:
            return []
        view_votes, instance_of_view, votes = self._votes(self._second, self._second_slots, feats)
        least = max(self.config.min_votes, self.config.second_min_votes)
        order = np.argsort(-votes, kind="stable")
        picked = [int(i) for i in order if votes[i] >= least and int(i) not in found][
            : self.config.second_candidates
        ]
        return self._best_views(picked, view_votes, instance_of_view, self._second_slots)

    def _votes(
        self, index: DescriptorIndex, slots: Int64, feats: Features
    ) -> tuple[Int64, Int64, Int64]:
        """One index's votes per view, the instance of each of its views, votes per instance."""
        view_votes = index.vote(feats.descriptors[: self.config.query_keypoints])
        instance_of_view = self._instance_of_view[slots]
        instance_votes = np.zeros(len(self.instances), dtype=np.int64)
        np.add.at(instance_votes, instance_of_view, view_votes)
        return view_votes, instance_of_view, instance_votes

    def _best_views(
        self,
        instances: list[int],
        view_votes: Int64,
        instance_of_view: Int64,
        slots: Int64,
    ) -> list[ViewTemplate]:
        """The `views_per_candidate` best-voted views of each of `instances` (one index's)."""
        chosen: list[ViewTemplate] = []
        for instance in instances:
            views = np.flatnonzero(instance_of_view == instance)
            best = views[np.argsort(-view_votes[views], kind="stable")]
            chosen.extend(self.templates[slots[v]] for v in best[: self.config.views_per_candidate])
        return chosen
