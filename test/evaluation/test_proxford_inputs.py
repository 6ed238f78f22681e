"""Reading the PROxford inputs: LabelMe rasterizing, pair IoUs by hand, errors naming the file."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from proxford_layout import GND, POLYGON, H, W, fixture_ious, write_labelme

from pixret_ros.errors import GroundTruthError, InputError
from pixret_ros.evaluation.proxford_inputs import (
    PairIoU,
    PredictedMasks,
    label_mask,
    load_pair_labels,
    load_revisitop,
    pair_ious,
)


def test_label_mask_truncates_vertices_and_unites_shapes(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    write_labelme(path, [POLYGON, [[20, 0], [22, 0], [22, 1], [20, 1]]])
    mask = label_mask(path)
    assert mask.shape == (H, W)
    expected = np.zeros((H, W), bool)
    expected[3:13, 2:12] = True  # fillPoly covers the truncated corners inclusively
    expected[0:2, 20:23] = True
    np.testing.assert_array_equal(mask, expected)


def test_pair_ious_by_hand(layout: dict[str, Path]) -> None:
    ious = fixture_ious(layout)
    assert set(ious) == {(0, 0), (0, 2), (1, 4), (2, 5)}  # no label read for junk (0, 3)
    assert ious[0, 0] == PairIoU(1.0, 1.0)
    assert ious[0, 2] == pytest.approx(PairIoU(0.36, 1.0))
    assert ious[1, 4] == pytest.approx(PairIoU(0.8, 0.8))
    assert ious[2, 5] == pytest.approx(PairIoU(0.5, 0.5))
    assert fixture_ious(layout, "npz") == ious


def test_bad_inputs_name_the_file(layout: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "gnd_bad.pkl"
    bad.write_bytes(pickle.dumps({"imlist": [], "gnd": []}))
    with pytest.raises(GroundTruthError, match=r"gnd_bad\.pkl: expected a dict"):
        load_revisitop(bad)
    bad.write_bytes(pickle.dumps({"imlist": ["a"], "qimlist": ["q"], "gnd": [{"easy": [3]}]}))
    with pytest.raises(GroundTruthError, match=r"gnd\[0\] lacks"):
        load_revisitop(bad)
    bad.write_bytes(
        pickle.dumps({"imlist": ["a"], "qimlist": ["q"], "gnd": [{key: [3] for key in GND[0]}]})
    )
    with pytest.raises(GroundTruthError, match=r"outside 0\.\.0"):
        load_revisitop(bad)
    label = tmp_path / "l.json"
    label.write_text(json.dumps({"imageHeight": H, "imageWidth": W, "shapes": [{"points": [1]}]}))
    with pytest.raises(GroundTruthError, match=r"l\.json: shapes\[0\]\.points"):
        label_mask(label)
    label.write_text(json.dumps({"shapes": [{"points": POLYGON}]}))
    with pytest.raises(GroundTruthError, match=r"imageHeight"):
        label_mask(label)
    data = load_revisitop(layout["gnd"])
    labels = load_pair_labels(layout["labels"])
    del labels["2_5"]
    with pytest.raises(GroundTruthError, match=r"no LabelMe file for pair '2_5'"):
        pair_ious(data, labels, layout["root"], PredictedMasks(layout["masks"]))
    small = np.zeros((H - 1, W), np.uint8)
    small[0, 0] = 1
    assert cv2.imwrite(str(layout["masks"] / "1_4.png"), small)
    with pytest.raises(InputError, match=r"mask 1_4 is \(19, 30\)"):
        pair_ious(
            data,
            load_pair_labels(layout["labels"]),
            layout["root"],
            PredictedMasks(layout["masks"]),
        )
