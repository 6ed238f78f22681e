"""One descriptor index over every registered view: votes rank instances for a frame.

Why one index: a frame's descriptors are searched once, whatever the gallery size; an
inverted-file index beyond `index_exact_limit` vectors keeps that cost sub-linear. A vote
counts only if it is unique to one instance (its nearest descriptor of any other instance is
clearly farther): the find-object lesson of MODELS.md, a cheap and strong filter against
repeated texture and against objects that look alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import faiss
import numpy as np
import numpy.typing as npt
import torch

if TYPE_CHECKING:
    from pixret_ros.engine.config import EngineConfig

Float32 = npt.NDArray[np.float32]
Int64 = npt.NDArray[np.int64]

_NEIGHBOURS = 8
_TRAIN_PER_LIST = 40


class DescriptorIndex:
    """Nearest-neighbour search over all view descriptors, each owned by one view slot."""

    def __init__(
        self,
        descriptors: Float32,
        view_of_row: Int64,
        instance_of_view: Int64,
        config: EngineConfig,
    ) -> None:
        """Index `descriptors` (N, 64); row i belongs to view slot `view_of_row[i]`.

        `instance_of_view[v]` is the instance number of view slot v.
        """
        self._config = config
        self._view_of_row = view_of_row
        self._instance_of_view = instance_of_view
        self.num_instances = int(instance_of_view.max()) + 1 if instance_of_view.size else 0
        # One thread: a search of a few hundred queries is short, and a second OpenMP pool
        # spinning beside torch's slowed the XFeat forward that follows by up to 2x (profile).
        faiss.omp_set_num_threads(1)
        dim = descriptors.shape[1] if descriptors.ndim == 2 else 64
        count = descriptors.shape[0]
        self._exact: torch.Tensor | None = None
        self._index: faiss.Index | None = None
        if count <= config.index_exact_limit:
            # Exact search as one matrix product on torch's threads (those XFeat already
            # uses): 512 queries x 15k rows took 63 ms in faiss on one thread, 2-3x less here.
            self._exact = torch.from_numpy(np.ascontiguousarray(descriptors, dtype=np.float32))
        else:
            lists = int(min(2 * np.sqrt(count), count // _TRAIN_PER_LIST))
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            rng = np.random.default_rng(0)
            sample = descriptors[rng.choice(count, size=lists * _TRAIN_PER_LIST, replace=False)]
            ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
            ivf.nprobe = config.index_nprobe
            ivf.add(np.ascontiguousarray(descriptors, dtype=np.float32))
            self._index = ivf

    @property
    def size(self) -> int:
        """Number of indexed descriptors."""
        if self._exact is not None:
            return int(self._exact.shape[0])
        return int(self._index.ntotal) if self._index is not None else 0

    def _search(self, query: Float32, k: int) -> tuple[Float32, Int64]:
        """Cosine similarities and rows of the `k` nearest descriptors of each query row."""
        if self._exact is not None:
            with torch.inference_mode():
                top = torch.topk(torch.from_numpy(query) @ self._exact.T, k, dim=1)
            return top.values.numpy(), top.indices.numpy().astype(np.int64)
        assert self._index is not None  # noqa: S101 (size > 0 was checked by the caller)
        found_sims, found_rows = self._index.search(query, k)
        return np.asarray(found_sims, np.float32), np.asarray(found_rows, np.int64)

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
        sims, rows = self._search(np.ascontiguousarray(query, dtype=np.float32), k)
        valid = rows >= 0
        views = np.where(valid, self._view_of_row[np.maximum(rows, 0)], -1)
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
