"""settings.params_file: a node params file and --config KEY=VALUE as EngineConfig settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixret_ros.engine.config import EngineConfig
from pixret_ros.engine.segment import SegmentConfig
from pixret_ros.errors import InputError
from pixret_ros.settings.params_file import engine_settings, params_file_overrides, parse_overrides

REPO = Path(__file__).resolve().parents[2]


def test_parse_overrides() -> None:
    assert parse_overrides(["score_threshold=0.6", "view_scales=[1.0, 2.0]"]) == {
        "score_threshold": 0.6,
        "view_scales": (1.0, 2.0),
    }
    with pytest.raises(InputError, match=r"--config 'colour=red': expected KEY=VALUE with KEY"):
        parse_overrides(["colour=red"])
    with pytest.raises(InputError, match=r"expected KEY=VALUE"):
        parse_overrides(["score_threshold"])
    with pytest.raises(InputError, match=r"is not a valid value"):
        parse_overrides(["score_threshold=[1"])


def test_params_file_as_the_node_reads_it(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "/**:\n"
        "  ros__parameters:\n"
        "    gallery_path: /somewhere\n"
        "    score_threshold: 0.7\n"
        "    temporal: true\n"
        "    qos_depth: 3\n"
        "    engine.working_size: 320\n"
        "    engine.view_scales: [1.0, 2.0]\n"
        "/cam2/pixret_node:\n"
        "  ros__parameters:\n"
        "    score_threshold: 0.8\n"
    )
    overrides = params_file_overrides(params)
    assert overrides == {
        "score_threshold": 0.8,
        "temporal": True,
        "working_size": 320,
        "view_scales": (1.0, 2.0),
    }
    assert EngineConfig(**overrides).working_size == 320  # type: ignore[arg-type]


def test_the_shipped_params_files_are_read_with_their_nested_engine_sections() -> None:
    overrides = params_file_overrides(REPO / "config" / "pixret.yaml")
    assert {"score_threshold", "temporal"} <= set(overrides)
    assert set(EngineConfig.field_names()) <= set(overrides)  # `engine:` nests every field
    # The node's file is the engine's defaults, except that a node's camera is a stream.
    assert EngineConfig(**overrides) == EngineConfig(temporal=True)  # type: ignore[arg-type]
    realtime = params_file_overrides(REPO / "config" / "pixret_realtime.yaml")
    assert realtime["candidates"] == 3
    assert EngineConfig(**realtime).candidates == 3  # type: ignore[arg-type]


def test_nested_and_dotted_names_are_the_same_parameter(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    engine:\n      working_size: 320\n"
        "      view_scales: [1.0]\n    engine.candidates: 2\n"
    )
    assert params_file_overrides(params) == {
        "working_size": 320,
        "view_scales": (1.0,),
        "candidates": 2,
    }


def test_params_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"params file .*missing.yaml cannot be read"):
        params_file_overrides(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    with pytest.raises(InputError, match=r"is not valid YAML"):
        params_file_overrides(bad)
    bad.write_text("pixret_node:\n  parameters: {}\n")
    with pytest.raises(InputError, match=r"has no ros__parameters section"):
        params_file_overrides(bad)
    bad.write_text("/**:\n  ros__parameters:\n    engine.colour: red\n")
    with pytest.raises(InputError, match=r"engine.colour is not an engine setting; known: "):
        params_file_overrides(bad)


def test_segmenter_knobs_reach_the_engine_config_merged_with_config_items(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    engine:\n      working_size: 320\n"
        "      segmenter:\n        work_side: 96\n        smooth_radius: 0\n"
    )
    settings = engine_settings(params, ["segmenter.regrow=1"])
    assert settings == {
        "working_size": 320,
        "segmenter": SegmentConfig(work_side=96, smooth_radius=0, regrow=1),
    }
    config = EngineConfig(**settings)  # type: ignore[arg-type]
    assert config.segmenter.work_side == 96
    assert EngineConfig(**engine_settings(params, [])).segmenter.regrow == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parameters", "match"),
    [
        (
            "engine.segmenter.work_side: 8",
            r"params.yaml: engine\.segmenter\.work_side=8 is outside its range \[16, 4096\]",
        ),
        ("engine: {segmenter: {margin: wide}}", r"segmenter\.margin='wide' must be a number"),
        ("engine.segmenter.colour: 1", r"engine\.segmenter\.colour is not an engine setting"),
    ],
)
def test_bad_values_in_a_params_file_are_refused_naming_parameter_and_file(
    tmp_path: Path, parameters: str, match: str
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(f"/**:\n  ros__parameters:\n    {parameters}\n")
    with pytest.raises(InputError, match=match):
        engine_settings(params)


def test_bad_config_items_are_refused_naming_the_parameter() -> None:
    with pytest.raises(InputError, match=r"--config: engine\.segmenter\.context_cells=0 is"):
        engine_settings(None, ["segmenter.context_cells=0"])
    with pytest.raises(InputError, match=r"--config: engine\.working_size=32 is outside"):
        engine_settings(None, ["working_size=32"])
