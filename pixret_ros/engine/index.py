"""One descriptor index over every registered view: votes rank instances for a frame.

Why one index: a frame's descriptors are searched once, whatever the gallery size; an
inverted-file index beyond `index_exact_limit` vectors keeps that cost sub-linear. A vote
counts only if it is unique to one instance (its nearest descriptor of any other instance is
clearly farther): the find-object lesson of MODELS.md, a cheap and strong filter against
repeated texture and against objects that look alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import faiss
import numpy as np
import numpy.typing as npt
import torch

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pixret_ros.engine.config import EngineConfig
    from pixret_ros.engine.types import Float32, Int64

_NEIGHBOURS = 8
_TRAIN_PER_LIST = 40
_RETRAIN_FACTOR = 4  # train again once the indexed count is 4x or 1/4 of the trained count


def _stacked(parts: Sequence[npt.NDArray[np.floating]]) -> Float32:
    """Parts as one contiguous float32 (n, 64) array (faiss and torch take nothing else)."""
    if not parts:
        return np.zeros((0, 64), np.float32)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


class IndexPart(Protocol):
    """The descriptors (n, 64) of one view slot, read only when the index needs them."""

    @property
    def key(self) -> int:
        """Names the same descriptors for as long as it is used."""

    @property
    def count(self) -> int:
        """Number of descriptors (n)."""

    def descriptors(self) -> npt.NDArray[np.floating]:
        """The (n, 64) descriptors."""


@dataclass(frozen=True)
class ArrayPart:
    """An IndexPart that holds its descriptors."""

    key: int
    array: npt.NDArray[np.floating]

    @property
    def count(self) -> int:
        """Number of descriptors."""
        return len(self.array)

    def descriptors(self) -> npt.NDArray[np.floating]:
        """The descriptors."""
        return self.array


class DescriptorIndex:
    """Nearest-neighbour search over all view descriptors, each part owned by one view slot.

    `update` is called with the whole gallery after every change. The inverted-file index is
    kept between calls: parts whose key is new are added and parts whose key is gone removed,
    and the quantizer is trained again only when the indexed count has grown or shrunk
    `_RETRAIN_FACTOR`-fold since it was trained. Rebuilding and training it at every
    registration cost seconds at 1000 instances.
    """

    def __init__(self, config: EngineConfig) -> None:
        self._config = config
        self.num_instances = 0
        self.trainings = 0  # how often the quantizer was trained (incremental updates: rarely)
        self._instance_of_view = np.zeros(0, np.int64)
        self._exact: torch.Tensor | None = None
        self._view_of_row = np.zeros(0, np.int64)
        self._index: faiss.IndexIVF | None = None
        self._trained_count = 0
        self._keys_sorted = np.zeros(0, np.int64)
        self._slot_of_sorted = np.zeros(0, np.int64)
        # One thread: a search of a few hundred queries is short, and a second OpenMP pool
        # spinning beside torch's slowed the XFeat forward that follows by up to 2x (profile).
        faiss.omp_set_num_threads(1)

    def update(self, parts: Sequence[IndexPart], instance_of_view: Int64) -> None:
        """Index exactly `parts`, the descriptors of view slot i at position i.

        A part's key names the same descriptors for as long as it is used (the caller gives
        changed views a new key); only new parts are read, unless the quantizer is trained
        again. `instance_of_view[i]` is the instance number of view slot i.
        """
        held = set(self._keys_sorted.tolist()) if self._index is not None else set()
        self._instance_of_view = np.asarray(instance_of_view, np.int64)
        self.num_instances = int(self._instance_of_view.max()) + 1 if len(parts) else 0
        keys = np.array([part.key for part in parts], dtype=np.int64)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("DescriptorIndex.update: every part needs its own key")
        order = np.argsort(keys, kind="stable")
        self._keys_sorted, self._slot_of_sorted = keys[order], order.astype(np.int64)
        counts = np.array([part.count for part in parts], dtype=np.int64)
        total = int(counts.sum())
        if total <= self._config.index_exact_limit:
            # Exact search as one matrix product on torch's threads (those XFeat already
            # uses): 512 queries x 15k rows took 63 ms in faiss on one thread, 2-3x less here.
            self._index = None
            self._exact = torch.from_numpy(_stacked([part.descriptors() for part in parts]))
            self._view_of_row = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
            return
        self._exact = None
        factor = _RETRAIN_FACTOR
        if (
            self._index is None
            or not self._trained_count / factor <= total <= self._trained_count * factor
        ):
            self._index = self._trained(_stacked([part.descriptors() for part in parts]))
            held = set()
        gone = held - set(keys.tolist())
        if gone:
            ids = np.array(sorted(gone), dtype=np.int64)
            self._index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))
        new = [i for i, key in enumerate(keys.tolist()) if key not in held]
        if new:
            self._index.add_with_ids(
                _stacked([parts[i].descriptors() for i in new]), np.repeat(keys[new], counts[new])
            )

    def _trained(self, descriptors: Float32) -> faiss.IndexIVF:
        """An empty inverted-file index whose quantizer was trained on `descriptors`."""
        count = descriptors.shape[0]
        lists = int(min(2 * np.sqrt(count), count // _TRAIN_PER_LIST))
        quantizer = faiss.IndexFlatIP(descriptors.shape[1])
        ivf = faiss.IndexIVFScalarQuantizer(
            quantizer, descriptors.shape[1], lists, faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )  # fmt: skip
        rng = np.random.default_rng(0)
        ivf.train(descriptors[rng.choice(count, size=lists * _TRAIN_PER_LIST, replace=False)])
        ivf.nprobe = self._config.index_nprobe
        self._trained_count = count
        self.trainings += 1
        return ivf

    @property
    def size(self) -> int:
        """Number of indexed descriptors."""
        if self._exact is not None:
            return int(self._exact.shape[0])
        return int(self._index.ntotal) if self._index is not None else 0

    def _search(self, query: Float32, k: int) -> tuple[Float32, Int64]:
        """Cosine similarities and view slots (-1: none) of the `k` nearest descriptors."""
        if self._exact is not None:
            with torch.inference_mode():
                top = torch.topk(torch.from_numpy(query) @ self._exact.T, k, dim=1)
            return top.values.numpy(), self._view_of_row[top.indices.numpy()]
        assert self._index is not None  # noqa: S101 (size > 0 was checked by the caller)
        found_sims, found_keys = self._index.search(query, k)
        keys = np.asarray(found_keys, np.int64)
        where = np.clip(np.searchsorted(self._keys_sorted, keys), 0, len(self._keys_sorted) - 1)
        slots = np.where(keys >= 0, self._slot_of_sorted[where], -1)
        return np.asarray(found_sims, np.float32), slots

    def vote(self, query: Float32) -> Int64:
        """Unique votes per view slot for the frame descriptors `query` (M, 64).

        A query votes for the view of its nearest neighbour when the neighbour's cosine
        similarity reaches `min_similarity` and its distance is below `uniqueness_ratio`
        times the distance to the nearest descriptor of another instance (always unique when
        all neighbours searched belong to one instance).
        """
        votes = np.zeros(self._instance_of_view.size, dtype=np.int64)
        if self.size == 0 or query.shape[0] == 0:
            return votes
        k = min(_NEIGHBOURS, self.size)
        sims, views = self._search(np.ascontiguousarray(query, dtype=np.float32), k)
        valid = views >= 0
        instances = np.where(valid, self._instance_of_view[np.maximum(views, 0)], -1)
        other = instances != instances[:, :1]
        has_other = other.any(axis=1)
        first_other = np.argmax(other, axis=1)
        idx = np.arange(query.shape[0])
        sim2 = sims[idx, first_other]
        dist1 = np.sqrt(np.maximum(2.0 - 2.0 * sims[:, 0], 0.0))
        dist2 = np.sqrt(np.maximum(2.0 - 2.0 * sim2, 0.0))
        # All k neighbours from one instance: every other instance is farther still.
        unique = ~has_other | (dist1 < self._config.uniqueness_ratio * dist2)
        good = valid[:, 0] & unique & (sims[:, 0] >= self._config.min_similarity)
        np.add.at(votes, views[good, 0], 1)
        return votes
