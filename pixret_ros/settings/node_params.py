"""The node's own parameters: gallery, publishing, QoS, diagnostics (engine ones: engine_params).

Why here and not in ros/: the table is data (default, description, range, live or fixed) that
config/pixret.yaml, the tests and the evaluator read without rclpy; pixret_ros/ros/params.py
declares it to ROS. `score_threshold` and `temporal` are engine settings the node owns at top
level (`spec.NODE_LEVEL_ENGINE`); their defaults are the engine's.
"""

from __future__ import annotations

from pixret_ros.engine.config import EngineConfig
from pixret_ros.settings.spec import ParamSpec

RELIABILITIES = ("best_effort", "reliable")

_ENGINE_DEFAULTS = EngineConfig()

SPECS: tuple[ParamSpec, ...] = (
    # First: the node reads it even when a later parameter is refused (it then stays up,
    # unconfigured, and says why, instead of exiting).
    ParamSpec(
        "autostart",
        default=True,
        description="configure and activate at start (lifecycle node); false: wait "
        "unconfigured for lifecycle transitions (ros2 lifecycle set)",
        dynamic=False,
    ),
    ParamSpec(
        "gallery_path",
        "~/.pixret/gallery",
        "gallery folder (DESIGN section 4); nodes sharing it see each other's registrations",
        dynamic=False,
    ),
    ParamSpec(
        "score_threshold",
        _ENGINE_DEFAULTS.score_threshold,
        "publish only detections with a score at or above this (engine score_threshold)",
        dynamic=True,
        low=0.0,
        high=1.0,
    ),
    ParamSpec(
        "max_detections",
        20,
        "publish at most this many detections per frame, best score first",
        dynamic=True,
        low=1,
        high=1000,
    ),
    # On by default: a camera is a stream (stream set: J 0.35 with it, 0.07 without). The node
    # treats its camera as one stream and resets it on a time jump, a new frame size or
    # ~/reset_tracks (ros/stream_reset.py). Off, every frame is searched on its own.
    ParamSpec(
        "temporal",
        default=True,
        description="stream mode: follow what was found from frame to frame (engine temporal); "
        "one stream per camera",
        dynamic=False,
    ),
    ParamSpec(
        "stream_gap_reset",
        1.0,
        "forget the stream state when two frames' header stamps are more than this many "
        "seconds apart (a paused or looped bag); 0: only stamps going backwards and a new "
        "frame size reset it",
        dynamic=True,
        low=0.0,
        high=3600.0,
    ),
    ParamSpec(
        "publish_debug_image",
        default=False,
        description="advertise ~/debug_image (overlay of masks and boxes, and of what "
        "register_from_camera learned) and draw it while someone subscribes",
        dynamic=True,
    ),
    ParamSpec(
        "publish_markers",
        default=True,
        description="publish ~/markers (visualization_msgs/MarkerArray: boxes and labels in "
        "image pixels on the camera's frame_id) while someone subscribes",
        dynamic=True,
    ),
    ParamSpec(
        "compressed_input",
        default=False,
        description="also subscribe image/compressed (jpeg or png CompressedImage)",
        dynamic=False,
    ),
    ParamSpec(
        "qos_reliability",
        "best_effort",
        "reliability of the image subscriptions (sensor-data QoS is best_effort)",
        dynamic=False,
        choices=RELIABILITIES,
    ),
    ParamSpec(
        "qos_depth",
        5,
        "history depth of the image subscriptions; the node itself keeps only the newest frame",
        dynamic=False,
        low=1,
        high=100,
    ),
    ParamSpec(
        "max_image_pixels",
        4096 * 4096,
        "frames and registration views above this many pixels are refused",
        dynamic=True,
        low=1,
        high=400_000_000,
    ),
    ParamSpec(
        "max_views_per_request",
        32,
        "a register_instance request may carry at most this many views",
        dynamic=True,
        low=1,
        high=1000,
    ),
    ParamSpec(
        "sync_period",
        0.5,
        "seconds between checks of the gallery folder for registrations made by other nodes",
        dynamic=False,
        low=0.05,
        high=60.0,
    ),
    ParamSpec(
        "diagnostics_period",
        1.0,
        "seconds between /diagnostics messages (rates, dropped frames, latency, memory)",
        dynamic=False,
        low=0.1,
        high=60.0,
    ),
    ParamSpec(
        "diagnostics_window",
        10.0,
        "seconds of recent history the diagnostics levels judge: a refused or failed frame "
        "warns this long, then clears",
        dynamic=False,
        low=1.0,
        high=3600.0,
    ),
    ParamSpec(
        "input_timeout",
        5.0,
        "the input diagnostics turn ERROR when no frame arrived for this many seconds",
        dynamic=False,
        low=0.1,
        high=3600.0,
    ),
    ParamSpec(
        "expected_input_rate",
        0.0,
        "the camera's frame rate (Hz) for counting frames lost before the node; 0: estimate "
        "it from the frames' header stamps",
        dynamic=False,
        low=0.0,
        high=10000.0,
    ),
)
