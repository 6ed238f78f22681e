"""PROxford/PRParis evaluation on a tiny fixture in the official layout, values by hand.

Fixture: 3 queries, 6 database images (20 x 30 pixels). Every true instance is the
rectangle columns 2..11, rows 3..12 (100 pixels), drawn as a LabelMe polygon with
fractional vertices that truncate to those corners.

    query  easy    hard    junk   ranking column (best first)
    0      0, 1    2       3      3 2 4 0 5 1
    1      -       4, 5    -      4 0 5 1 2 3
    2      5       -       0      1 5 0 2 3 4

Predicted masks (S = mask IoU, D = box IoU with the truth):
    (0,0) exact rectangle          S 1.00  D 1.00
    (0,1) none (an easy pair without a mask)
    (0,2) the rectangle's outline  S 0.36  D 1.00   (36 of 100 pixels, same box)
    (1,4) rows 3..10 only          S 0.80  D 0.80
    (1,5) none (a hard pair without a mask)
    (2,5) columns 2..6 only        S 0.50  D 0.50   (exactly at t = 0.50: not > t)
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from pixret_ros.errors import GroundTruthError, InputError
from pixret_ros.evaluation.proxford import (
    OFFICIAL_IGNORED,
    PairIoU,
    PredictedMasks,
    Query,
    Revisitop,
    add_proxford_parser,
    evaluate_proxford,
    label_mask,
    load_pair_labels,
    load_ranks,
    load_revisitop,
    main,
    official_miou,
    official_pixel_map,
    pair_ious,
)

H, W = 20, 30
GND = [
    {"easy": [0, 1], "hard": [2], "junk": [3]},
    {"easy": [], "hard": [4, 5], "junk": []},
    {"easy": [5], "hard": [], "junk": [0]},
]
RANKS = np.array([[3, 2, 4, 0, 5, 1], [4, 0, 5, 1, 2, 3], [1, 5, 0, 2, 3, 4]]).T  # db x q
POLYGON = [[2.7, 3.2], [11.9, 3.0], [11.0, 12.99], [2.0, 12.0]]


def rect(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[rows, cols] = 255
    return mask


def predictions() -> dict[str, np.ndarray]:
    outline = rect(slice(3, 13), slice(2, 12))
    outline[4:12, 3:11] = 0
    return {
        "0_0": rect(slice(3, 13), slice(2, 12)),
        "0_2": outline,
        "1_4": rect(slice(3, 11), slice(2, 12)),
        "2_5": rect(slice(3, 13), slice(2, 7)),
        "0_3": rect(slice(0, 5), slice(0, 5)),  # a junk pair: has no label, never read
    }


def write_labelme(path: Path, shapes: list[list[list[float]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "version": "4.5.6",
        "shapes": [{"label": "object", "points": s, "shape_type": "polygon"} for s in shapes],
        "imagePath": path.stem + ".jpg",
        "imageHeight": H,
        "imageWidth": W,
    }
    path.write_text(json.dumps(doc))


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """Writes the official layout: gnd pickle, pair2labelpath npy, LabelMe files, ranks,
    and the predicted masks as PNGs and as an npz."""
    root = tmp_path / "pixel_retrieval_benchmarks"
    gnd_path = tmp_path / "revisitop" / "gnd_roxford5k.pkl"
    gnd_path.parent.mkdir(parents=True)
    data = {
        "imlist": [f"oxford_{i:06d}" for i in range(6)],
        "qimlist": ["all_souls_1", "ashmolean_2", "balliol_3"],
        "gnd": [
            {"bbx": [0.0, 0.0, 5.0, 5.0], **{k: np.array(v, dtype=np.int64) for k, v in g.items()}}
            for g in GND
        ],
    }
    gnd_path.write_bytes(pickle.dumps(data))
    pairs = {}
    for q, g in enumerate(GND):
        for i in [*g["easy"], *g["hard"]]:
            pairs[f"{q}_{i}"] = f"labels/oxford/{q}_{i}.json"
            write_labelme(root / pairs[f"{q}_{i}"], [POLYGON])
    labels_path = root / "oxford_pair2labelpath.npy"
    np.save(labels_path, np.array(pairs, dtype=object), allow_pickle=True)
    ranks_path = tmp_path / "roxford_ranks.npy"
    np.save(ranks_path, RANKS)
    mask_dir = tmp_path / "masks"
    mask_dir.mkdir()
    for key, mask in predictions().items():
        assert cv2.imwrite(str(mask_dir / f"{key}.png"), mask)
    npz_path = tmp_path / "masks.npz"
    arrays = {k: v > 0 for k, v in predictions().items()}
    np.savez_compressed(npz_path, **arrays)  # type: ignore[arg-type]  # numpy stubs: kwargs vs allow_pickle
    return {
        "gnd": gnd_path,
        "labels": labels_path,
        "ranks": ranks_path,
        "masks": mask_dir,
        "npz": npz_path,
        "root": root,
    }


def fixture_ious(layout: dict[str, Path], masks: str = "masks") -> dict[tuple[int, int], PairIoU]:
    data = load_revisitop(layout["gnd"])
    labels = load_pair_labels(layout["labels"])
    return pair_ious(data, labels, layout["root"], PredictedMasks(layout[masks]))


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


def test_official_figures_by_hand(layout: dict[str, Path]) -> None:
    data = load_revisitop(layout["gnd"])
    ranks = load_ranks(layout["ranks"], num_images=6, num_queries=3)
    result = evaluate_proxford(
        data, ranks, fixture_ious(layout), dataset="oxford", ignored=OFFICIAL_IGNORED["oxford"]
    )
    medium, hard = result.medium, result.hard
    # Image mAP, medium. q0 without junk 3: [2 4 0 5 1], positives at 0, 2, 4 (n = 3):
    #   (1+1)/6 + (1/2+2/3)/6 + (2/4+3/5)/6 = 32/45. q1: positives at 0, 2: 19/24.
    #   q2 without junk 0: [1 5 2 3 4], positive at 1: (0 + 1/2)/2 = 1/4.
    assert medium.image_map == pytest.approx((32 / 45 + 19 / 24 + 1 / 4) / 3)
    # Hard: q0 [2 4 5] -> 1; q1 19/24; q2 has no hard positive -> left out.
    assert hard.image_map == pytest.approx((1 + 19 / 24) / 2)
    # Pixel mAP D, medium. q0: 0 and 2 (D 1.0) hit at every t: ranks 0, 2 -> 19/24.
    #   q1: 4 (.80) hits for t = .50..  .75 (6 thresholds), AP 1. q2: .50 never > t.
    #   t <= .75: (19/24 + 1) / 2 (q2 empty); t >= .80: 19/24 / 1 -> 41/48.
    assert medium.pixel_map_D == pytest.approx((6 * 43 / 48 + 4 * 19 / 24) / 10)
    # S, medium. q0: only 0 (S 1.0) hits, at rank 2 of [2 4 0 5 1]: (0 + 1/3)/2 = 1/6.
    #   t <= .75: (1/6 + 1)/2 = 7/12; t >= .80: 1/6 -> 5/12.
    assert medium.pixel_map_S == pytest.approx(5 / 12)
    # Hard D: q0 (2, D 1.0) AP 1 always; q1 AP 1 for 6 thresholds; q2 empty -> 1.
    assert hard.pixel_map_D == pytest.approx(1.0)
    # Hard S: q0's 2 (S .36) never hits; t <= .75: q1 alone -> 1; t >= .80 nobody is left
    #   (the official code divides by zero there; counted 0) -> 6/10.
    assert hard.pixel_map_S == pytest.approx(0.6)
    # mIoU medium S: q0: hard .36, easy 1.0, easy (0,1) without mask skipped -> .68;
    #   q1: .80 and 0 (hard without mask) -> .40; q2: .50 -> (.68 + .40 + .50)/3.
    assert medium.miou_S == pytest.approx((0.68 + 0.40 + 0.50) / 3)
    assert medium.miou_D == pytest.approx((1.0 + 0.40 + 0.50) / 3)
    # Hard: q2 has no hard positive: mean of an empty list = NaN, and so the mean (official).
    assert hard.per_query_miou_S[:2] == pytest.approx((0.36, 0.40))
    assert np.isnan(hard.per_query_miou_S[2])
    assert np.isnan(hard.miou_S)
    out = result.to_json()
    assert out["hard"]["miou_S"] is None  # type: ignore[index]
    assert out["ignored_queries"] == [56, 63]


def test_ignored_queries_still_count_in_the_mean(layout: dict[str, Path]) -> None:
    data = load_revisitop(layout["gnd"])
    ranks = load_ranks(layout["ranks"], num_images=6, num_queries=3)
    ious = fixture_ious(layout)
    # Ignoring q1: every t has q0 (1/6) and q2 empty; divisor 3 - 1 = 2 -> 1/12, not 1/6.
    value = official_pixel_map(ranks, data, ious, "medium", kind="S", ignored=(1,))
    assert value == pytest.approx(1 / 12)
    # mIoU ignores no query.
    assert official_miou(data, ious, "medium", kind="S")[0] == pytest.approx(1.58 / 3)
    assert OFFICIAL_IGNORED == {"oxford": (56, 63), "paris": (57, 59)}


def test_cli_prints_the_table_and_writes_json(
    layout: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "proxford.json"
    args = ["proxford", "--gnd", str(layout["gnd"]), "--pair-labels", str(layout["labels"])]
    args += ["--ranks", str(layout["ranks"]), "--masks", str(layout["npz"]), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "PROxford" in printed
    assert "medium" in printed
    assert "41.67" in printed  # S mAP medium = 5/12
    assert "skips queries [56, 63]" in printed
    saved = json.loads(out.read_text())
    assert saved["dataset"] == "oxford"
    assert saved["medium"]["pixel_map_D"] == pytest.approx(41 / 48)
    assert saved["hard"]["miou_D"] is None


def test_parser_has_examples() -> None:
    parser = argparse.ArgumentParser(prog="pixret-eval")
    sub = add_proxford_parser(parser.add_subparsers(dest="command"))
    assert "examples:" in sub.format_help()
    assert "gnd_roxford5k.pkl" in sub.format_help()


def run_cli(layout: dict[str, Path], capsys: pytest.CaptureFixture[str], **change: str) -> str:
    opts = {
        "--gnd": str(layout["gnd"]),
        "--pair-labels": str(layout["labels"]),
        "--ranks": str(layout["ranks"]),
        "--masks": str(layout["masks"]),
    }
    opts.update(change)
    argv = ["proxford"] + [x for kv in opts.items() for x in kv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err


def test_cli_errors_are_one_line(
    layout: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "t.npy", RANKS.T.copy())
    assert "transposed?" in run_cli(layout, capsys, **{"--ranks": str(tmp_path / "t.npy")})
    dup = RANKS.copy()
    dup[1, 0] = dup[0, 0]
    np.save(tmp_path / "d.npy", dup)
    assert "column 0 ranks a database image twice" in run_cli(
        layout, capsys, **{"--ranks": str(tmp_path / "d.npy")}
    )
    other = tmp_path / "gnd_other.pkl"
    other.write_bytes(layout["gnd"].read_bytes())
    assert "pass --dataset" in run_cli(layout, capsys, **{"--gnd": str(other)})
    assert "folder of PNGs or an .npz" in run_cli(layout, capsys, **{"--masks": str(other)})


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


# ------------------------------------------- against a transcription of the official code

RawGnd = list[dict[str, list[int]]]


def official_compute_ap(ranks: np.ndarray, nres: int) -> float:
    """evaluation_code/utils/evaluate_pixel.py compute_ap, line by line."""
    ap = 0.0
    recall_step = 1.0 / nres
    for j in np.arange(len(ranks)):
        rank = ranks[j]
        precision_0 = 1.0 if rank == 0 else float(j) / rank
        precision_1 = float(j + 1) / (rank + 1)
        ap += (precision_0 + precision_1) * recall_step / 2.0
    return ap


def official_compute_map(
    ignore: list[int], ranks: np.ndarray, ious: dict[str, list[float]], thresh: int, gnd: RawGnd
) -> float:
    """evaluate_pixel.py compute_map(dataset, ...), with its try/except chain reduced to what
    it does on mious.py's IoU dict (values [bbox, seg]): missing pairs skipped, value [0]."""
    total, nq, nempty = 0.0, len(gnd), 0
    for i in np.arange(nq):
        if i in ignore:
            continue
        qgnd = []
        for j in gnd[i]["ok"]:
            key = str(i) + "_" + str(int(j))
            if key in ious and ious[key][0] > (thresh / 100):
                qgnd.append(j)
        if len(qgnd) == 0:
            nempty += 1
            continue
        pos = np.arange(ranks.shape[0])[np.isin(ranks[:, i], np.array(qgnd))]
        junk = np.arange(ranks.shape[0])[np.isin(ranks[:, i], np.array(gnd[i]["junk"]))]
        k = ij = ip = 0
        if len(junk):
            while ip < len(pos):
                while ij < len(junk) and pos[ip] > junk[ij]:
                    k += 1
                    ij += 1
                pos[ip] = pos[ip] - k
                ip += 1
        total += official_compute_ap(pos, len(qgnd))
    return total / (nq - nempty)


def official_mious(gnd: RawGnd, match: dict[str, float], setting: str) -> float:
    """evaluation_code/mious.py for one IoU kind: `match` holds the IoU of pairs with
    found points; hard pairs without count 0, easy ones are skipped."""
    per_query = []
    for q in range(len(gnd)):
        values = [match.get(f"{q}_{i}", 0.0) for i in gnd[q]["hard"]]
        if setting == "medium":
            values += [match[f"{q}_{i}"] for i in gnd[q]["easy"] if f"{q}_{i}" in match]
        per_query.append(np.mean(values))
    return float(np.mean(per_query))


def random_case(
    rng: np.random.Generator,
) -> tuple[RawGnd, Revisitop, np.ndarray, dict[tuple[int, int], PairIoU]]:
    nq, nimg = 9, 40
    gnd_raw: RawGnd = []
    for _q in range(nq):
        labels = rng.choice(4, size=nimg, p=[0.15, 0.15, 0.1, 0.6])  # easy hard junk none
        parts = [np.flatnonzero(labels == k).tolist() for k in range(3)]
        if not parts[1]:
            parts[1] = [int(np.flatnonzero(labels == 3)[0])]  # every query has a hard one
        gnd_raw.append(dict(zip(("easy", "hard", "junk"), parts, strict=True)))
    queries = tuple(Query(*(tuple(g[k]) for k in ("easy", "hard", "junk"))) for g in gnd_raw)
    data = Revisitop(tuple(map(str, range(nimg))), tuple(map(str, range(nq))), queries)
    ranks = np.stack([rng.permutation(nimg) for _q in range(nq)], axis=1)
    ious: dict[tuple[int, int], PairIoU] = {}
    for q, g in enumerate(gnd_raw):
        for i in g["easy"] + g["hard"]:
            if rng.random() < 0.8:  # some pairs without a predicted mask
                s = float(rng.choice([0.0, 0.5, 0.55, 0.95, 1.0, rng.random()]))
                ious[q, i] = PairIoU(s, float(rng.random()))
    return gnd_raw, data, ranks, ious


def official_protocol(gnd_raw: RawGnd, setting: str) -> RawGnd:
    """evaluate.py ParseEasyMediumHardGroundTruth for medium or hard."""
    if setting == "medium":
        return [{"ok": g["easy"] + g["hard"], "junk": g["junk"]} for g in gnd_raw]
    return [{"ok": g["hard"], "junk": g["junk"] + g["easy"]} for g in gnd_raw]


@pytest.mark.parametrize("setting", ["medium", "hard"])
@pytest.mark.parametrize(("kind", "index"), [("D", 1), ("S", 0)])
def test_matches_the_official_code_on_random_cases(setting: str, kind: str, index: int) -> None:
    rng = np.random.default_rng(5)
    ignored = [2, 6]
    for _ in range(25):
        gnd_raw, data, ranks, ious = random_case(rng)
        # mious.py stores [bbox, seg] per detected pair and [0, 0] for hard pairs without.
        table = {f"{q}_{i}": [v[index], v[index]] for (q, i), v in ious.items()}
        for q, g in enumerate(gnd_raw):
            for i in g["hard"]:
                table.setdefault(f"{q}_{i}", [0.0, 0.0])
        gnd = official_protocol(gnd_raw, setting)
        expected = np.average(
            [official_compute_map(ignored, ranks, table, t, gnd) for t in range(50, 100, 5)]
        )
        ours = official_pixel_map(ranks, data, ious, setting, kind=kind, ignored=ignored)  # type: ignore[arg-type]
        assert ours == pytest.approx(expected, abs=1e-12)
        match = {f"{q}_{i}": v[index] for (q, i), v in ious.items()}
        miou = official_miou(data, ious, setting, kind=kind)[0]  # type: ignore[arg-type]
        assert miou == pytest.approx(official_mious(gnd_raw, match, setting), abs=1e-12)
