"""The gallery in memory: renumbering on sync, and the index's candidates on a real scene."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine_scenes import (
    OBJECTS,
    make_gallery,
    object_view,
    scene,
    shared_retriever,
    similarity,
)

from pixret_ros.engine import EngineConfig
from pixret_ros.engine.features import FeatureExtractor
from pixret_ros.engine.loaded_gallery import LoadedGallery
from pixret_ros.engine.resize import working
from pixret_ros.settings.params_file import params_file_overrides

REPO = Path(__file__).resolve().parents[2]

CONFIG = EngineConfig()


def test_sync_numbers_instances_in_gallery_order(tmp_path: Path) -> None:
    gallery = make_gallery(tmp_path / "g", ["coffee_cup"])
    loaded = LoadedGallery(gallery, FeatureExtractor(CONFIG), CONFIG)
    assert loaded.sync()
    assert not loaded.sync()  # nothing changed on disk
    assert set(loaded.registration_ms) == {"coffee_cup"}
    cup = loaded.instances[0]
    view, mask = object_view("cat_face")
    gallery.add("cat_face", [view], [mask])  # sorts first: the cup moves up one place
    assert loaded.sync()
    assert [e.name for e in loaded.instances] == ["cat_face", "coffee_cup"]
    assert all(t.instance == 1 for t in loaded.instances[1].views)  # renumbered, not reloaded
    assert all(
        new.keypoints is old.keypoints
        for new, old in zip(loaded.instances[1].views, cup.views, strict=True)
    )
    assert loaded.templates == [t for e in loaded.instances for t in e.views]
    assert all(loaded.slot_of[id(t)] == i for i, t in enumerate(loaded.templates))


def test_candidates_rank_the_shown_instance_first() -> None:
    loaded = shared_retriever().loaded
    shot = scene({"rocket_pad": similarity(0.9, -6.0, 150, 200)}, bg="camera")
    feats = loaded.extractor.extract(working(shot.frame, CONFIG.working_size))
    ranked, views, votes = loaded.candidates(feats)
    names = [loaded.instances[i].name for i in ranked]
    assert names[0] == "rocket_pad"
    assert len(ranked) <= CONFIG.candidates
    assert votes.shape == (len(loaded.instances),)
    assert votes[ranked[0]] == votes.max()
    assert all(v.primary for v in views)  # the second pass comes apart, after verification
    assert {v.instance for v in views} <= set(ranked)
    for instance in ranked:
        assert 0 < sum(v.instance == instance for v in views) <= CONFIG.views_per_candidate


def test_second_pass_gives_the_turned_copies_of_a_turned_instance(tmp_path: Path) -> None:
    """Its own index votes for the copy near the object's angle; found instances are skipped
    (the second pass of the rotation profile, config/pixret_rotation.yaml)."""
    rotation = EngineConfig(**params_file_overrides(REPO / "config" / "pixret_rotation.yaml"))  # type: ignore[arg-type]
    gallery = make_gallery(tmp_path / "g", sorted(OBJECTS))
    loaded = LoadedGallery(gallery, FeatureExtractor(rotation), rotation)
    loaded.sync()
    shot = scene({"rocket_pad": similarity(0.9, 100.0, 150, 200)}, bg="camera")
    feats = loaded.extractor.extract(working(shot.frame, CONFIG.working_size))
    rocket = next(i for i, e in enumerate(loaded.instances) if e.name == "rocket_pad")
    views = loaded.second_pass(feats, found=())
    assert len({v.instance for v in views}) <= rotation.second_candidates
    assert not any(v.primary for v in views)
    mine = [v for v in views if v.instance == rocket]
    assert mine
    assert mine[0].rotation == 90.0, [(v.rotation, v.scale) for v in mine]  # its best-voted
    assert all(v.instance != rocket for v in loaded.second_pass(feats, found={rocket}))
    # `second_min_votes`: an instance with fewer second-pass votes than that gets no views.
    loaded.config = replace(rotation, second_min_votes=100_000)
    assert loaded.second_pass(feats, found=()) == []
