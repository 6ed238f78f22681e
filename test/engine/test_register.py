"""Registration: per-scale templates, and the gallery cache that a second load reads back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from engine_scenes import make_gallery

from pixret_ros.engine import EngineConfig
from pixret_ros.engine.features import FeatureExtractor
from pixret_ros.engine.register import load_instance, split_scales
from pixret_ros.engine.types import ViewTemplate

CONFIG = EngineConfig()


def test_each_registered_scale_becomes_its_own_template() -> None:
    ranks = np.array([0, 1, 2, 0, 1, 0], np.int32)  # three scales: 3, 2 and 1 keypoints
    keypoints = np.arange(12, dtype=np.float32).reshape(6, 2)
    descriptors = np.eye(6, 64, dtype=np.float16)
    mask = np.ones((4, 4), bool)
    parts = split_scales(ViewTemplate(3, 1, keypoints, descriptors, mask, ranks))
    assert [len(p.ranks) for p in parts] == [3, 2, 1]
    assert all(p.instance == 3 and p.view_index == 1 and p.mask is mask for p in parts)
    assert np.array_equal(np.concatenate([p.keypoints for p in parts]), keypoints)
    assert np.array_equal(parts[1].descriptors, descriptors[3:5])
    assert all(p.ranks[0] == 0 for p in parts)
    single = ViewTemplate(0, 0, keypoints[:2], descriptors[:2], mask, ranks[:2])
    (only,) = split_scales(single)
    assert only is single  # one scale: the template itself


def test_scale_tags_come_from_the_parts_or_default_to_upright() -> None:
    ranks = np.array([0, 1, 0], np.int32)
    keypoints = np.zeros((3, 2), np.float32)
    descriptors = np.zeros((3, 64), np.float16)
    template = ViewTemplate(0, 0, keypoints, descriptors, np.ones((2, 2), bool), ranks)
    tagged = split_scales(template, np.array([[0.0, 0.5, 1.0], [90.0, 1.0, 0.0]], np.float32))
    assert [(p.rotation, p.scale, p.primary) for p in tagged] == [
        (0.0, 0.5, True),
        (90.0, 1.0, False),
    ]
    old = split_scales(template, np.array([[0.0, 0.5], [90.0, 1.0]], np.float32))  # no flag
    assert [(p.rotation, p.scale, p.primary) for p in old] == [(0.0, 0.5, True), (90.0, 1.0, False)]
    wrong = split_scales(template, np.zeros((3, 2), np.float32))  # three tags, two parts
    assert [(p.rotation, p.scale) for p in wrong] == [(0.0, 1.0), (0.0, 1.0)]


def test_a_second_load_reads_what_the_first_computed(tmp_path: Path) -> None:
    gallery = make_gallery(tmp_path / "g", ["cat_face"])
    extractor = FeatureExtractor(CONFIG)
    computed, ms = load_instance(gallery, "cat_face", 0, extractor, CONFIG)
    assert ms is not None
    assert ms > 0
    cached, again = load_instance(gallery, "cat_face", 4, extractor, CONFIG)
    assert again is None  # from the cache: nothing computed
    assert len(cached.views) == len(computed.views) > 1  # one template per scale and turn
    for old, new in zip(computed.views, cached.views, strict=True):
        assert new.instance == 4
        assert (new.rotation, new.scale) == (old.rotation, old.scale)
        assert np.array_equal(new.keypoints, old.keypoints)
        assert np.array_equal(new.descriptors, old.descriptors)
        assert np.array_equal(new.ranks, old.ranks)
    assert cached.score.to_arrays().keys() == computed.score.to_arrays().keys()
    assert len(cached.appearance) == len(computed.appearance) == 1


def test_a_cache_of_other_views_is_computed_again(tmp_path: Path) -> None:
    gallery = make_gallery(tmp_path / "g", ["cat_face", "coffee_cup"])
    extractor = FeatureExtractor(CONFIG)
    load_instance(gallery, "cat_face", 0, extractor, CONFIG)
    key = CONFIG.feature_key()
    cat = gallery.read_cache("cat_face", key)
    assert cat is not None
    gallery.views("coffee_cup")  # stamps the cache below with the cup's current views
    gallery.write_cache("coffee_cup", key, cat)  # the cat's cache under the cup: other sizes
    entry, ms = load_instance(gallery, "coffee_cup", 1, extractor, CONFIG)
    assert ms is not None  # not trusted: computed again
    assert entry.name == "coffee_cup"
