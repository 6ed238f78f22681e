"""One descriptor index over all views: unique votes go to the right view."""

from __future__ import annotations

import numpy as np
import pytest
from engine_scenes import object_view, photo

from pixret_ros.engine import EngineConfig
from pixret_ros.engine.features import FeatureExtractor
from pixret_ros.engine.index import ArrayPart, DescriptorIndex


@pytest.fixture(scope="module")
def views() -> list[np.ndarray]:
    extractor = FeatureExtractor(EngineConfig())
    names = ["coffee_cup", "cat_face", "rocket_pad", "ihc_tissue"]
    return [extractor.extract(object_view(n)[0], 400).descriptors for n in names]


@pytest.mark.parametrize("exact_limit", [100_000, 500])
def test_votes_go_to_the_queried_view(views: list[np.ndarray], exact_limit: int) -> None:
    """Flat and inverted-file indexes agree: the view's own descriptors vote for it."""
    config = EngineConfig(index_exact_limit=exact_limit)
    index = _index_of(views, config)
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
    index = _index_of(views, config)
    query = FeatureExtractor(config).extract(photo("astronaut"), 1000).descriptors
    own = index.vote(views[0])[0]
    assert index.vote(query).max() < 0.5 * own


def test_empty_index_votes_nothing() -> None:
    index = DescriptorIndex(EngineConfig())
    assert index.vote(np.full((5, 64), 0.125, np.float32)).size == 0
    index.update(_parts([]), np.zeros(0, np.int64))
    assert index.size == 0
    assert index.vote(np.full((5, 64), 0.125, np.float32)).size == 0


def test_inverted_file_grows_and_shrinks_without_training_again(views: list[np.ndarray]) -> None:
    """A registration adds its own descriptors, a removal takes them out; the quantizer is
    trained once, and every view still gets its own votes in its new slot."""
    config = EngineConfig(index_exact_limit=500)
    index = DescriptorIndex(config)
    index.update(_parts([(10 + i, v) for i, v in enumerate(views[:3])]), np.arange(3))
    assert (index.trainings, index.size) == (1, sum(len(v) for v in views[:3]))
    # A new instance sorts first: every slot moves, the keys stay.
    keyed = [(13, views[3]), *((10 + i, v) for i, v in enumerate(views[:3]))]
    index.update(_parts(keyed), np.arange(4))
    assert (index.trainings, index.size) == (1, sum(len(v) for v in views))
    for slot, (_, query) in enumerate(keyed):
        votes = index.vote(query)
        assert int(np.argmax(votes)) == slot
        assert votes[slot] > 0.8 * len(query)
    own = index.vote(views[0])[1]
    kept = [keyed[0], keyed[2], keyed[3]]  # keys 13, 11, 12: key 10 removed
    index.update(_parts(kept), np.arange(3))
    assert (index.trainings, index.size) == (1, sum(len(v) for _, v in kept))
    for slot, (_, query) in enumerate(kept):
        assert int(np.argmax(index.vote(query))) == slot
    assert index.vote(views[0]).max() < 0.5 * own  # its descriptors are gone
    with pytest.raises(ValueError, match="own key"):
        index.update(_parts([(1, views[0]), (1, views[1])]), np.arange(2))


def test_training_again_when_the_index_has_grown_fourfold(views: list[np.ndarray]) -> None:
    config = EngineConfig(index_exact_limit=len(views[0]) // 2)
    index = DescriptorIndex(config)
    index.update(_parts([(0, views[0][: len(views[0]) // 2 + 40])]), np.zeros(1, np.int64))
    index.update(_parts(list(enumerate(views))), np.arange(len(views)))
    assert index.trainings == 2
    for slot, query in enumerate(views):
        assert int(np.argmax(index.vote(query))) == slot


def _index_of(views: list[np.ndarray], config: EngineConfig) -> DescriptorIndex:
    """An index of `views`, view i in slot i and instance i."""
    index = DescriptorIndex(config)
    index.update(_parts(list(enumerate(views))), np.arange(len(views)))
    return index


def _parts(pairs: list[tuple[int, np.ndarray]]) -> list[ArrayPart]:
    """(key, descriptors) pairs as index parts."""
    return [ArrayPart(key, array) for key, array in pairs]
