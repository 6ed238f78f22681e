"""report: frame picks, overlays of a real photo, and the self-contained page."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from pixret_ros.engine.types import Box, Detection
from pixret_ros.evaluation import report
from pixret_ros.evaluation.records import RankedFrame


def rankings() -> dict[str, list[RankedFrame]]:
    return {
        "cup": [
            RankedFrame("f1", 0.9, 0.2, 0.3, positive=True),
            RankedFrame("f2", 0.8, 0.0, 0.0, positive=False),
            RankedFrame("f3", 0.5, 0.9, 0.95, positive=True),
            RankedFrame("f4", None, 0.0, 0.0, positive=True),
            RankedFrame("f5", None, 0.0, 0.0, positive=False),
        ],
        "lamp": [  # found once, correctly: only a best frame, nothing wrong to show
            RankedFrame("f2", 0.7, 0.8, 0.8, positive=True),
            RankedFrame("f1", None, 0.0, 0.0, positive=False),
        ],
        "ghost": [  # never annotated, never detected
            RankedFrame("f1", None, 0.0, 0.0, positive=False),
        ],
    }


def test_pick_frames() -> None:
    picks = report.pick_frames(rankings())
    assert picks == [
        report.Pick("cup", "best", "f3", 0.5, 0.9),
        report.Pick("cup", "worst", "f4", None, 0.0),
        report.Pick("cup", "false positive", "f2", 0.8, 0.0),
        report.Pick("lamp", "best", "f2", 0.7, 0.8),
    ]


def photo_case() -> tuple[np.ndarray, Detection, dict[str, np.ndarray]]:
    image = skimage.data.astronaut()  # 512 x 512
    found = np.zeros(image.shape[:2], bool)
    found[100:300, 150:350] = True
    truth = np.zeros_like(found)
    truth[120:320, 160:360] = True
    det = Detection("face", 0.77, Box.of_mask(found), found, 50, None, 0, accepted=True)
    return image, det, {"face": truth}


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def test_render_pick_draws_detection_and_truth_small() -> None:
    image, det, truths = photo_case()
    pick = report.Pick("face", "best", "f.png", 0.77, 0.7)
    shown = decode(report.render_pick(image, pick, det, truths).jpeg)
    assert shown.shape == (report.THUMB_SIDE, report.THUMB_SIDE, 3)
    plain = cv2.resize(image, (report.THUMB_SIDE, report.THUMB_SIDE), interpolation=cv2.INTER_AREA)
    scale = report.THUMB_SIDE / 512
    inside = (int(200 * scale), int(250 * scale))  # (row, col) well inside the detection
    assert np.abs(shown[inside].astype(int) - plain[inside]).sum() > 60  # tinted
    outline_row = round(320 * scale) - 1  # bottom edge of the truth, below the detection
    edge = shown[outline_row, int(200 * scale) : int(340 * scale)]
    assert (edge.min(axis=1) > 200).mean() > 0.8  # white outline
    far = (int(450 * scale), int(60 * scale))
    assert np.abs(shown[far].astype(int) - plain[far]).sum() < 40  # untouched (JPEG noise)


def test_render_pick_without_detection() -> None:
    image, _, truths = photo_case()
    pick = report.Pick("face", "worst", "f.png", None, 0.0)
    shown = decode(report.render_pick(image, pick, None, truths).jpeg)
    assert shown.shape[:2] == (report.THUMB_SIDE, report.THUMB_SIDE)


def test_write_report(tmp_path: Path) -> None:
    image, det, truths = photo_case()
    overlays = [
        report.render_pick(image, report.Pick("cup", kind, "f1", 0.5, 0.5), det, truths)
        for kind in ("false positive", "best", "worst")
    ]
    metrics = {
        "image_map": 0.5,
        "pixel_map_S": 0.25,
        "fps": 12.5,
        "latency_ms_p50": 80.0,
        "stage_ms_median": {"features": 30.0, "total": 79.0},
        "source": "folder <frames>",
        "per_instance": {"cup": {"image_ap": 0.5, "miou_S": None}},
        "config": {"working_size": 480, "view_scales": [0.5, 1.0]},
    }
    data = report.ReportData(metrics, rankings(), [70.0, 80.0, 95.0, 81.0], overlays)
    path = tmp_path / "report.html"
    report.write_report(path, data)
    page = path.read_text()
    assert "folder &lt;frames&gt;" in page
    for key in ("image_map", "strict_pixel_map_S", "precision", "latency_ms_p95", "features"):
        assert f"<td>{key}</td>" in page
    assert "<td>cup</td><td>0.500</td><td>&ndash;</td>" in page  # per instance, None as a dash
    assert "<td>view_scales</td><td>[0.5, 1.0]</td>" in page
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert [c.split(":")[0] for c in captions] == ["best", "worst", "false positive"]
    images = re.findall(r'src="data:image/(png|jpeg);base64,([^"]+)"', page)
    assert {kind for kind, _ in images} == {"jpeg"}  # the overlays; plots are inline SVG
    charts = re.findall(r"<svg .*?</svg>", page)
    assert len(charts) == 2 + len(rankings())  # speed: per frame and histogram; PR per instance
    assert all("<polyline" in c or "<rect x=" in c for c in charts)
    for _, text in images:
        assert cv2.imdecode(np.frombuffer(base64.b64decode(text), np.uint8), 1) is not None
    assert path.stat().st_size < 400_000  # light: downscaled JPEG overlays
    assert not path.with_name("report.html.partial").exists()


def test_report_of_a_recording_has_no_speed_figure(tmp_path: Path) -> None:
    data = report.ReportData({"fps": None}, {}, [], [])
    page = report.render_html(data)
    assert "<td>fps</td><td>&ndash;</td>" in page
    assert "data:image" not in page
    assert "<svg" not in page
