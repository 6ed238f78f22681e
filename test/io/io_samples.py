"""Shared inputs of the io tests: real photos, stamps and detections (no files needed)."""

from __future__ import annotations

import numpy as np
import skimage.data

from pixret_ros.engine.types import Box, Detection

STAMPS = [1_700_000_000_000_000_123, 1_700_000_000_033_000_000, 1_700_000_001_000_000_000]


def photos() -> list[np.ndarray]:
    """Three real photos of different sizes (RGB uint8)."""
    return [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]


def detections(shape: tuple[int, int]) -> list[Detection]:
    """A cup with a homography and a cat without, as the engine reports them."""
    cup = np.zeros(shape, bool)
    cup[50:120, 30:90] = True
    cat = np.zeros(shape, bool)
    cat[100:200, 150:260] = True
    warp = np.array([[1.0, 0.1, 5.0], [0.0, 0.9, -3.0], [0.0, 0.0, 1.0]])
    return [
        Detection("cup", 0.875, Box.of_mask(cup), cup, 40, warp, 1, accepted=True),
        Detection("cat", 0.5, Box.of_mask(cat), cat, 0, None, 0, accepted=True),
    ]
