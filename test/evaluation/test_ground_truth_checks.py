"""Frame-naming rules of the COCO ground truth (the entry checks are pinned through
`load_ground_truth` in test_ground_truth.py, one case per error branch)."""

from __future__ import annotations

from pixret_ros.evaluation.ground_truth_checks import file_frame_name


def test_file_frame_name_is_the_basename() -> None:
    assert file_frame_name("a/b/c.png") == "c.png"
    assert file_frame_name("a\\b\\c.png") == "c.png"
    assert file_frame_name("c.png") == "c.png"
