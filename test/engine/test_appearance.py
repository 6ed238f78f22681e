"""Appearance models: built from real views, cached as arrays, refused when malformed."""

from __future__ import annotations

import numpy as np
import pytest
from seg_scenes import view

from pixret_ros.engine.appearance import (
    COLOUR_BINS,
    AppearanceModel,
    build_appearance,
    colour_histogram,
    xfeat_dense_map,
)
from pixret_ros.engine.calibration import with_appearance_null


@pytest.fixture(scope="module")
def model() -> AppearanceModel:
    rgb, mask = view()
    return with_appearance_null(build_appearance(rgb, mask, None))


def test_model_holds_object_prototypes_colours_and_null_scores(model: AppearanceModel) -> None:
    assert model.fg_prototypes.shape[1] == 64
    assert len(model.fg_prototypes) >= 50
    norms = np.linalg.norm(model.fg_prototypes, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-3)
    assert model.bg_prototypes.shape[1] == 64
    assert len(model.bg_prototypes) > 0  # the view has a margin
    assert model.fg_colour.shape == (COLOUR_BINS,) * 3
    assert abs(float(model.fg_colour.sum()) - 1.0) < 1e-4
    assert len(model.null_scores) >= 20
    assert np.all(np.diff(model.null_scores) >= 0)  # sorted


def test_object_colours_differ_from_margin(model: AppearanceModel) -> None:
    # cat fur versus grey gravel: the histograms must be far apart (Bhattacharyya < 0.6).
    overlap = float(np.sum(np.sqrt(model.fg_colour * model.bg_colour)))
    assert overlap < 0.6


def test_round_trip_through_arrays(model: AppearanceModel) -> None:
    arrays = {k: v.copy() for k, v in model.to_arrays().items()}
    again = AppearanceModel.from_arrays(arrays)
    for key, value in model.to_arrays().items():
        np.testing.assert_array_equal(again.to_arrays()[key], value)


def test_from_arrays_names_what_is_missing(model: AppearanceModel) -> None:
    arrays = model.to_arrays()
    del arrays["fg_colour"]
    with pytest.raises(ValueError, match="fg_colour"):
        AppearanceModel.from_arrays(arrays)
    arrays = model.to_arrays()
    arrays["fg_prototypes"] = arrays["fg_prototypes"][:, :10]
    with pytest.raises(ValueError, match="fg_prototypes"):
        AppearanceModel.from_arrays(arrays)


def test_empty_mask_is_refused() -> None:
    rgb, mask = view()
    with pytest.raises(ValueError, match="mask"):
        build_appearance(rgb, np.zeros_like(mask), None)


def test_reuses_the_dense_map_it_is_given() -> None:
    rgb, mask = view()
    calls: list[tuple[int, int]] = []

    def counting(image: np.ndarray) -> np.ndarray:
        calls.append(image.shape[:2])
        return xfeat_dense_map(image)

    class Given:
        dense = xfeat_dense_map(rgb)

    build_appearance(rgb, mask, Given(), dense_fn=counting)
    assert rgb.shape[:2] not in calls  # scale 1 came from the given features
    assert calls  # the other scales were computed


def test_colour_histogram_of_nothing_is_uniform() -> None:
    hist = colour_histogram(np.zeros((0, 3), np.uint8))
    np.testing.assert_allclose(hist, 1.0 / hist.size, rtol=1e-5)
