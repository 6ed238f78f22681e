"""One descriptor index over all views: unique votes go to the right view."""

from __future__ import annotations

import numpy as np
import pytest
from engine_scenes import object_view, photo

from pixret_ros.engine import EngineConfig
from pixret_ros.engine.features import FeatureExtractor
from pixret_ros.engine.index import DescriptorIndex


@pytest.fixture(scope="module")
def views() -> list[np.ndarray]:
    extractor = FeatureExtractor(EngineConfig())
    names = ["coffee_cup", "cat_face", "rocket_pad", "ihc_tissue"]
    return [extractor.extract(object_view(n)[0], 400).descriptors for n in names]


@pytest.mark.parametrize("exact_limit", [100_000, 500])
def test_votes_go_to_the_queried_view(views: list[np.ndarray], exact_limit: int) -> None:
    """Flat and inverted-file indexes agree: the view's own descriptors vote for it."""
    config = EngineConfig(index_exact_limit=exact_limit)
    rows = np.concatenate([np.full(len(v), i) for i, v in enumerate(views)]).astype(np.int64)
    index = DescriptorIndex(np.concatenate(views), rows, np.arange(len(views)), config)
    assert index.size == sum(len(v) for v in views)
    for i, query in enumerate(views):
        votes = index.vote(query)
        assert int(np.argmax(votes)) == i
        assert votes[i] > 0.8 * len(query)
        assert votes.sum() - votes[i] < 0.05 * len(query)


def test_an_unrelated_photo_gets_fewer_votes(views: list[np.ndarray]) -> None:
    """Votes only rank candidates (geometry decides): a photo showing none of the views gives
    each view well under the votes of its own image."""
    config = EngineConfig()
    rows = np.concatenate([np.full(len(v), i) for i, v in enumerate(views)]).astype(np.int64)
    index = DescriptorIndex(np.concatenate(views), rows, np.arange(len(views)), config)
    query = FeatureExtractor(config).extract(photo("astronaut"), 1000).descriptors
    own = index.vote(views[0])[0]
    assert index.vote(query).max() < 0.5 * own


def test_empty_index_votes_nothing() -> None:
    config = EngineConfig()
    index = DescriptorIndex(
        np.zeros((0, 64), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), config
    )
    assert index.vote(np.full((5, 64), 0.125, np.float32)).size == 0
